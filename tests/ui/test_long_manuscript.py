"""A 1 MB manuscript in the real window: opened from the File menu, typed into with real keys at
its end, middle and start, and streamed into by a generator registered as a plugin, with the
word and character counts and the generated colour right afterwards.

Nothing here is timed (bench/long_manuscript.py holds the figures). What is asserted is the
result a writer sees, and the work that made a 1 MB text slow: the whole text is counted once
when it opens, and each later change recounts only the paragraphs it touched.
"""

from __future__ import annotations

import random

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QTextCharFormat
from PySide6.QtWidgets import QFileDialog, QToolButton

import studio
from studio.core.project.format import Project
from studio.core.project.save import save_project
from studio.core.text.document import Span, counts_label
from studio.ui.editor.highlighter import GENERATED_COLOUR

BLUE = QColor(GENERATED_COLOUR["light"])
MB = 2**20


def manuscript(size: int) -> str:
    """About ``size`` characters of Markdown prose, the same every time: chapters, narration,
    dialogue, *emphasis* now and then."""
    rng = random.Random(16)
    things = ("the harbour", "a lamp", "the road north", "her letter", "the bells", "a door left open", "the tide")
    verbs = ("pressed against", "wandered past", "settled over", "remembered", "leaned toward")
    parts, length, chapter = ["# The Salt Ledger", ""], 0, 0
    while length < size:
        chapter += 1
        parts += [f"## Chapter {chapter}", ""]
        for _ in range(30):
            sentences = [f"{rng.choice(things).capitalize()} {rng.choice(verbs)} {rng.choice(things)}." for _ in range(rng.randint(2, 8))]
            if rng.random() < 0.3:
                sentences.insert(0, "\u201cWe should have left before the frost,\u201d she said.")
            if rng.random() < 0.1:
                sentences.append("It was *always* like this.")
            paragraph = " ".join(sentences)
            parts += [paragraph, ""]
            length += len(paragraph) + 2
    return "\n".join(parts)


class Words(studio.Generator):
    """Streams ``text`` a word at a time, as a language model streams its tokens."""

    id = "test-words"
    title = "Test words"
    kind = "text"
    params = (studio.Param("prompt", "text", ""), studio.Param("seed", "seed"))

    def __init__(self) -> None:
        self.text = ""
        self.prompts: list[str] = []

    def generate(self, request, ctx):
        self.prompts.append(request["prompt"])
        for word in self.text.split(" "):
            yield studio.Preview("text", " " + word)
        yield studio.Result("text", " " + self.text, self.id, dict(request.params))


@pytest.fixture
def words():
    return Words()


@pytest.fixture
def window(open_window, words):
    win = open_window(words)
    win.tabs.setCurrentWidget(win.text)
    assert win.generate_panel.select(Words.id)
    return win


def format_at(window, position):
    block = window.text.editor.document().findBlock(position)
    offset = position - block.position()
    formats = block.layout().formats()  # the list owns the formats: copy the one returned
    for fmt in formats:
        if fmt.start <= offset < fmt.start + fmt.length:
            return QTextCharFormat(fmt.format)
    return None


def counted_right(window) -> bool:
    """The status bar's counts are those of the whole text, counted from scratch."""
    return window.text_counts_label.text() == counts_label(window.text.editor.toPlainText())


def whole_recounts(window) -> list[int]:
    """How often the counts are worked out over the whole text from now on (each still runs)."""
    counts, calls = window.text.text_counts, [0]
    recount = counts.recount

    def counting() -> None:
        calls[0] += 1
        recount()

    counts.recount = counting
    return calls


