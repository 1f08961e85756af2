"""What a plugin's generator returns, in the window: a malformed result is a failed job with
the plugin named (never a crash), and text generators that stream nothing or take no prompt
work as they do on the command line.

Real Host, real window offscreen; the generators are registered as a plugin registers them and
driven as a person drives them (the Generate button, Ctrl+Enter in the editor).
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

import studio
from studio.core.engine.jobs import JobState
from conftest import TEST_PLUGIN


class EmptyImage(studio.Generator):
    """Returns a picture with no rows: it once took the window down with it (a segfault)."""

    id, title, kind = "test-empty-image", "Empty image", "image"
    params = (studio.Param("seed", "seed"),)

    def generate(self, request, ctx):
        yield studio.Result("image", np.zeros((0, 32, 4), np.uint8), self.id, dict(request.params))


class NanAudio(studio.Generator):
    """Returns audio with a NaN: once in the timeline, it made the whole mix NaN."""

    id, title, kind = "test-nan-audio", "NaN audio", "audio"
    params = (studio.Param("seed", "seed"),)

    def generate(self, request, ctx):
        samples = np.zeros(8000, np.float32)
        samples[10] = np.nan
        yield studio.Result("audio", samples, self.id, dict(request.params), sample_rate=8000)


class Quiet(studio.Generator):
    """Streams nothing: the text comes only in the Result."""

    id, title, kind = "test-quiet", "Quiet", "text"
    params = (studio.Param("prompt", "text", ""), studio.Param("seed", "seed"))

    def generate(self, request, ctx):
        yield studio.Result("text", " and then, quietly, the end.", self.id, dict(request.params))


class Proverb(studio.Generator):
    """Takes no prompt at all: a line of its own each time."""

    id, title, kind = "test-proverb", "Proverb", "text"
    params = (studio.Param("seed", "seed"),)

    def generate(self, request, ctx):
        for word in (" Still", " waters", " run", " deep."):
            yield studio.Preview("text", word)
        yield studio.Result("text", " Still waters run deep.", self.id, dict(request.params))


@pytest.fixture
def window(open_window):
    return open_window(EmptyImage(), NanAudio(), Quiet(), Proverb())


def click_generate(window, qtbot, generator_id):
    assert window.generate_panel.select(generator_id)
    ended = []
    window.bridge.state_changed.connect(lambda job, state, message: ended.append((state, message)) if state.done else None)
    qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(ended), timeout=10000)
    return ended[0]


def test_an_empty_image_into_an_empty_canvas_is_a_failed_job_not_a_crash(window, qtbot):
    assert window.canvas.document.layers == []
    state, message = click_generate(window, qtbot, "test-empty-image")
    assert state is JobState.FAILED
    assert message.startswith(f"plugin '{TEST_PLUGIN}' (generator 'test-empty-image') returned a bad image: shape (0, 32, 4)")
    qtbot.waitUntil(lambda: "failed" in window.statusBar().currentMessage())
    assert "generator 'test-empty-image'" in window.statusBar().currentMessage()
    row = next(iter(window.jobs_panel.rows.values()))
    assert row.job.state is JobState.FAILED
    assert window.canvas.document.layers == [] and (window.canvas.document.width, window.canvas.document.height) != (32, 0)
    window.canvas.view.grab()  # the canvas still draws


def test_nan_audio_never_reaches_the_timeline(window, qtbot):
    state, message = click_generate(window, qtbot, "test-nan-audio")
    assert state is JobState.FAILED and "NaN or infinite" in message
    assert window.audio.timeline.clips == []


def continue_at_the_end(window, qtbot, generator_id, typed):
    assert window.generate_panel.select(generator_id)
    editor = window.text.editor
    window.tabs.setCurrentWidget(window.text)
    editor.setFocus()
    qtbot.keyClicks(editor, typed)
    editor.moveCursor(QTextCursor.MoveOperation.End)
    with qtbot.waitSignal(window.bridge.result, timeout=10000):
        qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Continue
    qtbot.waitUntil(lambda: not window.text.running, timeout=5000)
    return editor.toPlainText()


def test_a_text_result_that_streamed_nothing_lands_in_the_editor(window, qtbot):
    assert continue_at_the_end(window, qtbot, "test-quiet", "Once") == "Once and then, quietly, the end."


def test_a_text_generator_without_a_prompt_continues_at_the_cursor(window, qtbot):
    # It was refused: "test-proverb has no parameter prompt".
    assert continue_at_the_end(window, qtbot, "test-proverb", "As they say:") == "As they say: Still waters run deep."
    assert "Cannot generate" not in window.statusBar().currentMessage()


def test_a_text_generator_without_a_prompt_cannot_rewrite_a_selection_and_says_so(window, qtbot):
    assert window.generate_panel.select("test-proverb")
    text, editor = window.text, window.text.editor
    window.tabs.setCurrentWidget(text)
    editor.setPlainText("Keep this. rewrite me.")
    cursor = editor.textCursor()
    cursor.setPosition(11)
    cursor.setPosition(22, QTextCursor.MoveMode.KeepAnchor)
    editor.setTextCursor(cursor)
    assert text.open_rewrite()
    text.rewrite_bar.instruction.setText("louder")
    qtbot.keyClick(text.rewrite_bar.instruction, Qt.Key.Key_Return)
    assert "Proverb takes no prompt, so it cannot rewrite a selection" in window.statusBar().currentMessage()
    assert window.jobs_panel.rows == {} and editor.toPlainText() == "Keep this. rewrite me."
