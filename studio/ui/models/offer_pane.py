"""The Download dialog's right side: one model on offer (a catalogue entry or a repository the
hub described), its variants to choose from with their sizes, and the Download button.

A catalogue entry and a hub listing are shown the same way (``Offer``); a listing adds its
files and the verdict sentence that says whether and how Studio can run it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QButtonGroup, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QPushButton, QRadioButton, QSizePolicy, QTreeWidget,
    QTreeWidgetItem, QVBoxLayout, QWidget,
)

from studio.core.models.catalogue import CatalogueEntry
from studio.core.models.hub import RepoListing
from studio.core.models.variants import SUITS, VARIANTS, human_size, preferred
from studio.ui.models.look import ERROR, GOOD, MUTED, WARNING, badge, heading, kind_name, muted, title_label
from studio.ui.plain import plain_label
from studio.ui.slots import connect_command

TOKEN_HELP = "set HF_TOKEN or run `hf auth login`"


@dataclass
class Offer:
    repo_id: str
    title: str
    kind: str = ""
    description: str = ""
    license: str = ""
    device: str = ""
    gated: bool = False
    homepage: str = ""
    variants: dict[str, int] = field(default_factory=dict)
    default_variant: str = ""
    runnable: bool = True
    verdict: str = ""
    files: list[tuple[str, int]] | None = None  # only for a repository the hub listed
    estimated: bool = False  # the sizes were worked out, not read from the hub
    subfolder: str = ""  # the build to take where a repository holds several (the catalogue says)

    @classmethod
    def from_entry(cls, entry: CatalogueEntry) -> "Offer":
        return cls(entry.repo_id, entry.title, entry.kind, entry.description, entry.license, entry.device, entry.gated,
                   entry.homepage, dict(entry.variants), entry.default_variant, estimated=entry.size_estimated,
                   subfolder=entry.subfolder)

    @classmethod
    def from_listing(cls, listing: RepoListing) -> "Offer":
        return cls(listing.repo_id, listing.repo_id.split("/")[-1], listing.kind, "", listing.license, "", bool(listing.gated),
                   listing.page, dict(listing.variants), "", listing.runnable, listing.verdict,
                   [(f.path, f.size) for f in listing.files])

    def ordered_variants(self) -> list[str]:
        return sorted(self.variants, key=lambda name: VARIANTS.index(name) if name in VARIANTS else len(VARIANTS))


class OfferPane(QWidget):
    """One offered model; ``download_requested(repo_id, variant, subfolder)`` when its button is clicked."""

    download_requested = Signal(str, str, str)

    def __init__(self, device_kind: str = "cpu", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.device_kind = device_kind
        self.offer: Offer | None = None
        self.installed_variants: list[str] | None = None  # None: not in Studio's models folder
        self.title = title_label(size=20)
        self.title.setObjectName("offer_title")
        self.repo = plain_label()
        self.repo.setObjectName("offer_repo")
        self.repo.setStyleSheet(MUTED + " font-family: monospace;")
        self.repo.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.kind = badge()
        self.license = badge(colour="#2d4a6e")
        self.device = badge(colour="#2f4a3a")
        tags = QHBoxLayout()
        tags.setSpacing(6)
        for tag in (self.kind, self.license, self.device):
            tag.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            tags.addWidget(tag)
        tags.addStretch(1)
        self.description = plain_label()
        self.description.setWordWrap(True)
        self.verdict = plain_label()
        self.verdict.setObjectName("verdict")
        self.verdict.setWordWrap(True)
        self.device_warning = plain_label("This model runs on a GPU only, and Studio found none it can use on this "
                                          "computer: it will download, but not generate here.")
        self.device_warning.setObjectName("device_warning")
        self.device_warning.setWordWrap(True)
        self.device_warning.setStyleSheet(f"{WARNING} background: #3a3222; border-radius: 6px; padding: 8px;")
        self.installed = plain_label()
        self.installed.setObjectName("offer_installed")
        self.installed.setWordWrap(True)
        self.installed.setStyleSheet(GOOD)
        self.gated = plain_label()
        self.gated.setObjectName("gated_note")
        self.gated.setWordWrap(True)
        self.gated.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.gated.setStyleSheet(f"{WARNING} background: #3a3222; border-radius: 6px; padding: 8px;")

        self.variants_heading = heading("Choose a variant")
        self.variant_box = QWidget()
        self.variant_grid = QGridLayout(self.variant_box)
        self.variant_grid.setContentsMargins(0, 0, 0, 0)
        self.variant_grid.setHorizontalSpacing(18)
        palette = self.variant_box.palette()  # the dark theme's base makes an empty radio circle vanish
        palette.setColor(QPalette.ColorRole.Base, QColor("#45454e"))
        self.variant_box.setPalette(palette)
        self.variant_group = QButtonGroup(self)
        self.variant_buttons: dict[str, QRadioButton] = {}
        self.variant_group.buttonToggled.connect(lambda *_: self._update_button())

        self.files_heading = heading("Files")
        self.files = QTreeWidget()
        self.files.setObjectName("repo_files")
        self.files.setHeaderLabels(["File", "Size"])
        self.files.setRootIsDecorated(False)
        self.files.setAlternatingRowColors(True)
        self.files.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.files.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.files.setMinimumHeight(120)
        self.files.setStyleSheet("QTreeWidget::item { padding: 2px 4px; } QHeaderView::section { padding: 3px 4px; }")

        self.total = muted()
        self.total.setObjectName("download_size")
        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("download_button")
        self.download_button.setMinimumWidth(140)
        self.download_button.setAutoDefault(False)  # Enter in the repo box inspects; it never downloads
        self.download_button.setStyleSheet("QPushButton:enabled { background: #3d7bd9; color: white; font-weight: 600; padding: 6px 14px; }")
        connect_command(self.download_button.clicked, self._download)
        bottom = QHBoxLayout()
        bottom.addWidget(self.total, 1)
        bottom.addWidget(self.download_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 12, 18, 12)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.repo)
        layout.addLayout(tags)
        layout.addWidget(self.description)
        layout.addWidget(self.verdict)
        layout.addWidget(self.gated)
        layout.addWidget(self.device_warning)
        layout.addWidget(self.installed)
        layout.addWidget(self.variants_heading)
        layout.addWidget(self.variant_box)
        layout.addWidget(self.files_heading)
        layout.addWidget(self.files, 1)
        self.stretch = QWidget()
        layout.addWidget(self.stretch, 1)
        layout.addLayout(bottom)

    def show_offer(self, offer: Offer, installed: list[str] | None = None) -> None:
        self.offer = offer
        self.installed_variants = installed  # the button follows once the variants are filled in
        self._say_installed()
        self.title.setText(offer.title)
        self.repo.setText(offer.repo_id)
        self.kind.setText(kind_name(offer.kind))
        self.kind.setVisible(bool(offer.kind))
        self.license.setText(f"License: {offer.license}" if offer.license else "License not stated")
        self.device.setText(f"Runs on: {offer.device}" if offer.device else "")
        self.device.setVisible(bool(offer.device))
        self.description.setText(offer.description)
        self.description.setVisible(bool(offer.description))
        self.verdict.setText(offer.verdict)
        self.verdict.setStyleSheet(GOOD if offer.runnable else ERROR)
        self.verdict.setVisible(bool(offer.verdict))
        if offer.gated:
            page = offer.homepage or f"https://huggingface.co/{offer.repo_id}"
            self.gated.setText(f"Gated: accept the license on the hub page {page}, then give Studio a token ({TOKEN_HELP}).")
        self.gated.setVisible(offer.gated)
        self.device_warning.setVisible(self._needs_other_device(offer))
        self._fill_variants(offer)
        self.files.clear()
        for path, size in offer.files or ():
            item = QTreeWidgetItem([path, human_size(size)])
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.files.addTopLevelItem(item)
        listed = offer.files is not None
        self.files_heading.setVisible(listed)
        self.files.setVisible(listed)
        self.stretch.setVisible(not listed)
        self._update_button()

    def show_installed(self, variants: list[str] | None) -> None:
        """Say that (and which variants of) this model is already in Studio's models folder."""
        self.installed_variants = variants
        self._say_installed()
        self._update_button()

    def _say_installed(self) -> None:
        variants = self.installed_variants
        if variants is None:
            self.installed.hide()
            return
        which = f" ({', '.join(variants)})" if variants else ""
        self.installed.setText(f"✓ Installed{which}. Another variant downloads into the same model.")
        self.installed.show()

    def chosen_variant(self) -> str:
        button = self.variant_group.checkedButton()
        return str(button.property("variant")) if button is not None else ""

    def choose(self, variant: str) -> bool:
        button = self.variant_buttons.get(variant)
        if button is not None:
            button.setChecked(True)
        return button is not None

    def _fill_variants(self, offer: Offer) -> None:
        for button in self.variant_group.buttons():
            self.variant_group.removeButton(button)
        while self.variant_grid.count():
            widget = self.variant_grid.takeAt(0).widget()
            if widget is not None:  # gone now: deleteLater alone leaves it drawn (and found) until the loop runs
                widget.hide()
                widget.setParent(None)
                widget.deleteLater()
        self.variant_buttons = {}
        names = offer.ordered_variants()
        here = preferred(names, self.device_kind) if names and not self._needs_other_device(offer) else None
        if here is not None and self.device_kind.upper() not in SUITS.get(here, "CPU or GPU"):
            here = None  # e.g. only fp16 on a computer without a GPU: nothing suits it
        for row, name in enumerate(names):
            button = QRadioButton(name)
            button.setObjectName(f"variant_{name}")
            button.setProperty("variant", name)
            self.variant_group.addButton(button)
            self.variant_buttons[name] = button
            size = plain_label(("about " if offer.estimated else "") + human_size(offer.variants[name]))
            size.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.variant_grid.addWidget(button, row, 0)
            self.variant_grid.addWidget(size, row, 1)
            suits = plain_label(SUITS.get(name, "CPU or GPU"))
            suits.setStyleSheet(MUTED)
            self.variant_grid.addWidget(suits, row, 2)
            if name == here:
                mark = plain_label("✓ suits this computer")
                mark.setObjectName("suits_here")
                mark.setStyleSheet(GOOD)
                self.variant_grid.addWidget(mark, row, 3)
        self.variant_grid.setColumnStretch(4, 1)
        wanted = offer.default_variant if offer.default_variant in self.variant_buttons else here
        if wanted:
            self.variant_buttons[wanted].setChecked(True)
        self.variants_heading.setVisible(bool(names))
        self.variant_box.setVisible(bool(names))

    def _needs_other_device(self, offer: Offer) -> bool:
        """A model that says it runs on a GPU only, on a computer where Studio has none."""
        return self.device_kind == "cpu" and "gpu only" in offer.device.lower()

    def _update_button(self) -> None:
        offer = self.offer
        variant = self.chosen_variant() if offer is not None else ""
        if offer is not None and variant not in offer.variants:
            variant = ""  # a button of the offer shown before, still being replaced
        have = offer is not None and self.installed_variants is not None and (variant in self.installed_variants or not offer.variants)
        runnable = offer is not None and offer.runnable
        self.download_button.setEnabled(runnable and not have)
        if offer is None:
            self.total.clear()
            return
        if have:
            self.total.setText(f"{variant or 'This model'} is installed already: choose it in the Generate panel")
        elif not runnable:
            self.total.setText("Studio cannot run this repository, so it is not offered for download.")
        elif variant:
            self.total.setText(f"Downloads {human_size(offer.variants[variant])} ({variant}) into Studio's models folder")
        elif offer.files:
            self.total.setText(f"Downloads {len(offer.files)} files, {human_size(sum(s for _, s in offer.files))}")
        else:
            self.total.setText("Downloads the whole model into Studio's models folder")

    def _download(self) -> None:
        if self.offer is not None and self.offer.runnable:
            self.download_requested.emit(self.offer.repo_id, self.chosen_variant(), self.offer.subfolder)
