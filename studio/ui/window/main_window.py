"""The main window: three workspaces, the generator panel, the jobs panel, the status bar.

Data flows one way: the panel asks the ``Host`` to submit a job; the job's events come back
through ``JobBridge`` signals and land in the workspace of the generator's kind. An image
generator's pictures (``image``/``mask`` parameters) are filled from the canvas when the job
is submitted, and its previews and result land where they came from (the selection).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QTextCursor, QUndoStack
from PySide6.QtWidgets import QDockWidget, QFileDialog, QFontDialog, QLabel, QMainWindow, QMenu, QMessageBox, QTabWidget, QWidget

from studio.core.canvas_inputs import Placement, canvas_inputs, layer_params, place_result
from studio.core.generators import Generator, Preview, Progress, Result
from studio.core.history import HistoryEntry, entry_for
from studio.core.image import Layer
from studio.core.jobs import Job, JobState
from studio.core.outputs import write_result
from studio.core.project_results import result_name
from studio.core.reuse import PictureParameters, fit_parameters
from studio.core.runtime import RuntimeReport
from studio.core.text import counts_label
from studio.errors import StudioError
from studio.host import Host
from studio.ui.canvas import CanvasWorkspace
from studio.ui.canvas.dialogs import CanvasSizeDialog, ExtendDialog, ImageSizeDialog
from studio.ui.window.device_status import device_summary, runtime_report
from studio.ui.window.dialogs import PluginsDialog, SettingsDialog
from studio.ui.editor import TextWorkspace
from studio.ui.editor.workspace import THEMES, Generation
from studio.ui.panels.generate_panel import GeneratePanel
from studio.ui.panels.history_panel import HistoryPanel
from studio.ui.window.job_routing import JobRouting
from studio.ui.panels.jobs_panel import JobsPanel
from studio.ui.plain import plain_box, plain_label, plain_tip
from studio.ui.window.project_session import ProjectSession
from studio.ui.window.screen_fit import fit_to_screen, prefer_width
from studio.ui.slots import connect_command
from studio.ui.timeline import AudioWorkspace
from studio.ui.window.workers import JobBridge

log = logging.getLogger(__name__)
WORKSPACES = ("image", "text", "audio")
#: What the Generate panel offers on a workspace the first time: its built-in generator.
BUILT_IN_GENERATORS = {"image": "cppn", "text": "shakespeare", "audio": "chorale"}
TEXT_FILTER = "Text and Markdown (*.txt *.md *.markdown);;Text (*.txt);;Markdown (*.md *.markdown);;All files (*)"
PICTURE_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp);;PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp);;All files (*)"


class MainWindow(QMainWindow):
    report_ready = Signal(object)  # RuntimeReport, from the probe thread

    def __init__(self, host: Host, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.report: RuntimeReport | None = None
        self.setWindowTitle("Studio")
        self.undo_stack = QUndoStack(self)
        self.bridge = JobBridge(self)
        self._placements: dict[int, Placement] = {}  # job id -> where its picture lands
        self._continuations: dict[int, int] = {}  # job id -> the clip its audio continues

        self.canvas = CanvasWorkspace(self.undo_stack)
        self.text = TextWorkspace(host.settings)
        self.audio = AudioWorkspace(self.undo_stack)
        self.routing = JobRouting(self)  # the bridge's events reach only the document each job started for
        self.tabs = QTabWidget()
        self.tabs.setObjectName("workspaces")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.canvas, "Canvas")
        self.tabs.addTab(self.text, "Text")
        self.tabs.addTab(self.audio, "Audio")
        self.setCentralWidget(self.tabs)

        self.generate_panel = GeneratePanel()
        self.generate_panel.generate_requested.connect(self.generate)
        self.generate_panel.generator_changed.connect(self.show_workspace_for)
        self.canvas.reuse_requested.connect(self.reuse_parameters)
        self.canvas.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.canvas.warning.connect(self.warn)
        self.tabs.currentChanged.connect(self._enable_canvas_actions)
        self.audio.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.text.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.text.warning.connect(self.warn)
        self.text.continue_requested.connect(self.continue_text)
        self.text.stop_requested.connect(self.stop_text)
        self.text.rewrite_bar.rewrite_requested.connect(self.rewrite_text)
        self._text_generator_id = ""  # the text generator Continue used last
        self._chosen: dict[str, str] = {}  # workspace kind -> the generator last chosen there
        self.generate_panel.generator_changed.connect(lambda g: self._chosen.__setitem__(g.kind, g.id))
        self.tabs.currentChanged.connect(self._offer_generator_for_workspace)
        self.jobs_panel = JobsPanel()
        self.history_panel = HistoryPanel(self.history_target_exists)
        self.history_panel.reuse_requested.connect(self.reuse_history)
        self.history_panel.regenerate_requested.connect(self.regenerate_history)
        self.history_panel.jump_requested.connect(self.show_history_target)
        # Undo, redo and edits add or take away what an entry made: its "Show" follows (once
        # typing pauses, not on every key).
        self._history_refresh = QTimer(self, singleShot=True, interval=200)
        self._history_refresh.timeout.connect(self.history_panel.refresh_targets)
        self.undo_stack.indexChanged.connect(lambda _: self._history_refresh.start())
        self.text.editor.document().contentsChanged.connect(self._history_refresh.start)
        self._dock("Generate", self.generate_panel, Qt.DockWidgetArea.LeftDockWidgetArea, 365)
        jobs_dock = self._dock("Jobs", self.jobs_panel, Qt.DockWidgetArea.RightDockWidgetArea, 250)
        history_dock = self._dock("History", self.history_panel, Qt.DockWidgetArea.RightDockWidgetArea, 250)
        self.splitDockWidget(jobs_dock, history_dock, Qt.Orientation.Vertical)
        self.project = ProjectSession(self)
        self.project.state_changed.connect(self._show_title)

        self.device_label = plain_label("Checking devices…")  # onnxruntime's words may follow
        self.device_label.setObjectName("device_label")
        # What a writer watches: the generation's speed and the document's size (Text tab only).
        self.text_stats_label = QLabel()
        self.text_stats_label.setObjectName("text_stats_label")
        self.text_stats_label.setToolTip("Tokens per second and time to the first token of the last generation")
        self.text_counts_label = QLabel(counts_label(""))
        self.text_counts_label.setObjectName("text_counts_label")
        self.text.stats_changed.connect(self.text_stats_label.setText)
        self.text.counts_changed.connect(self.text_counts_label.setText)
        for label in (self.text_stats_label, self.text_counts_label):
            label.setContentsMargins(10, 0, 10, 0)  # apart from each other and the device label
        self.statusBar().addPermanentWidget(self.text_stats_label)
        self.statusBar().addPermanentWidget(self.text_counts_label)
        self.statusBar().addPermanentWidget(self.device_label)
        self._make_menus()
        self._show_title()
        self._enable_canvas_actions()
        self.generate_panel.set_generators(host.generators)
        self._warn_about_failures()
        fit_to_screen(self, QSize(1360, 860))  # with its docks in: never under their minimum
        self.report_ready.connect(self.on_report)
        self.probe_thread = threading.Thread(target=self._probe_devices, name="studio-probe", daemon=True)
        self.probe_thread.start()
        # Once the window is up: what a crash left in the recovery folder is offered back.
        QTimer.singleShot(0, self.project.offer_recovery)

    # -- construction --------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea, width: int) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        prefer_width(self, dock, width)
        return dock

    def _make_menus(self) -> None:
        canvas = self.canvas
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        project = self.project
        self._action(file_menu, "&New project", project.new, QKeySequence.StandardKey.New)
        self._action(file_menu, "&Open project…", lambda: project.open(), QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(lambda: project.fill_recent_menu(self.recent_menu))
        self._action(file_menu, "&Save project", project.save, QKeySequence.StandardKey.Save)
        self._action(file_menu, "Save project &as…", project.save_as, QKeySequence("Ctrl+Shift+S"))
        file_menu.addSeparator()
        self._canvas_actions: list[QAction] = []
        self._canvas_action(file_menu, "Open &image…", self.open_image)
        self._canvas_action(file_menu, "&Import image as layer…", self.import_image, QKeySequence("Ctrl+Shift+O"))
        self._canvas_action(file_menu, "&Export image…", self.export_image, QKeySequence("Ctrl+E"))
        self._text_actions: list[QAction] = []
        self._text_action(file_menu, "Open &text file…", self.open_text)
        self._text_action(file_menu, "Export &text…", self.save_text_as)
        file_menu.addSeparator()
        self._action(file_menu, "Add &model folder…", self.add_model_folder)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit_menu = bar.addMenu("&Edit")
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        edit_menu.addAction(undo)
        edit_menu.addAction(redo)
        edit_menu.addSeparator()
        self._canvas_action(edit_menu, "Select &all", canvas.select_all, QKeySequence.StandardKey.SelectAll)
        self._canvas_action(edit_menu, "&Deselect", canvas.deselect, QKeySequence("Ctrl+Shift+A"))
        self._canvas_action(edit_menu, "&Invert selection", canvas.invert_selection, QKeySequence("Ctrl+Shift+I"))
        edit_menu.addSeparator()
        self._canvas_action(edit_menu, "&Fill selection with the brush colour", canvas.fill_selection, QKeySequence("Shift+Backspace"))
        self._canvas_action(edit_menu, "&Clear selection", canvas.clear_selection, QKeySequence.StandardKey.Delete)
        edit_menu.addSeparator()
        self._canvas_action(edit_menu, "&Mask from selection", canvas.mask_from_selection)
        self._canvas_action(edit_menu, "Clear &mask", canvas.clear_mask, QKeySequence("Ctrl+Shift+K"))
        self._text_action(edit_menu, "&Find…", lambda: self.text.find_bar.open_bar(), QKeySequence.StandardKey.Find)
        self._text_action(edit_menu, "Find and &replace…", lambda: self.text.find_bar.open_bar(replace=True), QKeySequence("Ctrl+H"))
        self._text_action(edit_menu, "Find &next", lambda: self.text.find_bar.find_next(), QKeySequence.StandardKey.FindNext)

        # The editor claims Ctrl+Enter and Esc itself (the Generate panel owns Ctrl+Enter
        # window-wide); the menu only names them.
        text_menu = bar.addMenu("&Text")
        self._text_action(text_menu, "&Continue at the cursor\tCtrl+Enter", self.continue_text)
        self._text_action(text_menu, "&Stop\tEsc", self.stop_text)
        self._text_action(text_menu, "&Retry (new seed)", self.retry_text, QKeySequence("Ctrl+R"))
        self._text_action(text_menu, "Re&write selection…", self.text.open_rewrite, QKeySequence("Ctrl+Shift+R"))
        text_menu.addSeparator()
        self._text_action(text_menu, "&Font…", self.choose_text_font)
        themes = text_menu.addMenu("&Theme")
        group = QActionGroup(self)
        for name in THEMES:
            action = self._text_action(themes, name.capitalize(), lambda checked=False, n=name: self.text.set_theme(n))
            action.setCheckable(True)
            action.setChecked(name == self.text.theme)
            group.addAction(action)

        image_menu = bar.addMenu("&Image")
        self._canvas_action(image_menu, "&Canvas size…", self.change_canvas_size, QKeySequence("Ctrl+Alt+C"))
        self._canvas_action(image_menu, "&Resize image…", self.resize_image, QKeySequence("Ctrl+Alt+I"))
        self._canvas_action(image_menu, "&Extend canvas for outpainting…", self.extend_canvas)
        image_menu.addSeparator()
        self.use_layer_action = self._canvas_action(image_menu, "Generators start from the active &layer", lambda: None)
        self.use_layer_action.setCheckable(True)
        self.use_layer_action.setChecked(True)
        self.use_layer_action.setToolTip(
            "With nothing selected, a generator that takes an image starts from the active layer "
            "(image to image). Turn off to generate from the prompt alone."
        )

        layer_menu = bar.addMenu("&Layer")
        self._canvas_action(layer_menu, "&New layer", canvas.new_layer, QKeySequence("Ctrl+Shift+N"))
        self._canvas_action(layer_menu, "&Duplicate layer", canvas.duplicate_layer, QKeySequence("Ctrl+J"))
        self._canvas_action(layer_menu, "Delete layer", canvas.delete_layer)
        layer_menu.addSeparator()
        self._canvas_action(layer_menu, "Move layer &up", lambda: canvas.shift_layer(+1), QKeySequence("Ctrl+]"))
        self._canvas_action(layer_menu, "Move layer do&wn", lambda: canvas.shift_layer(-1), QKeySequence("Ctrl+["))
        layer_menu.addSeparator()
        self._canvas_action(layer_menu, "&Reuse parameters", lambda: canvas.reuse_layer(canvas.active_layer))

        view_menu = bar.addMenu("&View")
        self._canvas_action(view_menu, "Zoom &in", lambda: canvas.view.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        self._canvas_action(view_menu, "Zoom &out", lambda: canvas.view.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        self._canvas_action(view_menu, "&Fit in window", canvas.view.fit, QKeySequence("Ctrl+0"))
        self._canvas_action(view_menu, "&Actual pixels (100 %)", canvas.view.actual_size, QKeySequence("Ctrl+1"))

        audio_menu = bar.addMenu("&Audio")
        self._audio_actions: list[QAction] = []
        for name in ("play", "stop", "loop", "", "add_track", "import", "export_mix", "export_midi", "", "split", "duplicate", "delete", "", "snap", "zoom_in", "zoom_out", "zoom_fit"):
            if not name:
                audio_menu.addSeparator()
                continue
            action = self.audio.actions_by_name[name]  # its keys work inside the Audio workspace
            audio_menu.addAction(action)
            self._audio_actions.append(action)
        audio_menu.addSeparator()
        self.continue_clip_action = audio_menu.addAction("Generators &continue the selected clip")
        self.continue_clip_action.setCheckable(True)
        self.continue_clip_action.setChecked(True)
        self.continue_clip_action.setToolTip(
            "A generator that takes an audio prompt continues the selected clip; with this off, or no clip "
            "selected, it starts from silence"
        )
        self._audio_actions.append(self.continue_clip_action)

        tools = bar.addMenu("&Tools")
        self._action(tools, "&Plugins…", self.show_plugins)
        self._action(tools, "&Settings…", self.show_settings, QKeySequence.StandardKey.Preferences)
        self._action(tools, "Cancel all jobs", self.host.runner.cancel_all, QKeySequence("Ctrl+."))
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Runtime report", self.show_runtime_report)
        self._action(help_menu, "&About Studio", self.show_about)

    def _canvas_action(self, menu: QMenu, text, slot, shortcut=None) -> QAction:
        """A menu entry that works on the canvas: enabled only while the Canvas tab is shown,
        so its shortcut (Delete, Ctrl+A) never reaches into the text or audio workspace."""
        action = self._action(menu, text, slot, shortcut)
        self._canvas_actions.append(action)
        return action

    def _text_action(self, menu: QMenu, text, slot, shortcut=None) -> QAction:
        """A menu entry for the text: enabled only on the Text tab, so Ctrl+O/Ctrl+S/Ctrl+F
        there never collide with the canvas's entries on the same keys."""
        action = self._action(menu, text, slot, shortcut)
        action.setEnabled(self.tabs.currentWidget() is self.text)
        self._text_actions.append(action)
        return action

    def _enable_canvas_actions(self) -> None:
        on_canvas = self.tabs.currentWidget() is self.canvas
        for action in self._canvas_actions:
            action.setEnabled(on_canvas)
        on_text = self.tabs.currentWidget() is self.text
        for action in getattr(self, "_text_actions", ()):
            action.setEnabled(on_text)
        on_audio = self.tabs.currentWidget() is self.audio
        for action in getattr(self, "_audio_actions", ()):
            action.setEnabled(on_audio)
        for label in (getattr(self, "text_stats_label", None), getattr(self, "text_counts_label", None)):
            if label is not None:
                label.setVisible(on_text)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        connect_command(action.triggered, slot)
        menu.addAction(action)
        return action

    def _warn_about_failures(self) -> None:
        failed = self.host.plugins.failed()
        broken_models = [m for m in self.host.plugins.model_folders if not m.ok]
        if failed or broken_models:
            names = ", ".join(p.name for p in failed) + (", " if failed and broken_models else "")
            names += ", ".join(m.path.name for m in broken_models)
            self.statusBar().showMessage(f"Left out because they failed to load: {names} — see Tools ▸ Plugins", 15000)

    # -- devices -------------------------------------------------------------------------

    def _probe_devices(self) -> None:
        try:
            report = self.host.runtime.report()
        except StudioError as exc:
            log.warning("device probe failed: %s", exc)
            report = exc
        except Exception as exc:  # never let a probe failure take the window down
            log.exception("device probe failed")
            report = exc
        self.report_ready.emit(report)

    def on_report(self, report) -> None:
        if not isinstance(report, RuntimeReport):
            self.device_label.setText(f"onnxruntime unavailable: {report}")
            return
        self.report = report
        device = self.host.device()
        text, tip = device_summary(report, device)
        self.device_label.setText(text)
        self.device_label.setToolTip(plain_tip(tip))
        if device.is_cpu and report.gpu_reason and not getattr(self, "_said_gpu_status", False):
            self._said_gpu_status = True  # once a session, plainly (Settings ▸ OK reports again)
            current = self.statusBar().currentMessage()  # e.g. plugins left out: keep it in view
            self.statusBar().showMessage(f"{current} · {report.gpu_status}" if current else report.gpu_status, 15000)

    # -- generating ----------------------------------------------------------------------

    def generate(self, generator_id: str, values: dict) -> Job | None:
        """Submit a job; an image generator's pictures (and size, under a selection) come from the canvas."""
        generator = self.host.generators.get(generator_id)
        if generator is not None and generator.kind == "text":
            return self.generate_text(generator_id, values, "continue")
        placement = Placement()
        try:
            if generator is not None and generator.kind == "image":
                values, placement = canvas_inputs(
                    self.canvas.document, self.canvas.active_layer, generator.params, values, self.use_layer_action.isChecked()
                )
            prompt_clip = None
            if generator is not None and generator.kind == "audio":
                values, prompt_clip = self._timeline_inputs(generator, values)
            job = self.host.submit(generator_id, values, listeners=[self.bridge.listener])
            if prompt_clip is not None:
                self._continuations[job.id] = prompt_clip
        except StudioError as exc:
            self.warn("Cannot generate", str(exc))
            return None
        self._placements[job.id] = placement
        self.jobs_panel.add(job)
        self.show_workspace_for(job.generator)
        if placement.source == "selection" and placement.size is not None:
            self.statusBar().showMessage(f"Generating into the selection ({placement.size[0]} × {placement.size[1]} at {placement.x}, {placement.y})", 8000)
        elif placement.source == "layer" and self.canvas.active_layer is not None:
            self.statusBar().showMessage(f"Generating from the layer “{self.canvas.active_layer.name}”", 8000)
        return job

    def _timeline_inputs(self, generator: Generator, values: dict) -> tuple[dict, int | None]:
        """An audio prompt is the selected clip as heard, when the user lets clips be continued;
        returns the values and the id of the clip continued (None: none)."""
        wanted = [p.name for p in generator.params if p.type == "audio" and values.get(p.name) is None]
        clip = self.audio.selected_clip() if self.continue_clip_action.isChecked() else None
        if not wanted or clip is None:
            return values, None
        prompt = self.audio.selected_audio()  # rendered only when a generator takes it
        return {**values, **{name: prompt for name in wanted}}, clip.id

    # -- generating text ------------------------------------------------------------------

    def _text_generator(self) -> Generator | None:
        """The text generator to use: the panel's choice, else the last used, the built-in, any."""
        current = self.generate_panel.current()
        if current is None or current.kind != "text":
            texts = sorted((g for g in self.host.generators.values() if g.kind == "text"), key=lambda g: g.id)
            preferred = [self._text_generator_id, "shakespeare"]
            choice = next((g for i in preferred for g in texts if g.id == i), texts[0] if texts else None)
            if choice is None:
                return None
            self.generate_panel.select(choice.id)
            current = self.generate_panel.current()
        return current

    def generate_text(self, generator_id: str, values: dict, mode: str, instruction: str = "", retry_of: Generation | None = None) -> Job | None:
        """Submit a text job: ``continue`` reads the text before the cursor, ``rewrite`` the selection.

        The sampling controls come from the Generate panel (the generator's params); the
        editor only adds what it owns: the prompt and the instruction.
        """
        if self.text.running:
            self.statusBar().showMessage("A generation is already streaming: Esc stops it", 5000)
            return None
        generator = self.host.generators.get(generator_id)
        names = {p.name for p in generator.params} if generator is not None else set()
        values = dict(values)
        takes_prompt = "prompt" in names  # one without a prompt just writes at the cursor
        if mode == "rewrite" and generator is not None and not takes_prompt:
            self.statusBar().showMessage(f"{generator.title or generator.id} takes no prompt, so it cannot rewrite a selection", 8000)
            return None
        if mode == "rewrite":
            values["prompt"] = self.text.selected_text()
        elif takes_prompt:
            prompt = self.text.prompt_before_cursor()
            if not prompt.strip() and str(values.get("prompt") or "").strip() and retry_of is None:
                # An empty page: the form's prompt starts the text, as the writer's own words.
                self.text.editor.textCursor().insertText(str(values["prompt"]))
                prompt = self.text.prompt_before_cursor()
            values["prompt"] = prompt
        if "instruction" in names:
            values["instruction"] = instruction if mode == "rewrite" else ""
        try:
            job = self.host.submit(generator_id, values, listeners=[self.bridge.listener])
        except StudioError as exc:
            self.warn("Cannot generate", str(exc))
            return None
        self._text_generator_id = generator_id
        self.jobs_panel.add(job)
        self.tabs.setCurrentWidget(self.text)
        self.text.begin(job, mode, values, retry_of)
        return job

    def continue_text(self) -> Job | None:
        generator = self._text_generator()
        if generator is None:
            self.statusBar().showMessage("No text generator is installed (Tools ▸ Plugins)", 8000)
            return None
        values = self.generate_panel.form.values() if self.generate_panel.form is not None else {}
        return self.generate_text(generator.id, values, "continue")

    def rewrite_text(self, instruction: str) -> Job | None:
        generator = self._text_generator()
        if generator is None:
            self.statusBar().showMessage("No text generator is installed (Tools ▸ Plugins)", 8000)
            return None
        if not self.text.selected_text().strip():
            self.statusBar().showMessage("Select the text to rewrite first", 5000)
            return None
        values = self.generate_panel.form.values() if self.generate_panel.form is not None else {}
        job = self.generate_text(generator.id, values, "rewrite", instruction)
        if job is not None:
            self.text.rewrite_bar.hide()
        return job

    def stop_text(self) -> None:
        """Cancel the streaming generation at once; what streamed stays (one Ctrl+Z removes it)."""
        for generation in self.text.running:
            generation.job.cancel()

    def retry_text(self) -> Job | None:
        """Replace the last generation with a new one from the same prompt and a new seed."""
        last = self.text.prepare_retry()
        if last is None:
            return None
        values = dict(last.values)
        values["seed"] = None  # a new seed: the core draws it and the result records it
        return self.generate_text(last.job.generator.id, values, last.mode, str(values.get("instruction") or ""), retry_of=last)

    # -- the title -------------------------------------------------------------------------

    def _show_title(self) -> None:
        """The project's name, with Qt's unsaved-changes mark ("[*]" becomes "*" when modified)."""
        self.setWindowTitle(f"{self.project.name}[*] — Studio")
        self.setWindowModified(self.project.modified)

    # -- text files -----------------------------------------------------------------------

    def open_text(self) -> None:
        """Put a .txt/.md file's text in the Text workspace (it becomes the project's text)."""

        def choose() -> None:
            path, _ = QFileDialog.getOpenFileName(self, "Open text file", "", TEXT_FILTER)
            if path and self.text.open_file(path):
                self.text.editor.document().setModified(True)  # new to the project: unsaved

        self.text.confirm_discard(choose)

    def save_text_as(self) -> bool:
        """Export the text as a .md/.txt file (the project keeps its own copy)."""
        name = self.text.path.name if self.text.path else f"{self.project.name}.md"
        path, _ = QFileDialog.getSaveFileName(self, "Export text", name, TEXT_FILTER)
        return self.text.save(path, mark_saved=False) if path else False

    def choose_text_font(self) -> None:
        ok, font = QFontDialog.getFont(self.text.editor.font(), self, "Editor font")
        if ok:
            self.text.set_font(font)

    def warn(self, title: str, text: str) -> QMessageBox:
        """A warning that does not block the event loop: jobs keep reporting behind it."""
        box = plain_box(QMessageBox.Icon.Warning, title, text, parent=self)  # file names, plugin errors: plain
        box.setObjectName("warning")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.statusBar().showMessage(f"{title}: {text}", 15000)
        return box

    def show_workspace_for(self, generator: Generator) -> None:
        self.tabs.setCurrentIndex(WORKSPACES.index(generator.kind))

    def _offer_generator_for_workspace(self) -> None:
        """On the Audio tab the Generate panel offers an audio generator, and so on: the one
        last chosen there, else the built-in one, else any of that kind."""
        kind = WORKSPACES[self.tabs.currentIndex()]
        current = self.generate_panel.current()
        if current is None or current.kind == kind:
            return
        of_kind = sorted(g.id for g in self.host.generators.values() if g.kind == kind)
        for generator_id in [self._chosen.get(kind, ""), BUILT_IN_GENERATORS[kind], *of_kind]:
            if generator_id in of_kind:
                self.generate_panel.select(generator_id)
                return

    def on_state(self, job: Job, state: JobState, message: str) -> None:
        row = self.jobs_panel.row(job)
        if row is not None:
            row.on_state(state, message)
        if state.done:
            self._placements.pop(job.id, None)
            self._continuations.pop(job.id, None)
        if state in (JobState.CANCELLED, JobState.FAILED):
            if job.generator.kind == "image":
                self.canvas.view.show_preview(None)
            elif job.generator.kind == "text" and self.routing.current(job):  # else: its text was replaced
                self.text.abandon(job)
                if state is JobState.CANCELLED:
                    self.statusBar().showMessage("Stopped: what streamed is kept (Ctrl+Z removes it)", 8000)
        if state is JobState.FAILED:
            self.statusBar().showMessage(f"{job.generator.title or job.generator.id} failed: {message}", 15000)
        if job.abandoned:  # the user pressed Cancel and saw nothing happen: tell them why
            self.statusBar().showMessage(message, 15000)

    def on_progress(self, job: Job, progress: Progress) -> None:
        row = self.jobs_panel.row(job)
        if row is not None:
            row.on_progress(progress)
        if job.generator.kind == "text":
            self.text.progress(job, progress.step)

    def on_preview(self, job: Job, preview: Preview) -> None:
        row = self.jobs_panel.row(job)
        if row is not None:
            row.on_preview(preview)
        if preview.kind == "image":
            placement = self._placements.get(job.id)
            self.canvas.view.show_preview(preview.value, placement.preview_rect() if placement is not None else None)
        elif preview.kind == "text":
            self.text.stream(job, str(preview.value))

    def on_result(self, job: Job, result: Result) -> None:
        title = job.generator.title or job.generator.id
        name = result_name(title, result.params)
        if result.kind == "image":
            placement = self._placements.get(job.id) or Placement()
            try:
                pixels = place_result(result.value, placement)
            except ValueError as exc:
                self.warn(f"{title} gave a picture Studio cannot show", str(exc))
                return
            layer = Layer(name, pixels, generator=result.generator, params=layer_params(dict(result.params)), x=placement.x, y=placement.y)
            self.canvas.add_layer(layer, fit_canvas=placement.fit_canvas, text=f"Generate “{name}”")
            target: int | None = layer.id
        elif result.kind == "text":
            self.text.finish(job, str(result.value), dict(result.info))
            target = job.id  # the key of the text's generated spans
        elif result.kind == "audio":
            clip = self.audio.add_generated(result, title, continues=self._continuations.get(job.id))
            target = clip.id if clip is not None else None
        else:
            target = None
        self._record(job, result, title, target)
        notes = list(result.info.get("notes", ()))
        if notes:  # e.g. a prompt cut at CLIP's 77 tokens: the user should know what was dropped
            self.statusBar().showMessage(f"{title} finished. Note: {' '.join(notes)}", 20000)
        else:
            self.statusBar().showMessage(f"{title} finished", 5000)

    # -- the generation history ----------------------------------------------------------

    def _record(self, job: Job, result: Result, title: str, target: int | None) -> None:
        """Add the finished generation to the history (a change the project must save)."""
        seconds = (job.ended or time.monotonic()) - (job.started or job.created)
        entry = entry_for(result.kind, result.generator, title, result.params, target, self._model_folder(result.generator), seconds)
        self.history_panel.add(entry)
        self.project.mark_changed()

    def _model_folder(self, generator_id: str) -> str:
        """The model folder a generator runs from ("" for a plugin's built-in model)."""
        for folder in self.host.plugins.model_folders:
            if folder.generator is not None and folder.generator.id == generator_id:
                return str(folder.path)
        return ""

    def history_target_exists(self, entry: HistoryEntry) -> bool:
        if entry.target is None:
            return False
        if entry.kind == "image":
            return any(layer.id == entry.target for layer in self.canvas.document.layers)
        if entry.kind == "text":
            return self.text.spans.of_job(entry.target) is not None
        if entry.kind == "audio":
            return any(clip.id == entry.target for clip in self.audio.timeline.clips)
        return False

    def show_history_target(self, entry: HistoryEntry) -> bool:
        """Show what ``entry`` made: select its layer, its text or its clip, on its tab."""
        if not self.history_target_exists(entry):
            self.statusBar().showMessage("What this generation made was undone, deleted or edited away", 8000)
            return False
        if entry.kind == "image":
            self.tabs.setCurrentWidget(self.canvas)
            self.canvas.set_active(next(l for l in self.canvas.document.layers if l.id == entry.target))
        elif entry.kind == "text":
            span = self.text.spans.of_job(entry.target)
            self.tabs.setCurrentWidget(self.text)
            cursor = self.text.editor.textCursor()
            cursor.setPosition(span.start)
            cursor.setPosition(span.end, QTextCursor.MoveMode.KeepAnchor)
            self.text.editor.setTextCursor(cursor)
            self.text.editor.setFocus()
        elif entry.kind == "audio":
            self.tabs.setCurrentWidget(self.audio)
            clip = self.audio.timeline.clip(entry.target)
            self.audio.select_clip(clip.id)
            self.audio.set_playhead(clip.start)
            self.audio.arrangement.ensure_visible(clip.id)
        return True

    def _history_generator(self, entry: HistoryEntry) -> Generator | None:
        generator = self.host.generators.get(entry.generator)
        if generator is None:
            self.statusBar().showMessage(f"{entry.title or entry.generator} is not installed (Tools ▸ Plugins, or add its model folder)", 8000)
        return generator

    def reuse_history(self, entry: HistoryEntry) -> bool:
        """Select the entry's generator and fill its form with the entry's parameters."""
        generator = self._history_generator(entry)
        if generator is None:
            return False
        self.generate_panel.reuse(generator.id, fit_parameters(entry.params, generator.params))
        self.statusBar().showMessage(f"Parameters of {entry.summary()} loaded into {generator.title or generator.id}", 8000)
        return True

    def regenerate_history(self, entry: HistoryEntry) -> Job | None:
        """Run the entry's generator again with its parameters, seed included: the same output,
        made again (pictures and audio prompts come from the workspace, as for any generation)."""
        generator = self._history_generator(entry)
        if generator is None:
            return None
        values = fit_parameters(entry.params, generator.params)
        self.generate_panel.reuse(generator.id, values)
        return self.generate(generator.id, values)

    def reuse_layer(self, layer: Layer) -> None:
        if layer.generator:
            self.reuse_parameters(PictureParameters(layer.generator, dict(layer.params), "layer"), f"“{layer.name}”")

    def reuse_parameters(self, parameters: PictureParameters, source: str = "the picture") -> bool:
        """Select the generator that made a picture and fill its form with what fits.

        A1111 text names no Studio generator: it goes to the current image generator (or the
        first one with a prompt), its names matched to that generator's parameters.
        """
        generators = self.host.generators
        generator = generators.get(parameters.generator)
        note = ""
        if generator is None:
            current = self.generate_panel.current()
            candidates = ([current] if current is not None else []) + sorted(generators.values(), key=lambda g: g.id)
            generator = next((g for g in candidates if g.kind == "image" and any(p.name == "prompt" for p in g.params)), None)
            generator = generator or next((g for g in candidates if g.kind == "image"), None)
            if generator is None:
                self.statusBar().showMessage(f"No installed generator can reuse the parameters of {source}", 8000)
                return False
            if parameters.generator:
                note = f" ({parameters.generator} is not installed)"
        values = fit_parameters(parameters.params, generator.params)
        self.generate_panel.reuse(generator.id, values)
        self.statusBar().showMessage(f"Parameters of {source} loaded into {generator.title or generator.id}{note}", 8000)
        return True

    # -- menus ---------------------------------------------------------------------------

    def open_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", PICTURE_FILTER)
        if path:
            self.canvas.open_file(path)

    def import_image(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import images as layers", "", PICTURE_FILTER)
        if paths:
            self.canvas.import_files(paths)

    def change_canvas_size(self) -> None:
        document = self.canvas.document
        dialog = CanvasSizeDialog(document.width, document.height, self)
        if dialog.exec():
            self.canvas.resize_canvas(*dialog.values())

    def resize_image(self) -> None:
        document = self.canvas.document
        dialog = ImageSizeDialog(document.width, document.height, self)
        if dialog.exec():
            self.canvas.scale_image(*dialog.values())

    def extend_canvas(self) -> None:
        dialog = ExtendDialog(self)
        if dialog.exec():
            self.canvas.extend_canvas(*dialog.values())

    def export_image(self) -> None:
        document = self.canvas.document
        if not document.layers:
            self.statusBar().showMessage("Nothing to export: the canvas is empty", 5000)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export image", "image.png", "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp)")
        if path:
            self.export_image_to(path)

    def export_image_to(self, path: str) -> Path | None:
        """Flatten the canvas into ``path``; the top generated layer's parameters go with it."""
        document = self.canvas.document
        source = next((l for l in reversed(document.layers) if l.visible and l.generator), None)
        result = Result("image", document.composite(), source.generator if source else "", dict(source.params) if source else {})
        try:
            written = write_result(result, path)
        except StudioError as exc:
            self.warn("Cannot export", str(exc))
            return None
        self.statusBar().showMessage(f"Exported {written}", 5000)
        return written

    def add_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add model folder")
        if folder:
            self.add_model_folder_path(folder)

    def add_model_folder_path(self, folder: str) -> bool:
        """Add a model folder and select its generator; a folder no plugin reads gets a warning."""
        try:
            entry = self.host.add_model_folder(folder)
        except StudioError as exc:
            self.warn("Cannot add this model folder", str(exc))
            return False
        self.generate_panel.set_generators(self.host.generators)
        self.generate_panel.select(entry.generator.id)
        self.statusBar().showMessage(f"Added {entry.path} as {entry.generator.title or entry.generator.id}", 8000)
        return True

    def show_plugins(self) -> None:
        PluginsDialog(self.host, self).exec()

    def show_settings(self) -> None:
        dialog = SettingsDialog(self.host, self.report, self)
        if dialog.exec():
            self.project.apply_settings()
            self.generate_panel.set_generators(self.host.generators)
            if self.report is not None:
                self.on_report(self.report)
        else:
            self.generate_panel.set_generators(self.host.generators)

    def show_runtime_report(self) -> None:
        report = self.report
        if report is None:
            plain_box(QMessageBox.Icon.Information, "Runtime report", "Still checking the devices…", parent=self).exec()
            return
        text = runtime_report(report, self.host.runtime.cached_sessions())
        plain_box(QMessageBox.Icon.Information, "Runtime report", text, parent=self).exec()  # model file names: plain

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About Studio",
            "<b>Studio</b><br>A local creative studio: image canvas, text editor and audio timeline, "
            "with generators from plugins running ONNX models on your own machine.",
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.project.saving:  # wait for it: a save that fails must still be able to ask
            event.ignore()
            QTimer.singleShot(100, self.close)
            return
        if self.project.modified and not getattr(self, "_closing", False):
            event.ignore()  # ask without blocking: the answer closes the window again

            def close() -> None:
                self._closing = True
                self.close()

            self.project.confirm_unsaved(close, "closing")
            return
        self.project.shutdown()
        self.audio.shutdown()
        self.host.shutdown()
        super().closeEvent(event)