def open_from_menu(window, choose, monkeypatch, path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Open text file…")


def place_cursor(editor, position: int) -> None:
    """Where a click would put it (a megabyte is not walked to with arrow keys)."""
    cursor = editor.textCursor()
    cursor.setPosition(position)
    editor.setTextCursor(cursor)
    editor.setFocus()


def stream_at(window, qtbot, words, position: int, text: str) -> int:
    """Continue (Ctrl+Enter) at ``position`` and wait for ``text`` to land; returns where it began."""
    editor = window.text.editor
    before = editor.toPlainText()
    words.text = text
    place_cursor(editor, position)
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    expected = before[:position] + " " + text + before[position:]
    qtbot.waitUntil(lambda: not window.text.running and editor.toPlainText() == expected, timeout=60_000)
    assert words.prompts[-1] == before[:position]  # Continue read the text before the cursor
    return position


def test_a_megabyte_manuscript_opens_is_typed_into_and_streamed_into(window, qtbot, choose, words, monkeypatch, tmp_path):
    text = manuscript(MB)
    path = tmp_path / "novel.md"
    path.write_text(text, encoding="utf-8")
    open_from_menu(window, choose, monkeypatch, path)
    editor = window.text.editor
    assert editor.toPlainText() == text and window.text.highlighter.markdown
    qtbot.waitUntil(lambda: counted_right(window), timeout=5000)
    assert window.text_counts_label.text().startswith(f"{len(text.split()):,} words")
    last_chapter = text.rindex("## Chapter")  # highlighted to the very end as it opened
    assert format_at(window, last_chapter).fontWeight() == QFont.Weight.Bold
    emphasis = text.rindex("*always*") + 1
    assert format_at(window, emphasis).fontItalic()
    recounts = whole_recounts(window)

    # Real keys at the end, in the middle and at the start: each lands, and the counts follow.
    middle = text.index("\n\n", len(text) // 2)
    for position, typed in ((len(text), "The end."), (middle, " Then rain."), (len("# The Salt Ledger"), " Revised")):
        place_cursor(editor, position)
        qtbot.keyClicks(editor, typed)
        text = text[:position] + typed + text[position:]
        assert editor.toPlainText() == text
        qtbot.waitUntil(lambda: counted_right(window), timeout=5000)
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # a new paragraph, and Backspace joins it again
    qtbot.keyClick(editor, Qt.Key.Key_Backspace)
    assert editor.toPlainText() == text

    # A generation streamed into the middle of a paragraph half-way through, then at the end.
    inside = text.index(". ", len(text) // 2) + 1
    streamed = "The lamp went out and nobody moved for a long time."
    start = stream_at(window, qtbot, words, inside, streamed)
    qtbot.waitUntil(lambda: counted_right(window), timeout=5000)
    for offset in (1, len(streamed) // 2, len(streamed)):
        assert format_at(window, start + offset).foreground().color() == BLUE
    after = format_at(window, start + len(streamed) + 2)  # the writer's words after it keep their ink
    assert after is None or after.foreground().color() != BLUE
    end = stream_at(window, qtbot, words, len(editor.toPlainText()), "Morning came grey over the marsh.")
    assert format_at(window, end + 5).foreground().color() == BLUE
    qtbot.waitUntil(lambda: counted_right(window), timeout=5000)

    # One Ctrl+Z takes the last generation away; Ctrl+Shift+Z brings it back, coloured.
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(editor.toPlainText()) == end
    qtbot.waitUntil(lambda: counted_right(window), timeout=5000)
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert editor.toPlainText().endswith("Morning came grey over the marsh.")
    qtbot.waitUntil(lambda: counted_right(window) and format_at(window, end + 5).foreground().color() == BLUE, timeout=5000)
    assert format_at(window, start + 1).foreground().color() == BLUE  # the first one is still there, coloured
    # Every key and chunk above recounted only its paragraphs: the megabyte was counted once, on opening.
    assert recounts[0] == 0


def test_counts_follow_paragraphs_split_joined_replaced_and_undone(window, qtbot, choose, monkeypatch, tmp_path):
    path = tmp_path / "chapter.md"
    path.write_text(manuscript(20_000), encoding="utf-8")
    open_from_menu(window, choose, monkeypatch, path)
    editor = window.text.editor
    recounts = whole_recounts(window)
    place_cursor(editor, editor.toPlainText().index("Chapter 1") + 4)
    keys = [
        (Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier),  # a paragraph split in two
        (Qt.Key.Key_Backspace, Qt.KeyboardModifier.NoModifier),  # ...joined again
        (Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier),  # a selection over paragraphs...
        (Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier),
        (Qt.Key.Key_Delete, Qt.KeyboardModifier.NoModifier),  # ...deleted
        (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier),  # undone
        (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier),  # redone
        (Qt.Key.Key_Home, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_Backspace, Qt.KeyboardModifier.NoModifier),  # a paragraph joined to the blank line above
        (Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_Delete, Qt.KeyboardModifier.NoModifier),
    ]
    for key, modifiers in keys:
        qtbot.keyClick(editor, key, modifiers)
        qtbot.waitUntil(lambda: counted_right(window), timeout=3000)
    # Replace All: hundreds of changes in one step, reported as one range
    choose(window, "Edit", "Find and replace…")
    bar = window.text.find_bar
    qtbot.keyClicks(bar.find_field, "the")
    qtbot.keyClicks(bar.replace_field, "a quiet")
    replace_all = next(b for b in bar.findChildren(QToolButton) if b.text() == "All")
    qtbot.mouseClick(replace_all, Qt.MouseButton.LeftButton)
    assert "the " not in editor.toPlainText()
    qtbot.waitUntil(lambda: counted_right(window), timeout=3000)
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: counted_right(window) and "the " in editor.toPlainText(), timeout=3000)
    assert recounts[0] <= 2  # Replace All and its undo touch most paragraphs: counted whole; no key did


def test_a_project_with_a_thousand_generated_passages_opens_coloured(window, qtbot, choose, monkeypatch, tmp_path):
    """The generated colour is looked up per paragraph among all the passages; a damaged
    project's overlapping marks (the editor never makes them) keep the first of each."""
    text = manuscript(200_000)
    step = len(text) // 1000
    spans = [Span(n * step + 5, n * step + 60, n + 1) for n in range(1000)]
    spans.append(Span(spans[10].start + 20, spans[10].end + 20, 5000))  # overlaps the eleventh: left out
    path = save_project(Project(text=text, text_spans=spans), tmp_path / "drafted.studio", backup=False)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Open project…")
    assert window.text.editor.toPlainText() == text
    assert [(s.start, s.end) for s in window.text.spans.spans] == [(s.start, s.end) for s in spans[:1000]]  # jobs renumbered
    for span in spans[:1000:97]:
        assert format_at(window, span.start).foreground().color() == BLUE
        assert format_at(window, span.end - 1).foreground().color() == BLUE
        after = format_at(window, span.end)
        assert after is None or after.foreground().color() != BLUE
