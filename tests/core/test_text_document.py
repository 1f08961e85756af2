"""The text document's plain-data rules: files, counts, and where generated text lies."""

from __future__ import annotations

import pytest

from studio.core.text.document import GeneratedSpans, NotUtf8Error, Span, counts_label, is_markdown, read_text, split_stops, word_count
from studio.errors import StudioError


def test_read_text_utf8_with_bom_and_crlf(tmp_path):
    path = tmp_path / "a.md"
    path.write_bytes("\ufeffÉté — naïve\r\nline two".encode("utf-8"))
    assert read_text(path) == "Été — naïve\nline two"


def test_non_utf8_is_refused_with_where_and_how_to_fix(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("line one\ncaf\xe9".encode("latin-1"))
    with pytest.raises(NotUtf8Error) as info:
        read_text(path)
    assert "latin.txt is not UTF-8" in str(info.value) and "0xe9 on line 2" in str(info.value)
    assert path.read_bytes() == "line one\ncaf\xe9".encode("latin-1")  # untouched


def test_missing_file_is_a_studio_error(tmp_path):
    with pytest.raises(StudioError, match="no such file"):
        read_text(tmp_path / "nope.txt")


def test_counts():
    assert word_count("  To be,\n or   not to be ") == 6
    assert counts_label("") == "0 words · 0 characters"
    assert counts_label("one") == "1 word · 3 characters"
    assert is_markdown("x.MD") and not is_markdown("x.txt") and not is_markdown(None)
    assert split_stops("\\n\\n|THE END||") == ["\\n\\n", "THE END"]


def test_a_generation_grows_and_moves_with_edits_before_it():
    spans = GeneratedSpans()
    spans.edit(5, 0, 3, job=1)
    spans.edit(8, 0, 4, job=1)  # the next chunk at its end: the same span grows
    assert spans.spans == [Span(5, 12, 1)]
    spans.edit(0, 0, 2)  # the writer types before it
    assert spans.spans == [Span(7, 14, 1)]
    spans.edit(14, 0, 1)  # ...and right after it: not generated, the span stays
    spans.edit(7, 0, 1)  # ...and right before it
    assert spans.spans == [Span(8, 15, 1)]


def test_an_edit_inside_makes_the_generation_the_writers():
    spans = GeneratedSpans()
    spans.edit(0, 0, 10, job=1)
    spans.edit(20, 0, 5, job=2)
    spans.edit(3, 1, 0)  # the writer deletes a character inside job 1
    assert spans.spans == [Span(19, 24, 2)]
    assert spans.of_job(1) is None and spans.of_job(2) == Span(19, 24, 2)


def test_undoing_a_generation_removes_its_span():
    spans = GeneratedSpans()
    spans.edit(4, 0, 6, job=3)
    spans.edit(2, 10, 0)  # removed whole (with text around it)
    assert spans.spans == []


def test_another_writer_edit_elsewhere_during_streaming_keeps_the_stream_whole():
    spans = GeneratedSpans()
    spans.edit(10, 0, 2, job=1)
    spans.edit(0, 0, 3)  # the writer types at the top while it streams
    spans.edit(15, 0, 2, job=1)  # the stream goes on at its (moved) end
    assert spans.spans == [Span(13, 17, 1)]
    assert spans.between(0, 13) == [] and spans.between(16, 30) == [Span(13, 17, 1)]


def test_a_rewrite_replaces_generated_text_with_a_new_span():
    spans = GeneratedSpans()
    spans.edit(0, 0, 8, job=1)
    spans.edit(0, 8, 5, job=2)
    assert spans.spans == [Span(0, 5, 2)]


def test_the_text_before_a_qt_position_counts_an_emoji_as_two_units():
    from studio.core.text.document import before_position

    text = "Night 🌙 fell. Then 🌧️ rain: ünïcode stays one unit."
    for cut in range(len(text) + 1):  # every character boundary, as Qt numbers it
        head = text[:cut]
        units = len(head.encode("utf-16-le")) // 2
        assert before_position(text, units) == head
    assert before_position("a🌙b", 2) == "a"  # a position inside the pair leaves the pair out
    assert before_position("plain", 3) == "pla" and before_position("", 4) == ""
