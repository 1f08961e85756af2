"""What the window's tests share: a person's way of choosing a menu entry, and the real
window opened with a test's own generators installed as a plugin installs its own."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QAction

import studio
from studio.host import Host
from studio.plugins import PluginInfo
from studio.ui.app import create_window

TEST_PLUGIN = "test-plugin"  # the name the Plugins window lists the test's generators under


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


def colour_at(workspace, position):
    """The colour the highlighter paints at ``position`` (generated text is blue)."""
    block = workspace.editor.document().findBlock(position)
    offset = position - block.position()
    for fmt in block.layout().formats():
        if fmt.start <= offset < fmt.start + fmt.length:
            return fmt.format.foreground().color()
    return None


def history_menu_action(window, entry, text):
    """The History row's context-menu entry ``text``, as a right-click on the row shows it."""
    panel = window.history_panel
    index = panel.filter.mapFromSource(panel.model.index(panel.model.row_of(entry)))
    panel.view.customContextMenuRequested.emit(panel.view.visualRect(index).center())
    actions = {a.text(): a for a in panel.menu.actions() if a.text()}
    panel.menu.close()
    return actions.get(text)


@pytest.fixture
def choose():
    """``choose(window, "File", "Save project")``: trigger that menu entry, as a click on it
    does (an entry that is disabled there does nothing, and the test says so)."""

    def trigger(window, *path: str) -> None:
        action = menu_action(window, *path)
        assert action.isEnabled(), f"{' ▸ '.join(path)} is disabled here"
        action.trigger()

    return trigger


class GeneratorsPlugin:
    """A plugin whose one job is to register the generators it is given, through the same hook
    an installed plugin registers its models with."""

    def __init__(self, *generators: studio.Generator) -> None:
        self.generators = generators

    @studio.hookimpl
    def register_generators(self, register):
        for generator in self.generators:
            register(generator)


@pytest.fixture
def open_window(qtbot):
    """``open_window(*generators, select=None)``: the real main window on a fresh host, shown,
    with ``generators`` installed as one plugin (``TEST_PLUGIN``) and listed in the Generate
    panel, the one whose id is ``select`` chosen there. After the test each window it opened
    closes without the unsaved-changes question, its device probe is joined (no probe may
    outlive its test and print into the next one) and its host is shut down."""
    opened = []

    def open_(*generators: studio.Generator, select: str | None = None):
        host = Host()
        if generators:
            host.plugins.add_plugin(GeneratorsPlugin(*generators), PluginInfo(TEST_PLUGIN, __name__))
        win = create_window(host=host)
        qtbot.addWidget(win)
        win.show()
        opened.append(win)
        if select is not None:
            assert win.generate_panel.select(select), f"{select} is not in the Generate panel"
        return win

    yield open_
    for win in opened:
        win._closing = True  # no unsaved-changes question at teardown
        win.text.editor.document().setModified(False)
        win.probe_thread.join(20)
        win.host.shutdown()


@pytest.fixture
def window(open_window):
    """The real main window on a fresh host (a test module may define its own ``window``)."""
    return open_window()


@pytest.fixture
def audio_workspace(qtbot):
    """``audio_workspace(height)``: the audio workspace on its own, shown at 1200 x ``height``,
    with the status messages it emits gathered in ``.messages``; shut down after the test."""
    from PySide6.QtGui import QUndoStack

    from studio.ui.timeline import AudioWorkspace

    opened = []

    def open_(height: int = 520):
        workspace = AudioWorkspace(QUndoStack())
        qtbot.addWidget(workspace)
        workspace.resize(1200, height)
        workspace.show()
        qtbot.waitExposed(workspace)
        workspace.messages = []
        workspace.message.connect(workspace.messages.append)
        opened.append(workspace)
        return workspace

    yield open_
    for workspace in opened:
        workspace.shutdown()
