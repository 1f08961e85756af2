"""Streaming many small chunks into one paragraph costs work in proportion to the chunks.

The chunks take a real generation's road (job runner thread -> JobBridge -> queued signal ->
window -> editor). The work is counted, not timed: the highlighter's format changes (every
``setFormat`` call it makes, counted by a wrapper that still calls Qt's) and the document's
insertions. Timings are in bench/text_streaming.py.
"""

from __future__ import annotations

import threading

import pytest
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor

import studio
from studio.ui.editor.highlighter import GENERATED_COLOUR

BLUE = QColor(GENERATED_COLOUR["light"])


class Chunker(studio.Generator):
    """Yields ``text`` one character per ``Preview``; ``hold`` makes it wait for the test first."""

    id = "test-chunker"
    title = "Test chunker"
    kind = "text"
    params = (studio.Param("prompt", "text", ""), studio.Param("chunks", "int", 3000, min=1, max=100_000), studio.Param("seed", "seed"))

    def __init__(self) -> None:
        self.text = ""
        self.all_sent = threading.Event()

    def generate(self, request, ctx):
        text = self.text or "".join("abcdefghij "[i % 11] for i in range(request["chunks"]))
        for char in text:
            yield studio.Preview("text", char)
        self.all_sent.set()  # every chunk above has been handed to the listeners
        yield studio.Result("text", text, self.id, dict(request.params))


@pytest.fixture
def chunker():
    return Chunker()


@pytest.fixture
def window(open_window, chunker):
    return open_window(chunker, select=Chunker.id)


def count_format_changes(highlighter) -> list[int]:
    """Count the highlighter's ``setFormat`` calls (each still reaches Qt's)."""
    calls = [0]
    qt_set_format = highlighter.setFormat

    def set_format(*args):
        calls[0] += 1
        qt_set_format(*args)

    highlighter.setFormat = set_format
    return calls


def format_at(workspace, position):
    block = workspace.editor.document().findBlock(position)
    offset = position - block.position()
    formats = block.layout().formats()  # the list owns the formats: copy the one we return
    for fmt in formats:
        if fmt.start <= offset < fmt.start + fmt.length:
            return QTextCharFormat(fmt.format)
    return None


def continue_from(window, qtbot, prompt: str):
    editor = window.text.editor
    editor.setPlainText(prompt)
    editor.setFocus()
    editor.moveCursor(QTextCursor.MoveOperation.End)
    return window.continue_text()


def test_streaming_thousands_of_chunks_into_one_paragraph_is_linear_work(window, qtbot, chunker):
    chunks = 3000
    window.generate_panel.form.widgets["chunks"].spin.setValue(chunks)
    format_changes = count_format_changes(window.text.highlighter)
    job = continue_from(window, qtbot, "Once")
    qtbot.waitUntil(lambda: job.state.done, timeout=60_000)
    qtbot.waitUntil(lambda: len(window.text.editor.toPlainText()) == len("Once") + chunks, timeout=60_000)
    assert window.text.editor.toPlainText() == "Once" + job.result.value
    assert window.text.editor.document().blockCount() == 1  # one paragraph, as the issue streamed
    # The old highlighter re-coloured every generated character one by one for each chunk:
    # 3,000 chunks made ~4.5 million format changes. A few per chunk at the very most now.
    assert format_changes[0] <= 3 * chunks, format_changes[0]
    for position in (4, 4 + chunks // 2, 4 + chunks - 1):
        assert format_at(window.text, position).foreground().color() == BLUE
    assert format_at(window.text, 1) is None  # the writer's prompt keeps the ink's colour
    window.text.editor.undo()  # still one generation = one undo step
    assert window.text.editor.toPlainText() == "Once"


def test_chunks_that_arrive_in_one_event_loop_turn_are_one_insertion(window, qtbot, chunker):
    window.generate_panel.form.widgets["chunks"].spin.setValue(500)
    insertions = []
    window.text.editor.document().contentsChange.connect(lambda position, removed, added: insertions.append(added))
    job = continue_from(window, qtbot, "Begin")
    insertions.clear()
    assert chunker.all_sent.wait(30)  # the GUI thread waits here: all 500 chunks queue up meanwhile
    qtbot.waitUntil(lambda: job.state.done and len(window.text.editor.toPlainText()) == len("Begin") + 500, timeout=30_000)
    assert insertions == [500]  # one insertion, not 500 (each one lays the paragraph out again)
    assert window.text.editor.toPlainText() == "Begin" + job.result.value
    window.text.editor.undo()
    assert window.text.editor.toPlainText() == "Begin"


def test_generated_colour_keeps_markdown_weight_in_the_same_paragraph(window, qtbot, chunker, tmp_path):
    path = tmp_path / "draft.md"
    path.write_text("", encoding="utf-8")
    assert window.text.open_file(path) and window.text.highlighter.markdown
    chunker.text = " and `code` then more words"
    job = continue_from(window, qtbot, "# Start")  # a heading: the whole paragraph is bold
    qtbot.waitUntil(lambda: job.state.done and window.text.editor.toPlainText().endswith(" words"), timeout=30_000)
    start = len("# Start")
    bold = format_at(window.text, start + chunker.text.index("then"))
    code = format_at(window.text, start + chunker.text.index("code"))
    assert bold.foreground().color() == BLUE and bold.fontWeight() == QFont.Weight.Bold
    assert code.foreground().color() == BLUE and code.fontFixedPitch()
    assert format_at(window.text, 3).foreground().color() != BLUE and format_at(window.text, 3).fontWeight() == QFont.Weight.Bold
