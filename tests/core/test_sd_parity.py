"""Our Stable Diffusion pipeline against diffusers' torch pipelines: the same tiny weights, the
same noise (recorded from diffusers and replayed), the same image to within 1e-3.

The golden images in tests/fixtures/sd/goldens were made by diffusers (build_models.py),
never by this code. Each case also fixes the exact scheduler configuration diffusers used.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio_plugins.stable_diffusion.images import float_to_rgba
from studio_plugins.stable_diffusion.layout import SDModel
from studio_plugins.stable_diffusion.noise import RecordedNoise
from studio_plugins.stable_diffusion.optimize import optimized_unet
from studio_plugins.stable_diffusion.pipeline import Pipeline, Settings
from parity_device import check_sessions_ran_on, parity_device  # STUDIO_TEST_DEVICE: bench/gpu_check.py runs these on CUDA

DEVICE = parity_device()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sd"
MANIFEST = json.loads((FIXTURES / "goldens" / "manifest.json").read_text()) if (FIXTURES / "goldens" / "manifest.json").exists() else {}
TOLERANCE = 1e-3


class Replay(studio.Generator):
    """Runs one golden case through the real pipeline inside a real job."""

    id, kind = "parity", "image"

    def __init__(self, model: SDModel, settings: Settings, noise: RecordedNoise, unet=None) -> None:
        self.model, self.settings, self.noise, self.unet = model, settings, noise, unet

    def generate(self, request, ctx):
        output = yield from Pipeline(self.model, ctx, {"unet": self.unet} if self.unet else None).run(self.settings, self.noise)
        # The float image goes in info: the result itself must be what the contract says (uint8).
        yield studio.Result("image", float_to_rgba(output.image), self.id, {}, info={"notes": output.notes, "image": output.image})


def rgba(rgb: np.ndarray) -> np.ndarray:
    return np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)


def replay(case: str, runner: JobRunner, fused_cache=None):
    spec = MANIFEST[case]
    data = np.load(FIXTURES / "goldens" / f"{case}.npz")
    model = SDModel.read(FIXTURES / "models" / spec["model"])
    model.scheduler_config = dict(spec["scheduler_config"])
    draws = ([data["latents"]] if spec["mode"] == "txt2img" else []) + [data[f"noise_{i}"] for i in range(len(spec["noise_draws"]))]
    noise = RecordedNoise(draws)
    settings = Settings(
        prompt=spec["prompt"],
        negative_prompt=spec.get("negative_prompt") or "",
        width=spec["width"],
        height=spec["height"],
        steps=spec["steps"],
        guidance=spec["guidance_scale"],
        strength=spec.get("strength") or 1.0,
        scheduler=spec["scheduler"],
        init_image=rgba(data["init_image"]) if "init_image" in data else None,
        mask=data["mask"] if "mask" in data else None,
    )
    unet = optimized_unet(model.path("unet"), fused_cache) if fused_cache else None
    generator = Replay(model, settings, noise, unet)
    job = runner.submit(generator, generator.request({}), DEVICE)
    assert job.wait(120), "the pipeline did not finish"
    assert job.state is JobState.FINISHED, job.message
    return job.result, data["image"], noise


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()
    check_sessions_ran_on(runner.runtime, DEVICE)


@pytest.mark.skipif(not MANIFEST, reason="no golden cases in tests/fixtures/sd/goldens")
@pytest.mark.parametrize("case", sorted(MANIFEST))
def test_matches_diffusers(case, runner):
    result, golden, noise = replay(case, runner)
    difference = np.abs(result.info["image"] - golden).max()
    assert difference <= TOLERANCE, f"{case}: max abs difference {difference:.2e} > {TOLERANCE}"
    assert noise.remaining == 0, f"{case}: diffusers drew {noise.remaining} more noise tensors than we did"


@pytest.mark.skipif(not MANIFEST, reason="no golden cases in tests/fixtures/sd/goldens")
@pytest.mark.parametrize("case", sorted(MANIFEST))
def test_matches_diffusers_with_the_fused_unet(case, runner, tmp_path_factory):
    """The CPU runs a copy of the UNet with fused attention (optimize.py): same image."""
    cache = tmp_path_factory.getbasetemp() / "fused-unets"  # shared: each model is fused once
    result, golden, noise = replay(case, runner, cache)
    difference = np.abs(result.info["image"] - golden).max()
    assert difference <= TOLERANCE, f"{case} (fused): max abs difference {difference:.2e} > {TOLERANCE}"


@pytest.mark.skipif("sd1_txt2img_long_prompt" not in MANIFEST, reason="no long-prompt golden")
def test_a_long_prompt_is_truncated_like_diffusers_and_said(runner):
    result, _, _ = replay("sd1_txt2img_long_prompt", runner)
    assert any("left out" in note for note in result.info["notes"])
