"""Reading LoRA files without torch: kohya (diffusers-style and LDM module names, Linear and conv
layers) and diffusers/PEFT keys, their alphas, and the files that are not LoRAs Studio reads.

The fixtures are written by tests/fixtures/convert/build_loras.py (kohya's key layout by hand,
PEFT's by diffusers' own save_lora_weights); test_lora_parity.py checks what they do to an image
against diffusers."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from studio.core.models.lora_file import ldm_to_diffusers, module_key, read_lora
from studio.errors import ModelError

LORAS = Path(__file__).resolve().parents[1] / "fixtures" / "convert" / "lora"


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> Path:
    """The safetensors layout written by hand (8-byte header length, JSON header, raw bytes)."""
    header: dict = {"__metadata__": metadata} if metadata else {}
    data, offset = b"", 0
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


@pytest.mark.parametrize(
    "stem, layers, expected",
    [
        # kohya, SD 1.x (diffusers-style module paths)
        ("lora_unet_down_blocks_0_attentions_1_transformer_blocks_0_attn1_to_q", 2, ("unet", "down_blocks.0.attentions.1.transformer_blocks.0.attn1.to_q")),
        ("lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_attn2_to_out_0", 2, ("unet", "up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_out.0")),
        ("lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_0_proj", 2, ("unet", "mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj")),
        ("lora_unet_down_blocks_1_resnets_0_conv_shortcut", 2, ("unet", "down_blocks.1.resnets.0.conv_shortcut")),
        ("lora_unet_up_blocks_0_resnets_1_time_emb_proj", 2, ("unet", "up_blocks.0.resnets.1.time_emb_proj")),
        ("lora_te_text_model_encoder_layers_11_self_attn_out_proj", 2, ("text_encoder", "text_model.encoder.layers.11.self_attn.out_proj")),
        ("lora_te_text_model_encoder_layers_0_mlp_fc1", 2, ("text_encoder", "text_model.encoder.layers.0.mlp.fc1")),
        # kohya, SDXL (LDM module paths; two text encoders)
        ("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q", 2, ("unet", "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q")),
        ("lora_unet_input_blocks_8_1_transformer_blocks_9_attn2_to_k", 2, ("unet", "down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_k")),
        ("lora_unet_output_blocks_5_1_proj_out", 2, ("unet", "up_blocks.1.attentions.2.proj_out")),
        ("lora_unet_output_blocks_2_2_conv", 2, ("unet", "up_blocks.0.upsamplers.0.conv")),
        ("lora_unet_input_blocks_3_0_op", 2, ("unet", "down_blocks.0.downsamplers.0.conv")),
        ("lora_unet_input_blocks_1_0_in_layers_2", 2, ("unet", "down_blocks.0.resnets.0.conv1")),
        ("lora_unet_output_blocks_0_0_skip_connection", 2, ("unet", "up_blocks.0.resnets.0.conv_shortcut")),
        ("lora_unet_middle_block_1_transformer_blocks_0_attn1_to_v", 2, ("unet", "mid_block.attentions.0.transformer_blocks.0.attn1.to_v")),
        ("lora_unet_middle_block_2_out_layers_3", 2, ("unet", "mid_block.resnets.1.conv2")),
        ("lora_unet_time_embed_2", 2, ("unet", "time_embedding.linear_2")),
        ("lora_unet_label_emb_0_0", 2, ("unet", "add_embedding.linear_1")),
        ("lora_te2_text_model_encoder_layers_31_mlp_fc2", 2, ("text_encoder_2", "text_model.encoder.layers.31.mlp.fc2")),
        ("lora_te1_text_model_encoder_layers_3_self_attn_k_proj", 2, ("text_encoder", "text_model.encoder.layers.3.self_attn.k_proj")),
        # the block layout follows the UNet's layers_per_block
        ("lora_unet_input_blocks_3_1_proj_in", 1, ("unet", "down_blocks.1.attentions.0.proj_in")),
        ("lora_unet_input_blocks_2_0_op", 1, ("unet", "down_blocks.0.downsamplers.0.conv")),
        # diffusers / PEFT, and diffusers' older spellings
        ("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k", 2, ("unet", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k")),
        ("text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj", 2, ("text_encoder_2", "text_model.encoder.layers.0.self_attn.q_proj")),
        ("text_encoder.encoder.layers.1.self_attn.v_proj", 2, ("text_encoder", "text_model.encoder.layers.1.self_attn.v_proj")),
        ("unet.mid_block.attentions.0.transformer_blocks.0.attn2.processor.to_out_lora", 2, ("unet", "mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0")),
        ("base_model.model.up_blocks.1.attentions.0.proj_in", 2, ("unet", "up_blocks.1.attentions.0.proj_in")),
        # nothing Studio knows
        ("lora_unet_input_blocks_99", 2, None),
        ("vae.decoder.conv_in", 2, None),
    ],
)
def test_module_names_become_diffusers_parameter_paths(stem, layers, expected):
    assert module_key(stem, layers) == expected


def test_a_kohya_lora_is_read_with_its_alphas_and_conv_layers():
    lora = read_lora(LORAS / "kohya.safetensors", layers_per_block=1)
    components = {component for component, _ in lora.layers}
    assert components == {"unet", "text_encoder"} and lora.unknown == []
    q = lora.layers[("unet", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight")]
    assert q.alpha == 2.0
    up, down, alpha = q.factors(lora)
    assert up.shape == (16, 4) and down.shape == (4, 16) and alpha == 2.0
    conv = ("unet", "down_blocks.0.resnets.0.conv1.weight")
    delta = lora.delta(conv, (16, 16, 3, 3))
    up, down, _ = lora.layers[conv].factors(lora)
    assert up.shape == (16, 4, 1, 1) and down.shape == (4, 16, 3, 3)
    np.testing.assert_allclose(delta, (up.reshape(16, 4) @ down.reshape(4, -1)).reshape(16, 16, 3, 3) * 0.5, rtol=1e-6)
    assert ("text_encoder", "text_model.encoder.layers.1.mlp.fc2.weight") in lora.layers


def test_a_peft_lora_takes_its_alpha_from_diffusers_metadata():
    lora = read_lora(LORAS / "peft.safetensors", layers_per_block=1)
    assert {component for component, _ in lora.layers} == {"unet", "text_encoder"}
    assert {layer.alpha for layer in lora.layers.values()} == {8.0}  # lora_alpha 8, r 4: a scale of 2


def test_a_peft_lora_without_metadata_scales_by_one(tmp_path):
    source = read_lora(LORAS / "peft.safetensors")
    tensors = {name: source.file.load(name) for name in source.file.tensors}
    lora = read_lora(write_safetensors(tmp_path / "no_metadata.safetensors", tensors))
    assert {layer.alpha for layer in lora.layers.values()} == {None}
    up, down, alpha = next(iter(lora.layers.values())).factors(lora)
    assert alpha == down.shape[0]


def test_an_ldm_named_lora_lands_on_the_diffusers_blocks():
    lora = read_lora(LORAS / "kohya_ldm.safetensors", layers_per_block=1)
    names = {name for _, name in lora.layers}
    assert "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight" in names
    assert "up_blocks.1.attentions.1.proj_out.weight" in names
    assert "mid_block.resnets.1.conv2.weight" in names
    assert lora.unknown == []


def test_an_sdxl_lora_says_so():
    assert read_lora(LORAS / "sdxl.safetensors", layers_per_block=1).base_hint() == "SDXL"


def test_ldm_paths_outside_the_layout_are_not_guessed():
    assert ldm_to_diffusers("input_blocks.x.1.proj_in") == ""
    assert ldm_to_diffusers("middle_block.7.proj_in") == ""


def test_a_truncated_lora_is_refused_plainly(tmp_path):
    data = (LORAS / "kohya.safetensors").read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="cut short"):
        read_lora(cut)


@pytest.mark.parametrize(
    "tensors, words",
    [
        ({"model.diffusion_model.input_blocks.0.0.weight": np.zeros((4, 4, 3, 3))}, "no kohya or diffusers LoRA layers"),
        ({"lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_a": np.zeros((4, 4))}, "LyCORIS"),
        ({}, "holds no tensors"),
        ({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": np.zeros((4, 8))}, "no kohya or diffusers LoRA layers"),
    ],
)
def test_files_that_are_not_loras_studio_reads_are_named(tmp_path, tensors, words):
    path = write_safetensors(tmp_path / "x.safetensors", tensors)
    with pytest.raises(ModelError, match=words):
        read_lora(path)


def test_a_damaged_alpha_is_refused(tmp_path):
    path = write_safetensors(tmp_path / "a.safetensors", {
        "lora_unet_mid_block_attentions_0_proj_in.lora_down.weight": np.ones((4, 8)),
        "lora_unet_mid_block_attentions_0_proj_in.lora_up.weight": np.ones((8, 4)),
        "lora_unet_mid_block_attentions_0_proj_in.alpha": np.ones((3,)),
    })
    with pytest.raises(ModelError, match="not one number"):
        read_lora(path)


def test_factors_that_are_not_finite_numbers_are_refused(tmp_path):
    path = write_safetensors(tmp_path / "nan.safetensors", {
        "lora_unet_mid_block_attentions_0_proj_in.lora_down.weight": np.full((4, 8), np.nan),
        "lora_unet_mid_block_attentions_0_proj_in.lora_up.weight": np.ones((8, 4)),
    })
    lora = read_lora(path)
    with pytest.raises(ModelError, match="not finite numbers"):
        lora.delta(("unet", "mid_block.attentions.0.proj_in.weight"), (8, 8))
