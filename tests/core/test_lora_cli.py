"""LoRAs from the command line on an imported model, end to end, and the bad LoRAs a user can
give: keys that match nothing (named, the image still made), a LoRA for another base model, a
truncated file, a model without weights_map.json — each a plain message, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lora_model import LORAS, converted_model
from studio.core.project.outputs import read_parameters

SD_MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models"
SMALL = ["--param", "width=64", "--param", "height=64", "--param", "steps=2", "--param", "seed=5", "--prompt", "a lighthouse"]


def studio(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, cwd=cwd, env=dict(os.environ), timeout=300)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    return converted_model(tmp_path_factory)


@pytest.fixture
def work(imported, tmp_path):
    model = tmp_path / "tiny-sd1"
    shutil.copytree(imported, model)
    added = studio("models", "add", str(model), cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    for name in ("kohya.safetensors", "peft.safetensors", "sdxl.safetensors"):
        shutil.copyfile(LORAS / name, tmp_path / name)
    return tmp_path


def image(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path)).astype(int)


def test_loras_on_the_command_line_change_the_image_and_are_recorded(work):
    plain = studio("generate", "sd:tiny-sd1", *SMALL, "-o", "plain.png", cwd=work)
    assert plain.returncode == 0, plain.stderr
    both = studio("generate", "sd:tiny-sd1", *SMALL, "--param", "lora=kohya.safetensors:0.8", "--param", "lora=peft.safetensors", "-o", "both.png", cwd=work)
    assert both.returncode == 0, both.stderr
    assert np.abs(image(work / "both.png") - image(work / "plain.png")).max() > 10
    params = read_parameters(work / "both.png")["params"]
    assert params["loras"] == [[str(work / "kohya.safetensors"), 0.8], [str(work / "peft.safetensors"), 1.0]]
    text = Image.open(work / "both.png").text["parameters"]
    assert text.splitlines()[0] == "a lighthouse <lora:kohya:0.8> <lora:peft:1>"
    assert f"--param 'lora={work / 'kohya.safetensors'}:0.8'" in both.stdout or f"lora={work / 'kohya.safetensors'}:0.8" in both.stdout
    # Weight 0 adds nothing: the same image as without the LoRA, through the patched session.
    zero = studio("generate", "sd:tiny-sd1", *SMALL, "--param", "lora=kohya.safetensors:0", "-o", "zero.png", cwd=work)
    assert zero.returncode == 0, zero.stderr
    assert np.abs(image(work / "zero.png") - image(work / "plain.png")).max() <= 1
    assert "sd:tiny-sd1" in studio("generators", cwd=work).stdout and "lora=FILE[:WEIGHT]" in studio("generators", cwd=work).stdout


def test_keys_that_match_nothing_are_named_and_the_rest_applied(work):
    from test_lora_file import write_safetensors
    from studio.core.models.lora_file import read_lora

    source = read_lora(LORAS / "kohya.safetensors")
    tensors = {name: source.file.load(name) for name in source.file.tensors}
    tensors["lora_unet_down_blocks_7_attentions_0_proj_in.lora_down.weight"] = np.ones((4, 16), np.float32)
    tensors["lora_unet_down_blocks_7_attentions_0_proj_in.lora_up.weight"] = np.ones((16, 4), np.float32)
    tensors["lora_unet_mid_block_attentions_0_proj_in.hada_w1_a"] = np.ones((4, 4), np.float32)
    write_safetensors(work / "extra.safetensors", tensors)
    run = studio("generate", "sd:tiny-sd1", *SMALL, "--param", "lora=extra.safetensors:0.5", "-o", "extra.png", cwd=work)
    assert run.returncode == 0, run.stderr
    assert "note: LoRA extra: 76 layers applied; 2 keys match nothing in this model" in run.stderr
    assert "unet.down_blocks.7.attentions.0.proj_in" in run.stderr and "hada_w1_a" in run.stderr


@pytest.mark.parametrize(
    "lora, words",
    [
        ("lora=sdxl.safetensors:0.8", ["sdxl.safetensors is for SDXL and does not fit", "in the LoRA but"]),
        ("lora=cut.safetensors", ["cut.safetensors", "cut short"]),
        ("lora=missing.safetensors", ["no such LoRA file: missing.safetensors"]),
        ("lora=kohya.safetensors:9", ["lies from -4 to 4"]),
        ("lora=notes.txt", ["not a .safetensors file"]),
    ],
)
def test_bad_loras_are_refused_plainly(work, lora, words):
    data = (LORAS / "kohya.safetensors").read_bytes()
    (work / "cut.safetensors").write_bytes(data[: len(data) // 3])
    (work / "notes.txt").write_text("x")
    run = studio("generate", "sd:tiny-sd1", *SMALL, "--param", lora, "-o", "bad.png", cwd=work)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    for word in words:
        assert word in run.stderr
    assert not (work / "bad.png").exists()


def test_a_model_studio_did_not_import_says_what_loras_need(tmp_path):
    added = studio("models", "add", str(SD_MODELS / "sd1"), cwd=tmp_path)  # an optimum export: no weights_map.json
    assert added.returncode == 0, added.stderr
    shutil.copyfile(LORAS / "kohya.safetensors", tmp_path / "kohya.safetensors")
    run = studio("generate", "sd:sd1", *SMALL, "--param", "lora=kohya.safetensors", "-o", "x.png", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "LoRAs need a model Studio imported (studio models import PATH)" in run.stderr
