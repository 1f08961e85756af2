"""LoRAs on an imported model against diffusers: the same tiny SD 1.x weights, the same LoRA files
through diffusers' load_lora_weights + fuse_lora(lora_scale=w), the same initial latents, the
same image to within 1e-3 (goldens made by tests/fixtures/convert/build_loras.py, never by us).

The model is the diffusers folder imported by Studio's converter; the LoRAs come in kohya
(diffusers-style and LDM module names, Linear and conv layers) and PEFT formats.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import studio
from lora_model import converted_model, golden, lora_set, MANIFEST
from parity_device import parity_device
from studio.core.engine.jobs import JobRunner, JobState
from studio_plugins.stable_diffusion.images import float_to_rgba
from studio_plugins.stable_diffusion.layout import SDModel
from studio_plugins.stable_diffusion.lora import apply_loras
from studio_plugins.stable_diffusion.noise import RecordedNoise
from studio_plugins.stable_diffusion.optimize import optimized_unet
from studio_plugins.stable_diffusion.pipeline import Pipeline, Settings

DEVICE = parity_device()
TOLERANCE = 1e-3
CASES = sorted(case for case in MANIFEST if case != "base" and MANIFEST[case].get("model", "sd1") == "sd1")


class Replay(studio.Generator):
    """One golden case through the real pipeline, with the LoRAs applied as the SD generator does."""

    id, kind = "lora-parity", "image"

    def __init__(self, model: SDModel, settings: Settings, noise: RecordedNoise, loras, unet=None) -> None:
        self.model, self.settings, self.noise, self.loras, self.unet = model, settings, noise, loras, unet

    def generate(self, request, ctx):
        applied = apply_loras(self.model, self.loras, {"unet": self.unet} if self.unet else {}, ctx) if self.loras else None
        output = yield from Pipeline(self.model, ctx, {"unet": self.unet} if self.unet else None, applied.session if applied else None).run(self.settings, self.noise)
        notes = output.notes + (applied.notes if applied else [])
        yield studio.Result("image", float_to_rgba(output.image), self.id, {}, info={"notes": notes, "image": output.image})


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    return converted_model(tmp_path_factory)


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


def replay(folder, case: str, runner: JobRunner, loras=None, unet=None):
    spec, image, latents = golden(case)
    model = SDModel.read(folder)
    model.scheduler_config = dict(spec["scheduler_config"])
    settings = Settings(prompt=spec["prompt"], negative_prompt=spec["negative_prompt"], width=spec["width"], height=spec["height"],
                        steps=spec["steps"], guidance=spec["guidance_scale"], scheduler=spec["scheduler"])
    generator = Replay(model, settings, RecordedNoise([latents]), lora_set(case) if loras is None else loras, unet)
    job = runner.submit(generator, generator.request({}), DEVICE)
    assert job.wait(300), "the pipeline did not finish"
    assert job.state is JobState.FINISHED, job.message
    return job.result, image


def test_the_imported_model_without_loras_matches_diffusers(model_folder, runner):
    result, image = replay(model_folder, "base", runner)
    assert np.abs(result.info["image"] - image).max() <= TOLERANCE


@pytest.mark.parametrize("case", CASES)
def test_a_lora_matches_diffusers_fused_lora(case, model_folder, runner):
    result, image = replay(model_folder, case, runner)
    _, base, _ = golden("base")
    assert np.abs(image - base).max() > 0.1, "the golden LoRA changes too little to test anything"
    difference = np.abs(result.info["image"] - image).max()
    assert difference <= TOLERANCE, f"{case}: max abs difference {difference:.2e} > {TOLERANCE}"
    assert result.info["notes"] == [], "every key of the fixture LoRAs is in the model"


@pytest.mark.parametrize("case", ["kohya_0.8", "peft_0.8", "ldm_0.8"])
def test_a_lora_on_the_fused_cpu_unet_matches_diffusers(case, model_folder, runner, tmp_path_factory):
    """The CPU runs a copy of the UNet with fused attention whose small weights sit inside the
    graph (not in model.onnx_data): the LoRA must reach those too."""
    fused = optimized_unet(model_folder / "unet" / "model.onnx", tmp_path_factory.getbasetemp() / "lora-fused")
    result, image = replay(model_folder, case, runner, unet=fused)
    difference = np.abs(result.info["image"] - image).max()
    assert difference <= TOLERANCE, f"{case} (fused UNet): max abs difference {difference:.2e} > {TOLERANCE}"


def test_changing_a_weight_rebuilds_the_patches_not_the_model(model_folder, runner):
    files_before = sorted((p.relative_to(model_folder), p.stat().st_mtime_ns) for p in model_folder.rglob("*") if p.is_file())
    first, image = replay(model_folder, "kohya_0.8", runner)
    started = time.perf_counter()
    second, other = replay(model_folder, "kohya_0.3", runner)
    seconds = time.perf_counter() - started
    assert np.abs(second.info["image"] - other).max() <= TOLERANCE
    assert np.abs(first.info["image"] - second.info["image"]).max() > 0.05
    # Nothing exported or written again; one patched session per graph is kept, not one per weight.
    assert sorted((p.relative_to(model_folder), p.stat().st_mtime_ns) for p in model_folder.rglob("*") if p.is_file()) == files_before
    unets = [s for s in runner.runtime.cached_sessions() if s.path == (model_folder / "unet" / "model.onnx").resolve()]
    assert len(unets) == 1 and unets[0].kept is not None  # the plain UNet and the last weight's were let go
    assert seconds < 60, f"a weight change took {seconds:.1f} s"
    # The same set again is the cached session itself.
    again = apply_loras(SDModel.read(model_folder), lora_set("kohya_0.3"), {}, None)
    patch = again.patches[(model_folder / "unet" / "model.onnx").resolve()]
    assert runner.runtime.session(model_folder / "unet" / "model.onnx", DEVICE, patch) in unets


def test_an_sdxl_lora_changes_the_unet_and_both_text_encoders_as_diffusers_does(runner, tmp_path_factory):
    folder = converted_model(tmp_path_factory, "sdxl")
    plain, base = replay(folder, "sdxl_base", runner)
    assert np.abs(plain.info["image"] - base).max() <= TOLERANCE
    result, image = replay(folder, "sdxl_0.7", runner)
    assert np.abs(image - base).max() > 0.1
    difference = np.abs(result.info["image"] - image).max()
    assert difference <= TOLERANCE, f"sdxl_0.7: max abs difference {difference:.2e} > {TOLERANCE}"
    assert result.info["notes"] == []
