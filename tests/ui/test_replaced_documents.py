"""A generation lands only in the document it was started for.

When that document is replaced while the generation runs (Open text file, New project), the
job is stopped, nothing it still sends reaches the new document, and the window says so.

The generators are real (registered as a plugin registers them) and slow in the way a long
onnxruntime call is: each waits for the test's ``release`` without looking at Cancel, then
sends its result, so the result is already on its way when the job ends as cancelled.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QTextCursor
from PySide6.QtWidgets import QFileDialog, QMessageBox

import studio

release = threading.Event()


class Held:
    """Streams a first piece (text), then waits for ``release`` (ignoring Cancel), then its result."""

    params = (studio.Param("prompt", "text", ""), studio.Param("seed", "seed"))

    def generate(self, request, ctx):
        if self.kind == "text":
            yield studio.Preview("text", " first words")
        release.wait(10)
        if self.kind == "text":
            yield studio.Preview("text", " and the rest")
        yield self.result(request)


class HeldText(Held, studio.Generator):
    id, title, kind = "test-held-text", "Held text", "text"

    def result(self, request):
        return studio.Result("text", " first words and the rest", self.id, dict(request.params))


class HeldImage(Held, studio.Generator):
    id, title, kind = "test-held-image", "Held image", "image"

    def result(self, request):
        return studio.Result("image", np.full((16, 16, 4), 200, np.uint8), self.id, dict(request.params))


class HeldAudio(Held, studio.Generator):
    id, title, kind = "test-held-audio", "Held audio", "audio"

    def result(self, request):
        return studio.Result("audio", np.zeros(8000, np.float32), self.id, dict(request.params), sample_rate=8000)


@pytest.fixture
def window(open_window):
    release.clear()
    win = open_window(HeldText(), HeldImage(), HeldAudio())
    yield win
    release.set()  # before the host shuts down: its jobs wait for it
    win.project._mark_saved()


def discard_when_asked(window, name):
    """Answer the unsaved-changes question ``name`` with Discard, as the user clicks it."""
    boxes = [box for box in window.findChildren(QMessageBox, name) if box.isVisible()]
    assert boxes, f"no question {name} on screen"
    boxes[-1].button(QMessageBox.StandardButton.Discard).click()


def start_text(window, qtbot):
    assert window.generate_panel.select(HeldText.id)
    editor = window.text.editor
    window.tabs.setCurrentWidget(window.text)
    editor.setFocus()
    editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor, "Once upon a time")
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Continue
    qtbot.waitUntil(lambda: editor.toPlainText() == "Once upon a time first words", timeout=5000)  # it streams
    return window.text.last.job


def start(window, qtbot, generator_id):
    assert window.generate_panel.select(generator_id)
    qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    job = next(iter(window.jobs_panel.rows.values())).job
    qtbot.waitUntil(lambda: job.state.value == "running", timeout=5000)
    return job


def let_it_finish(window, qtbot, job):
    """Let the generator send its result; wait until the window has heard all of it."""
    release.set()
    qtbot.waitUntil(lambda: job.state.done, timeout=10000)
    qtbot.wait(300)  # the events already queued for the window


def said(window, *words):
    message = window.statusBar().currentMessage()
    assert all(word in message for word in words), message


def test_opening_a_text_file_while_a_generation_streams_keeps_it_out_of_the_file(window, qtbot, tmp_path, monkeypatch, choose):
    job = start_text(window, qtbot)
    other = tmp_path / "letter.txt"
    other.write_text("Dear friend,\n", encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(other), ""))
    choose(window, "File", "Open text file…")
    discard_when_asked(window, "unsaved_changes")
    assert window.text.editor.toPlainText() == "Dear friend,\n"
    let_it_finish(window, qtbot, job)
    assert window.text.editor.toPlainText() == "Dear friend,\n"  # nothing of the generation in the letter
    said(window, "Held text", "replaced")
    window.text.editor.undo()
    assert window.text.editor.toPlainText() == "Dear friend,\n"


def test_a_new_project_while_a_generation_streams_gets_none_of_its_text(window, qtbot, choose):
    job = start_text(window, qtbot)
    choose(window, "File", "New project")
    discard_when_asked(window, "unsaved_project")
    let_it_finish(window, qtbot, job)
    assert window.text.editor.toPlainText() == ""
    assert window.history_panel.entries() == [] and not window.isWindowModified()
    said(window, "Held text", "replaced")


def test_a_new_project_while_a_picture_is_generated_keeps_its_canvas_empty(window, qtbot, choose):
    window.canvas.new_layer()  # work to lose: New asks first
    job = start(window, qtbot, HeldImage.id)
    choose(window, "File", "New project")
    discard_when_asked(window, "unsaved_project")
    assert window.canvas.document.layers == []
    let_it_finish(window, qtbot, job)
    assert window.canvas.document.layers == []  # the picture did not land on the new canvas
    assert window.history_panel.entries() == [] and not window.isWindowModified()
    said(window, "Held image", "replaced")


def test_a_new_project_while_audio_is_generated_keeps_its_timeline_empty(window, qtbot, choose):
    window.text.editor.insertPlainText("notes")  # work to lose: New asks first
    job = start(window, qtbot, HeldAudio.id)
    choose(window, "File", "New project")
    discard_when_asked(window, "unsaved_project")
    let_it_finish(window, qtbot, job)
    assert window.audio.timeline.clips == []
    assert window.history_panel.entries() == [] and not window.isWindowModified()
    said(window, "Held audio", "replaced")


def test_opening_a_picture_while_one_is_generated_keeps_the_result_off_it(window, qtbot, tmp_path, monkeypatch, choose):
    picture = tmp_path / "photo.png"
    image = QImage(24, 12, QImage.Format.Format_RGBA8888)
    image.fill(QColor("teal"))
    assert image.save(str(picture))
    job = start(window, qtbot, HeldImage.id)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(picture), ""))
    choose(window, "File", "Open image…")
    assert [layer.name for layer in window.canvas.document.layers] == ["photo"]
    let_it_finish(window, qtbot, job)
    assert [layer.name for layer in window.canvas.document.layers] == ["photo"]  # no generated layer on the photo
    assert window.history_panel.entries() == []
    said(window, "Held image", "replaced")
