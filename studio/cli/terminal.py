"""Text for the terminal: paragraphs and tables wrapped to its width.

A table that does not fit narrows its widest columns first, never below its longest word
(so names and types keep their width; help texts and lists of choices wrap within their
column): each row still reads left to right and every word is kept. In a terminal too
narrow even for that, each row becomes a short paragraph: its first cell, then one line per
other cell, named by its header. A word longer than a whole line (a path in a deep folder)
is cut across lines, after a slash where it can be.
"""

from __future__ import annotations

import shutil
import textwrap

GAP = "  "  # between columns
UNLIMITED = 1_000_000  # output to a pipe or a file: one line per row, for grep and friends


def width() -> int:
    """The terminal's width in columns: ``COLUMNS`` if set, else the terminal's, else unlimited."""
    return max(20, shutil.get_terminal_size((UNLIMITED, 24)).columns)


def wrap(text: str, columns: int, indent: str = "", continuation: str | None = None) -> list[str]:
    """``text`` as lines of at most ``columns`` characters, each starting with ``indent``."""
    follow = indent if continuation is None else continuation
    lines = textwrap.wrap(
        text, max(1, columns), initial_indent=indent, subsequent_indent=follow,
        break_long_words=False, break_on_hyphens=False,
    )
    # A word longer than a line (a model folder's path) is left on a line of its own; cut it there.
    fitted = []
    for line in lines:
        if len(line) <= columns:
            fitted.append(line)
            continue
        lead = indent if not fitted else follow
        word = line[len(lead):]
        for i, piece in enumerate(_cut(word, max(1, columns - len(follow)), max(1, columns - len(lead)))):
            fitted.append((lead if i == 0 else follow) + piece)
    return fitted or [indent.rstrip()]


def _cut(word: str, width: int, first: int) -> list[str]:
    """``word`` in pieces (``first`` wide, then ``width``), cut after a ``/`` where one falls in reach."""
    pieces = []
    room = first
    while len(word) > room:
        slash = word.rfind("/", 0, room)
        at = slash + 1 if slash >= room // 2 else room  # after a slash, unless that wastes half the line
        pieces.append(word[:at])
        word = word[at:]
        room = width
    return pieces + [word]


def fit_table(rows: list[list[str]], columns: int) -> list[str]:
    """``rows`` (the first is the header) as left-aligned columns, wrapped to ``columns`` wide."""
    rows = [[str(cell) for cell in row] for row in rows]
    count = len(rows[0])
    widths = [max(len(row[i]) for row in rows) for i in range(count)]
    floors = [max(len(word) for row in rows for word in row[i].split() or [""]) for i in range(count)]
    room = columns - len(GAP) * (count - 1)
    if sum(floors) > room:
        return _paragraphs(rows, columns)
    while sum(widths) > room:
        widest = max((i for i in range(count) if widths[i] > floors[i]), key=lambda i: widths[i])
        widths[widest] -= 1
    lines = []
    for row in rows:
        cells = [wrap(cell, widths[i]) if cell else [""] for i, cell in enumerate(row)]
        for depth in range(max(len(cell) for cell in cells)):
            parts = [cell[depth] if depth < len(cell) else "" for cell in cells]
            lines.append(GAP.join(part.ljust(widths[i]) for i, part in enumerate(parts)).rstrip())
    return lines


def _paragraphs(rows: list[list[str]], columns: int) -> list[str]:
    """The table's rows one below the other, for a terminal too narrow for its columns."""
    header, *body = rows
    lines = []
    for row in body:
        lines += wrap(row[0], columns)
        for name, cell in zip(header[1:], row[1:]):
            if cell:
                lines += wrap(f"{name.lower()}: {cell}", columns, indent="    ", continuation="      ")
    return lines
