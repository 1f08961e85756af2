"""The window's docks: Generate on the left, Jobs above History on the right."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

from studio.ui.window.screen_fit import prefer_width


def dock_panels(window: QMainWindow, generate: QWidget, jobs: QWidget, history: QWidget) -> None:
    """Dock the three panels, each at the width it asks for where the screen has room."""
    dock(window, "Generate", generate, Qt.DockWidgetArea.LeftDockWidgetArea, 365)
    jobs_dock = dock(window, "Jobs", jobs, Qt.DockWidgetArea.RightDockWidgetArea, 250)
    history_dock = dock(window, "History", history, Qt.DockWidgetArea.RightDockWidgetArea, 250)
    window.splitDockWidget(jobs_dock, history_dock, Qt.Orientation.Vertical)


def dock(window: QMainWindow, title: str, widget: QWidget, area: Qt.DockWidgetArea, width: int) -> QDockWidget:
    """A dock that moves and floats but does not close, found by its object name ``dock_<title>``."""
    dock = QDockWidget(title, window)
    dock.setObjectName(f"dock_{title.lower()}")
    dock.setWidget(widget)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
    window.addDockWidget(area, dock)
    prefer_width(window, dock, width)
    return dock
