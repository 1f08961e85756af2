"""Single-file SD checkpoints imported by the converter child, then run by Studio's own SD
pipeline: the same image as diffusers' ``from_single_file`` pipeline on the same file.

The checkpoints (tests/fixtures/convert/sd/*.safetensors) and the golden images were made by
tests/fixtures/convert/build_checkpoints.py with diffusers' own loader and pipelines, never by
Studio. Each file is recognised here as the app does (checkpoint_kind, no torch), converted in a
child process (``python -m studio.convert sd-checkpoint``) with the architecture that recognition
read, and the output folder is run with the golden's recorded latents and noise. The converted
folder's own scheduler config is used (Studio's shipped configs), not the golden's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.models.checkpoint_kind import classify_checkpoint
from studio_plugins.stable_diffusion.images import float_to_rgba
from studio_plugins.stable_diffusion.layout import SDModel
from studio_plugins.stable_diffusion.noise import RecordedNoise
from studio_plugins.stable_diffusion.pipeline import Pipeline, Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "convert" / "sd"
MANIFEST = json.loads((FIXTURES / "goldens" / "manifest.json").read_text())
MODELS = ("sd1", "sd2v", "sdxl", "sd1_inpaint")
TOLERANCE = 1e-3
ROOT = Path(__file__).resolve().parents[2]


def run_converter(source: Path, out: Path, options: dict) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "studio.convert", "sd-checkpoint", str(source), str(out),
                             "--options", json.dumps(options)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)


def protocol_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Each checkpoint converted once, the four children side by side."""
    base = tmp_path_factory.mktemp("imported")
    children = {}
    for name in MODELS:
        kind = classify_checkpoint(FIXTURES / f"{name}.safetensors")
        children[name] = run_converter(FIXTURES / f"{name}.safetensors", base / name,
                                       {"architecture": kind.architecture, "name": name, "variant": ""})
    results = {}
    for name, child in children.items():
        stdout, stderr = child.communicate(timeout=600)
        lines = protocol_lines(stdout)
        assert child.returncode == 0, f"{name}: converter failed: {lines[-1:]} {stderr[-3000:]}"
        results[name] = (base / name, lines[-1]["done"], lines)
    return results


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


class Replay(studio.Generator):
    """One golden case through the real SD pipeline, inside a real job."""

    id, kind = "import-parity", "image"

    def __init__(self, model: SDModel, settings: Settings, noise: RecordedNoise) -> None:
        self.model, self.settings, self.noise = model, settings, noise

    def generate(self, request, ctx):
        output = yield from Pipeline(self.model, ctx).run(self.settings, self.noise)
        yield studio.Result("image", float_to_rgba(output.image), self.id, {}, info={"image": output.image})


def rgba(rgb: np.ndarray) -> np.ndarray:
    return np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)


@pytest.mark.parametrize("case", sorted(MANIFEST))
def test_imported_checkpoint_matches_diffusers(case, converted, runner):
    spec = MANIFEST[case]
    folder, _, _ = converted[spec["model"]]
    data = np.load(FIXTURES / "goldens" / f"{case}.npz")
    model = SDModel.read(folder)
    draws = ([data["latents"]] if spec["mode"] == "txt2img" else []) + [data[f"noise_{i}"] for i in range(len(spec["noise_draws"]))]
    noise = RecordedNoise(draws)
    settings = Settings(prompt=spec["prompt"], negative_prompt=spec.get("negative_prompt") or "", width=spec["width"],
                        height=spec["height"], steps=spec["steps"], guidance=spec["guidance_scale"],
                        strength=spec.get("strength") or 1.0, scheduler=spec["scheduler"],
                        init_image=rgba(data["init_image"]) if "init_image" in data else None,
                        mask=data["mask"] if "mask" in data else None)
    generator = Replay(model, settings, noise)
    job = runner.submit(generator, generator.request({}))
    assert job.wait(120), "the pipeline did not finish"
    assert job.state is JobState.FINISHED, job.message
    difference = np.abs(job.result.info["image"] - data["image"]).max()
    assert difference <= TOLERANCE, f"{case}: max abs difference {difference:.2e} > {TOLERANCE}"
    assert noise.remaining == 0, f"{case}: diffusers drew {noise.remaining} more noise tensors than we did"


def test_the_converter_reports_each_part_and_describes_the_model(converted):
    _, done, lines = converted["sd2v"]
    assert done["layout"] == "sd" and done["variants"] == ["fp32"]
    assert done["description"] == "Stable Diffusion 2.x, v-prediction"
    components = [line["progress"]["component"] for line in lines if "progress" in line]
    assert {"Text encoder", "UNet", "VAE decoder", "VAE encoder"} <= set(components)
    folder = converted["sd2v"][0]
    scheduler = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    assert scheduler["prediction_type"] == "v_prediction" and scheduler["_class_name"] == "DDIMScheduler"
    assert converted["sdxl"][1]["description"] == "Stable Diffusion XL"
    assert json.loads((converted["sd1_inpaint"][0] / "unet" / "config.json").read_text())["in_channels"] == 9


def test_a_checkpoint_that_is_not_one_is_refused_plainly_by_the_child(tmp_path):
    """Run alone (no architecture given), the child recognises the file itself and refuses a
    LoRA with the same words as the app, exit 2, nothing written."""
    lora = tmp_path / "style.safetensors"
    header = json.dumps({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight":
                         {"dtype": "F32", "shape": [4, 8], "data_offsets": [0, 128]}}).encode()
    lora.write_bytes(len(header).to_bytes(8, "little") + header + bytes(128))
    child = run_converter(lora, tmp_path / "out", {})
    stdout, stderr = child.communicate(timeout=300)
    assert child.returncode == 2, stderr[-2000:]
    assert "a LoRA" in protocol_lines(stdout)[-1]["error"]
    assert not any((tmp_path / "out").iterdir())
