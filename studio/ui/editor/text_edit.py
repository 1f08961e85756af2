"""The writing surface: a plain-text editor that owns Ctrl+Enter (Continue) and Esc (Stop).

The Generate panel binds Ctrl+Enter window-wide; while the editor has focus it claims the
key through ``ShortcutOverride`` so Continue works from the cursor, and Esc stops a running
generation without reaching any window shortcut.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPaintEvent
from PySide6.QtWidgets import QPlainTextEdit

CONTINUE_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class WriterEdit(QPlainTextEdit):
    continue_requested = Signal()
    stop_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.generating = False  # set by the workspace: Esc means Stop only then
        self.paint_seconds = 0.0  # the last repaint's cost: streaming paces its insertions by it
        self.replacing = False  # True while setPlainText puts a new text in (its undo history starts again)

    def setPlainText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self.replacing = True
        try:
            super().setPlainText(text)
        finally:
            self.replacing = False

    def _is_continue(self, event: QKeyEvent) -> bool:
        return event.key() in CONTINUE_KEYS and event.modifiers() & Qt.KeyboardModifier.ControlModifier and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier

    def _is_stop(self, event: QKeyEvent) -> bool:
        return event.key() == Qt.Key.Key_Escape and self.generating

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and (self._is_continue(event) or self._is_stop(event)):
            event.accept()  # ours, not the window's: keyPressEvent gets it
            return True
        return super().event(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        began = time.perf_counter()
        super().paintEvent(event)
        self.paint_seconds = time.perf_counter() - began

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if self._is_continue(event):
            self.continue_requested.emit()
        elif self._is_stop(event):
            self.stop_requested.emit()
        else:
            super().keyPressEvent(event)
