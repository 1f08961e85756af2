"""Upscaling with a super-resolution model, tile by tile, so a picture of any size fits in memory.

Each tile runs alone through the model and the outputs are blended where they overlap
(``studio.core.image.tiling``); progress comes after each tile, and cancel is looked at
before each one (and stops a tile's run in the middle). The model sees RGB only: an alpha
channel is enlarged by a plain resize, as Real-ESRGAN's own tool does it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import numpy as np

import studio
from studio.core.base.memory import ensure_memory
from studio.core.image.tiling import TileBlender, TileGrid, output_size

from .model import SRGraph, read_graph
from .resize import OWN_SIZE, resize_alpha

PREVIEW_SIDE = 384


class UpscaleGenerator(studio.Generator):
    kind = "image"
    params = (
        studio.Param("image", "image", label="Image", help="The picture to enlarge: the selection, or the active layer."),
        studio.Param("tile", "int", 256, min=32, max=2048, step=16, help="Pixels a side the model works on at once: smaller needs less memory, larger has fewer seams. A model made for one size uses that size."),
        studio.Param("overlap", "int", 16, min=0, max=256, step=2, help="Pixels neighbouring tiles share, blended so no seam shows."),
    )

    def __init__(self, path: Path, generator_id: str, title: str) -> None:
        self.path = Path(path)
        self.id = generator_id
        self.title = title
        self.description = f"Enlarges the selection or the active layer with a super-resolution model ({self.path.name}), tile by tile."
        self._graphs: dict[str, SRGraph] = {}  # device id -> what its session takes and gives

    def load(self, ctx: studio.JobContext) -> None:
        self._graph(ctx)

    def _graph(self, ctx: studio.JobContext) -> tuple[object, SRGraph]:
        loaded = ctx.session(self.path)
        if ctx.device.id not in self._graphs:
            self._graphs[ctx.device.id] = read_graph(loaded, ctx.run, self.path)
        return loaded, self._graphs[ctx.device.id]

    def generate(self, request: studio.Request, ctx: studio.JobContext) -> Iterator[studio.Event]:
        loaded, graph = self._graph(ctx)
        image = request["image"]
        started = time.perf_counter()
        overlap, notes = request["overlap"], []
        if graph.fixed_size is not None and 2 * overlap >= min(graph.fixed_size):
            # The user's tile does not apply to a model made for one size; nor may its overlap.
            overlap = (min(graph.fixed_size) - 1) // 2
            notes.append(f"This model takes {graph.fixed_size[0]} × {graph.fixed_size[1]} tiles only: the overlap was cut to {overlap} pixels.")
        upscaled = yield from upscale(image, graph, lambda feeds: ctx.run(loaded, [graph.output_name], feeds)[0], request["tile"], overlap, ctx)
        params = {k: v for k, v in request.params.items() if not isinstance(v, np.ndarray)}
        params.update(scale=graph.scale, model=self.path.name)
        info = {
            OWN_SIZE: True, "scale": graph.scale, "provider": loaded.providers[0], "device": ctx.device.id,
            "seconds": round(time.perf_counter() - started, 3), "notes": notes,
        }
        yield studio.Result("image", upscaled, self.id, params, info=info)


def upscale(image: np.ndarray, graph: SRGraph, run, tile: int, overlap: int, ctx: studio.JobContext) -> Iterator[studio.Event]:
    """``image`` (uint8 RGBA) enlarged ``graph.scale`` times by ``run(feeds) -> output``, tile by
    tile; yields progress and returns the uint8 RGBA picture."""
    height, width = image.shape[:2]
    scale = graph.scale
    size = graph.fixed_size or (tile, tile)
    if 2 * overlap >= min(size):
        raise studio.ParamError(f"overlap: {overlap} pixels is half a {size[0]} × {size[1]} tile or more; choose less than {min(size) // 2}")
    out_width, out_height = output_size(width, height, scale)
    grid = TileGrid.make(width, height, size, overlap)
    blender = TileBlender(grid, scale, 3, np.uint8)
    ensure_memory(out_width * out_height * 4, f"the upscaled picture ({out_width} × {out_height})")  # the RGBA copy
    total = len(grid)
    yield studio.Progress(0, total, f"Upscaling {width} × {height} to {out_width} × {out_height}…")
    shown = 0
    for number, part in enumerate(grid):
        ctx.check_cancelled()
        pixels = image[part.y:part.y + part.height, part.x:part.x + part.width, :3]
        blender.add(part, run_tile(pixels, graph, run))
        yield studio.Progress(number + 1, total, f"Tile {number + 1} of {total}")
        if blender.final_rows > shown:  # a row of tiles is done: show the rows that are final
            shown = blender.final_rows
            yield studio.Preview("image", _preview(blender.output[:shown], scale))
    rgba = np.empty((out_height, out_width, 4), np.uint8)
    rgba[..., :3] = blender.result()
    rgba[..., 3] = resize_alpha(image[..., 3], out_width, out_height)
    return rgba


def _preview(rows: np.ndarray, scale: int) -> np.ndarray:
    """The final rows so far, back at about the input's scale and at most ``PREVIEW_SIDE`` a side
    (the GUI thread should never convert megapixels), opaque RGBA."""
    step = max(scale, -(-max(rows.shape[:2]) // PREVIEW_SIDE))
    picked = rows[::step, ::step]
    preview = np.empty(picked.shape[:2] + (4,), np.uint8)
    preview[..., :3] = picked
    preview[..., 3] = 255
    return preview


def run_tile(pixels: np.ndarray, graph: SRGraph, run) -> np.ndarray:
    """One tile (uint8 RGB) through the model: float (h * scale, w * scale, 3) in [0, 1]. A tile
    smaller than a fixed-size graph's input is padded by repeating its edge, and cut after."""
    height, width = pixels.shape[:2]
    if graph.fixed_size is not None and (width, height) != graph.fixed_size:
        fixed_w, fixed_h = graph.fixed_size
        pixels = np.pad(pixels, ((0, fixed_h - height), (0, fixed_w - width), (0, 0)), mode="edge")
    batch = (pixels.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255.0)).astype(graph.input_type)
    output = np.asarray(run({graph.input_name: batch}))
    expected = (1, 3, batch.shape[2] * graph.scale, batch.shape[3] * graph.scale)
    if output.shape != expected:
        raise studio.ModelError(f"the upscaler gave an output of shape {output.shape} for a tile of {batch.shape}; expected {expected}")
    output = output[0, :, :height * graph.scale, :width * graph.scale].astype(np.float32).transpose(1, 2, 0)
    if not np.isfinite(output).all():
        raise studio.ModelError("the upscaler gave values that are not numbers (NaN or infinity): the model file is damaged, or an fp16 model overflowed")
    return np.clip(output, 0.0, 1.0)
