"""The close and quit path: nothing unsaved is lost, and nothing keeps running after.

Closing waits for a save in progress (one that fails must still be able to ask), asks about
unsaved work without blocking (jobs keep reporting behind the question; the answer closes
the window again), and only then shuts down: the project (a clean exit leaves no autosave
to recover), playback, and the host with its jobs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtGui import QCloseEvent

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow


def ready_to_close(window: "MainWindow", event: QCloseEvent) -> bool:
    """True once everything is shut down and the window may close; False when ``event`` is
    ignored, and the window closes again once the save ends or the user has answered."""
    if window.project.saving:  # wait for it: a save that fails must still be able to ask
        event.ignore()
        QTimer.singleShot(100, window.close)
        return False
    if window.project.modified and not window._closing:
        event.ignore()  # ask without blocking: the answer closes the window again

        def close() -> None:
            window._closing = True
            window.close()

        window.project.confirm_unsaved(close, "closing")
        return False
    window.project.shutdown()
    window.audio.shutdown()
    window.host.shutdown()
    return True
