"""A generator may end its text before writing a word (a model whose first token is its end):
the window says so rather than leaving the writer to wonder whether Continue did anything."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

import studio


class Quiet(studio.Generator):
    id = "test-quiet"
    title = "Test quiet"
    kind = "text"
    params = (studio.Param("prompt", "text", ""), studio.Param("seed", "seed"))

    def generate(self, request, ctx):
        yield studio.Progress(1, 1)
        yield studio.Result("text", "", self.id, dict(request.params), info={"tokens_per_s": 0.0, "new_tokens": 0})


@pytest.fixture
def window(open_window):
    win = open_window(Quiet(), select="test-quiet")
    win.tabs.setCurrentWidget(win.text)
    return win


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
