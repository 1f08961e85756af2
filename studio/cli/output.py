"""How the ``studio`` command answers: exit codes, the one-line error, and the text that
several subcommands print (tables, values as typed on the command line, a model folder's state).

Expected failures (``StudioError``) print ``studio: error: <message>`` and exit 2, never a
traceback.
"""

from __future__ import annotations

import sys
from typing import Any

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USER_ERROR = 2  # argparse uses 2 for usage errors too: one code for "your input"
EXIT_INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C


def user_error(message: str) -> int:
    print(f"studio: error: {message}", file=sys.stderr)
    return EXIT_USER_ERROR


def format_value(value: Any) -> str:
    """A parameter's value as it is typed after ``--param NAME=``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) and all(isinstance(v, float) for v in value):
        return ",".join(repr(v) for v in value)  # a latent: exact, and no spaces to quote
    return str(value)


def table(rows: list[list[str]]) -> list[str]:
    """Rows as left-aligned columns two spaces apart (the last column is not padded)."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths)] + [str(row[-1])]
        lines.append("  ".join(cells).rstrip())
    return lines


def describe_model_folder(entry: Any) -> str:
    """What became of a model folder, in one line (``studio models`` and ``studio doctor``)."""
    loader = entry.loader
    loader_name = f"{loader.title or loader.id} (loader {loader.id})" if loader else ""
    if entry.ok:
        return f"ok: {loader_name}, generator {entry.generator.id}"
    return "error: " + (f"{loader_name}: " if loader_name else "") + entry.error
