"""Running a picture through a model tile by tile: the grid of tiles, and the blend of their outputs.

A model whose memory grows with the picture (a super-resolution network, a UNet) runs on
tiles that overlap, and their outputs, ``scale`` times larger, are blended with weights that
ramp linearly across each overlap (feathering). A network sees only a bounded neighbourhood
of each pixel (its receptive field), so wherever one tile alone covers a pixel its output is
the untiled one, and in an overlap the tile whose edge is near weighs least there (nothing at
all in the quarter of the overlap nearest its edge).

Memory stays bounded by the output, not by the work: the blend keeps float sums only for one
band of output rows (a tile's height), and rows that no later tile can touch are written out
as final as soon as the grid moves down. Plugins use this module (``studio/__init__.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from studio.core.base.memory import ensure_memory
from studio.core.media.pictures import check_canvas_size
from studio.errors import StudioError

#: The largest factor a tiled model may enlarge by: Real-ESRGAN's are 1x to 8x.
MAX_SCALE = 16


@dataclass(frozen=True)
class Tile:
    """One tile's box in the input picture, and its place in the grid (row, column)."""

    x: int
    y: int
    width: int
    height: int
    row: int
    column: int


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Where tiles of ``tile`` pixels start along a side of ``length``, overlapping by at least
    ``overlap``: spread evenly from 0 to ``length - tile``, so every tile is whole (a model
    with a fixed input size gets that size everywhere) and no overlap is a sliver."""
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    count = max(count, 2)
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


@dataclass(frozen=True)
class TileGrid:
    """Tiles over a ``width`` x ``height`` picture: rows top to bottom, each left to right."""

    width: int
    height: int
    tile_width: int
    tile_height: int
    overlap: int
    xs: tuple[int, ...]
    ys: tuple[int, ...]

    @classmethod
    def make(cls, width: int, height: int, tile: int | tuple[int, int], overlap: int) -> "TileGrid":
        """``tile``: one side for square tiles, or (width, height) (a model's fixed input).
        A picture smaller than a tile gets one tile of its own size along that side."""
        tile_width, tile_height = (tile, tile) if isinstance(tile, int) else tile
        if width < 1 or height < 1:
            raise StudioError(f"there is nothing to tile: the picture is {width} × {height} pixels")
        if tile_width < 1 or tile_height < 1:
            raise StudioError(f"a tile must be at least 1 × 1 pixel, not {tile_width} × {tile_height}")
        if overlap < 0 or 2 * overlap >= min(tile_width, tile_height):
            raise StudioError(
                f"the overlap ({overlap} pixels) must be less than half the tile ({tile_width} × {tile_height}); "
                "choose a smaller overlap or a larger tile"
            )
        tile_width, tile_height = min(tile_width, width), min(tile_height, height)
        xs = tile_starts(width, tile_width, overlap)
        ys = tile_starts(height, tile_height, overlap)
        return cls(width, height, tile_width, tile_height, overlap, tuple(xs), tuple(ys))

    def __len__(self) -> int:
        return len(self.xs) * len(self.ys)

    def __iter__(self) -> Iterator[Tile]:
        for row, y in enumerate(self.ys):
            for column, x in enumerate(self.xs):
                yield Tile(x, y, self.tile_width, self.tile_height, row, column)

    def seams(self, scale: int = 1) -> np.ndarray:
        """A bool map (height * scale, width * scale) of the output pixels more than one tile
        covers: where tiles are blended (what parity tests hold to a looser bound)."""
        rows = _covered_twice(self.ys, self.tile_height, self.height, scale)
        columns = _covered_twice(self.xs, self.tile_width, self.width, scale)
        return rows[:, None] | columns[None, :]

    def weights(self, tile: Tile, scale: int) -> tuple[np.ndarray, np.ndarray]:
        """The tile's blend weights along y and x (output pixels): 1 inside, a linear ramp
        across each overlap with a neighbour (0 near the tile's edge, where the neighbour has 1)."""
        return (
            _ramp(self.ys, tile.row, self.tile_height, scale),
            _ramp(self.xs, tile.column, self.tile_width, scale),
        )


def _covered_twice(starts: tuple[int, ...], tile: int, length: int, scale: int) -> np.ndarray:
    count = np.zeros(length * scale, np.int32)
    for start in starts:
        count[start * scale:(start + tile) * scale] += 1
    return count > 1


def _ramp(starts: tuple[int, ...], index: int, tile: int, scale: int) -> np.ndarray:
    weight = np.ones(tile * scale, np.float32)
    start = starts[index]
    if index > 0:  # rises across the overlap with the tile before
        shared = (starts[index - 1] + tile - start) * scale
        if shared > 0:
            weight[:shared] = np.minimum(weight[:shared], _rise(shared))
    if index + 1 < len(starts):  # falls across the overlap with the tile after
        shared = (start + tile - starts[index + 1]) * scale
        if shared > 0:
            weight[-shared:] = np.minimum(weight[-shared:], _rise(shared)[::-1])
    return weight


def _rise(shared: int) -> np.ndarray:
    """Weights across an overlap of ``shared`` output pixels, from the tile's edge inwards: 0 over
    the outer quarter (a tile's own edge is where its padding shows: the neighbour has it whole
    there), then a linear ramp to 1 over the middle half; a neighbour's fall mirrors it, so the
    two add up to 1 everywhere in the overlap."""
    margin = shared // 4
    span = shared - 2 * margin
    positions = np.arange(shared, dtype=np.float32) - margin + 0.5
    return np.clip(positions / span, 0.0, 1.0)


def output_size(width: int, height: int, scale: int, what: str = "the upscaled picture") -> tuple[int, int]:
    """``width`` x ``height`` times ``scale``, refused in plain words past Studio's picture limits."""
    if not isinstance(scale, int) or not 1 <= scale <= MAX_SCALE:
        raise StudioError(f"a scale of {scale} is not one Studio can tile; it works with whole factors from 1 to {MAX_SCALE}")
    out_width, out_height = width * scale, height * scale
    check_canvas_size(out_width, out_height, what)
    return out_width, out_height


class TileBlender:
    """Collects tile outputs in the grid's order and blends them into one picture.

    ``channels`` float channels in [0, 1] per tile output; the picture is uint8 (0..255,
    rounded) or, with ``dtype=np.float32``, the blended floats themselves. Memory is checked
    before anything is allocated: the picture plus one band of float sums.
    """

    def __init__(self, grid: TileGrid, scale: int, channels: int = 3, dtype: type = np.uint8, what: str = "the upscaled picture") -> None:
        out_width, out_height = output_size(grid.width, grid.height, scale, what)
        self.grid, self.scale, self.channels, self.dtype = grid, scale, channels, np.dtype(dtype)
        band_rows = min(out_height, grid.tile_height * scale)
        ensure_memory(
            out_width * out_height * channels * self.dtype.itemsize + band_rows * out_width * (channels + 1) * 4,
            f"{what} ({out_width} × {out_height})",
        )
        self.output = np.zeros((out_height, out_width, channels), self.dtype)
        self._sums = np.zeros((band_rows, out_width, channels), np.float32)
        self._weights = np.zeros((band_rows, out_width), np.float32)
        self._top = 0  # the output row the band starts at: rows above it are final
        self._added = 0

    def add(self, tile: Tile, pixels: np.ndarray) -> None:
        """Blend one tile's output: float (tile height * scale, tile width * scale, channels)."""
        s = self.scale
        expected = (tile.height * s, tile.width * s, self.channels)
        if pixels.shape != expected:
            raise StudioError(f"a tile's output is {pixels.shape}, not the {expected} a {s}x model gives for it")
        self._advance(tile.y * s)
        weight_y, weight_x = self.grid.weights(tile, s)
        weight = weight_y[:, None] * weight_x[None, :]
        rows = slice(tile.y * s - self._top, (tile.y + tile.height) * s - self._top)
        columns = slice(tile.x * s, (tile.x + tile.width) * s)
        self._sums[rows, columns] += pixels * weight[..., None]
        self._weights[rows, columns] += weight
        self._added += 1

    @property
    def final_rows(self) -> int:
        """How many output rows, from the top, are final already (what a preview may show)."""
        return self._top

    def result(self) -> np.ndarray:
        """The blended picture, once every tile of the grid is in."""
        if self._added != len(self.grid):
            raise StudioError(f"only {self._added} of {len(self.grid)} tiles were blended")
        self._advance(self.output.shape[0])
        return self.output

    def _advance(self, top: int) -> None:
        """Write out the band's rows above output row ``top`` (no later tile reaches them) and
        move the band down to start there."""
        done = min(top, self._top + self._sums.shape[0]) - self._top
        if done <= 0:
            return
        final = self._sums[:done] / self._weights[:done, :, None]
        if self.dtype == np.uint8:
            final = np.clip(final * 255.0 + 0.5, 0, 255)
        self.output[self._top:self._top + done] = final.astype(self.dtype)
        self._sums[:-done] = self._sums[done:].copy()
        self._weights[:-done] = self._weights[done:].copy()
        self._sums[-done:] = 0
        self._weights[-done:] = 0
        self._top += done
