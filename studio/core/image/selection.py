"""The selection: which canvas pixels an edit or a generation may touch, as a boolean mask.

A selection is immutable: every change makes a new one, so an undo step just keeps the old
object. Rectangles and lassos are rasterised once, at pixel centres (a pixel is in when its
centre is inside the shape, even-odd rule for a lasso that crosses itself), and from then
on a selection is only its mask, so adding, subtracting and inverting are array operations.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from studio.core.image.geometry import Rect

MODES = ("replace", "add", "subtract", "intersect")


class Selection:
    """A canvas-sized boolean mask (True = selected) and what is derived from it, cached."""

    def __init__(self, mask: np.ndarray) -> None:
        if mask.ndim != 2:
            raise ValueError("a selection mask has shape (height, width)")
        self.mask = np.ascontiguousarray(mask, dtype=bool)
        self.mask.flags.writeable = False  # shared by undo steps: nobody may edit it in place
        self._bbox: Rect | None | bool = False  # False: not computed yet
        self._outline: np.ndarray | None = None

    # -- making one --------------------------------------------------------------------------

    @classmethod
    def rectangle(cls, width: int, height: int, rect: Rect) -> "Selection":
        """The pixels of ``rect`` (clipped to the canvas of ``width`` x ``height``)."""
        mask = np.zeros((height, width), dtype=bool)
        inside = rect.intersected(Rect(0, 0, width, height))
        if not inside.is_empty():
            mask[inside.slices()] = True
        return cls(mask)

    @classmethod
    def polygon(cls, width: int, height: int, points: Sequence[tuple[float, float]]) -> "Selection":
        """The pixels whose centres lie inside the closed polygon ``points`` (canvas coordinates)."""
        return cls(rasterize_polygon(width, height, points))

    @classmethod
    def everything(cls, width: int, height: int) -> "Selection":
        return cls(np.ones((height, width), dtype=bool))

    # -- what it is ----------------------------------------------------------------------------

    @property
    def size(self) -> tuple[int, int]:
        return self.mask.shape[1], self.mask.shape[0]

    def is_empty(self) -> bool:
        return self.bbox is None

    @property
    def bbox(self) -> Rect | None:
        """The smallest rectangle holding every selected pixel; None when nothing is selected."""
        if self._bbox is False:
            self._bbox = Rect.around(self.mask)
        return self._bbox  # type: ignore[return-value]

    def contains(self, x: float, y: float) -> bool:
        xi, yi = int(np.floor(x)), int(np.floor(y))
        return 0 <= yi < self.mask.shape[0] and 0 <= xi < self.mask.shape[1] and bool(self.mask[yi, xi])

    def crop(self, rect: Rect) -> np.ndarray:
        """The mask over ``rect`` (False outside the canvas), as bool."""
        out = np.zeros((rect.height, rect.width), dtype=bool)
        inside = rect.intersected(Rect(0, 0, *self.size))
        if not inside.is_empty():
            out[inside.slices(rect.x, rect.y)] = self.mask[inside.slices()]
        return out

    def as_uint8(self, rect: Rect | None = None) -> np.ndarray:
        """0/255 over ``rect`` (default: the whole canvas): the form a generator's mask takes."""
        mask = self.mask if rect is None else self.crop(rect)
        return mask.astype(np.uint8) * np.uint8(255)

    def is_rectangle(self) -> bool:
        box = self.bbox
        return box is not None and int(self.mask.sum()) == box.width * box.height

    # -- combining -----------------------------------------------------------------------------

    def combined(self, other: "Selection", mode: str) -> "Selection":
        """This selection with ``other`` added, subtracted, intersected, or replaced by it."""
        if mode not in MODES:
            raise ValueError(f"selection mode must be one of {MODES}, not {mode!r}")
        if mode == "replace":
            return other
        if mode == "add":
            return Selection(self.mask | other.mask)
        if mode == "subtract":
            return Selection(self.mask & ~other.mask)
        return Selection(self.mask & other.mask)

    def inverted(self) -> "Selection":
        return Selection(~self.mask)

    def reframed(self, width: int, height: int, dx: int, dy: int) -> "Selection":
        """The same pixels on a canvas of ``width`` x ``height`` whose old (0, 0) is now at (dx, dy)."""
        mask = np.zeros((height, width), dtype=bool)
        old = Rect(dx, dy, *self.size)
        inside = old.intersected(Rect(0, 0, width, height))
        if not inside.is_empty():
            mask[inside.slices()] = self.mask[inside.slices(dx, dy)]
        return Selection(mask)

    def scaled(self, width: int, height: int) -> "Selection":
        """Nearest-neighbour resampling to ``width`` x ``height`` (a selection stays crisp)."""
        old_w, old_h = self.size
        rows = np.minimum((np.arange(height) + 0.5) * old_h / height, old_h - 1).astype(np.intp)
        cols = np.minimum((np.arange(width) + 0.5) * old_w / width, old_w - 1).astype(np.intp)
        return Selection(self.mask[rows[:, None], cols[None, :]])

    # -- drawing it ------------------------------------------------------------------------------

    def outline(self) -> np.ndarray:
        """The border between selected and unselected pixels as segments ``(x1, y1, x2, y2)``.

        Coordinates are pixel edges (the canvas runs from 0 to width). Runs along a row or a
        column are merged, so a rectangle is four segments however large it is; the view
        draws these as marching ants.
        """
        if self._outline is None:
            padded = np.pad(self.mask, 1)
            horizontal = padded[1:, 1:-1] != padded[:-1, 1:-1]  # edge above row y, y in 0..height
            vertical = padded[1:-1, 1:] != padded[1:-1, :-1]  # edge left of column x, x in 0..width
            rows = [(x1, y, x2, y) for y, x1, x2 in _runs(horizontal)]
            cols = [(x, y1, x, y2) for x, y1, y2 in _runs(vertical.T)]
            self._outline = np.array(rows + cols, dtype=np.int32).reshape(-1, 4)
        return self._outline


