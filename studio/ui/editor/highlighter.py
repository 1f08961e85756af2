"""Colours that are not part of the text: Markdown structure and generated text.

Both are painted by a ``QSyntaxHighlighter``, so they never enter the document or its undo
history: undoing a generation removes its text, never just its colour, and a saved file is
the writer's words only.
"""

from __future__ import annotations

import re
from typing import Callable

from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextDocument

from studio.core.text import Span

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


# (pattern, format factory, group that gets the format)
MARKDOWN_RULES = (
    (re.compile(r"^#{1,6}\s.*$"), lambda: _format("#c0623b", bold=True), 0),
    (re.compile(r"^\s*(?:[-*+]|\d+[.)])\s"), lambda: _format("#b0803a", bold=True), 0),
    (re.compile(r"^\s*>.*$"), lambda: _format("#7f8a6a", italic=True), 0),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), lambda: _format(bold=True), 0),
    (re.compile(r"(?<![*_\w])([*_])(?=\S)(.+?)(?<=\S)\1(?![*_\w])"), lambda: _format(italic=True), 0),
    (re.compile(r"`[^`\n]+`"), lambda: _format("#9a5fb0", mono=True), 0),
    (re.compile(r"!?\[[^\]\n]*\]\([^)\n]*\)"), lambda: _format("#3b8a7a"), 0),
)
FENCE = re.compile(r"^\s*(```|~~~)")
IN_FENCE = 1  # block state: inside a fenced code block


class TextHighlighter(QSyntaxHighlighter):
    def __init__(self, document: QTextDocument, spans: Callable[[int, int], list[Span]]) -> None:
        super().__init__(document)
        self.markdown = False
        self.theme = "light"
        self._spans = spans
        self._rules = [(pattern, make(), group) for pattern, make, group in MARKDOWN_RULES]
        self._code = _format("#9a5fb0", mono=True)
        self._generated = _format(GENERATED_COLOUR["light"])

    def set_markdown(self, on: bool) -> None:
        if on != self.markdown:
            self.markdown = on
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
        edges: set[int] = set()
        for pattern, fmt, group in self._rules:
            for match in pattern.finditer(text):
                self.setFormat(match.start(group), match.end(group) - match.start(group), fmt)
                edges.update((match.start(group), match.end(group)))
        return edges
