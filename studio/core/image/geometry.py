"""Integer pixel rectangles: where a layer sits, what a stroke touched, what a selection spans.

One small value type shared by the document, the selection and the paint code, so that
"clip this to that" is written once and reads the same everywhere.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Rect(NamedTuple):
    """``width`` x ``height`` pixels whose top-left pixel is (``x``, ``y``); may be empty."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def from_edges(cls, left: int, top: int, right: int, bottom: int) -> "Rect":
        """The rectangle from ``left``/``top`` (included) to ``right``/``bottom`` (excluded)."""
        return cls(left, top, max(0, right - left), max(0, bottom - top))

    @classmethod
    def around(cls, mask: "np.ndarray") -> "Rect | None":
        """The smallest rectangle holding every True pixel of a 2-D ``mask``; None when there is none."""
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
        return cls.from_edges(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def is_empty(self) -> bool:
        return self.width <= 0 or self.height <= 0

    def intersected(self, other: "Rect") -> "Rect":
        return Rect.from_edges(max(self.x, other.x), max(self.y, other.y), min(self.right, other.right), min(self.bottom, other.bottom))

    def united(self, other: "Rect") -> "Rect":
        if self.is_empty():
            return other
        if other.is_empty():
            return self
        return Rect.from_edges(min(self.x, other.x), min(self.y, other.y), max(self.right, other.right), max(self.bottom, other.bottom))

    def translated(self, dx: int, dy: int) -> "Rect":
        return Rect(self.x + dx, self.y + dy, self.width, self.height)

    def contains(self, x: float, y: float) -> bool:
        return self.x <= x < self.right and self.y <= y < self.bottom

    def slices(self, origin_x: int = 0, origin_y: int = 0) -> tuple[slice, slice]:
        """numpy ``[rows, columns]`` slices of this rectangle in an array whose (0, 0) is at ``origin``."""
        top, left = self.y - origin_y, self.x - origin_x
        return slice(top, top + self.height), slice(left, left + self.width)
