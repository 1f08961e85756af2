"""Stable Diffusion model folders that are not what they claim: each gets a plain message."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.core.models.loaders import find_loader
from studio.errors import ModelError
from studio_plugins.cppn.generator import CPPNLoader
from studio_plugins.stable_diffusion.generator import StableDiffusionLoader
from studio_plugins.stable_diffusion.images import float_to_rgba, model_mask, nearest_resize
from studio_plugins.stable_diffusion.layout import SDModel
from studio_plugins.stable_diffusion.preview import latent_preview


def make_layout(folder, parts=("text_encoder", "unet", "vae_decoder", "vae_encoder"), scheduler='{"_class_name": "EulerDiscreteScheduler"}'):
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "ORTStableDiffusionPipeline"}))
    for part in parts:
        (folder / part).mkdir()
        (folder / part / "model.onnx").write_bytes(b"placeholder")
    (folder / "tokenizer").mkdir()
    (folder / "scheduler").mkdir()
    (folder / "scheduler" / "scheduler_config.json").write_text(scheduler)
    return folder


def test_a_complete_layout_reads_and_describes_itself(tmp_path):
    folder = make_layout(tmp_path / "dreamy")
    (folder / "vae_decoder" / "config.json").write_text(json.dumps({"block_out_channels": [8, 8, 8, 8], "scaling_factor": 0.2}))
    model = SDModel.read(folder)
    assert not model.is_xl and model.has_encoder
    assert model.vae_scale_factor == 8 and model.scaling_factor == pytest.approx(0.2)
    generator = StableDiffusionLoader().load(folder)
    assert generator.id == "sd:dreamy" and generator.kind == "image"
    assert {p.name for p in generator.params} >= {"prompt", "negative_prompt", "init_image", "mask", "strength", "steps", "guidance", "scheduler", "seed", "width", "height"}


def test_missing_parts_are_listed(tmp_path):
    folder = make_layout(tmp_path / "half", parts=("unet",))
    with pytest.raises(ModelError, match=r"missing text_encoder/, vae_decoder/"):
        SDModel.read(folder)


def test_missing_model_file_is_named(tmp_path):
    folder = make_layout(tmp_path / "nofile")
    (folder / "unet" / "model.onnx").unlink()
    with pytest.raises(ModelError, match=r"no unet/model.onnx"):
        SDModel.read(folder)


def test_broken_scheduler_config_is_named(tmp_path):
    folder = make_layout(tmp_path / "badjson", scheduler="{not json")
    with pytest.raises(ModelError, match=r"scheduler_config.json is not readable JSON"):
        SDModel.read(folder)


def test_a_folder_nobody_reads_lists_the_sd_layout(tmp_path):
    folder = tmp_path / "random"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match=r"Stable Diffusion: a diffusers ONNX folder"):
        find_loader(folder, [CPPNLoader(), StableDiffusionLoader()])


def test_nearest_resize_picks_like_torch_interpolate():
    grid = np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8)
    small = nearest_resize(grid, 2, 4)
    # torch.nn.functional.interpolate(grid, size=(2, 4)) picks rows 0, 4 and columns 0, 2, 4, 6
    assert small[0, 0].tolist() == [[0, 2, 4, 6], [32, 34, 36, 38]]


def test_masks_are_binarised_and_images_rounded():
    mask = np.array([[0, 127, 128, 255]], dtype=np.uint8)
    assert model_mask(mask, 4, 1)[0, 0].tolist() == [[0.0, 0.0, 1.0, 1.0]]
    rgba = float_to_rgba(np.array([[[0.0, 0.5, 1.0]]], dtype=np.float32))
    assert rgba.tolist() == [[[0, 128, 255, 255]]]


def test_latent_preview_has_the_image_size():
    preview = latent_preview(np.zeros((1, 4, 8, 6), np.float32), scale=8)
    assert preview.shape == (64, 48, 4) and preview.dtype == np.uint8
