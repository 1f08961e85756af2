"""The right side of the Models window: one model's facts, its variants and its defaults.

Everything shown comes from the model's folder or the hub (names, licenses, errors): plain
text only. The default-variant choices are written as the user picks them (they live in the
profile, ``variant_defaults``), so there is nothing to save or cancel.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSizePolicy, QTreeWidget, QTreeWidgetItem,
    QVBoxLayout, QWidget,
)

from studio.core.models.library import ModelRecord, set_default
from studio.core.models.manifest import read_manifest
from studio.core.models.variants import human_size, preferred
from studio.errors import StudioError
from studio.ui.models.look import ERROR, ORIGIN_NAMES, badge, heading, kind_name, muted, title_label, when
from studio.ui.plain import plain_label
from studio.ui.slots import connect_command

DEVICE_KINDS = (("cpu", "On the CPU"), ("gpu", "On a GPU"))


class ModelDetails(QWidget):
    """One model: name, kind, where it came from, variants with sizes, defaults, actions."""

    remove_requested = Signal(object)  # the ModelRecord
    reveal_requested = Signal(object)
    variants_requested = Signal(str)  # the hub repository a download came from
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.record: ModelRecord | None = None
        self.hub_repo = ""  # where a downloaded model came from: its other variants are there
        self.name = title_label(size=20)
        self.name.setObjectName("model_name")
        self.kind = badge()
        self.origin = badge(colour="#2d4a6e")
        tags = QHBoxLayout()
        tags.setSpacing(6)
        for tag in (self.kind, self.origin):
            tag.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            tags.addWidget(tag)
        tags.addStretch(1)
        self.error = plain_label()
        self.error.setObjectName("model_error")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet(f"{ERROR} background: #3b2224; border-radius: 6px; padding: 8px;")

        self.facts: dict[str, QLabel] = {}
        form = self.form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(6)
        for key, label in (("generator", "Generator"), ("layout", "Layout"), ("source", "Source"), ("license", "License"),
                           ("added", "Added"), ("size", "On disk"), ("folder", "Folder")):
            value = plain_label()
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setObjectName(f"fact_{key}")
            self.facts[key] = value
            form.addRow(muted(label), value)

        self.variants = QTreeWidget()
        self.variants.setObjectName("variants")
        self.variants.setColumnCount(3)
        self.variants.setHeaderLabels(["Variant", "Size", "Suits"])
        self.variants.setRootIsDecorated(False)
        self.variants.setAlternatingRowColors(True)
        self.variants.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
        self.variants.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.variants.setUniformRowHeights(True)
        self.variants.setStyleSheet("QTreeWidget::item { padding: 3px 6px; } QHeaderView::section { padding: 3px 6px; }")
        self.variants.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.variants.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.no_variants = muted("One set of weights: this model has no variants to choose from.")

        self.defaults: dict[str, QComboBox] = {}
        defaults = QFormLayout()
        defaults.setHorizontalSpacing(14)
        for device_kind, label in DEVICE_KINDS:
            combo = QComboBox()
            combo.setObjectName(f"default_{device_kind}")
            combo.setMinimumWidth(220)
            combo.setMaximumWidth(320)
            combo.activated.connect(lambda _index, d=device_kind: self._default_chosen(d))
            self.defaults[device_kind] = combo
            defaults.addRow(muted(label), combo)
        self.defaults_box = QWidget()
        self.defaults_box.setLayout(defaults)
        defaults.setContentsMargins(0, 0, 0, 0)

        self.reveal_button = QPushButton("Show in file manager")
        self.reveal_button.setObjectName("reveal_button")
        connect_command(self.reveal_button.clicked, lambda: self.record and self.reveal_requested.emit(self.record))
        self.variants_button = QPushButton("Other variants…")
        self.variants_button.setObjectName("other_variants_button")
        self.variants_button.setToolTip("Look the model up on the hub again and download another variant into it")
        connect_command(self.variants_button.clicked, lambda: self.hub_repo and self.variants_requested.emit(self.hub_repo))
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setObjectName("remove_button")
        self.remove_button.setStyleSheet("QPushButton:enabled { color: #ff9b94; }")
        connect_command(self.remove_button.clicked, lambda: self.record and self.remove_requested.emit(self.record))
        for button in (self.reveal_button, self.variants_button, self.remove_button):
            button.setAutoDefault(False)  # Enter in the window never removes or opens anything
        buttons = QHBoxLayout()
        buttons.addWidget(self.reveal_button)
        buttons.addWidget(self.variants_button)
        buttons.addStretch(1)
        buttons.addWidget(self.remove_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        layout.setSpacing(6)
        layout.addWidget(self.name)
        layout.addLayout(tags)
        layout.addWidget(self.error)
        layout.addSpacing(6)
        layout.addLayout(form)
        layout.addWidget(heading("Variants"))
        layout.addWidget(self.variants)
        layout.addWidget(self.no_variants)
        self.defaults_heading = heading("Default variant")
        layout.addWidget(self.defaults_heading)
        layout.addWidget(self.defaults_box)
        layout.addStretch(1)  # spare height below, never inside the tags or the table
        layout.addSpacing(8)
        layout.addLayout(buttons)
        self.show_record(None)

    def show_record(self, record: ModelRecord | None) -> None:
        self.record = record
        if record is None:  # the window shows its own page for "nothing chosen"
            return
        self.name.setText(record.name)
        self.kind.setText(kind_name(record.kind))
        self.origin.setText(ORIGIN_NAMES.get(record.origin, record.origin))
        self.error.setText("; ".join(text for text in (record.required_device, record.error) if text))
        self.error.setVisible(bool(record.required_device or record.error))
        facts = {
            "generator": record.generator_id or "—",
            "layout": record.layout or "—",
            "source": record.source or "—",
            "license": record.license or "not stated",
            "added": when(record.added) or "—",
            "size": human_size(record.size),
            "folder": str(record.folder),
        }
        for key, value in facts.items():
            self.facts[key].setText(value)
        folder_row = self.form.labelForField(self.facts["folder"])
        same = record.source == str(record.folder)  # an added folder's source is the folder
        self.facts["folder"].setVisible(not same)
        folder_row.setVisible(not same)
        self.variants.clear()
        for variant in record.variants.values():
            item = QTreeWidgetItem([variant.name, human_size(variant.size), record.variant_suits(variant.name)])
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.variants.addTopLevelItem(item)
        several = len(record.variants) > 1
        self.variants.setVisible(bool(record.variants))
        self.no_variants.setVisible(not record.variants)
        rows = max(1, len(record.variants))  # the whole table, no scrolling inside a scrolling pane
        self.variants.setFixedHeight(self.variants.header().sizeHint().height() + rows * max(self.variants.sizeHintForRow(0), 22) + 6)
        self.defaults_heading.setVisible(several)
        self.defaults_box.setVisible(several)
        if several:
            self._fill_defaults(record)
        self.hub_repo = _hub_repo(record)
        self.variants_button.setVisible(bool(self.hub_repo))
        self.remove_button.setEnabled(record.removable)
        self.remove_button.setToolTip("" if record.removable else "Built-in models come with Studio and cannot be removed")

    def _fill_defaults(self, record: ModelRecord) -> None:
        names, chosen_now = list(record.variants), record.defaults
        for device_kind, combo in self.defaults.items():
            combo.clear()
            combo.addItem(f"Automatic ({preferred(names, device_kind)})", None)
            for name, variant in record.variants.items():
                combo.addItem(f"{name}  ·  {human_size(variant.size)}", name)
            chosen = chosen_now.get(device_kind)
            combo.setCurrentIndex(max(0, combo.findData(chosen)) if chosen else 0)

    def _default_chosen(self, device_kind: str) -> None:
        if self.record is None:
            return
        variant = self.defaults[device_kind].currentData()
        try:
            set_default(self.record, device_kind, variant)
        except StudioError as exc:
            self.message.emit(f"Cannot keep that choice: {exc}")
            return
        where = "the CPU" if device_kind == "cpu" else "a GPU"
        self.message.emit(f"{self.record.name} uses {variant} on {where}" if variant else f"{self.record.name} picks its variant on {where} itself")


def _hub_repo(record: ModelRecord) -> str:
    """The hub repository a downloaded model came from (its manifest says), else ``""``."""
    if record.origin != "downloaded":
        return ""
    try:
        manifest = read_manifest(record.folder)
    except StudioError:
        return ""
    return manifest.hub_repo if manifest is not None else ""
