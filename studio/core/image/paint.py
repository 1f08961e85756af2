"""Painting on pixels: brush strokes, the eraser, the mask brush and flood fill, in numpy.

A stroke paints the *coverage* of its dabs (their maximum, not their sum) over the pixels
as they were when the stroke began, so a stroke at 50 % opacity is 50 % everywhere, however
often its dabs overlap, as in every painting application. The untouched originals are kept
in 64-pixel tiles, copied the first time a dab reaches them, so a long stroke on a large
layer costs memory for what it touched only, and its undo step stores only the rectangle it
touched, before and after.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from studio.core.image.geometry import Rect

TILE = 64
PAINT, ERASE, MASK, UNMASK = "paint", "erase", "mask", "unmask"
MODES = (PAINT, ERASE, MASK, UNMASK)


@dataclass(frozen=True)
class Brush:
    """``size`` is the diameter in pixels; ``hardness`` and ``opacity`` run from 0 to 1."""

    size: float = 24.0
    hardness: float = 0.8
    opacity: float = 1.0
    colour: tuple[int, int, int, int] = (0, 0, 0, 255)

    @property
    def spacing(self) -> float:
        """Distance between dabs: a tenth of the diameter keeps a soft line free of beads."""
        return max(0.5, self.size * 0.1)


@dataclass
class PixelPatch:
    """A rectangle of an array before and after an edit: one undo step's worth of pixels."""

    rect: Rect  # in the array's own coordinates
    before: np.ndarray
    after: np.ndarray

    def undo(self, target: np.ndarray) -> None:
        target[self.rect.slices()] = self.before

    def redo(self, target: np.ndarray) -> None:
        target[self.rect.slices()] = self.after

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes


def dab(brush: Brush, cx: float, cy: float) -> tuple[Rect, np.ndarray]:
    """One round dab centred at (``cx``, ``cy``): the rectangle it covers and its alpha (float32).

    Full alpha out to ``hardness`` of the radius, then a smooth fall to zero at the rim; the
    rim itself is anti-aliased over one pixel so that a hard brush has no jagged edge.
    """
    radius = max(0.5, brush.size / 2)
    left, top = int(math.floor(cx - radius)), int(math.floor(cy - radius))
    right, bottom = int(math.ceil(cx + radius)) + 1, int(math.ceil(cy + radius)) + 1
    ys = np.arange(top, bottom, dtype=np.float32)[:, None] + 0.5 - np.float32(cy)
    xs = np.arange(left, right, dtype=np.float32)[None, :] + 0.5 - np.float32(cx)
    distance = np.sqrt(xs * xs + ys * ys)
    edge = np.clip(radius - distance + 0.5, 0.0, 1.0)  # anti-aliased rim
    hardness = min(max(brush.hardness, 0.0), 1.0)
    if hardness < 1.0:
        inner = radius * hardness
        t = np.clip((distance - inner) / max(radius - inner, 1e-6), 0.0, 1.0)
        edge = np.minimum(edge, 1.0 - t * t * (3.0 - 2.0 * t))  # smoothstep fall-off
    return Rect(left, top, right - left, bottom - top), edge.astype(np.float32)


