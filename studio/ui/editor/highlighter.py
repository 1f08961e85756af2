"""Colours that are not part of the text: Markdown structure and generated text.

Both are painted by a ``QSyntaxHighlighter``, so they never enter the document or its undo
history: undoing a generation removes its text, never just its colour, and a saved file is
the writer's words only.
"""

from __future__ import annotations

import re
from typing import Callable

from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextDocument

from studio.core.text.document import Span

GENERATED_COLOUR = {"light": "#2f6fb3", "sepia": "#2c63a0", "dark": "#8ab8ee"}


def _format(colour: str | None = None, bold: bool = False, italic: bool = False, mono: bool = False, size: float = 0.0) -> QTextCharFormat:
    fmt = QTextCharFormat()
    if colour:
        fmt.setForeground(QColor(colour))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    if italic:
        fmt.setFontItalic(True)
    if mono:
        fmt.setFontFamilies(["DejaVu Sans Mono", "Monospace"])
        fmt.setFontFixedPitch(True)
    if size:
        fmt.setProperty(QTextCharFormat.Property.FontSizeAdjustment, int(size))
    return fmt


def _emphasis(mark: str, count: int) -> re.Pattern[str]:
    """``count`` marks, words, the same marks; never inside a word (snake_case, 2*3*4).

    Each count has its own pattern that refuses a neighbouring mark, so ``*`` never matches
    the inner stars of ``**bold**``, and nested emphasis (``**a *b* c**``) is found by both.
    """
    m = re.escape(mark)
    return re.compile(rf"(?<![\w{m}]){m}{{{count}}}(?![\s{m}]).+?(?<![\s{m}]){m}{{{count}}}(?![\w{m}])")


# (pattern, format factory, a character every match holds: "" when none). A character's format
# merges every rule that matches it, in this order, so emphasis in a heading stays bold and a
# bold phrase with an italic word in it is both. The character lets a paragraph without it skip
# the rule: a regular expression tried at every position of a 1 MB manuscript takes half a
# second (the whole text is highlighted when it opens), a look for one character a millisecond.
MARKDOWN_RULES = (
    (re.compile(r"^#{1,6}\s.*$"), lambda: _format("#c0623b", bold=True), "#"),
    (re.compile(r"^\s*(?:[-*+]|\d+[.)])\s"), lambda: _format("#b0803a", bold=True), ""),
    (re.compile(r"^\s*>.*$"), lambda: _format("#7f8a6a", italic=True), ">"),
    *((_emphasis(mark, 2), lambda: _format(bold=True), mark) for mark in "*_"),
    *((_emphasis(mark, 1), lambda: _format(italic=True), mark) for mark in "*_"),
    *((_emphasis(mark, 3), lambda: _format(bold=True, italic=True), mark) for mark in "*_"),
    (re.compile(r"!?\[[^\]\n]*\]\([^)\n]*\)"), lambda: _format("#3b8a7a"), "]("),
)
CODE_SPAN = re.compile(r"`[^`\n]+`")  # verbatim: no other rule's format reaches inside it
FENCE = re.compile(r"^\s*(```|~~~)")
IN_FENCE = 1  # block state: inside a fenced code block


class TextHighlighter(QSyntaxHighlighter):
    def __init__(self, document: QTextDocument, spans: Callable[[int, int], list[Span]]) -> None:
        super().__init__(document)
        self.markdown = False
        self.theme = "light"
        self._spans = spans
        self._rules = [(pattern, make(), needle) for pattern, make, needle in MARKDOWN_RULES]
        self._code = _format("#9a5fb0", mono=True)
        self._generated = _format(GENERATED_COLOUR["light"])

    def set_markdown(self, on: bool, rehighlight: bool = True) -> None:
        """Markdown's structure coloured or not; ``rehighlight=False`` when the whole text is
        about to be replaced (its new paragraphs are highlighted as they go in)."""
        if on != self.markdown:
            self.markdown = on
            if rehighlight:
                self.rehighlight()

    def set_theme(self, theme: str) -> None:
        self.theme = theme
        self._generated = _format(GENERATED_COLOUR.get(theme, GENERATED_COLOUR["light"]))
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt's name
        self.setCurrentBlockState(0)
        edges = self._markdown(text) if self.markdown else set()
        start = self.currentBlock().position()
        for span in self._spans(start, start + len(text)):
            begin = max(span.start, start) - start
            end = min(span.end, start + len(text)) - start
            if end > begin:
                self._merge(begin, end, edges)

    def _merge(self, begin: int, end: int, edges: set[int]) -> None:
        """Colour ``begin:end`` as generated, keeping Markdown's weight and italics.

        One format change per run of equal Markdown format (the runs change only at
        ``edges``), never one per character: a paragraph streamed a character at a time is
        highlighted again after every chunk, so per-character work here made streaming
        quadratic.
        """
        cuts = sorted({begin, end, *(edge for edge in edges if begin < edge < end)})
        for left, right in zip(cuts, cuts[1:]):
            merged = QTextCharFormat(self.format(left))
            merged.merge(self._generated)
            self.setFormat(left, right - left, merged)

    def _markdown(self, text: str) -> set[int]:
        """Apply the Markdown rules; return the positions where their formats begin or end."""
        in_fence = self.previousBlockState() == IN_FENCE
        if FENCE.match(text):
            self.setFormat(0, len(text), self._code)
            self.setCurrentBlockState(0 if in_fence else IN_FENCE)
            return set()
        if in_fence:
            self.setFormat(0, len(text), self._code)
            self.setCurrentBlockState(IN_FENCE)
            return set()
        code = self._code
        found = [(m.start(), m.end(), code) for m in CODE_SPAN.finditer(text)] if "`" in text else []
        found += [(m.start(), m.end(), fmt) for pattern, fmt, needle in self._rules if needle in text for m in pattern.finditer(text)]
        if not found:
            return set()
        opening: dict[int, list[int]] = {}
        for index, (start, _, _) in enumerate(found):
            opening.setdefault(start, []).append(index)
        edges = {edge for start, end, _ in found for edge in (start, end)}
        cuts = sorted(edges)
        active: set[int] = set()  # the rules covering the run being formatted: a sweep, not a search per run
        for left, right in zip(cuts, cuts[1:]):  # one format per run between edges: merged, set once
            active = {i for i in active if found[i][1] > left} | set(opening.get(left, ()))
            formats = [found[i][2] for i in sorted(active)]
            if code in formats:  # verbatim
                self.setFormat(left, right - left, code)
            elif formats:
                merged = QTextCharFormat()
                for fmt in formats:
                    merged.merge(fmt)
                self.setFormat(left, right - left, merged)
        return edges
