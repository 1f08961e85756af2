"""The window notices that its project file changed on disk before it saves over it.

The window's Save silently overwrote what `studio generate --project` had added to the same
file meanwhile. Now a save that finds the file changed since it was opened or last saved
asks: Reload (see what the other wrote), Keep mine (overwrite; the other version becomes
the backup) or Save as… (keep both). Driven as a person does: the menu, Ctrl+S, a click.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton

from studio.core.image.document import ImageDocument, Layer
from studio.core.project.format import Project, backup_path
from studio.core.project.load import load_project
from studio.core.project.save import save_project


def _asked(window) -> QMessageBox | None:
    boxes = [box for box in window.findChildren(QMessageBox, "project_changed_on_disk") if box.isVisible()]
    return boxes[-1] if boxes else None


def _layer_names(path) -> list[str]:
    return [layer.name for layer in load_project(path).project.image.layers]


@pytest.fixture
def opened_then_changed_outside(window, qtbot, tmp_path, monkeypatch, choose):
    """A project opened in the window, edited there, and meanwhile given a layer by the CLI."""
    doc = ImageDocument(32, 32)
    doc.layers.append(Layer("painted", np.full((32, 32, 4), 90, np.uint8)))
    path = save_project(Project(image=doc), tmp_path / "shared.studio")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Open project…")
    assert window.project.path == path.resolve()

    window.tabs.setCurrentWidget(window.text)
    window.text.editor.setFocus()
    QTest.keyClicks(window.text.editor, "my draft")
    assert window.isWindowModified()

    run = subprocess.run([sys.executable, "-m", "studio", "generate", "cppn", "--param", "width=32", "--param",
                          "height=32", "--param", "seed=5", "--project", str(path), "-q"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert len(_layer_names(path)) == 2

    _ctrl_s(window, qtbot)
    qtbot.waitUntil(lambda: _asked(window) is not None, timeout=20000)
    return path


def _ctrl_s(window, qtbot) -> None:
    """Ctrl+S, as a person saves: in the window they are working in."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)


def _click(qtbot, box: QMessageBox, name: str) -> None:
    button = next(b for b in box.findChildren(QPushButton) if b.objectName() == name)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _settled(window, qtbot) -> None:
    qtbot.waitUntil(lambda: not window.project.saving, timeout=20000)
    qtbot.wait(50)  # the report is queued to the GUI thread


def test_save_asks_and_reload_shows_what_the_cli_added(window, qtbot, opened_then_changed_outside):
    path = opened_then_changed_outside
    box = _asked(window)
    assert path.name in box.text()
    _click(qtbot, box, "reload")
    _settled(window, qtbot)
    assert [layer.name for layer in window.canvas.document.layers] == _layer_names(path)
    assert len(window.canvas.document.layers) == 2 and "my draft" not in window.text.editor.toPlainText()
    assert not window.isWindowModified() and window.project.path == path.resolve()


def test_keep_mine_overwrites_and_keeps_the_other_version_as_the_backup(window, qtbot, opened_then_changed_outside):
    path = opened_then_changed_outside
    _click(qtbot, _asked(window), "keep_mine")
    _settled(window, qtbot)
    saved = load_project(path).project
    assert saved.text == "my draft" and [layer.name for layer in saved.image.layers] == ["painted"]
    assert len(_layer_names(backup_path(path))) == 2  # what the CLI wrote is not gone
    assert not window.isWindowModified()
    # The window's own save is not "a change by someone else": the next save asks nothing.
    QTest.keyClicks(window.text.editor, "!")
    _ctrl_s(window, qtbot)
    _settled(window, qtbot)
    assert _asked(window) is None and load_project(path).project.text == "my draft!"


def test_save_as_asks_for_a_path_and_leaves_the_changed_file_alone(window, qtbot, tmp_path, monkeypatch,
                                                                  opened_then_changed_outside):
    path = opened_then_changed_outside
    other = tmp_path / "mine.studio"
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: asked.append(a) or (str(other), ""))
    _click(qtbot, _asked(window), "save_as")
    _settled(window, qtbot)
    assert asked, "Save as… asks where"
    assert load_project(other).project.text == "my draft" and len(_layer_names(path)) == 2
    assert window.project.path == other.resolve() and not window.isWindowModified()