class Stroke:
    """One stroke on ``target`` (H x W x 4 layer pixels, or H x W mask), from press to release.

    Points come in canvas coordinates; ``origin`` is where the target's (0, 0) sits on the
    canvas (a layer's offset). ``clip`` (canvas-sized bool, e.g. the selection) limits where
    paint may land. The path is smoothed: each new point bends a quadratic curve through the
    midpoints of the last segments, and dabs are laid along it at even spacing, so fast mouse
    movements give curves, not polylines with gaps.
    """

    def __init__(
        self,
        target: np.ndarray,
        brush: Brush,
        mode: str = PAINT,
        origin: tuple[int, int] = (0, 0),
        clip: np.ndarray | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"stroke mode must be one of {MODES}")
        if (mode in (MASK, UNMASK)) != (target.ndim == 2):
            raise ValueError("mask strokes paint a 2-D mask; paint and erase strokes an RGBA layer")
        self.target, self.brush, self.mode = target, brush, mode
        self.origin = origin
        self.clip = clip
        self._tiles: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._touched = Rect(0, 0, 0, 0)
        self._points: list[tuple[float, float]] = []
        self._carry = 0.0  # distance along the path since the last dab
        self._last_end: tuple[float, float] | None = None

    @property
    def touched(self) -> Rect:
        """What the stroke has changed so far, in canvas coordinates."""
        return self._touched.translated(*self.origin)

    # -- the path ------------------------------------------------------------------------------

    def begin(self, x: float, y: float) -> Rect:
        self._points = [(x, y)]
        self._last_end = (x, y)
        return self._lay([(x, y)])

    def extend(self, x: float, y: float) -> Rect:
        """Carry the stroke on to (``x``, ``y``); returns the canvas rectangle that changed."""
        if not self._points:
            return self.begin(x, y)
        previous = self._points[-1]
        if (x - previous[0]) ** 2 + (y - previous[1]) ** 2 < 0.25:
            return Rect(0, 0, 0, 0)
        self._points.append((x, y))
        mid = ((previous[0] + x) / 2, (previous[1] + y) / 2)
        # The curve runs from the last end (a midpoint) to this midpoint, bent by the previous point.
        return self._lay(self._along(_quadratic(self._last_end, previous, mid)), mid)

    def finish(self) -> PixelPatch | None:
        """Draw the last stretch to the final point and return the undo patch (None: nothing changed)."""
        if len(self._points) > 1 and self._last_end is not None:
            self._lay(self._along(_line(self._last_end, self._points[-1])), self._points[-1])
        if self._touched.is_empty():
            return None
        rect = self._touched
        after = self.target[rect.slices()].copy()
        before = after.copy()
        for (tx, ty), (original, _) in self._tiles.items():
            tile = Rect(tx * TILE, ty * TILE, original.shape[1], original.shape[0]).intersected(rect)
            if not tile.is_empty():
                before[tile.slices(rect.x, rect.y)] = original[tile.slices(tx * TILE, ty * TILE)]
        self._tiles.clear()
        return PixelPatch(rect, before, after)

    def _along(self, path: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """Dab centres at even spacing along the polyline ``path``, continuing the last gap."""
        spacing = self.brush.spacing
        centres = []
        for (ax, ay), (bx, by) in zip(path, path[1:]):
            length = math.hypot(bx - ax, by - ay)
            if length == 0:
                continue
            position = spacing - self._carry
            while position <= length:
                t = position / length
                centres.append((ax + (bx - ax) * t, ay + (by - ay) * t))
                position += spacing
            self._carry = length - (position - spacing)
        return centres

    # -- the pixels ----------------------------------------------------------------------------

    def _lay(self, centres: list[tuple[float, float]], end: tuple[float, float] | None = None) -> Rect:
        if end is not None:
            self._last_end = end
        ox, oy = self.origin
        bounds = Rect(0, 0, self.target.shape[1], self.target.shape[0])
        changed = Rect(0, 0, 0, 0)
        for cx, cy in centres:
            rect, alpha = dab(self.brush, cx - ox, cy - oy)
            inside = rect.intersected(bounds)
            if inside.is_empty():
                continue
            alpha = alpha[inside.slices(rect.x, rect.y)]
            if self.clip is not None:
                alpha = alpha * _clip_over(self.clip, inside.translated(ox, oy))
            self._cover(inside, alpha)
            changed = changed.united(inside)
        self._touched = self._touched.united(changed)
        return changed.translated(ox, oy)

    def _cover(self, rect: Rect, alpha: np.ndarray) -> None:
        """Raise the stroke's coverage over ``rect`` to ``alpha`` and repaint those pixels."""
        for tile_rect, (original, coverage) in self._tiles_over(rect):
            part = tile_rect.intersected(rect)
            cov = coverage[part.slices(tile_rect.x, tile_rect.y)]
            np.maximum(cov, alpha[part.slices(rect.x, rect.y)], out=cov)
            self.target[part.slices()] = self._blend(original[part.slices(tile_rect.x, tile_rect.y)], cov)

    def _tiles_over(self, rect: Rect) -> Iterator[tuple[Rect, tuple[np.ndarray, np.ndarray]]]:
        height, width = self.target.shape[:2]
        for ty in range(rect.y // TILE, (rect.bottom - 1) // TILE + 1):
            for tx in range(rect.x // TILE, (rect.right - 1) // TILE + 1):
                tile_rect = Rect.from_edges(tx * TILE, ty * TILE, min(width, (tx + 1) * TILE), min(height, (ty + 1) * TILE))
                entry = self._tiles.get((tx, ty))
                if entry is None:
                    original = self.target[tile_rect.slices()].copy()
                    entry = self._tiles[(tx, ty)] = (original, np.zeros(original.shape[:2], dtype=np.float32))
                yield tile_rect, entry

    def _blend(self, original: np.ndarray, coverage: np.ndarray) -> np.ndarray:
        strength = coverage * np.float32(self.brush.opacity)
        if self.mode == MASK:
            return np.maximum(original, np.round(strength * 255.0).astype(np.uint8))
        if self.mode == UNMASK:
            return np.round(original * (1.0 - strength)).astype(np.uint8)
        if self.mode == ERASE:
            out = original.copy()
            out[..., 3] = np.round(original[..., 3] * (1.0 - strength)).astype(np.uint8)
            return out
        return source_over(original, self.brush.colour, strength)


def source_over(original: np.ndarray, colour: tuple[int, int, int, int], strength: np.ndarray) -> np.ndarray:
    """``colour`` laid over straight-alpha RGBA ``original`` with per-pixel ``strength`` (0..1)."""
    rgb = np.asarray(colour[:3], dtype=np.float32) / 255.0
    src_a = (strength * (colour[3] / 255.0))[..., None]
    dst = original.astype(np.float32) / 255.0
    dst_a = dst[..., 3:4]
    out_a = src_a + dst_a * (1.0 - src_a)
    out_rgb = np.where(out_a > 0, (rgb * src_a + dst[..., :3] * dst_a * (1.0 - src_a)) / np.maximum(out_a, 1e-12), dst[..., :3])
    out = np.concatenate([out_rgb, out_a], axis=-1)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _clip_over(clip: np.ndarray, rect: Rect) -> np.ndarray:
    out = np.zeros((rect.height, rect.width), dtype=np.float32)
    inside = rect.intersected(Rect(0, 0, clip.shape[1], clip.shape[0]))
    if not inside.is_empty():
        out[inside.slices(rect.x, rect.y)] = clip[inside.slices()]
    return out


def _quadratic(start, control, end) -> list[tuple[float, float]]:
    """A quadratic Bézier as a polyline fine enough that its chords are under a pixel or so."""
    length = math.hypot(control[0] - start[0], control[1] - start[1]) + math.hypot(end[0] - control[0], end[1] - control[1])
    steps = max(1, min(64, int(length / 2)))
    points = []
    for i in range(steps + 1):
        t = i / steps
        a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t * t
        points.append((a * start[0] + b * control[0] + c * end[0], a * start[1] + b * control[1] + c * end[1]))
    return points


def _line(start, end) -> list[tuple[float, float]]:
    return [start, end]


# -- fill ----------------------------------------------------------------------------------------


def flood_region(pixels: np.ndarray, x: int, y: int, tolerance: int = 32) -> np.ndarray:
    """The 4-connected region of pixels like (``x``, ``y``)'s, as bool (H x W).

    "Like" means every premultiplied channel within ``tolerance`` (0..255), so all fully
    transparent pixels count as one colour whatever their hidden RGB. A scanline fill: runs
    of similar pixels are found with numpy, and only runs (not pixels) go through Python.
    """
    height, width = pixels.shape[:2]
    region = np.zeros((height, width), dtype=bool)
    if not (0 <= x < width and 0 <= y < height):
        return region
    premultiplied = pixels.astype(np.int32)
    premultiplied[..., :3] = (premultiplied[..., :3] * premultiplied[..., 3:4] + 127) // 255
    seed = premultiplied[y, x]
    similar = (np.abs(premultiplied - seed) <= tolerance).all(axis=2)
    starts, ends = _row_runs(similar)
    stack = [(y, x)]
    while stack:
        row, column = stack.pop()
        if region[row, column] or not similar[row, column]:
            continue
        index = np.searchsorted(starts[row], column, side="right") - 1
        left, right = int(starts[row][index]), int(ends[row][index])
        region[row, left:right] = True
        for neighbour in (row - 1, row + 1):
            if 0 <= neighbour < height:
                # Every run of the neighbouring row that overlaps [left, right) joins the region.
                first = max(0, np.searchsorted(ends[neighbour], left, side="right"))
                for start, end in zip(starts[neighbour][first:], ends[neighbour][first:]):
                    if start >= right:
                        break
                    if not region[neighbour, start]:
                        stack.append((neighbour, int(start)))
    return region


def _row_runs(flags: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """For each row, the start and end (exclusive) columns of its runs of True."""
    padded = np.pad(flags, ((0, 0), (1, 1))).astype(np.int8)
    change = np.diff(padded, axis=1)
    start_rows, start_cols = np.nonzero(change == 1)
    end_rows, end_cols = np.nonzero(change == -1)
    bounds = np.searchsorted(start_rows, np.arange(flags.shape[0] + 1))
    starts = [start_cols[bounds[r] : bounds[r + 1]] for r in range(flags.shape[0])]
    ends = [end_cols[bounds[r] : bounds[r + 1]] for r in range(flags.shape[0])]
    return starts, ends


def fill(target: np.ndarray, region: np.ndarray, colour: tuple[int, int, int, int], opacity: float = 1.0) -> PixelPatch | None:
    """Lay ``colour`` over ``target`` (RGBA) where ``region`` (bool, same H x W) is True."""
    rect = Rect.around(region)
    if rect is None:
        return None
    before = target[rect.slices()].copy()
    strength = region[rect.slices()].astype(np.float32) * np.float32(opacity)
    after = np.where(region[rect.slices()][..., None], source_over(before, colour, strength), before)
    target[rect.slices()] = after
    return PixelPatch(rect, before, after.copy())


def clear(target: np.ndarray, region: np.ndarray) -> PixelPatch | None:
    """Make ``target`` (RGBA) transparent where ``region`` is True (Delete on a selection)."""
    rect = Rect.around(region)
    if rect is None:
        return None
    before = target[rect.slices()].copy()
    after = before.copy()
    after[region[rect.slices()]] = 0
    target[rect.slices()] = after
    return PixelPatch(rect, before, after.copy())


def region_on_layer(canvas_mask: np.ndarray, layer_rect: Rect) -> np.ndarray:
    """A canvas-sized bool mask cut to a layer's pixels (False where the layer reaches past the canvas)."""
    return _clip_over(canvas_mask, layer_rect).astype(bool)
