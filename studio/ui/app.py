"""Starting the window: the QApplication, its look, and the last line of defence for errors."""

from __future__ import annotations

import logging
import sys
import traceback

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.core.base.logs import log_path, setup_logging
from studio.core.base.paths import resources
from studio.host import Host
from studio.ui.plain import plain_box
from studio.ui.window.main_window import MainWindow

log = logging.getLogger(__name__)


def application(argv: list[str] | None = None) -> QApplication:
    """The QApplication, created once, with Studio's name and dark theme."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    icon = resources() / "icons" / "studio.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#26262b",
        QPalette.ColorRole.WindowText: "#e6e6ea",
        QPalette.ColorRole.Base: "#1d1d21",
        QPalette.ColorRole.AlternateBase: "#2b2b31",
        QPalette.ColorRole.ToolTipBase: "#2b2b31",
        QPalette.ColorRole.ToolTipText: "#e6e6ea",
        QPalette.ColorRole.Text: "#e6e6ea",
        QPalette.ColorRole.Button: "#313137",
        QPalette.ColorRole.ButtonText: "#e6e6ea",
        QPalette.ColorRole.BrightText: "#ff7b72",
        QPalette.ColorRole.Highlight: "#3d7bd9",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#5fb3ff",
        QPalette.ColorRole.PlaceholderText: "#85858d",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b6b73"))
    return palette


def install_excepthook(window: MainWindow | None = None) -> None:
    """An exception escaping a slot is logged and named in the status bar: never a crash."""

    def hook(kind, value, tb):
        log.error("internal error:\n%s", "".join(traceback.format_exception(kind, value, tb)))
        if window is not None:
            window.statusBar().showMessage(f"Internal error: {value} — details in {log_path()}", 15000)

    sys.excepthook = hook


def create_window(safe_mode: bool = False, host: Host | None = None) -> MainWindow:
    application()
    return MainWindow(host or Host(safe_mode=safe_mode))


def run(safe_mode: bool = False, project: str | None = None) -> int:
    """The window; ``project`` (a .studio file from the command line) opened in it."""
    setup_logging()
    app = application()
    try:
        window = create_window(safe_mode)
    except Exception as exc:
        log.exception("Studio could not start")
        plain_box(QMessageBox.Icon.Critical, "Studio could not start", f"{exc}\n\nDetails are in the log: {log_path()}").exec()
        return 1
    install_excepthook(window)
    window.show()
    if project:
        window.project.open_file(project)  # a bad file: a message in the window, which stays
    return app.exec()
