"""The Download dialog: the curated catalogue, and any hub repository by its id.

Models ▸ Download model… opens it. On the left the catalogue Studio ships (grouped for
painters, writers and musicians); above it a box for any repository id, whose Inspect asks the
hub in a thread of its own and shows the files, the variants with their sizes and whether
Studio can run it. Download starts a job (the Jobs panel shows its progress and its Cancel);
the dialog may be closed while it runs, and the model appears in the Generate panel when the
job installs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog, QHBoxLayout, QLineEdit, QPushButton, QScrollArea, QSplitter, QStackedWidget, QVBoxLayout, QWidget,
)

from studio.core.models.catalogue import load_catalogue
from studio.core.models.hub import RepoListing
from studio.core.models.library import installed_folders
from studio.core.models.manifest import read_manifest
from studio.errors import StudioError
from studio.ui.models.catalogue_list import CatalogueList
from studio.ui.models.look import ERROR, GOOD, MUTED, muted, title_label
from studio.ui.models.offer_pane import Offer, OfferPane
from studio.ui.models.repo_inspector import RepoInspector
from studio.ui.plain import plain_label
from studio.ui.slots import connect_command

if TYPE_CHECKING:
    from studio.ui.models.model_actions import ModelActions
    from studio.ui.window.main_window import MainWindow


class DownloadDialog(QDialog):
    """Choose a model from the catalogue or the hub, choose its variant, download it."""

    def __init__(self, window: "MainWindow", actions: "ModelActions") -> None:
        super().__init__(window)
        self.window_ = window
        self.actions = actions
        self.setObjectName("download_dialog")
        self.setWindowTitle("Download a model")
        self.resize(1040, 660)
        try:
            entries = load_catalogue()
            catalogue_error = ""
        except StudioError as exc:  # a damaged catalogue file must not cost the repo box
            entries, catalogue_error = [], str(exc)

        self.repo_box = QLineEdit()
        self.repo_box.setObjectName("repo_box")
        self.repo_box.setPlaceholderText("Any Hugging Face repository, e.g. onnx-community/Qwen2.5-0.5B-Instruct")
        self.repo_box.returnPressed.connect(self.inspect)
        self.repo_box.textChanged.connect(lambda text: self.inspect_button.setEnabled(bool(text.strip())))
        self.inspect_button = QPushButton("Inspect")
        self.inspect_button.setObjectName("inspect_button")
        self.inspect_button.setEnabled(False)
        self.inspect_button.setAutoDefault(False)
        connect_command(self.inspect_button.clicked, self.inspect)
        search = QHBoxLayout()
        search.addWidget(self.repo_box, 1)
        search.addWidget(self.inspect_button)

        self.catalogue = CatalogueList(entries)
        self.catalogue.chosen.connect(lambda entry: self.show_offer(Offer.from_entry(entry)))
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.catalogue, 1)
        if catalogue_error or not entries:  # load_catalogue logs what was wrong with the file
            left.addWidget(muted(f"The catalogue could not be read{': ' + catalogue_error if catalogue_error else ''}. "
                                 "A repository id in the box above still works."))
        left_pane = QWidget()
        left_pane.setLayout(left)
        left_pane.setMinimumWidth(320)

        self.offer = OfferPane(actions.device_kind())
        self.offer.download_requested.connect(self.download)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.offer)
        self.note = plain_label()  # "looking up…", the hub's answer when it is a refusal, or help
        self.note.setObjectName("download_note")
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.note)
        self.pages.addWidget(scroll)

        split = QSplitter()
        split.addWidget(left_pane)
        split.addWidget(self.pages)
        split.setStretchFactor(1, 1)
        split.setSizes([340, 700])
        self.status = plain_label()
        self.status.setObjectName("download_status")
        self.status.setWordWrap(True)
        close = QPushButton("Close")
        close.setAutoDefault(False)
        connect_command(close.clicked, self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(close)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.addWidget(title_label("Download a model", size=22))
        layout.addWidget(muted("Models Studio can run, chosen for what you make; or look up any repository on the Hugging Face hub."))
        layout.addLayout(search)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)

        self.installed: dict[str, list[str]] = {}  # hub repo id (lower case) -> variants installed
        self.inspector = RepoInspector(self)
        self.inspector.answered.connect(self._listed)
        self.inspector.failed.connect(self._refused)
        self._say_on_page("Choose a model on the left, or type a repository id above and press Inspect.", MUTED)
        first = next((e for e in entries), None)
        if first is not None:
            self.catalogue.select(first.repo_id)

    def show_offer(self, offer: Offer) -> None:
        self.offer.show_offer(offer, self.installed.get(offer.repo_id.lower()))
        self.pages.setCurrentIndex(1)

    def refresh_installed(self) -> None:
        """Read which hub repositories are in Studio's models folder (and their variants) and
        mark them, so a person sees what they already have before downloading it again."""
        installed: dict[str, list[str]] = {}
        for folder in installed_folders():
            try:
                manifest = read_manifest(folder)
            except StudioError:
                continue  # a damaged manifest: the Models window shows that folder's error
            if manifest is not None and manifest.hub_repo:
                installed.setdefault(manifest.hub_repo.lower(), []).extend(manifest.variants)
        self.installed = installed
        self.catalogue.show_installed(installed)
        if self.offer.offer is not None:
            self.offer.show_installed(installed.get(self.offer.offer.repo_id.lower()))

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        self.refresh_installed()
        super().showEvent(event)

    # -- any repository ----------------------------------------------------------------------

    def inspect(self) -> None:
        """Ask the hub about the repository in the box (in a thread: the window keeps working)."""
        repo_id = self.repo_box.text().strip()
        if not repo_id:
            return
        self.catalogue.clearSelection()
        self.inspect_button.setEnabled(False)
        self._say_on_page(f"Asking the hub about {repo_id}…", MUTED)
        self.inspector.inspect(repo_id)

    def _listed(self, listing: RepoListing) -> None:
        self.inspect_button.setEnabled(bool(self.repo_box.text().strip()))
        self.show_offer(Offer.from_listing(listing))

    def _refused(self, repo_id: str, sentence: str) -> None:
        self.inspect_button.setEnabled(bool(self.repo_box.text().strip()))
        self._say_on_page(sentence[:1].upper() + sentence[1:], ERROR)

    def _say_on_page(self, text: str, style: str) -> None:
        self.note.setText(text)
        self.note.setStyleSheet(style + " font-size: 14px; padding: 30px;")
        self.pages.setCurrentIndex(0)

    # -- download ----------------------------------------------------------------------------

    def download(self, repo_id: str, variant: str, subfolder: str = "") -> None:
        job = self.actions.download(repo_id, variant, subfolder=subfolder)
        if job is None:
            self.status.setStyleSheet(ERROR)
            self.status.setText(f"{repo_id} did not start: see the warning")
            return
        which = f" ({variant})" if variant else ""
        self.status.setStyleSheet(GOOD)
        self.status.setText(f"Downloading {repo_id}{which}: the Jobs panel shows its progress. You can close this window.")
