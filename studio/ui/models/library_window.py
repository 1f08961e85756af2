"""The Models window: every model Studio knows, as a list beside the chosen model's details.

Opened from Models ▸ Models… (Ctrl+Shift+M). It lists what the library finds (built-in models,
folders the user added, downloads), each with its kind, size and variants; a folder that no
longer loads is listed with its error rather than hidden. Remove asks first and says what it
costs (the disk a download frees, or that an added folder's files stay). A model folder (one
that holds ONNX graphs) dropped on the window is added as File ▸ Add model folder… adds it; a
checkpoint file, or a folder of safetensors weights to convert, opens the Import dialog on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog, QHBoxLayout, QLineEdit, QListWidget, QListWidgetItem, QMessageBox, QPushButton, QScrollArea, QSplitter,
    QStackedWidget, QVBoxLayout, QWidget,
)

from studio.core.models.library import ModelRecord, model_records, remove_model
from studio.core.models.variants import human_size
from studio.errors import StudioError
from studio.ui.models.look import ERROR, MUTED, kind_name, muted, title_label
from studio.ui.models.model_details import ModelDetails
from studio.ui.plain import plain_box, plain_label
from studio.ui.slots import connect_command

if TYPE_CHECKING:
    from studio.ui.models.model_actions import ModelActions
    from studio.ui.window.main_window import MainWindow

ROW_HEIGHT = 58


class ModelRow(QWidget):
    """One line of the list: the name, then kind · origin · size · variants (or the error)."""

    def __init__(self, record: ModelRecord) -> None:
        super().__init__()
        name = plain_label(record.name)
        name.setStyleSheet("font-weight: 600; font-size: 13px;")
        parts = [kind_name(record.kind).split()[-1], human_size(record.size)]
        if len(record.variants) > 3:
            parts.append(f"{len(record.variants)} variants")
        elif record.variants:
            parts.append(", ".join(record.variants))
        second = plain_label("  ·  ".join(parts) if not record.error else "Cannot be loaded: choose it to see why")
        second.setStyleSheet(ERROR if record.error else MUTED)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(2)
        layout.addWidget(name)
        layout.addWidget(second)
        self.setToolTip("")  # the details pane says the rest


class ModelsWindow(QDialog):
    """The model library: a filterable list on the left, the chosen model on the right."""

    def __init__(self, window: "MainWindow", actions: "ModelActions") -> None:
        super().__init__(window)
        self.window_ = window
        self.actions = actions
        self.records: list[ModelRecord] = []
        self.setObjectName("models_window")
        self.setWindowTitle("Models")
        self.setAcceptDrops(True)  # a model folder dropped here is added; a checkpoint is imported
        self.resize(1000, 640)

        self.summary = muted()
        self.summary.setObjectName("models_summary")
        self.filter = QLineEdit()
        self.filter.setObjectName("models_filter")
        self.filter.setPlaceholderText("Filter by name or generator")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.add_button = QPushButton("Add folder…")
        self.add_button.setObjectName("add_folder_button")
        connect_command(self.add_button.clicked, actions.add_model_folder)
        self.download_button = QPushButton("Download…")
        self.download_button.setObjectName("download_button")
        self.download_button.setDefault(False)
        self.download_button.setAutoDefault(False)
        self.add_button.setAutoDefault(False)
        connect_command(self.download_button.clicked, actions.open_download_dialog)
        self.import_button = QPushButton("Import…")
        self.import_button.setObjectName("import_button")
        self.import_button.setAutoDefault(False)
        self.import_button.setToolTip("Convert a .safetensors checkpoint or a Hugging Face folder to a model Studio runs")
        connect_command(self.import_button.clicked, actions.open_import_dialog)
        top = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(title_label("Models", size=22))
        titles.addWidget(self.summary)
        top.addLayout(titles, 1)
        top.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignBottom)
        top.addWidget(self.import_button, 0, Qt.AlignmentFlag.AlignBottom)
        top.addWidget(self.download_button, 0, Qt.AlignmentFlag.AlignBottom)

        self.list = QListWidget()
        self.list.setObjectName("models_list")
        self.list.setSpacing(1)
        self.list.setStyleSheet("QListWidget { border: none; } QListWidget::item:selected { background: #2f4f7a; border-radius: 6px; }")
        self.list.currentItemChanged.connect(lambda *_: self._show_current())
        self.list.installEventFilter(self)  # Delete on the list asks to remove, as the button does
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.filter)
        left.addWidget(self.list, 1)
        left.addWidget(muted("Drop a model folder here to add it, or a .safetensors checkpoint to import it."))
        left_pane = QWidget()
        left_pane.setLayout(left)
        left_pane.setMinimumWidth(300)

        self.details = ModelDetails()
        self.details.remove_requested.connect(self.ask_remove)
        self.details.reveal_requested.connect(self.reveal)
        self.details.variants_requested.connect(actions.show_repo)
        self.details.message.connect(self.say)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.details)
        self.empty = muted("No models yet.\n\nDownload one (Download…), import a checkpoint (Import…), or add a folder "
                           "that holds one (Add folder…, or drop the folder on this window).")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(scroll)

        split = QSplitter()
        split.addWidget(left_pane)
        split.addWidget(self.pages)
        split.setStretchFactor(1, 1)
        split.setSizes([330, 670])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.addLayout(top)
        layout.addWidget(split, 1)

    # -- the list ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the library again, keeping the chosen model chosen when it is still there."""
        chosen = self.current_record()
        self.records = model_records(self.window_.host)
        self.list.clear()
        for record in self.records:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, record)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, record.name)
            item.setSizeHint(QSize(0, ROW_HEIGHT))
            self.list.addItem(item)
            self.list.setItemWidget(item, ModelRow(record))
        total = sum(r.size for r in self.records if r.origin in ("downloaded", "imported"))
        count = f"{len(self.records)} model{'s' if len(self.records) != 1 else ''}"
        # Downloads and imports both live in Studio's models folder: say what that folder holds.
        self.summary.setText(f"{count} · {human_size(total)} in Studio's models folder" if total else count)
        keep = next((i for i, r in enumerate(self.records) if chosen and r.folder == chosen.folder), 0)
        self.list.setCurrentRow(keep if self.records else -1)
        self._apply_filter()
        self._show_current()

    def current_record(self) -> ModelRecord | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def select(self, name: str) -> bool:
        """Choose the model called ``name`` (or with that generator id) in the list."""
        for row in range(self.list.count()):
            record = self.list.item(row).data(Qt.ItemDataRole.UserRole)
            if name in (record.name, record.generator_id):
                self.list.setCurrentRow(row)
                return True
        return False

    def _apply_filter(self) -> None:
        words = self.filter.text().strip().lower().split()
        for row in range(self.list.count()):
            item = self.list.item(row)
            record = item.data(Qt.ItemDataRole.UserRole)
            haystack = f"{record.name} {record.generator_id} {record.kind} {record.source}".lower()
            item.setHidden(not all(word in haystack for word in words))

    def _show_current(self) -> None:
        record = self.current_record()
        self.details.show_record(record)
        self.pages.setCurrentIndex(1 if record is not None else 0)

    # -- actions -----------------------------------------------------------------------------

    def ask_remove(self, record: ModelRecord) -> QMessageBox:
        """Ask before removing, saying what it costs; the answer arrives without blocking jobs."""
        if not record.deletes_files:
            what = f"Studio forgets this folder. Its files stay where they are:\n{record.folder}"
        else:
            what = f"This deletes its folder and frees {human_size(record.size)} of disk:\n{record.folder}"
        box = plain_box(QMessageBox.Icon.Question, "Remove model", f"Remove “{record.name}”?",
                        QMessageBox.StandardButton.Cancel, parent=self, informative=what)
        box.setObjectName("confirm_remove")
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        remove.setObjectName("confirm_remove_button")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: box.clickedButton() is remove and self.remove(record))
        box.open()
        return box

    def remove(self, record: ModelRecord) -> None:
        try:
            freed = remove_model(self.window_.host, record)
        except StudioError as exc:
            self.window_.warn(f"Cannot remove {record.name}", str(exc))
            return
        self.actions.refresh()  # the library loaded the model folders again
        if freed:
            self.say(f"Removed {record.name}: {human_size(freed)} freed")
        else:
            self.say(f"Removed {record.name} from the list: its files stay in {record.folder}")

    def reveal(self, record: ModelRecord) -> None:
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(record.folder))):
            self.say(f"No file manager answered; the folder is {record.folder}")

    def say(self, text: str) -> None:
        self.window_.statusBar().showMessage(text, 10000)
        self.summary.setToolTip(text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        delete = watched is self.list and isinstance(event, QKeyEvent) and event.matches(QKeySequence.StandardKey.Delete)
        if delete and event.type() == QEvent.Type.ShortcutOverride:
            event.accept()  # the key is the list's: not the main window's Edit ▸ Clear selection
            return True
        if delete and event.type() == QEvent.Type.KeyPress:
            if self.details.remove_button.isEnabled():
                self.details.remove_button.click()
            return True
        return super().eventFilter(watched, event)

    # -- drops -------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        # Files too: a checkpoint is imported, and anything else is told why not in the Import window.
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        folders = [str(p) for p in paths if p.is_dir() and holds_onnx(p)]
        to_import = [str(p) for p in paths if str(p) not in folders]
        if not paths:
            return
        event.acceptProposedAction()
        if folders:
            self.actions.add_folders(folders)
        if to_import:  # a checkpoint, a folder of safetensors weights, or what the dialog explains it cannot take
            self.actions.open_import_dialog(to_import[0])
            if len(to_import) > 1:
                self.say(f"One model is imported at a time: {Path(to_import[0]).name} is in the Import window")


def holds_onnx(folder: Path) -> bool:
    """True for a folder in a layout the plugins read (ONNX graphs at its top or one folder
    down, as the SD, LM and MusicGen layouts keep them): added, not converted."""
    try:
        return any(folder.glob("*.onnx")) or any(folder.glob("*/*.onnx"))
    except OSError:  # unreadable: adding it says why, in the library's words
        return True
