"""Recognising single-file Stable Diffusion checkpoints from their tensor names and shapes
(studio/core/models/checkpoint_kind.py), in the app's process, without torch.

The four real checkpoints are the import fixtures (tests/fixtures/convert/sd, made with
diffusers by build_checkpoints.py); the sizes read from them are compared with the configs the
builder made them from. Files of other kinds are written here as real safetensors files (a
JSON header and the bytes), since recognition reads only names, shapes and one small tensor.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from studio import ModelError
from studio.core.models.checkpoint_kind import V_PRED_PROBE, classify_checkpoint

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "convert"
sys.path.insert(0, str(FIXTURES))
import build_checkpoints as builder  # noqa: E402  (its configs only: torch is imported inside its functions)

CHECKPOINTS = FIXTURES / "sd"


def read_raw(path: Path) -> tuple[dict, bytes]:
    blob = path.read_bytes()
    (length,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + length]), blob[8 + length:]


def write_raw(path: Path, header: dict, data: bytes) -> Path:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def write_tensors(path: Path, tensors: dict[str, tuple[int, ...]]) -> Path:
    """A safetensors file of zero-filled float16 tensors with these names and shapes."""
    header, offset = {}, 0
    for name, shape in tensors.items():
        size = int(np.prod(shape)) * 2
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    return write_raw(path, header, bytes(offset))


def same(value):
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("name, family, inpainting, prediction, description", [
    ("sd1", "sd1", False, "epsilon", "Stable Diffusion 1.x"),
    ("sd2v", "sd2", False, "v_prediction", "Stable Diffusion 2.x, v-prediction"),
    ("sdxl", "sdxl", False, "epsilon", "Stable Diffusion XL"),
    ("sd1_inpaint", "sd1", True, "epsilon", "Stable Diffusion 1.x inpainting"),
])
def test_each_family_is_recognised_with_the_sizes_it_was_built_with(name, family, inpainting, prediction, description):
    kind = classify_checkpoint(CHECKPOINTS / f"{name}.safetensors")
    assert (kind.family, kind.inpainting, kind.prediction, kind.description) == (family, inpainting, prediction, description)
    assert kind.architecture["pipeline"] == builder.MODELS[name]["pipeline"]
    built = builder.MODELS[name]
    # Every size recognised equals the config diffusers built the model from (heads included:
    # they are not in the file, and follow the family's rule).
    for key, value in kind.architecture["unet"].items():
        if key in built["unet"]:
            assert same(built["unet"][key]) == value, f"unet {key}"
    assert {"block_out_channels", "layers_per_block", "attention_head_dim", "cross_attention_dim", "in_channels"} <= set(built["unet"])
    for key, value in kind.architecture["vae"].items():
        assert same(built["vae"][key]) == value, f"vae {key}"
    for part, _, config, _ in built["text_encoders"]:
        recognised = kind.architecture[part]
        for key in ("vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size", "num_attention_heads",
                    "hidden_act", "max_position_embeddings"):
            assert recognised[key] == config[key], f"{part} {key}"
    assert kind.parameters > 3_000_000
    json.dumps(kind.architecture)  # it travels to the child as JSON


def test_sdxl_added_conditions_are_read_from_the_label_embedding():
    unet = classify_checkpoint(CHECKPOINTS / "sdxl.safetensors").architecture["unet"]
    assert unet["addition_embed_type"] == "text_time"
    assert unet["projection_class_embeddings_input_dim"] == 80 and unet["addition_time_embed_dim"] == 8
    assert unet["transformer_layers_per_block"] == [1, 2]
    assert classify_checkpoint(CHECKPOINTS / "sdxl.safetensors").architecture["text_encoder_2"]["projection_dim"] == 32


def test_an_sd2_checkpoint_with_a_narrow_probe_bias_is_epsilon(tmp_path):
    """ComfyUI's rule, both ways: the same file with that one LayerNorm bias zeroed is an
    epsilon (SD 2.x base) model, described without v-prediction."""
    header, data = read_raw(CHECKPOINTS / "sd2v.safetensors")
    begin, end = header[V_PRED_PROBE]["data_offsets"]
    zeroed = write_raw(tmp_path / "sd2_base.safetensors", header, data[:begin] + bytes(end - begin) + data[end:])
    kind = classify_checkpoint(zeroed)
    assert kind.prediction == "epsilon" and kind.description == "Stable Diffusion 2.x"


def test_a_v_pred_marker_makes_any_family_v_prediction(tmp_path):
    header, data = read_raw(CHECKPOINTS / "sdxl.safetensors")
    header["v_pred"] = {"dtype": "F32", "shape": [0], "data_offsets": [len(data), len(data)]}
    kind = classify_checkpoint(write_raw(tmp_path / "noob.safetensors", header, data))
    assert kind.prediction == "v_prediction" and kind.description == "Stable Diffusion XL, v-prediction"


LORA_KOHYA = {"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": (4, 32),
              "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": (32, 4),
              "lora_unet_down_blocks_0_attentions_0_proj_in.alpha": ()}
LORA_PEFT = {"unet.down_blocks.0.attentions.0.proj_in.lora_A.weight": (4, 32),
             "unet.down_blocks.0.attentions.0.proj_in.lora_B.weight": (32, 4)}


@pytest.mark.parametrize("tensors, words", [
    (LORA_KOHYA, "is a LoRA"),
    (LORA_PEFT, "is a LoRA"),
    ({"model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight": (8, 4)}, "Stable Diffusion 3"),
    ({"double_blocks.0.img_attn.norm.key_norm.scale": (8,)}, "Flux"),
    ({"encoder.down.0.block.0.conv1.weight": (8, 3, 3, 3), "decoder.up.0.block.0.conv1.weight": (8, 8, 3, 3)}, "a VAE on its own"),
    ({"model.embed_tokens.weight": (16, 8), "model.layers.0.self_attn.q_proj.weight": (8, 8)}, "a text model"),
    ({"model.diffusion_model.input_blocks.0.0.weight": (32, 4, 3, 3),
      "conditioner.embedders.0.model.token_embedding.weight": (16, 8)}, "SDXL refiner"),
    ({"model.diffusion_model.input_blocks.0.0.weight": (32, 4, 3, 3)}, "not the UNet alone"),
    ({"weight": (4, 4), "bias": (4,)}, "not a Stable Diffusion checkpoint Studio knows"),
])
def test_other_files_are_refused_naming_what_they_look_like(tmp_path, tensors, words):
    path = write_tensors(tmp_path / "other.safetensors", tensors)
    with pytest.raises(ModelError, match=words):
        classify_checkpoint(path)


def test_a_checkpoint_without_its_vae_is_refused(tmp_path):
    header, data = read_raw(CHECKPOINTS / "sd1.safetensors")
    header = {k: v for k, v in header.items() if not k.startswith("first_stage_model.")}
    with pytest.raises(ModelError, match="holds no VAE"):
        classify_checkpoint(write_raw(tmp_path / "novae.safetensors", header, data))


def test_a_checkpoint_missing_a_tensor_it_needs_names_it(tmp_path):
    header, data = read_raw(CHECKPOINTS / "sd1.safetensors")
    del header["model.diffusion_model.out.2.weight"]
    with pytest.raises(ModelError, match=r"lacks the tensor model\.diffusion_model\.out\.2\.weight"):
        classify_checkpoint(write_raw(tmp_path / "damaged.safetensors", header, data))


def test_text_encoders_that_do_not_fit_the_unet_are_refused(tmp_path):
    header, data = read_raw(CHECKPOINTS / "sd1.safetensors")
    header = {k: v for k, v in header.items() if not k.startswith("cond_stage_model.")}
    other, other_data = read_raw(CHECKPOINTS / "sdxl.safetensors")  # a 16-wide text encoder, the UNet wants 32
    for key, entry in other.items():
        if key.startswith("conditioner.embedders.0.transformer."):
            begin, end = entry["data_offsets"]
            header[key.replace("conditioner.embedders.0.transformer.", "cond_stage_model.transformer.")] = {
                **entry, "data_offsets": [len(data), len(data) + end - begin]}
            data += other_data[begin:end]
    with pytest.raises(ModelError, match="do not belong together"):
        classify_checkpoint(write_raw(tmp_path / "mixed.safetensors", header, data))


def test_a_truncated_checkpoint_is_refused_as_cut_short(tmp_path):
    blob = (CHECKPOINTS / "sd1.safetensors").read_bytes()
    (tmp_path / "partial.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ModelError, match="cut short"):
        classify_checkpoint(tmp_path / "partial.safetensors")


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".bin", ".pth"])
def test_pickled_checkpoints_are_refused_with_the_reason(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"\x80\x04not read")
    with pytest.raises(ModelError, match=r"can run any code.*\.safetensors"):
        classify_checkpoint(path)


# Full-size checkpoints: the names and shapes of SD 1.5, SD 1.5 inpainting, SD 2.1 (768-v) and
# SDXL base as diffusers builds them from the published configs (build_checkpoints.py
# --full-size-shapes), written as sparse files: gigabytes long, a few kilobytes on disk.
FULL_SIZE = json.loads((CHECKPOINTS / "full_size_shapes.json").read_text())
SHIPPED = Path(__file__).resolve().parents[2] / "resources" / "convert"


def write_sparse(path: Path, shapes: dict[str, list[int]], values: dict[str, np.ndarray] = {}) -> Path:
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = int(np.prod(shape)) * 2
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(text)) + text)
        handle.truncate(8 + len(text) + offset)
        for name, value in values.items():
            handle.seek(8 + len(text) + header[name]["data_offsets"][0])
            handle.write(value.astype("<f2").tobytes())
    return path


@pytest.mark.parametrize("name, family, description", [
    ("sd15", "sd1", "Stable Diffusion 1.x"),
    ("sd15_inpainting", "sd1", "Stable Diffusion 1.x inpainting"),
    ("sd21_768v", "sd2", "Stable Diffusion 2.x, v-prediction"),
    ("sdxl_base", "sdxl", "Stable Diffusion XL"),
])
def test_full_size_checkpoints_give_the_published_configs(tmp_path, name, family, description):
    shapes = FULL_SIZE[name]
    values = {}
    if name == "sd21_768v":  # the 768-v model's wide LayerNorm bias (std > 0.09)
        values[V_PRED_PROBE] = np.random.default_rng(0).normal(0, 0.2, shapes[V_PRED_PROBE])
    kind = classify_checkpoint(write_sparse(tmp_path / f"{name}.safetensors", shapes, values))
    assert (kind.family, kind.description) == (family, description)
    parts = ["unet", "vae", "text_encoder"] + (["text_encoder_2"] if family == "sdxl" else [])
    for part in parts:
        published = json.loads((SHIPPED / family / part / "config.json").read_text())
        compared = [key for key in kind.architecture[part] if key in published]
        for key in compared:
            expected = 9 if (name, part, key) == ("sd15_inpainting", "unet", "in_channels") else published[key]
            assert kind.architecture[part][key] == expected, f"{name} {part} {key}"
        assert len(compared) >= 6, f"{name} {part}: only {compared} compared"
    unet = kind.architecture["unet"]
    assert unet["use_linear_projection"] is (family != "sd1")
    if family == "sdxl":
        assert (unet["transformer_layers_per_block"], unet["attention_head_dim"]) == ([1, 2, 10], [5, 10, 20])
        assert kind.architecture["text_encoder_2"]["num_attention_heads"] == 20
    assert kind.parameters > 1_000_000_000
