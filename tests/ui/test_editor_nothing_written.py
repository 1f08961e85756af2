"""A generator may end its text before writing a word (a model whose first token is its end):
the window says so rather than leaving the writer to wonder whether Continue did anything."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

import studio
from studio.host import Host
from studio.plugins import PluginInfo
from studio.ui.app import create_window


class Quiet(studio.Generator):
    id = "test-quiet"
    title = "Test quiet"
    kind = "text"
    params = (studio.Param("prompt", "text", ""), studio.Param("seed", "seed"))

    def generate(self, request, ctx):
        yield studio.Progress(1, 1)
        yield studio.Result("text", "", self.id, dict(request.params), info={"tokens_per_s": 0.0, "new_tokens": 0})


class QuietPlugin:
    @studio.hookimpl
    def register_generators(self, register):
        register(Quiet())


@pytest.fixture
def window(qtbot):
    host = Host()
    host.plugins.add_plugin(QuietPlugin(), PluginInfo("quiet-plugin", __name__))
    win = create_window(host=host)
    qtbot.addWidget(win)
    win.show()
    win.generate_panel.set_generators(host.generators)
    assert win.generate_panel.select("test-quiet")
    win.tabs.setCurrentWidget(win.text)
    yield win
    win.text.editor.document().setModified(False)  # no unsaved-changes question at teardown
    win.probe_thread.join(20)
    host.shutdown()


def test_a_continuation_that_writes_nothing_says_so(window, qtbot):
    editor = window.text.editor
    editor.setFocus()
    qtbot.keyClicks(editor, "It was late")
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.text.running, timeout=5000)
    assert editor.toPlainText() == "It was late"
    assert window.statusBar().currentMessage() == (
        "Test quiet finished. Note: it wrote nothing (the model ended the text at once): Retry for another take, or write a few words more first.")