def _runs(flags: np.ndarray) -> Iterable[tuple[int, int, int]]:
    """(row, start, end) for every run of True along each row of ``flags``."""
    padded = np.pad(flags, ((0, 0), (1, 1)))
    change = np.diff(padded.astype(np.int8), axis=1)
    starts = np.argwhere(change == 1)
    ends = np.argwhere(change == -1)
    # argwhere is row-major, so the n-th start and the n-th end belong to the same run.
    return zip(starts[:, 0].tolist(), starts[:, 1].tolist(), ends[:, 1].tolist())


def rasterize_polygon(width: int, height: int, points: Sequence[tuple[float, float]]) -> np.ndarray:
    """Pixels (bool, ``height`` x ``width``) whose centres are inside ``points``, even-odd rule.

    Vectorised over rows and edges: each edge that crosses a row's centre line toggles every
    pixel centre to the right of the crossing, and the parity of the toggles is the answer.
    """
    mask = np.zeros((height, width), dtype=bool)
    if len(points) < 3:
        return mask
    xy = np.asarray(points, dtype=np.float64)
    x0, y0 = xy[:, 0], xy[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    top = max(0, int(np.floor(xy[:, 1].min())))
    bottom = min(height, int(np.ceil(xy[:, 1].max())) + 1)
    if top >= bottom:
        return mask
    centres = np.arange(top, bottom, dtype=np.float64)[:, None] + 0.5
    # Half-open on y so a vertex shared by two edges is counted once.
    crosses = ((y0 <= centres) & (centres < y1)) | ((y1 <= centres) & (centres < y0))
    with np.errstate(divide="ignore", invalid="ignore"):
        at = x0 + (centres - y0) * (x1 - x0) / (y1 - y0)
    rows, edges = np.nonzero(crosses)
    # Pixel i's centre i + 0.5 is right of a crossing at x when i >= floor(x - 0.5) + 1.
    first = np.clip(np.floor(at[rows, edges] - 0.5).astype(np.int64) + 1, 0, width)
    toggles = np.zeros((bottom - top, width + 1), dtype=np.int32)
    np.add.at(toggles, (rows, first), 1)
    mask[top:bottom] = (np.cumsum(toggles, axis=1)[:, :width] & 1).astype(bool)
    return mask
