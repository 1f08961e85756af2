"""The Plugins window and the Settings dialog (model folders, devices, projects)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.base.paths import builtin_models
from studio.core.engine.runtime import RuntimeReport
from studio.core.models.library import resolved_folder
from studio.errors import StudioError
from studio.host import Host
from studio.ui.plain import plain_label, plain_tip
from studio.ui.window.devices_settings import DevicesPage

STATUS_COLOURS = {"loaded": "#7ee787", "failed": "#ff7b72", "disabled": "#a0a0a8"}


class PluginsDialog(QDialog):
    """Every plugin found, loaded or not, and what went wrong with the ones that failed."""

    COLUMNS = ("Plugin", "Status", "From", "Generators", "Problem")

    def __init__(self, host: Host, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Plugins")
        self.resize(820, 360)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("plugins_table")
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(self.COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        for plugin in host.plugins.plugins:
            origin = "built-in" if plugin.builtin else f"{plugin.distribution} {plugin.version}".strip()
            row = self.table.rowCount()
            self.table.insertRow(row)
            cells = (plugin.name, plugin.status, origin, ", ".join(plugin.generators) or "–", plugin.error)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(plain_tip(text))  # a plugin's error: plain, never HTML
                if column == 1:
                    item.setForeground(QColor(STATUS_COLOURS.get(plugin.status, "#ddd")))
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        failed = len(host.plugins.failed())
        note = QLabel(
            f"{len(host.plugins.plugins)} plugin(s), {failed} failed. A failed plugin is left out; everything else keeps working."
            + (" Safe mode: only built-in plugins are loaded." if host.plugins.safe_mode else "")
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)


class SettingsDialog(QDialog):
    """Model folders and the device, saved with QSettings when the user presses OK."""

    def __init__(self, host: Host, report: RuntimeReport | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.setWindowTitle("Settings")
        self.resize(640, 420)
        self.folders = QListWidget()
        self.folders.setObjectName("model_folders")
        self._fill_folders()
        add = QPushButton("Add model folder…")
        add.clicked.connect(self.choose_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(self.remove_folder)
        self.folder_error = plain_label()  # the folder's name and what is wrong with it
        self.folder_error.setObjectName("folder_error")
        self.folder_error.setWordWrap(True)
        self.folder_error.setStyleSheet("color: #ff7b72;")
        self.folder_error.hide()
        folder_buttons = QHBoxLayout()
        folder_buttons.addWidget(add)
        folder_buttons.addWidget(remove)
        folder_buttons.addStretch(1)

        self.devices = DevicesPage(host, report)
        self.device = self.devices.device  # the device choice, where it always was

        self.autosave = QSpinBox()
        self.autosave.setObjectName("autosave_minutes")
        self.autosave.setRange(0, 120)
        self.autosave.setSuffix(" min")
        self.autosave.setSpecialValueText("Off")
        self.autosave.setToolTip("Unsaved work is copied to the recovery folder this often; after a crash, Studio offers it back")
        self.autosave.setValue(int(round(host.settings.autosave_minutes)))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layouts = "; ".join(f"{l.title or l.id}: {l.layout}" for l in host.plugins.loaders if l.layout)
        known = html.escape(f"Layouts the installed plugins read: {layouts or 'none'}. Built-in models: {builtin_models()}")  # the plugins' words
        intro = QLabel(f"<b>Model folders</b> — each is read by the plugin that understands its layout.<br><span style='color:#999'>{known}</span>")
        intro.setWordWrap(True)
        intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        folders_page = QWidget()
        folders_layout = QVBoxLayout(folders_page)
        folders_layout.addWidget(intro)
        folders_layout.addWidget(self.folders, 1)
        folders_layout.addLayout(folder_buttons)
        folders_layout.addWidget(self.folder_error)
        general = QWidget()
        form = QFormLayout(general)
        form.addRow("Autosave every", self.autosave)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("settings_tabs")
        self.tabs.addTab(folders_page, "Model folders")
        self.tabs.addTab(self.devices, "Devices")
        self.tabs.addTab(general, "Projects")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)

    def _fill_folders(self) -> None:
        self.folders.clear()
        # The user's own folders only: downloaded models are loaded too, but they are removed
        # from the Models window (which deletes them), not forgotten here.
        yours = {resolved_folder(f) for f in self.host.settings.model_folders}
        entries = [e for e in self.host.plugins.model_folders if resolved_folder(e.path) in yours]
        if not entries:
            hint = QListWidgetItem("No model folders yet. Add a folder holding a model in a layout a plugin reads.")
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
            self.folders.addItem(hint)
        for entry in entries:
            text = f"{entry.path}  —  {entry.generator.id if entry.ok else 'error: ' + entry.error}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, str(entry.path))
            if not entry.ok:
                item.setForeground(QColor("#ff7b72"))
            self.folders.addItem(item)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add model folder")
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> bool:
        """Add ``folder``; what is wrong with it is shown in the dialog, never raised."""
        try:
            self.host.add_model_folder(folder)
        except StudioError as exc:
            self.folder_error.setText(f"Cannot add this folder: {exc}")
            self.folder_error.show()
            return False
        self.folder_error.hide()
        self._fill_folders()
        return True

    def remove_folder(self) -> None:
        item = self.folders.currentItem()
        if item is not None and item.data(Qt.ItemDataRole.UserRole):
            self.host.settings.remove_model_folder(item.data(Qt.ItemDataRole.UserRole))
            self.host.reload_model_folders()
            self._fill_folders()

    def accept(self) -> None:
        if not self.devices.check():
            self.tabs.setCurrentWidget(self.devices)
            return
        self.devices.apply()
        self.host.settings.autosave_minutes = self.autosave.value()
        super().accept()
