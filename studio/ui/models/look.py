"""What the Models window and the Download dialog share: how a kind, a size, a date and a
section heading look, so the two read as one part of Studio."""

from __future__ import annotations

import datetime as _dt

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QWidget

from studio.ui.plain import plain_label

#: A generator's kind as the lists show it: a sign and a word.
KIND_NAMES = {"image": "▣  Image", "text": "¶  Text", "audio": "♪  Audio", "": "•  Model"}

#: Where a model came from, as the user says it.
ORIGIN_NAMES = {"built-in": "Built in", "added": "Your folder", "downloaded": "Downloaded", "imported": "Imported"}

MUTED = "color: #9a9aa3;"
WARNING = "color: #e3b341;"
ERROR = "color: #ff7b72;"
GOOD = "color: #7ee787;"


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, KIND_NAMES[""])


def when(iso: str) -> str:
    """``2026-12-03T16:00:00+00:00`` -> ``3 Dec 2026, 16:00`` in the user's time; ``""`` stays empty."""
    if not iso:
        return ""
    try:
        moment = _dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return f"{moment.day} {moment:%b %Y, %H:%M}"


def heading(text: str, parent: QWidget | None = None) -> QLabel:
    """A section's title inside a pane (Variants, Default variant, Files)."""
    label = plain_label(text, parent)
    label.setStyleSheet("font-weight: 600; color: #c9c9d1; margin-top: 10px;")
    return label


def title_label(text: str = "", size: int = 17) -> QLabel:
    label = plain_label(text)
    label.setStyleSheet(f"font-size: {size}px; font-weight: 700;")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def badge(text: str = "", colour: str = "#3a3a42") -> QLabel:
    """A small rounded tag: a kind, an origin, "gated", "suits this computer"."""
    label = plain_label(text)
    label.setStyleSheet(f"background: {colour}; border-radius: 8px; padding: 2px 8px; font-size: 11px;")
    return label


def muted(text: str = "") -> QLabel:
    label = plain_label(text)
    label.setStyleSheet(MUTED)
    label.setWordWrap(True)
    return label


def line() -> QFrame:
    rule = QFrame()
    rule.setFrameShape(QFrame.Shape.HLine)
    rule.setStyleSheet("color: #3a3a42;")
    return rule
