"""What the window's tests share: a person's way of choosing a menu entry."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QAction

from studio.host import Host
from studio.ui.app import create_window


def menu_action(window, *path: str) -> QAction:
    """The menu entry at ``path`` ("File", "Save project"), named as the user reads it
    (without the & of its keyboard mnemonic or the shortcut after a tab)."""

    def label(action: QAction) -> str:
        return action.text().replace("&", "").split("\t")[0]

    actions = window.menuBar().actions()
    for depth, name in enumerate(path):
        action = next((a for a in actions if label(a) == name), None)
        assert action is not None, f"no menu entry {' ▸ '.join(path[: depth + 1])}: {[label(a) for a in actions]}"
        if depth + 1 < len(path):
            action.menu().aboutToShow.emit()  # what opening it does: Open recent fills itself
            actions = action.menu().actions()
    return action


@pytest.fixture
def choose():
    """``choose(window, "File", "Save project")``: trigger that menu entry, as a click on it
    does (an entry that is disabled there does nothing, and the test says so)."""

    def trigger(window, *path: str) -> None:
        action = menu_action(window, *path)
        assert action.isEnabled(), f"{' ▸ '.join(path)} is disabled here"
        action.trigger()

    return trigger


@pytest.fixture
def window(qtbot):
    """The real main window on a fresh host (a test module may define its own ``window``)."""
    win = create_window(host=Host())
    qtbot.addWidget(win)
    win.show()
    yield win
    win._closing = True  # no unsaved-changes question at teardown
    win.probe_thread.join(20)
    win.host.shutdown()
