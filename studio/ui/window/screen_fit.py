"""The window's first size: what it prefers, fitted to the screen it opens on, centred.

A fixed 1360 × 860 ran off a 1280 × 720 laptop screen, title bar and all.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

#: Room for the title bar and borders, which the window system adds only once it is shown.
FRAME_ROOM = QSize(16, 48)
#: The narrowest a side panel gets on a small screen: History's three buttons still in a row.
DOCK_FLOOR = 250
#: The most of the screen's width one side panel takes at first (365 px of a 1366 px screen),
#: so on a small screen the picture, text or timeline between them keeps its share.
DOCK_SHARE = 0.27


def prefer_width(window: QMainWindow, dock: QDockWidget, width: int) -> None:
    """Give ``dock`` ``width`` where the screen has room for it, and let it narrow to
    ``DOCK_FLOOR`` where not: a fixed minimum of its full width kept the window wider than a
    1024 px screen."""
    dock.widget().setMinimumWidth(min(width, DOCK_FLOOR))
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        width = min(width, max(DOCK_FLOOR, int(screen.availableGeometry().width() * DOCK_SHARE)))
    window.resizeDocks([dock], [width], Qt.Orientation.Horizontal)


def fits_screen(window: QWidget) -> bool:
    """True when ``window``'s geometry (a restored one) lies on one screen's free area: a
    layout saved on a larger or another monitor is not taken back onto this one."""
    geometry = window.geometry()
    screen = QGuiApplication.screenAt(geometry.center())
    return screen is not None and screen.availableGeometry().contains(geometry)


def fit_to_screen(window: QWidget, preferred: QSize) -> None:
    """Size ``window`` to ``preferred``, or less where its screen's free area (without task
    bars and docks) is smaller, and centre it there (again once shown, by its real frame)."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:  # no screen at all: nothing to fit to
        window.resize(preferred)
        return
    window.resize(preferred.boundedTo(screen.availableGeometry().size() - FRAME_ROOM))
    _centre(window, window.size() + FRAME_ROOM)
    window.installEventFilter(_RefitWhenShown(window))


def _centre(window: QWidget, frame: QSize) -> None:
    room = (window.screen() or QGuiApplication.primaryScreen()).availableGeometry()
    window.move(room.x() + max(0, (room.width() - frame.width()) // 2), room.y() + max(0, (room.height() - frame.height()) // 2))


def _refit(window: QWidget) -> None:
    """With the real frame known: take off what still overflows the screen, and centre."""
    room = (window.screen() or QGuiApplication.primaryScreen()).availableGeometry()
    frame = window.frameGeometry().size()
    overflow = (frame - room.size()).expandedTo(QSize(0, 0))
    if not overflow.isNull():
        window.resize(window.size() - overflow)
        frame = window.frameGeometry().size()
    _centre(window, frame)


class _RefitWhenShown(QObject):
    """Refits the window once, when it is first shown (only then is its frame known)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Show:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, lambda: _refit(watched))
        return False
