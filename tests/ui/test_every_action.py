"""Every action of the window, triggered as a person would, in a window with work in it.

A slot called directly hid a bug in every Save (Qt's ``triggered(bool)`` filled Save's
optional argument); this walk triggers each menu and tool bar action with
``QAction.trigger()`` and fails on any internal error, traceback or ERROR log record.
Qt's own static file dialogs answer with real files in a temporary folder; any dialog that
opens is answered by a person-like timer (OK for dialogs, Cancel or OK for message boxes).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMenu, QMessageBox, QToolBar, QWidgetAction

from studio.core.engine.generators import Result
from studio.core.project.outputs import write_result
from studio.host import Host
from studio.ui.app import create_window, install_excepthook


@pytest.fixture
def window(qtbot, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    win = create_window(host=Host())
    qtbot.addWidget(win)
    win.show()
    # The real app's last line of defence: an exception escaping a slot is logged and named
    # in the status bar, exactly what a user saw after every Save.
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    install_excepthook(win)
    yield win
    win._closing = True  # no unsaved-changes question at teardown
    win.probe_thread.join(20)
    win.host.shutdown()


@pytest.fixture
def messages(window):
    """Every status bar message shown, in order."""
    seen: list[str] = []
    window.statusBar().messageChanged.connect(seen.append)
    return seen


@pytest.fixture
def files(tmp_path, monkeypatch):
    """Qt's static file dialogs answer with real files: a picture, a text, a sound to open,
    and fresh names in a temporary folder to save to."""
    folder = tmp_path / "files"
    folder.mkdir()
    picture = folder / "open me.png"
    write_result(Result("image", np.full((24, 32, 4), 200, np.uint8), "", {}), picture)
    text = folder / "open me.md"
    text.write_text("# A heading\n\nSome words.\n", encoding="utf-8")
    sound = folder / "open me.wav"
    t = np.arange(4800, dtype=np.float32) / 48000
    soundfile.write(sound, np.stack([np.sin(2 * np.pi * 220 * t)] * 2, 1) * 0.2, 48000, subtype="FLOAT")
    empty = folder / "not a model"
    empty.mkdir()

    def existing(caption: str, filters: str) -> str:
        if "*.png" in filters:
            return str(picture)
        if "*.md" in filters:
            return str(text)
        if "*.wav" in filters:
            return str(sound)
        return ""  # a project: the dialog is cancelled (opening one would end the walk's work)

    def save_name(parent, caption="", start="", filters="", *args, **kwargs):
        name = Path(start).name if start else "saved"
        return str(folder / f"saved {name}"), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda parent, caption="", start="", filters="", *a, **k: (existing(caption, filters), ""))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda parent, caption="", start="", filters="", *a, **k: ([existing(caption, filters)], ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(empty))
    return folder


class DialogAnswerer:
    """Answers whatever dialog opens, as a person would: OK in a dialog, and in a message
    box Cancel when there is one (so "Unsaved changes" keeps the work), else its button."""

    def __init__(self) -> None:
        self.answered: list[str] = []
        self.timer = QTimer(interval=20)
        self.timer.timeout.connect(self.answer)
        self.timer.start()

    def answer(self) -> None:
        for widget in QApplication.topLevelWidgets():
            if not isinstance(widget, QDialog) or not widget.isVisible():
                continue
            self.answered.append(widget.windowTitle())
            if isinstance(widget, QMessageBox):
                cancel = widget.button(QMessageBox.StandardButton.Cancel)
                (cancel or widget.escapeButton() or widget.buttons()[0]).click()
            else:
                widget.accept()

    def stop(self) -> None:
        self.timer.stop()


def all_actions(window) -> list[QAction]:
    """The actions of every menu (submenus included, filled as on opening) and tool bar."""
    found: list[QAction] = []

    def walk(menu: QMenu) -> None:
        menu.aboutToShow.emit()  # what opening the menu does: e.g. Open recent fills itself
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu())
            elif not action.isSeparator() and action not in found:
                found.append(action)

    for top in window.menuBar().actions():
        walk(top.menu())
    for bar in window.findChildren(QToolBar):
        for action in bar.actions():
            if not action.isSeparator() and not isinstance(action, QWidgetAction) and action not in found:
                found.append(action)
    return found


def setup_work(window, qtbot, tmp_path):
    """A project with a generated layer, a clip on a track and some text: a sane state."""
    window.generate_panel.select("cppn")
    form = window.generate_panel.form
    form.widgets["width"].spin.setValue(64)
    form.widgets["height"].spin.setValue(48)
    qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.canvas.document.layers) == 1, timeout=60000)
    window.text.editor.insertPlainText("Shall I compare thee to a summer's day?\n")
    wav = tmp_path / "hum.wav"
    t = np.arange(9600, dtype=np.float32) / 48000
    soundfile.write(wav, np.stack([np.sin(2 * np.pi * 330 * t)] * 2, 1) * 0.2, 48000, subtype="FLOAT")
    clip = window.audio.import_file(wav)
    assert clip is not None
    window.audio.select_clip(clip.id)


def test_every_menu_and_tool_bar_action_runs_without_an_internal_error(window, qtbot, messages, files, tmp_path, caplog, capfd):
    setup_work(window, qtbot, tmp_path)
    quit_action = next(a for a in all_actions(window) if a.text() == "&Quit")  # last: it may close the window
    answerer = DialogAnswerer()
    triggered: list[str] = []
    try:
        # An action works on one workspace (Canvas, Text or Audio): each is tried on the tab
        # where it is enabled.
        for tab in (window.canvas, window.text, window.audio):
            window.tabs.setCurrentWidget(tab)
            qtbot.wait(20)
            for action in all_actions(window):  # again: Open recent lists what was saved meanwhile
                if action.text() in triggered or not action.isEnabled() or action is quit_action:
                    continue
                triggered.append(action.text())
                action.trigger()
                qtbot.waitUntil(lambda: not window.project.saving, timeout=20000)
                qtbot.wait(30)  # queued reports and dialogs answered
                errors = [m for m in messages if "internal error" in m.lower()]
                assert not errors, f"{action.text()!r}: {errors}"
        qtbot.waitUntil(lambda: not window.host.runner.active(), timeout=60000)
        triggered.append(quit_action.text())
        quit_action.trigger()
        qtbot.wait(100)
    finally:
        answerer.stop()
    errors = [m for m in messages if "internal error" in m.lower()]
    assert not errors, errors
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err, out + err
    # The walk reached the actions that matter, saving above all (it asked where: Save as).
    assert {"&Save project", "Save project &as…", "&Export image…", "Export &text…", "&Font…", "&Canvas size…", "saved Untitled.studio"} <= set(triggered)
    assert any(p.suffix == ".studio" for p in files.iterdir())
    assert len(triggered) >= 60, triggered


def test_ctrl_s_saves_without_an_internal_error(window, qtbot, messages, files, caplog):
    window.text.editor.insertPlainText("Ctrl+S, as a writer saves")
    QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # untitled: Save as
    qtbot.waitUntil(lambda: not window.project.saving, timeout=20000)
    qtbot.waitUntil(lambda: window.project.path is not None, timeout=5000)
    assert window.project.path.is_file() and not window.isWindowModified()
    window.text.editor.insertPlainText(" and again")
    QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # titled: Save
    qtbot.waitUntil(lambda: not window.project.saving and not window.isWindowModified(), timeout=20000)
    qtbot.wait(50)
    assert not [m for m in messages if "internal error" in m.lower()], messages
    assert any(m.startswith("Saved ") for m in messages), messages
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
