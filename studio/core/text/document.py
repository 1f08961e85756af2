"""The text document as plain data: reading files, counting, and where generated text lies.

Qt-free so the rules are tested without a window: the editor widget feeds every change of
its document to ``GeneratedSpans.edit`` and paints what ``spans`` says is still generated.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.base.input_files import open_input
from studio.errors import StudioError

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
#: The largest text file the editor opens: 256 MB is tens of thousands of pages.
MAX_TEXT_BYTES = 256 * 1024**2
_WORD = re.compile(r"\S+")


class NotUtf8Error(StudioError):
    """A file that is not UTF-8 text: refused with where it went wrong, never half-decoded."""


def read_text(path: str | Path) -> str:
    """The file's text, UTF-8 (a BOM is dropped); ``NotUtf8Error`` names the first bad byte.

    Decoding with ``errors="replace"`` would silently turn a Latin-1 manuscript into ``�``
    and a save would then destroy the original bytes, so an undecodable file is refused.
    """
    path = Path(path)
    try:
        with open_input(path, "text file", MAX_TEXT_BYTES) as file:
            data = file.read()
    except OSError as exc:
        raise StudioError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise NotUtf8Error(
            f"{path.name} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}). "
            "It was not opened, so nothing was changed; convert it to UTF-8 first "
            "(e.g. `iconv -f latin1 -t utf-8`)."
        ) from exc
    return text.replace("\r\n", "\n")


def is_markdown(path: str | Path | None) -> bool:
    return path is not None and Path(path).suffix.lower() in (".md", ".markdown")


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def counts_label(text: str) -> str:
    return counts_text(word_count(text), len(text))


def counts_text(words: int, chars: int) -> str:
    """The label "1,234 words · 5,678 characters" (the editor keeps the numbers as the text changes)."""
    return f"{words:,} word{'s' if words != 1 else ''} · {chars:,} character{'s' if chars != 1 else ''}"


def before_position(text: str, position: int) -> str:
    """``text`` up to a Qt document ``position``, which counts UTF-16 units: a character beyond
    U+FFFF (an emoji) is two of them, so slicing the str at ``position`` would reach past it."""
    head = text[:position]
    if head.isascii():
        return head
    data = head.encode("utf-16-le", "surrogatepass")
    if len(data) == 2 * len(head):  # no two-unit characters before it
        return head
    return data[: 2 * position].decode("utf-16-le", "ignore")  # a position inside a pair leaves the pair out


def split_stops(stop: str) -> list[str]:
    """Stop sequences as the ``stop`` parameter writes them: separated by ``|``, empty ones dropped."""
    return [s for s in stop.split("|") if s]


@dataclass
class Span:
    """Generated text at ``[start, end)`` of the document, made by job ``job``."""

    start: int
    end: int
    job: int

    def __len__(self) -> int:
        return self.end - self.start


@dataclass
class GeneratedSpans:
    """Where generated text still lies, kept in step with every edit of the document.

    Generated text stays marked until the writer edits it: an edit by the writer that
    touches a span's inside unmarks the whole span (they made it theirs); typing right
    before or after a span leaves it marked and is not marked itself.

    ``spans`` are in order of their start and never overlap (``between`` relies on it).
    """

    spans: list[Span] = field(default_factory=list)

    def edit(self, position: int, removed: int, added: int, job: int | None = None) -> None:
        """The document changed at ``position``: ``removed`` characters went, ``added`` came.

        ``job`` is the generation that made the change (its text is marked), or None for the
        writer's own edit.
        """
        end_removed = position + removed
        shift = added - removed
        kept: list[Span] = []
        grew = False
        for span in self.spans:
            if job is not None and span.job == job and removed == 0 and position == span.end:
                kept.append(Span(span.start, span.end + added, job))  # the generation streams on
                grew = True
            elif span.end <= position:
                kept.append(span)  # before the change (typing right after it does not join it)
            elif span.start >= end_removed:
                kept.append(Span(span.start + shift, span.end + shift, span.job))  # after it
            # else: deleted whole, or edited inside: no longer generated text
        if job is not None and added and not grew:
            kept.append(Span(position, position + added, job))
        self.spans = sorted((s for s in kept if len(s) > 0), key=lambda s: s.start)

    def of_job(self, job: int) -> Span | None:
        """The whole text a job made, while it is all still unedited."""
        mine = [s for s in self.spans if s.job == job]
        if not mine:
            return None
        return Span(min(s.start for s in mine), max(s.end for s in mine), job)

    def between(self, start: int, end: int) -> list[Span]:
        """The spans that reach into ``[start, end)``, in order.

        Found by bisection, since the spans are in order and never overlap (an edit inside one
        unmarks it): the highlighter asks once per paragraph, and a look at every span made
        opening a long manuscript with thousands of generations take most of a second.
        """
        spans = self.spans
        index = bisect_left(spans, end, key=lambda s: s.start)  # the first that begins at or after ``end``
        found = []
        while index > 0 and spans[index - 1].end > start:
            index -= 1
            found.append(spans[index])
        return found[::-1]

    def clear(self) -> None:
        self.spans = []
