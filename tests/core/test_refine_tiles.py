"""Refine tile by tile: image to image over a picture larger than the model paints, in tiles of its size.

The sd1 fixture paints 64 x 64 (tests/fixtures/sd); a 100 x 75 picture takes 2 x 2 tiles. Where one
tile alone covers the picture, the refined picture is that tile's own image to image, run by the
same generator on the tile alone with the tile's seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.core.engine.jobs import JobRunner, JobState
from studio.core.engine.runtime import Runtime
from studio.core.image.tiling import TileGrid
from studio_plugins.stable_diffusion.generator import StableDiffusionLoader

SD1 = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models" / "sd1"
VALUES = {"prompt": "a lighthouse", "strength": 0.4, "steps": 5, "guidance": 7.5, "scheduler": "euler", "seed": 9}


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner(Runtime(cpu_threads=2))
    yield runner
    runner.shutdown()


@pytest.fixture(scope="module")
def generator():
    return StableDiffusionLoader().load(SD1)


def picture(width: int, height: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[..., 0] = xs * 255 // width
    pixels[..., 1] = ys * 255 // height
    pixels[..., 2] = ((xs // 8 + ys // 8) % 2) * 180
    pixels[..., 3] = 255
    return pixels


def run(runner, generator, **values):
    progress = []
    job = runner.submit(generator, generator.request({**VALUES, **values}), listeners=[lambda job, event: progress.append(event)])
    assert job.wait(300), "the job did not end"
    return job, progress


def test_a_large_picture_is_refined_tile_by_tile_and_keeps_its_size(runner, generator):
    image = picture(100, 75)
    job, events = run(runner, generator, init_image=image, refine_tiles=True)
    assert job.state is JobState.FINISHED, job.message
    refined = job.result.value
    assert refined.shape == (75, 100, 4) and job.result.params["refine_tiles"] is True
    steps = [e.step for e in events if type(e).__name__ == "Progress" and e.total == 4000]  # (loading reports its own)
    assert steps == sorted(steps) and steps[-1] == 4000  # four tiles, in thousandths
    assert not any(type(e).__name__ == "Preview" for e in events)

    # Where tile 0 alone covers the picture, it is tile 0 refined alone (the seed of tile 0)
    grid = TileGrid.make(104, 80, 64, 8)  # the picture padded to whole latents; 64 px tiles, 8 px overlap
    assert len(grid) == 4
    alone, _ = run(runner, generator, init_image=np.ascontiguousarray(image[:64, :64]), width=64, height=64)
    assert alone.state is JobState.FINISHED, alone.message
    only_tile_0 = ~grid.seams(1)[:64, :64]
    only_tile_0[:, grid.xs[1]:] = False
    only_tile_0[grid.ys[1]:, :] = False
    assert only_tile_0.sum() >= 500
    difference = np.abs(refined[:64, :64, :3].astype(int) - alone.result.value[..., :3])
    assert difference[only_tile_0].max() <= 1
    # and the refine changed the picture (a low strength, but not none)
    assert np.abs(refined[..., :3].astype(int) - image[..., :3]).mean() > 2


def test_refining_in_tiles_without_a_picture_says_what_to_do(runner, generator):
    job, _ = run(runner, generator, refine_tiles=True)
    assert job.state is JobState.FAILED and not job.internal_error
    assert "starts from a picture" in job.message
