"""Stable Diffusion from the command line, end to end on the tiny fixture models, and the bad
input a user can give it: each refused with a plain message, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from studio.core.engine.jobs import JobRunner, JobState
from studio.core.project.outputs import read_parameters
from studio_plugins.stable_diffusion.generator import StableDiffusionLoader

MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models"
SMALL = ["--param", "width=64", "--param", "height=64", "--param", "steps=3"]


def studio(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, cwd=cwd, env=dict(os.environ), timeout=300)


@pytest.fixture
def sd1(tmp_path):
    added = studio("models", "add", str(MODELS / "sd1"), cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    return tmp_path


def test_text_to_image_then_image_to_image_then_inpainting(sd1):
    first = studio("generate", "sd:sd1", "--prompt", "a lighthouse at dusk", "--param", "seed=11", *SMALL, "-o", "t2i.png", cwd=sd1)
    assert first.returncode == 0, first.stderr
    t2i = np.asarray(Image.open(sd1 / "t2i.png"))
    assert t2i.shape == (64, 64, 4) and t2i[..., :3].std() > 1
    params = read_parameters(sd1 / "t2i.png")["params"]
    assert params["seed"] == 11 and params["prompt"] == "a lighthouse at dusk" and params["mode"] == "txt2img"

    again = studio("generate", "sd:sd1", "--prompt", "a lighthouse at dusk", "--param", "seed=11", *SMALL, "-o", "again.png", cwd=sd1)
    assert again.returncode == 0 and np.array_equal(np.asarray(Image.open(sd1 / "again.png")), t2i)  # same seed, same image

    i2i = studio("generate", "sd:sd1", "--prompt", "a lighthouse", "--param", "init_image=t2i.png", "--param", "strength=0.5", *SMALL, "-o", "i2i.png", cwd=sd1)
    assert i2i.returncode == 0, i2i.stderr
    assert read_parameters(sd1 / "i2i.png")["params"]["mode"] == "img2img"

    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    Image.fromarray(mask).save(sd1 / "mask.png")
    inpaint = studio("generate", "sd:sd1", "--prompt", "a door", "--param", "init_image=t2i.png", "--param", "mask=mask.png", "--param", "strength=1.0", *SMALL, "-o", "inpaint.png", cwd=sd1)
    assert inpaint.returncode == 0, inpaint.stderr
    out = np.asarray(Image.open(sd1 / "inpaint.png")).astype(int)
    assert read_parameters(sd1 / "inpaint.png")["params"]["mode"] == "inpaint"
    assert np.abs(out - t2i.astype(int)).max() > 0


def test_a_long_prompt_is_truncated_and_the_user_told(sd1):
    words = " ".join(["a very detailed painting of a harbour with many boats"] * 12)
    result = studio("generate", "sd:sd1", "--prompt", words, *SMALL, "-o", "long.png", cwd=sd1)
    assert result.returncode == 0, result.stderr
    assert "longer than 77 tokens" in result.stderr and "left out" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--param", "width=99999"], "width: 99999 is out of range"),
        (["--param", "width=100"], "multiple of 8"),
        (["--param", "scheduler=plms"], "not one of"),
        (["--param", "init_image=missing.png"], "no such file"),
        (["--param", "init_image=fake.png"], "not an image Studio can read"),
        (["--param", "steps=0"], "steps: 0 is out of range"),
    ],
)
def test_bad_parameters_are_refused_plainly(sd1, args, message):
    (sd1 / "fake.png").write_text("I am text, not a picture")
    size = [] if "width" in args[1] else ["--param", "width=64"]
    result = studio("generate", "sd:sd1", "--prompt", "x", "--param", "height=64", *size, *args, "-o", "x.png", cwd=sd1)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (sd1 / "x.png").exists()


def copy_model(tmp_path: Path, name: str = "sd1") -> Path:
    target = tmp_path / f"{name}-copy"
    shutil.copytree(MODELS / name, target)
    return target


def run_folder(folder: Path, values=None):
    generator = StableDiffusionLoader().load(folder)
    runner = JobRunner()
    try:
        job = runner.submit(generator, generator.request({"prompt": "x", "width": 64, "height": 64, "steps": 2, **(values or {})}))
        assert job.wait(120)
        return job
    finally:
        runner.shutdown()


def test_a_truncated_unet_fails_with_a_plain_message(tmp_path):
    folder = copy_model(tmp_path)
    unet = folder / "unet" / "model.onnx"
    unet.write_bytes(unet.read_bytes()[:2000])
    job = run_folder(folder)
    assert job.state is JobState.FAILED
    assert "could not be loaded" in job.message and "unet" in job.message and not job.internal_error


def test_a_unet_with_unexpected_inputs_is_named(tmp_path):
    folder = copy_model(tmp_path)
    for leftover in (folder / "unet").iterdir():
        leftover.unlink()
    inputs = [
        helper.make_tensor_value_info("sample", TensorProto.FLOAT, ["b", 4, "h", "w"]),
        helper.make_tensor_value_info("timestep", TensorProto.FLOAT, ["b"]),
        helper.make_tensor_value_info("encoder_hidden_states", TensorProto.FLOAT, ["b", 77, 16]),
        helper.make_tensor_value_info("controlnet_cond", TensorProto.FLOAT, ["b", 3, "H", "W"]),
    ]
    graph = helper.make_graph([helper.make_node("Identity", ["sample"], ["out_sample"])], "unet", inputs, [helper.make_tensor_value_info("out_sample", TensorProto.FLOAT, ["b", 4, "h", "w"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, folder / "unet" / "model.onnx")
    job = run_folder(folder)
    assert job.state is JobState.FAILED
    assert "expects inputs Studio does not know: controlnet_cond" in job.message


def test_image_to_image_without_a_vae_encoder_says_what_is_missing(tmp_path):
    folder = copy_model(tmp_path)
    shutil.rmtree(folder / "vae_encoder")
    job = run_folder(folder, {"init_image": np.zeros((64, 64, 4), np.uint8)})
    assert job.state is JobState.FAILED and "no vae_encoder/" in job.message


def test_cancel_stops_between_steps(tmp_path):
    generator = StableDiffusionLoader().load(MODELS / "sd1")
    runner = JobRunner()
    seen = []
    try:
        job = runner.submit(generator, generator.request({"prompt": "x", "width": 64, "height": 64, "steps": 150}), listeners=[lambda j, e: seen.append(e)])
        while not any(getattr(e, "message", "").startswith("Step 2 ") for e in seen):
            assert not job.state.done
            job.wait(0.01)
        job.cancel()
        assert job.wait(5)
        assert job.state is JobState.CANCELLED
        steps = [e for e in seen if getattr(e, "message", "").startswith("Step ")]
        assert len(steps) < 150
    finally:
        runner.shutdown()


def previews_of(values):
    generator = StableDiffusionLoader().load(MODELS / "sd1")
    runner = JobRunner()
    seen = []
    try:
        request = generator.request({"prompt": "x", "width": 64, "height": 64, "steps": 4, "seed": 9, **values})
        job = runner.submit(generator, request, listeners=[lambda j, e: seen.append(e)])
        assert job.wait(120) and job.state is JobState.FINISHED, job.message
    finally:
        runner.shutdown()
    return [e.value for e in seen if type(e).__name__ == "Preview"]


def test_a_preview_every_step_and_a_vae_preview_every_n():
    quick = previews_of({"vae_preview_every": 0})
    decoded = previews_of({"vae_preview_every": 2})
    assert len(quick) == len(decoded) == 4
    assert all(p.shape == (64, 64, 4) and p.dtype == np.uint8 for p in quick + decoded)
    assert np.array_equal(quick[0], decoded[0])  # step 1: the cheap latent preview in both
    assert not np.array_equal(quick[1], decoded[1])  # step 2: the VAE decoded the prediction
