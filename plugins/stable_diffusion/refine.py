"""Image to image tile by tile: detail for a picture larger than the model paints (after an upscale).

A model paints well at its own size (512 px for SD 1.x, 1024 for SDXL) and needs memory by the
square of the side. So a large picture is refined in tiles of the model's own size that overlap
by an eighth of a tile, each run through the ordinary image-to-image pipeline at a low strength
(the picture keeps its composition, the model adds texture), and the tiles are blended with
feathered weights (``studio.core.image.tiling``). Each tile gets its own noise (the seed plus the
tile's number), so no pattern repeats from tile to tile. Progress counts every step of every tile;
no step previews are made (each would show one tile where the whole picture lands).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Generator

import numpy as np

import studio
from studio.core.image.tiling import TileBlender, TileGrid

from .noise import SeededNoise
from .numbering import numbered
from .pipeline import Output, Pipeline, Settings

MAX_TILE = 2048


def native_side(pipeline: Pipeline) -> int:
    """The side the model was trained at, in pixels: its UNet's sample size in latents."""
    model = pipeline.model
    latents = int(model.unet_config.get("sample_size") or (128 if model.is_xl else 64))
    return max(model.vae_scale_factor, min(MAX_TILE, latents * model.vae_scale_factor))


def refine_in_tiles(pipeline: Pipeline, settings: Settings, seed: int, ctx: studio.JobContext) -> Generator[studio.Event, None, Output]:
    """``settings.init_image`` refined tile by tile at ``settings.strength``; yields progress and
    returns the picture (float32, the input's size)."""
    image = settings.init_image
    if image is None:
        raise studio.ParamError("refining tile by tile starts from a picture: select an area or a layer")
    unit = pipeline.model.vae_scale_factor
    height, width = image.shape[:2]
    # Tiles are whole latents: the picture is padded to the grid by repeating its edge, then cut.
    padded = np.pad(image, ((0, -height % unit), (0, -width % unit), (0, 0)), mode="edge")
    side = native_side(pipeline)
    overlap = max(unit, side // 8 // unit * unit)
    grid = TileGrid.make(padded.shape[1], padded.shape[0], side, overlap)
    blender = TileBlender(grid, 1, 3, np.float32, what="the refined picture")
    notes: list[str] = []
    total = len(grid)
    for number, tile in enumerate(grid):
        ctx.check_cancelled()
        piece = np.ascontiguousarray(padded[tile.y:tile.y + tile.height, tile.x:tile.x + tile.width])
        tile_settings = replace(settings, init_image=piece, mask=None, width=tile.width, height=tile.height, step_previews=False)
        run = pipeline.run(tile_settings, SeededNoise((seed + number) % 2**32))
        output = yield from numbered(run, number, total, "Tile")
        blender.add(tile, output.image)
        notes += [note for note in output.notes if note not in notes]
    return Output(np.ascontiguousarray(blender.result()[:height, :width]), notes)

