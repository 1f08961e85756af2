"""The menu entries answered by a dialog of their own: Image ▸ Canvas size, Resize image and
Extend canvas; Text ▸ Font; Tools ▸ Plugins and Settings; Help ▸ Runtime report and About."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFontDialog, QMessageBox

from studio.ui.canvas.dialogs import CanvasSizeDialog, ExtendDialog, ImageSizeDialog
from studio.ui.plain import plain_box
from studio.ui.window.device_status import runtime_report
from studio.ui.window.dialogs import PluginsDialog, SettingsDialog

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow


class MenuDialogs(QObject):
    """Opens each dialog over the window and applies what the user accepted."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window

    # -- Image -------------------------------------------------------------------------------

    def change_canvas_size(self) -> None:
        canvas = self.window.canvas
        dialog = CanvasSizeDialog(canvas.document.width, canvas.document.height, self.window)
        if dialog.exec():
            canvas.resize_canvas(*dialog.values())

    def resize_image(self) -> None:
        canvas = self.window.canvas
        dialog = ImageSizeDialog(canvas.document.width, canvas.document.height, self.window)
        if dialog.exec():
            canvas.scale_image(*dialog.values())

    def extend_canvas(self) -> None:
        dialog = ExtendDialog(self.window)
        if dialog.exec() and self.window.canvas.extend_canvas(*dialog.values()):
            # The border is masked and selected for outpainting: the Generate panel is set to
            # Inpaint, visibly, when its generator can (the mode stays the user's choice after).
            if self.window.generate_panel.set_mode("inpaint"):
                self.window.statusBar().showMessage("Canvas extended: the new border is masked and selected, and the Generate panel is set to Inpaint to fill it", 10000)

    # -- Text --------------------------------------------------------------------------------

    def choose_text_font(self) -> None:
        text = self.window.text
        ok, font = QFontDialog.getFont(text.editor.font(), self.window, "Editor font")
        if ok:
            text.set_font(font)

    # -- Tools and Help ----------------------------------------------------------------------

    def show_plugins(self) -> None:
        PluginsDialog(self.window.host, self.window).exec()

    def show_settings(self) -> None:
        window = self.window
        dialog = SettingsDialog(window.host, window.report, window)
        if dialog.exec():
            window.project.apply_settings()
            window.generate_panel.set_generators(window.host.generators)
            if window.report is not None:
                window.status_labels.on_report(window.report)
        else:
            window.generate_panel.set_generators(window.host.generators)

    def show_runtime_report(self) -> None:
        window = self.window
        report = window.report
        if report is None:
            plain_box(QMessageBox.Icon.Information, "Runtime report", "Still checking the devices…", parent=window).exec()
            return
        text = runtime_report(report, window.host.runtime.cached_sessions())
        plain_box(QMessageBox.Icon.Information, "Runtime report", text, parent=window).exec()  # model file names: plain

    def show_about(self) -> None:
        QMessageBox.about(
            self.window,
            "About Studio",
            "<b>Studio</b><br>A local creative studio: image canvas, text editor and audio timeline, "
            "with generators from plugins running ONNX models on your own machine.",
        )
