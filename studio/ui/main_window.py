"""The main window: three workspaces, the generator panel, the jobs panel, the status bar.

Data flows one way: the panel asks the ``Host`` to submit a job; the job's events come back
through ``JobBridge`` signals and land in the workspace of the generator's kind.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget, QWidget

from studio.core.generators import Generator, Preview, Progress, Result
from studio.core.image import Layer
from studio.core.jobs import Job, JobState
from studio.core.logs import log_path
from studio.core.outputs import write_result
from studio.core.runtime import RuntimeReport
from studio.core.timeline import Clip
from studio.errors import StudioError
from studio.host import Host
from studio.ui.canvas import CanvasWorkspace
from studio.ui.dialogs import PluginsDialog, SettingsDialog
from studio.ui.editor import TextWorkspace
from studio.ui.generate_panel import GeneratePanel
from studio.ui.jobs_panel import JobsPanel
from studio.ui.timeline import AudioWorkspace
from studio.ui.workers import JobBridge

log = logging.getLogger(__name__)
WORKSPACES = ("image", "text", "audio")


class MainWindow(QMainWindow):
    report_ready = Signal(object)  # RuntimeReport, from the probe thread

    def __init__(self, host: Host, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.report: RuntimeReport | None = None
        self.setWindowTitle("Studio")
        self.resize(1360, 860)
        self.undo_stack = QUndoStack(self)
        self.bridge = JobBridge(self)
        self.bridge.state_changed.connect(self.on_state)
        self.bridge.progress.connect(self.on_progress)
        self.bridge.preview.connect(self.on_preview)
        self.bridge.result.connect(self.on_result)

        self.canvas = CanvasWorkspace(self.undo_stack)
        self.text = TextWorkspace()
        self.audio = AudioWorkspace(self.undo_stack)
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
        self.canvas.layer_activated.connect(self.reuse_layer)
        self.audio.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.jobs_panel = JobsPanel()
        self._dock("Generate", self.generate_panel, Qt.DockWidgetArea.LeftDockWidgetArea, 320)
        self._dock("Jobs", self.jobs_panel, Qt.DockWidgetArea.RightDockWidgetArea, 290)

        self.device_label = QLabel("Checking devices…")
        self.device_label.setObjectName("device_label")
        self.statusBar().addPermanentWidget(self.device_label)
        self._make_menus()
        self.generate_panel.set_generators(host.generators)
        self._warn_about_failures()
        self.report_ready.connect(self.on_report)
        self.probe_thread = threading.Thread(target=self._probe_devices, name="studio-probe", daemon=True)
        self.probe_thread.start()

    # -- construction --------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea, width: int) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        widget.setMinimumWidth(width)
        self.addDockWidget(area, dock)
        return dock

    def _make_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Export image…", self.export_image, QKeySequence("Ctrl+E"))
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
        tools = bar.addMenu("&Tools")
        self._action(tools, "&Plugins…", self.show_plugins)
        self._action(tools, "&Settings…", self.show_settings, QKeySequence.StandardKey.Preferences)
        self._action(tools, "Cancel all jobs", self.host.runner.cancel_all, QKeySequence("Ctrl+."))
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Runtime report", self.show_runtime_report)
        self._action(help_menu, "&About Studio", self.show_about)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
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
        usable = next((p for p in report.devices if p.device.id == device.id), report.best)
        provider = usable.got[0] if usable.got else "?"
        text = f"{device.name} · {provider.replace('ExecutionProvider', '')}"
        tip = f"onnxruntime {report.version} ({report.package})\nAvailable in this build: {', '.join(report.available)}"
        if report.gpu_reason and device.is_cpu:
            text += " · GPU not used"
            tip += f"\nGPU not used: {report.gpu_reason}"
        self.device_label.setText(text)
        self.device_label.setToolTip(tip)

    # -- generating ----------------------------------------------------------------------

    def generate(self, generator_id: str, values: dict) -> Job | None:
        try:
            job = self.host.submit(generator_id, values, listeners=[self.bridge.listener])
        except StudioError as exc:
            self.warn("Cannot generate", str(exc))
            return None
        self.jobs_panel.add(job)
        self.show_workspace_for(job.generator)
        return job

    def warn(self, title: str, text: str) -> QMessageBox:
        """A warning that does not block the event loop: jobs keep reporting behind it."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("warning")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.statusBar().showMessage(f"{title}: {text}", 15000)
        return box

    def show_workspace_for(self, generator: Generator) -> None:
        self.tabs.setCurrentIndex(WORKSPACES.index(generator.kind))

    def on_state(self, job: Job, state: JobState, message: str) -> None:
        row = self.jobs_panel.row(job)
        if row is not None:
            row.on_state(state, message)
        if state in (JobState.CANCELLED, JobState.FAILED):
            if job.generator.kind == "image":
                self.canvas.view.show_preview(None)
            elif job.generator.kind == "text":
                self.text.abandon(job)
        if state is JobState.FAILED:
            self.statusBar().showMessage(f"{job.generator.title or job.generator.id} failed: {message}", 15000)

    def on_progress(self, job: Job, progress: Progress) -> None:
        row = self.jobs_panel.row(job)
        if row is not None:
            row.on_progress(progress)

    def on_preview(self, job: Job, preview: Preview) -> None:
        row = self.jobs_panel.row(job)
        if row is not None:
            row.on_preview(preview)
        if preview.kind == "image":
            self.canvas.view.show_preview(preview.value)
        elif preview.kind == "text":
            self.text.stream(job, str(preview.value))

    def on_result(self, job: Job, result: Result) -> None:
        title = job.generator.title or job.generator.id
        seed = result.params.get("seed")
        name = f"{title} · {seed}" if seed is not None else title
        if result.kind == "image":
            self.canvas.add_layer(Layer(name, result.value, generator=result.generator, params=dict(result.params)))
        elif result.kind == "text":
            self.text.finish(job, str(result.value))
        elif result.kind == "audio":
            self.audio.add_clip(Clip(name, result.value, result.sample_rate, result.generator, dict(result.params)))
        self.statusBar().showMessage(f"{title} finished", 5000)

    def reuse_layer(self, layer: Layer) -> None:
        if layer.generator:
            self.generate_panel.reuse(layer.generator, dict(layer.params))
            self.statusBar().showMessage(f"Parameters of “{layer.name}” loaded into the generator panel", 5000)

    # -- menus ---------------------------------------------------------------------------

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
            self.generate_panel.set_generators(self.host.generators)
            if self.report is not None:
                self.on_report(self.report)
        else:
            self.generate_panel.set_generators(self.host.generators)

    def show_runtime_report(self) -> None:
        report = self.report
        if report is None:
            QMessageBox.information(self, "Runtime report", "Still checking the devices…")
            return
        lines = [f"onnxruntime {report.version} ({report.package})", f"Available in this build: {', '.join(report.available)}", f"CPU threads: {report.cpu_threads}", ""]
        for probe in report.devices:
            state = "usable" if probe.usable else f"not usable — {probe.reason}"
            lines.append(f"{probe.device.name} [{probe.device.id}]: asked {', '.join(probe.asked)}; got {', '.join(probe.got) or 'nothing'}; {state}")
        sessions = self.host.runtime.cached_sessions()
        if sessions:
            lines.append("")
            lines += [f"{s.path.name} on {s.device.id}: {s.providers[0]} (loaded in {s.seconds:.2f} s)" for s in sessions]
        lines += ["", f"Log: {log_path()}"]
        QMessageBox.information(self, "Runtime report", "\n".join(lines))

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About Studio",
            "<b>Studio</b><br>A local creative studio: image canvas, text editor and audio timeline, "
            "with generators from plugins running ONNX models on your own machine.",
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.host.shutdown()
        super().closeEvent(event)
