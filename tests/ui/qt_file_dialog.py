"""Choosing a file in Qt's own file dialog as a person does: click into its file name box, type
the path, press Enter. (Studio's Add LoRA… and Import model… use Qt's dialog rather than the
desktop's, so this works the same on every platform and headless.)"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit


def open_file_dialog(qtbot) -> QFileDialog:
    """The file dialog that is open (waiting a moment for it to show)."""
    found: list[QFileDialog] = []

    def shown() -> bool:
        found[:] = [w for w in QApplication.topLevelWidgets() if isinstance(w, QFileDialog) and w.isVisible()]
        return bool(found)

    qtbot.waitUntil(shown, timeout=3000)
    return found[0]


def pick_in_file_dialog(qtbot, path: Path) -> None:
    """Type ``path`` into the open file dialog's name box and press Enter.

    The box must have the keyboard focus (a person clicks into it first): while it has not, Qt's
    dialog keeps every folder a half-typed path passed through selected, and Enter opens "/"."""
    dialog = open_file_dialog(qtbot)
    qtbot.waitUntil(dialog.isActiveWindow, timeout=3000)
    edit = dialog.findChild(QLineEdit, "fileNameEdit")
    assert edit is not None, "Qt's own file dialog (a path can be typed into it)"
    qtbot.mouseClick(edit, Qt.MouseButton.LeftButton)
    assert edit.hasFocus()
    qtbot.keyClicks(edit, str(path))
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=3000)
