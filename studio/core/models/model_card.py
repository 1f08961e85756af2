"""What a model folder says of its own license, for a folder Studio did not make (an added
folder; a download's manifest already holds the hub's answer).

Where the Hugging Face ecosystem puts it, in order: the model card's YAML front matter
(``README.md``: ``license: apache-2.0``), ``config.json``'s ``license``, the first line of a
``LICENSE`` file. Only the first few KB of each file are read: a model card can be large, and a
hostile one must cost nothing.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

UNKNOWN = "unknown"
_READ_AT_MOST = 64 * 1024
_LICENSE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "LICENCE.txt", "LICENCE.md")


def folder_license(folder: Path | str) -> str:
    """The folder's license in a few words (``apache-2.0``, ``MIT License``), or ``"unknown"``."""
    folder = Path(folder)
    return (_from_card(folder / "README.md") or _from_config(folder / "config.json")
            or _from_license_file(folder) or UNKNOWN)


def _head(path: Path) -> str:
    try:
        with open(path, "rb") as file:
            return file.read(_READ_AT_MOST).decode("utf-8", errors="replace")
    except OSError:
        return ""


def one_line(value: str, limit: int = 100) -> str:
    """Text from a file as one short printable line: control characters (a terminal's escape
    sequences, newlines) become spaces, runs of spaces one. It goes into a table cell."""
    printable = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in value)
    return " ".join(printable.split())[:limit]


def _clean(value: str) -> str:
    return one_line(value.strip().strip("'\"").strip()).strip("'\" ")


def _from_card(path: Path) -> str:
    """``license:`` of the YAML front matter (``---`` … ``---`` at the top); a list is joined."""
    lines = _head(path).splitlines()
    if not lines or lines[0].strip() != "---":
        return ""
    front = []
    for line in lines[1:]:
        if line.strip() == "---":
            break
        front.append(line)
    else:
        return ""  # no closing line: not front matter
    for index, line in enumerate(front):
        if not line.startswith("license:"):
            continue
        value = _clean(line[len("license:"):])
        if value:
            return value
        items = []  # a YAML list on the lines below: "  - mit"
        for item in front[index + 1:]:
            if not item.strip().startswith("- "):
                break
            items.append(_clean(item.strip()[2:]))
        return ", ".join(i for i in items if i)
    return ""


def _from_config(path: Path) -> str:
    if not path.is_file() or path.stat().st_size > 16 * _READ_AT_MOST:
        return ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return ""
    value = data.get("license") if isinstance(data, dict) else None
    return _clean(value) if isinstance(value, str) else ""


def _from_license_file(folder: Path) -> str:
    for name in _LICENSE_FILES:
        for line in _head(folder / name).splitlines():
            if line.strip():
                return _clean(line)
    return ""
