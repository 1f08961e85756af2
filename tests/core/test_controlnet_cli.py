"""ControlNet on the command line: a control picture from a file, made into a map by each
preprocessor, the recorded parameters repeating the image; bad control input refused plainly."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models" / "sd1_controlnet"
SMALL = ["--prompt", "a lighthouse", "--param", "width=64", "--param", "height=64", "--param", "steps=2", "--param", "seed=5"]


def studio(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, cwd=cwd, env=dict(os.environ), timeout=300)


@pytest.fixture
def work(tmp_path):  # each test has its own STUDIO_HOME, so each adds the model
    work = tmp_path
    shutil.copytree(MODEL, work / "cn")
    added = studio("models", "add", str(work / "cn"), cwd=work)
    assert added.returncode == 0, added.stderr
    strokes = np.zeros((64, 64, 4), np.uint8)
    strokes[20:24, 6:58] = (30, 30, 30, 255)
    strokes[6:58, 40:43] = (200, 10, 10, 255)
    Image.fromarray(strokes).save(work / "scribble.png")
    return work


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_each_preprocessor_steers_the_image_and_the_same_parameters_repeat_it(work):
    made = {}
    for preprocess in ("scribble", "canny", "none"):
        args = [*SMALL, "--param", "control_image=scribble.png", "--param", f"control_preprocess={preprocess}", "--param", "control_strength=1.5"]
        run = studio("generate", "sd:cn", *args, "-o", f"out-{preprocess}.png", cwd=work)
        assert run.returncode == 0, run.stderr
        assert f"control_preprocess={preprocess}" in run.stdout and "control_strength=1.5" in run.stdout
        made[preprocess] = pixels(work / f"out-{preprocess}.png")
    plain = studio("generate", "sd:cn", *SMALL, "-o", "plain.png", cwd=work)
    assert plain.returncode == 0, plain.stderr
    for preprocess, image in made.items():
        assert np.abs(image - pixels(work / "plain.png")).max() > 10, f"{preprocess}: the control picture changed nothing"
    assert np.abs(made["scribble"] - made["canny"]).max() > 0
    again = studio("generate", "sd:cn", *SMALL, "--param", "control_image=scribble.png", "--param", "control_preprocess=scribble",
                   "--param", "control_strength=1.5", "-o", "again.png", cwd=work)
    assert again.returncode == 0, again.stderr
    assert np.abs(pixels(work / "again.png") - made["scribble"]).max() == 0, np.abs(pixels(work / "again.png") - made["scribble"]).max()


def huge_png(path: Path, width: int, height: int) -> None:
    """A valid 1x1 PNG whose header says ``width`` x ``height``: decoding it would take gigabytes."""
    Image.new("RGB", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes of header
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


def test_an_absurdly_large_control_picture_is_refused_before_it_is_decoded(work):
    huge_png(work / "huge.png", 200_000, 200_000)
    run = studio("generate", "sd:cn", *SMALL, "--param", "control_image=huge.png", cwd=work)
    assert run.returncode == 2, run.stderr
    assert "control_image" in run.stderr and "Traceback" not in run.stderr
    assert "Loading model" not in run.stderr  # refused before any work started


def test_a_control_window_that_ends_before_it_starts_is_refused(work):
    run = studio("generate", "sd:cn", *SMALL, "--param", "control_start=0.6", "--param", "control_end=0.3", cwd=work)
    assert run.returncode == 2 and "control_start (0.6) must come before control_end (0.3)" in run.stderr
    assert "Traceback" not in run.stderr


def test_onnxstack_layout_from_the_command_line(work):
    """sd1's plain unet/ with OnnxStack's residual UNet in controlnet/ and the ControlNet a file
    of its own: it steers only when named, and the picture says which one it was."""
    folder = work / "onnxstack"
    shutil.copytree(MODEL.parent / "sd1", folder)
    (folder / "controlnet").mkdir()
    shutil.copyfile(MODEL / "unet" / "model.onnx", folder / "controlnet" / "model.onnx")
    (work / "scribble-controlnet").mkdir()
    shutil.copyfile(MODEL / "controlnet" / "model.onnx", work / "scribble-controlnet" / "model.onnx")
    assert studio("models", "add", str(folder), cwd=work).returncode == 0
    control = ["--param", "control_image=scribble.png", "--param", "control_preprocess=scribble"]
    refused = studio("generate", "sd:onnxstack", *SMALL, *control, cwd=work)
    assert refused.returncode == 2 and "choose the ControlNet to use" in refused.stderr and "Traceback" not in refused.stderr
    steered = studio("generate", "sd:onnxstack", *SMALL, *control, "--param", "controlnet_model=scribble-controlnet", "-o", "steered.png", cwd=work)
    assert steered.returncode == 0, steered.stderr
    assert "controlnet_model=scribble-controlnet" in steered.stdout
    plain = studio("generate", "sd:onnxstack", *SMALL, "-o", "plain.png", cwd=work)
    assert plain.returncode == 0, plain.stderr
    assert np.abs(pixels(work / "steered.png") - pixels(work / "plain.png")).max() > 10
