"""The main window: the composition of its parts.

Three workspaces in tabs (canvas, text, audio), the Generate, Layers, Explorer, Jobs and History docks
(``docks``: laid out, reset and remembered), the menu bar and the status bar. Each concern is a part of its own, built here and wired to the others
(names on the window are what the parts, the tests and the scripts drive):

- ``menus`` (WindowMenus): the menu bar, each workspace's entries enabled on its tab only;
- ``generation`` (GenerationDispatch): image and audio jobs submitted, every job's events landed;
- ``writing`` (TextGeneration): Continue, Rewrite, Retry and Stop in the editor;
- ``chatting`` (ChatGeneration): the Text tab's chat view (Story | Chat) and its replies;
- ``history`` (HistoryActions): finished generations recorded, the History panel's buttons;
- ``media`` (MediaLinks): a passage illustrated or scored, and History's link back to it;
- ``files`` (FileActions) and ``dialogs`` (MenuDialogs): what the menus' entries open;
- ``workspaces`` (WorkspaceTabs): the tab follows the generator, the generator the tab;
- ``status_labels`` (StatusBarLabels): the device label and its probe, the text's labels;
- ``project`` (ProjectSession) and ``routing`` (JobRouting), and the close path (closing.py).

Data flows one way: the panel asks the ``Host`` to submit a job; the job's events come back
through ``JobBridge`` signals and land in the workspace of the generator's kind.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QUndoStack
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from studio.core.engine.jobs import Job
from studio.core.engine.runtime import RuntimeReport
from studio.core.image.document import Layer
from studio.core.project.history import HistoryEntry
from studio.host import Host
from studio.ui.canvas import CanvasWorkspace
from studio.ui.canvas.explorer import ExplorerPanel
from studio.ui.editor import TextWorkspace
from studio.ui.editor.context_view import ContextView, ContextWatch
from studio.ui.editor.story_panel import StoryPanel
from studio.ui.editor.workspace import Generation
from studio.ui.panels.generate_panel import GeneratePanel
from studio.ui.panels.history_panel import HistoryPanel
from studio.ui.panels.jobs_panel import JobsPanel
from studio.ui.plain import plain_box
from studio.ui.timeline import AudioWorkspace
from studio.ui.window.chat_generation import ChatGeneration
from studio.ui.window.closing import ready_to_close
from studio.ui.window.docks import Docks
from studio.ui.window.file_actions import FileActions
from studio.ui.window.generation import GenerationDispatch
from studio.ui.window.history_actions import HistoryActions
from studio.ui.window.job_indicator import JobIndicator
from studio.ui.window.job_routing import JobRouting
from studio.ui.window.media_links import MediaLinks
from studio.ui.window.menu_dialogs import MenuDialogs
from studio.ui.window.menus import WindowMenus
from studio.ui.window.project_session import ProjectSession
from studio.ui.window.screen_fit import fit_to_screen
from studio.ui.window.status_bar import StatusBarLabels
from studio.ui.window.text_generation import TextGeneration
from studio.ui.window.workers import JobBridge
from studio.ui.window.workspace_tabs import WorkspaceTabs, workspace_tabs


class MainWindow(QMainWindow):
    """Studio's window: builds the workspaces, the docks and the parts, and wires them."""

    def __init__(self, host: Host, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.report: RuntimeReport | None = None  # the device probe's, once it answers
        self._closing = False  # True: close without asking about unsaved work
        self.setWindowTitle("Studio")
        self.undo_stack = QUndoStack(self)
        self.bridge = JobBridge(self)

        self.canvas = CanvasWorkspace(self.undo_stack)
        self.text = TextWorkspace(host.settings)
        self.audio = AudioWorkspace(self.undo_stack)
        self.generation = GenerationDispatch(self)
        self.routing = JobRouting(self)  # the bridge's events reach only the document each job started for
        self.tabs = workspace_tabs(self.canvas, self.text, self.audio)
        self.setCentralWidget(self.tabs)

        self.generate_panel = GeneratePanel(layer_names=lambda: [layer.name for layer in reversed(self.canvas.document.layers)])
        self.generate_panel.generate_requested.connect(self.generate)
        self.workspaces = WorkspaceTabs(self)
        for workspace in (self.canvas, self.audio, self.text):
            workspace.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.canvas.warning.connect(self.warn)
        self.canvas.changed_outside_undo.connect(lambda: self.project.mark_changed())  # a layer's eye
        self.text.warning.connect(self.warn)
        self.writing = TextGeneration(self)
        self.chatting = ChatGeneration(self)  # the chat view beside the story view, in the Text tab
        self.jobs_panel = JobsPanel()
        self.history_panel = HistoryPanel(self.history_target_exists)
        self.history = HistoryActions(self)
        self.media = MediaLinks(self)  # Illustrate selection, Score this scene, and History's links to passages
        self.story_panel = StoryPanel()  # memory, author's note, lorebook: read by each Continue
        self.chatting.switch.chat_button.toggled.connect(self.story_panel.show_chat_note)
        self.context_view = ContextView()
        self.context_watch = ContextWatch(self.context_view, self.generate_panel, self.text, self.story_panel)
        self.context_watch.watch_chat(self.chatting.view, self.chatting.stack)  # in the chat: the next reply's context
        # The Explorer walks a latent generator's space; its pictures are its own jobs, and a placed
        # one lands through the window's generation, as one undo step.
        self.explorer = ExplorerPanel(host, self.canvas, self.generation.generate, self.generate_panel.values_for)
        self.generate_panel.generators_changed.connect(self.explorer.refresh_generators)
        self.docks = Docks(self, self.generate_panel, self.canvas.options, self.canvas.panel, self.jobs_panel, self.history_panel,
                           self.story_panel, self.context_view, self.explorer)
        self.project = ProjectSession(self)
        self.project.state_changed.connect(self._show_title)

        self.status_labels = StatusBarLabels(self)
        self.job_indicator = JobIndicator(self.docks.show_jobs)  # the Jobs panel is a tab behind others
        self.statusBar().insertPermanentWidget(0, self.job_indicator)
        self.device_label = self.status_labels.device_label
        self.text_stats_label = self.status_labels.text_stats_label
        self.text_counts_label = self.status_labels.text_counts_label
        self.files = FileActions(self)
        self.dialogs = MenuDialogs(self)
        self.menus = WindowMenus(self)
        self.recent_menu = self.menus.recent_menu
        self.continue_clip_action = self.menus.continue_clip_action
        self._text_actions = self.menus.text_actions
        self.tabs.currentChanged.connect(self._workspace_shown)

        self._show_title()
        self._workspace_shown()
        self.generate_panel.set_generators(host.generators)
        self.generation.watch_canvas()  # the panel's size and source follow the canvas
        self.status_labels.warn_about_failures()
        fit_to_screen(self, QSize(1720, 1000))  # a full HD screen's most; a smaller one's free area
        if not self.docks.restore(host.settings):  # the last session's layout, where it still fits
            self.docks.arrange()  # the default, by this window's size
        self.probe_thread = self.status_labels.probe_thread
        self.status_labels.start_probe()
        # Once the window is up: what a crash left in the recovery folder is offered back.
        QTimer.singleShot(0, self.project.offer_recovery)

    def _workspace_shown(self) -> None:
        """A tab was shown: its workspace's menu entries and status labels work, the others' not."""
        self.menus.enable_for_current_tab()
        self.docks.show_for_workspace(self.tabs.currentWidget() is self.canvas, self.tabs.currentWidget() is self.text)
        self.status_labels.show_text_labels(self.tabs.currentWidget() is self.text)

    def _show_title(self) -> None:
        """The project's name, with Qt's unsaved-changes mark ("[*]" becomes "*" when modified)."""
        self.setWindowTitle(f"{self.project.name}[*] — Studio")
        self.setWindowModified(self.project.modified)

    def warn(self, title: str, text: str) -> QMessageBox:
        """A warning that does not block the event loop: jobs keep reporting behind it."""
        box = plain_box(QMessageBox.Icon.Warning, title, text, parent=self)  # file names, plugin errors: plain
        box.setObjectName("warning")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.statusBar().showMessage(f"{title}: {text}", 15000)
        return box

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if ready_to_close(self, event):
            self.docks.save(self.host.settings)
            # Emptied now, while every part is alive: the stack's destructor empties it too, and
            # notifies parts (the Generate panel's) that a tab switch may have had destroyed first.
            self.undo_stack.clear()
            super().closeEvent(event)

    # -- the parts' commands, by the names the History panel, the tests and the scripts call --

    def generate(self, generator_id: str, values: dict) -> Job | None:
        return self.generation.generate(generator_id, values)

    def generate_text(self, generator_id: str, values: dict, mode: str, instruction: str = "", retry_of: Generation | None = None) -> Job | None:
        return self.writing.generate_text(generator_id, values, mode, instruction, retry_of)

    def continue_text(self) -> Job | None:
        return self.writing.continue_text()

    def history_target_exists(self, entry: HistoryEntry) -> bool:
        return self.history.history_target_exists(entry)

    def show_history_target(self, entry: HistoryEntry) -> bool:
        return self.history.show_history_target(entry)

    def reuse_history(self, entry: HistoryEntry) -> bool:
        return self.history.reuse_history(entry)

    def regenerate_history(self, entry: HistoryEntry) -> Job | None:
        return self.history.regenerate_history(entry)

    def reuse_layer(self, layer: Layer) -> None:
        self.history.reuse_layer(layer)

    def export_image_to(self, path: str) -> Path | None:
        return self.files.export_image_to(path)

    def add_model_folder_path(self, folder: str) -> bool:
        return self.files.add_model_folder_path(folder)
