"""The generator form's LoRA list: the LoRA files a Stable Diffusion generation applies, each
with its weight.

A row per LoRA: its file name (the whole path in the tool tip), a weight box (-4 to 4 in
steps of 0.05, as A1111 and ComfyUI allow; 1 is the LoRA as trained, negative pushes away
from it) and a remove button. "Add LoRA…" opens a file dialog for ``.safetensors`` files,
several at once. Everything is reachable with Tab, Space and the arrow keys. The value is
what a ``loras`` parameter takes: a tuple of ``(path, weight)``, in the order shown.

The file dialog is Qt's own (not the desktop's): it looks the same everywhere and a path can
be typed into it, which is also how the tests choose a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox, QFileDialog, QHBoxLayout, QPushButton, QToolButton, QVBoxLayout, QWidget,
)

from studio.ui.plain import ElidedLabel, plain_label, plain_tip

WEIGHT_MIN, WEIGHT_MAX, WEIGHT_STEP = -4.0, 4.0, 0.05
LORA_FILTER = "LoRA files (*.safetensors);;All files (*)"


class LoraRow(QWidget):
    """One LoRA: its name, its weight, and a button that takes it off the list."""

    remove_requested = Signal(object)  # this row

    def __init__(self, path: str, weight: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        name = Path(path).name
        self.name = ElidedLabel(Path(path).stem)
        self.name.setToolTip(plain_tip(path))
        self.name.setMinimumWidth(60)
        self.weight = QDoubleSpinBox()
        self.weight.setRange(WEIGHT_MIN, WEIGHT_MAX)
        self.weight.setSingleStep(WEIGHT_STEP)
        self.weight.setDecimals(2)
        self.weight.setValue(weight)
        self.weight.setAccelerated(True)
        self.weight.setToolTip(plain_tip(f"How strongly {name} applies: 1 as trained, 0 not at all, "
                                         "negative pushes away from it"))
        self.weight.setAccessibleName(f"Weight of {name}")
        self.weight.setMinimumWidth(64)
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip(plain_tip(f"Remove {name}"))
        self.remove.setAccessibleName(f"Remove {name}")
        self.remove.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # reachable with Tab, as the weight is
        self.remove.setAutoRaise(True)
        self.remove.clicked.connect(lambda *_: self.remove_requested.emit(self))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.name, 1)
        layout.addWidget(self.weight)
        layout.addWidget(self.remove)

    def value(self) -> tuple[str, float]:
        # Two decimals, as shown: the spin box's double may carry float noise (0.1 + 0.2).
        return (self.path, round(self.weight.value(), 2))


class LoraList(QWidget):
    """The rows of LoRAs and the "Add LoRA…" button below them."""

    changed = Signal()

    def __init__(self, help_text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[LoraRow] = []
        self.file_dialog: QFileDialog | None = None
        self._last_folder = ""
        self._focus_next: LoraRow | None = None
        self.rows_layout = QVBoxLayout()
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(2)
        self.empty = plain_label("None")
        self.empty.setStyleSheet("color: #999;")
        self.add_button = QPushButton("Add LoRA…")
        self.add_button.setObjectName("add_lora_button")
        self.add_button.setAutoDefault(False)
        self.add_button.setToolTip(plain_tip(help_text or "Apply a LoRA (.safetensors) to this model"))
        self.add_button.clicked.connect(lambda *_: self.choose_files())
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.empty, 1)
        bottom.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(self.rows_layout)
        layout.addLayout(bottom)

    # -- the value ---------------------------------------------------------------------------

    def value(self) -> tuple[tuple[str, float], ...]:
        return tuple(row.value() for row in self.rows)

    def set_value(self, value: Any) -> None:
        """Show the LoRAs of ``value`` (a result's parameters when it is reused): pairs of path
        and weight, as recorded (a JSON list of lists as well as a tuple of tuples)."""
        for row in list(self.rows):
            self._drop(row)
        for path, weight in _pairs(value):
            self.add(path, weight)
        self.changed.emit()

    def add(self, path: str, weight: float = 1.0) -> LoraRow:
        """A row for ``path``, or the row it has already (a LoRA applies once: its weight says how much)."""
        for row in self.rows:
            if row.path == path:
                return row
        row = LoraRow(path, max(WEIGHT_MIN, min(WEIGHT_MAX, float(weight))))
        row.setObjectName(f"lora_row_{len(self.rows)}")
        row.remove_requested.connect(self.remove)
        row.weight.valueChanged.connect(lambda *_: self.changed.emit())
        self.rows.append(row)
        self.rows_layout.addWidget(row)
        self.empty.setVisible(False)
        # Tab order: each row's weight and remove button, then Add LoRA… (rows are added below the others)
        previous = self.rows[-2].remove if len(self.rows) > 1 else None
        if previous is not None:
            QWidget.setTabOrder(previous, row.weight)
        QWidget.setTabOrder(row.weight, row.remove)
        QWidget.setTabOrder(row.remove, self.add_button)
        self.changed.emit()
        return row

    def remove(self, row: LoraRow) -> None:
        """Take ``row`` off the list; the keyboard's focus goes to the next row (or Add LoRA…)."""
        if row not in self.rows:
            return
        index = self.rows.index(row)
        had_focus = row.isAncestorOf(self.focusWidget()) if self.focusWidget() else False
        self._drop(row)
        if had_focus:
            target = self.rows[min(index, len(self.rows) - 1)].weight if self.rows else self.add_button
            target.setFocus(Qt.FocusReason.TabFocusReason)
        self.changed.emit()

    def _drop(self, row: LoraRow) -> None:
        self.rows.remove(row)
        self.rows_layout.removeWidget(row)
        row.hide()
        row.deleteLater()
        self.empty.setVisible(not self.rows)

    # -- choosing files ----------------------------------------------------------------------

    def choose_files(self) -> QFileDialog:
        """Qt's file dialog over the form, for one or more .safetensors files; its answer adds rows."""
        dialog = QFileDialog(self.window(), "Add a LoRA", self._last_folder, LORA_FILTER)
        dialog.setObjectName("lora_file_dialog")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.filesSelected.connect(self._chosen)
        dialog.finished.connect(lambda *_: self._focus_after_dialog())
        self.file_dialog = dialog
        dialog.destroyed.connect(lambda *_: setattr(self, "file_dialog", None))
        dialog.open()
        return dialog

    def _chosen(self, paths: Iterable[str]) -> None:
        paths = [p for p in paths if p]
        if not paths:
            return
        self._last_folder = str(Path(paths[0]).parent)
        for path in paths:
            self._focus_next = self.add(path)

    def _focus_after_dialog(self) -> None:
        """Once the file dialog has closed (and given the focus back), the new row's weight has
        it: the next thing to set. A cancelled dialog leaves the focus on Add LoRA…."""
        row, self._focus_next = self._focus_next, None
        if row is not None and row in self.rows:
            row.weight.setFocus(Qt.FocusReason.OtherFocusReason)
            row.weight.selectAll()


def _pairs(value: Any) -> list[tuple[str, float]]:
    """``value`` as (path, weight) pairs; what cannot be read as one is left out (reuse fills
    what it can, as the form does for unknown names)."""
    if not isinstance(value, (list, tuple)):
        return []
    pairs = []
    for item in value:
        if isinstance(item, str):  # "FILE" or "FILE:0.8", as the command line takes them
            head, sep, tail = item.rpartition(":")
            try:
                path, weight = (head, float(tail)) if sep and head else (item, 1.0)
            except ValueError:
                path, weight = item, 1.0  # a colon inside the path (C:\loras\x.safetensors)
        elif isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str):
            path, weight = item[0], item[1]
        else:
            continue
        try:
            pairs.append((path, float(weight)))
        except (TypeError, ValueError):
            continue
    return pairs
