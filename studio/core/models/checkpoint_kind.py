"""What a single-file Stable Diffusion checkpoint is, read from its tensor names and shapes.

A ``.safetensors`` checkpoint from Civitai or a model repository carries weights and no
configuration: which family it is (SD 1.x, SD 2.x, SDXL), whether it inpaints (a 9-channel
UNet), whether it predicts noise or velocity, and every size of its networks must be read from
the tensors themselves. This module does that in the app's process, without torch: only the
header (names, shapes) and, for SD 2.x, one small tensor are read.

``architecture`` holds diffusers config values per component (``unet``, ``vae``,
``text_encoder``, ``text_encoder_2``), to be laid over the configs Studio ships
(``resources/convert/<family>/``) by the converter child. Sizes come from shapes; what shapes
cannot show follows the families' own rules: SD 1.x UNets have 8 attention heads, SD 2.x and
SDXL UNets heads of 64 channels, CLIP text encoders heads of 64 channels (one head where a
layer is narrower than 64, which only tiny test models are).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.core.models.safetensors_file import SafetensorsFile, read_safetensors
from studio.errors import ModelError

PICKLED_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl")
UNET = "model.diffusion_model."
VAE = "first_stage_model."
SD1_CLIP = "cond_stage_model.transformer."
SD2_OPENCLIP = "cond_stage_model.model."
XL_CLIP = "conditioner.embedders.0.transformer."
XL_OPENCLIP = "conditioner.embedders.1.model."
#: ComfyUI's test for a v-prediction SD 2.x UNet: the spread of this LayerNorm bias.
V_PRED_PROBE = UNET + "output_blocks.11.1.transformer_blocks.0.norm1.bias"
V_PRED_STD = 0.09
FAMILY_WORDS = {"sd1": "Stable Diffusion 1.x", "sd2": "Stable Diffusion 2.x", "sdxl": "Stable Diffusion XL"}
PIPELINES = {("sd1", False): "StableDiffusionPipeline", ("sd2", False): "StableDiffusionPipeline",
             ("sdxl", False): "StableDiffusionXLPipeline", ("sd1", True): "StableDiffusionInpaintPipeline",
             ("sd2", True): "StableDiffusionInpaintPipeline", ("sdxl", True): "StableDiffusionXLInpaintPipeline"}


@dataclass(frozen=True)
class CheckpointKind:
    """A recognised checkpoint: its family, what it does, and the sizes of its networks."""

    family: str  # "sd1" | "sd2" | "sdxl"
    inpainting: bool
    prediction: str  # "epsilon" | "v_prediction"
    description: str
    architecture: dict = field(default_factory=dict)
    parameters: int = 0


def classify_checkpoint(path: str | Path) -> CheckpointKind:
    """The kind of checkpoint ``path`` is; ``ModelError`` naming what it looks like otherwise."""
    path = Path(path)
    if path.suffix.lower() in PICKLED_SUFFIXES:
        raise ModelError(
            f"{path.name} is a pickled file ({path.suffix}): loading one can run any code it holds, so Studio "
            "reads only .safetensors. The same model is almost always published as .safetensors too.")
    if path.suffix.lower() != ".safetensors":
        raise ModelError(f"{path.name} is not a .safetensors checkpoint")
    file = read_safetensors(path)
    names = file.tensors
    family = _family(path, names)
    reader = _Shapes(path, file)
    unet = _unet(reader, family)
    text = _text_encoders(reader, family)
    if family == "sdxl":
        pooled = text["text_encoder_2"]["projection_dim"]
        extra = reader.shape(UNET + "label_emb.0.0.weight")[1]
        if (extra - pooled) % 6 or extra <= pooled:
            raise ModelError(f"{path.name}: its UNet's added conditions ({extra} wide) do not fit SDXL's "
                             f"pooled text ({pooled}) and six time ids")
        unet.update(addition_embed_type="text_time", projection_class_embeddings_input_dim=extra,
                    addition_time_embed_dim=(extra - pooled) // 6)
    widths = [config["hidden_size"] for config in text.values()]
    if unet["cross_attention_dim"] != sum(widths):
        raise ModelError(f"{path.name}: its UNet attends to text {unet['cross_attention_dim']} wide, its text "
                         f"encoder{'s give' if len(widths) > 1 else ' gives'} {sum(widths)}: the parts do not belong together")
    inpainting = unet["in_channels"] == 9
    prediction = _prediction(file, family, unet["in_channels"])
    description = FAMILY_WORDS[family] + (" inpainting" if inpainting else "")
    if prediction == "v_prediction":
        description += ", v-prediction"
    architecture = {"family": family, "pipeline": PIPELINES[(family, inpainting)], "prediction": prediction,
                    "description": description, "unet": unet, "vae": _vae(reader), **text}
    return CheckpointKind(family, inpainting, prediction, description, architecture, file.parameters())


# --------------------------------------------------------------------------------------------
# Which family, or what else the file is.
# --------------------------------------------------------------------------------------------


def _family(path: Path, names: dict) -> str:
    has = lambda prefix: any(name.startswith(prefix) for name in names)  # noqa: E731
    looks = _looks_like(names, has)
    if looks:
        raise ModelError(f"{path.name} is {looks}, not a Stable Diffusion checkpoint Studio can import")
    if not has(UNET + "input_blocks."):
        raise ModelError(f"{path.name} is not a Stable Diffusion checkpoint Studio knows "
                         "(it holds no UNet under model.diffusion_model.)")
    if has("conditioner.embedders.0.model.") and not has("conditioner.embedders.1."):
        raise ModelError(f"{path.name} is an SDXL refiner checkpoint: Studio imports SDXL base models, not the refiner")
    if has(XL_CLIP) and has(XL_OPENCLIP):
        family = "sdxl"
    elif has(SD2_OPENCLIP):
        family = "sd2"
    elif has(SD1_CLIP):
        family = "sd1"
    else:
        raise ModelError(f"{path.name} holds a UNet but no text encoder Studio knows: it needs the whole "
                         "checkpoint (UNet, VAE and text encoder), not the UNet alone")
    if not has(VAE + "decoder."):
        raise ModelError(f"{path.name} holds no VAE (first_stage_model.*): Studio needs the whole checkpoint, "
                         "with its VAE baked in")
    return family


def _looks_like(names: dict, has) -> str:
    """Plain words for a file that is something else Stable Diffusion users have, or ""."""
    if any(".lora_down." in n or ".lora_up." in n or ".lora_A." in n or ".lora_B." in n or n.startswith("lora_")
           for n in names):
        return "a LoRA (add it in the Stable Diffusion form's LoRA list)"
    if has("model.diffusion_model.joint_blocks.") or has("joint_blocks."):
        return "a Stable Diffusion 3 checkpoint"
    if has("model.diffusion_model.double_blocks.") or has("double_blocks."):
        return "a Flux checkpoint"
    if has("control_model.") or has("controlnet_cond_embedding."):
        return "a ControlNet"
    if not has(UNET) and (has("encoder.down.") or has("decoder.up.") or has(VAE)):
        return "a VAE on its own"
    if not has(UNET) and (has("text_model.") or has("model.layers.") or has("model.embed_tokens.")
                          or has("transformer.h.") or has(SD1_CLIP)):
        return "a text model"
    if not has(UNET) and has("down_blocks.") and has("up_blocks."):
        return "a diffusers UNet or VAE file (import the whole diffusers folder instead)"
    if any(n.startswith("emb_params") or n in ("clip_l", "clip_g", "string_to_param.*") for n in names):
        return "a textual-inversion embedding"
    return ""


# --------------------------------------------------------------------------------------------
# Sizes.
# --------------------------------------------------------------------------------------------


class _Shapes:
    """Shapes by name, with a plain error for a tensor the checkpoint should have and lacks."""

    def __init__(self, path: Path, file: SafetensorsFile) -> None:
        self.path, self.file = path, file

    def shape(self, name: str) -> tuple[int, ...]:
        shape = self.file.shape(name)
        if shape is None:
            raise ModelError(f"{self.path.name} lacks the tensor {name}: it is damaged, or a kind of "
                             "checkpoint Studio does not know")
        return shape

    def has(self, name: str) -> bool:
        return name in self.file.tensors

    def indices(self, prefix: str) -> list[int]:
        """The distinct numbers N of tensors named ``prefix`` + ``N.``…, sorted."""
        pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
        return sorted({int(m.group(1)) for name in self.file.tensors if (m := pattern.match(name))})


def _heads(family: str, channels: int) -> int:
    return 8 if family == "sd1" else max(1, channels // 64)


def _unet(shapes: _Shapes, family: str) -> dict:
    conv_in = shapes.shape(UNET + "input_blocks.0.0.weight")
    blocks: list[dict] = []
    current = {"layers": 0, "attention": False, "transformers": 1, "channels": 0}
    for index in [i for i in shapes.indices(UNET + "input_blocks.") if i > 0]:
        block = f"{UNET}input_blocks.{index}."
        if shapes.has(block + "0.op.weight"):  # a downsampler closes the block
            blocks.append(current)
            current = {"layers": 0, "attention": False, "transformers": 1, "channels": 0}
            continue
        current["layers"] += 1
        current["channels"] = shapes.shape(block + "0.out_layers.3.weight")[0]
        transformers = shapes.indices(block + "1.transformer_blocks.")
        if transformers:
            current["attention"], current["transformers"] = True, len(transformers)
            current["attention_at"] = block + "1."
    blocks.append(current)
    layers = {b["layers"] for b in blocks}
    if len(layers) != 1 or 0 in layers or not any(b["attention"] for b in blocks):
        raise ModelError(f"{shapes.path.name}: its UNet's blocks are not laid out like a Stable Diffusion UNet's")
    attention = next(b["attention_at"] for b in blocks if b["attention"])
    proj_in = shapes.shape(attention + "proj_in.weight")
    channels = [b["channels"] for b in blocks]
    heads = [_heads(family, c) for c in channels]
    if any(c % h for c, h in zip(channels, heads)):
        raise ModelError(f"{shapes.path.name}: its UNet's widths {channels} do not split into attention heads")
    mid = shapes.indices(UNET + "middle_block.1.transformer_blocks.")
    if not mid:
        raise ModelError(f"{shapes.path.name}: its UNet has no attention in the middle block")
    transformers = [b["transformers"] for b in blocks]
    if family == "sdxl" and len(mid) != transformers[-1]:
        raise ModelError(f"{shapes.path.name}: its UNet's middle block has {len(mid)} transformer layers, "
                         f"its last block {transformers[-1]}: not an SDXL layout Studio knows")
    return {
        "in_channels": conv_in[1],
        "out_channels": shapes.shape(UNET + "out.2.weight")[0],
        "block_out_channels": channels,
        "layers_per_block": blocks[0]["layers"],
        "down_block_types": ["CrossAttnDownBlock2D" if b["attention"] else "DownBlock2D" for b in blocks],
        "up_block_types": ["CrossAttnUpBlock2D" if b["attention"] else "UpBlock2D" for b in reversed(blocks)],
        "transformer_layers_per_block": transformers if family == "sdxl" else 1,
        "attention_head_dim": 8 if family == "sd1" else heads,
        "cross_attention_dim": shapes.shape(attention + "transformer_blocks.0.attn2.to_k.weight")[1],
        "use_linear_projection": len(proj_in) == 2,
    }


def _vae(shapes: _Shapes) -> dict:
    down = shapes.indices(VAE + "encoder.down.")
    if not down:
        raise ModelError(f"{shapes.path.name}: its VAE has no encoder blocks")
    return {
        "in_channels": shapes.shape(VAE + "encoder.conv_in.weight")[1],
        "out_channels": shapes.shape(VAE + "decoder.conv_out.weight")[0],
        "block_out_channels": [shapes.shape(f"{VAE}encoder.down.{i}.block.0.conv1.weight")[0] for i in down],
        "layers_per_block": len(shapes.indices(VAE + "encoder.down.0.block.")),
        "latent_channels": shapes.shape(VAE + "decoder.conv_in.weight")[1],
        "down_block_types": ["DownEncoderBlock2D"] * len(down),
        "up_block_types": ["UpDecoderBlock2D"] * len(down),
    }


def _clip(shapes: _Shapes, prefix: str, act: str) -> dict:
    if not shapes.has(prefix + "text_model.embeddings.token_embedding.weight") and shapes.has(
            prefix + "embeddings.token_embedding.weight"):
        model = prefix  # older transformers wrote no text_model. level
    else:
        model = prefix + "text_model."
    vocab, hidden = shapes.shape(model + "embeddings.token_embedding.weight")
    return _text_config(vocab, hidden, shapes.shape(model + "embeddings.position_embedding.weight")[0],
                        len(shapes.indices(model + "encoder.layers.")),
                        shapes.shape(model + "encoder.layers.0.mlp.fc1.weight")[0], act)


def _openclip(shapes: _Shapes, prefix: str, dropped_layers: int) -> dict:
    vocab, hidden = shapes.shape(prefix + "token_embedding.weight")
    layers = len(shapes.indices(prefix + "transformer.resblocks.")) - dropped_layers
    if layers < 1:
        raise ModelError(f"{shapes.path.name}: its text encoder has no layers")
    config = _text_config(vocab, hidden, shapes.shape(prefix + "positional_embedding")[0], layers,
                          shapes.shape(prefix + "transformer.resblocks.0.mlp.c_fc.weight")[0], "gelu")
    if shapes.has(prefix + "text_projection"):
        config["projection_dim"] = shapes.shape(prefix + "text_projection")[-1]
    return config


def _text_config(vocab: int, hidden: int, positions: int, layers: int, intermediate: int, act: str) -> dict:
    return {"vocab_size": vocab, "hidden_size": hidden, "max_position_embeddings": positions,
            "num_hidden_layers": layers, "intermediate_size": intermediate,
            "num_attention_heads": max(1, hidden // 64), "hidden_act": act}


def _text_encoders(shapes: _Shapes, family: str) -> dict:
    if family == "sd1":
        return {"text_encoder": _clip(shapes, SD1_CLIP, "quick_gelu")}
    if family == "sd2":
        # SD 2.x conditions on OpenCLIP's penultimate layer: diffusers' encoder stops one layer short.
        config = _openclip(shapes, SD2_OPENCLIP, 1)
        config.pop("projection_dim", None)  # SD 2.x reads no projection (CLIPTextModel)
        return {"text_encoder": config}
    second = _openclip(shapes, XL_OPENCLIP, 0)
    if "projection_dim" not in second:
        raise ModelError(f"{shapes.path.name}: its second text encoder has no text projection, which SDXL needs")
    return {"text_encoder": _clip(shapes, XL_CLIP, "quick_gelu"), "text_encoder_2": second}


def _prediction(file: SafetensorsFile, family: str, in_channels: int) -> str:
    """ComfyUI's rules: a ``v_pred`` marker tensor; else, for SD 2.x (not inpainting), the spread of
    one LayerNorm bias, wide in the v-prediction models (768-v) and narrow in the 512 epsilon ones."""
    if "v_pred" in file.tensors:
        return "v_prediction"
    if family == "sd2" and in_channels == 4 and V_PRED_PROBE in file.tensors:
        info = file.tensors[V_PRED_PROBE]
        if len(info.shape) == 1 and info.size <= 1 << 16 and float(np.std(file.load(V_PRED_PROBE))) > V_PRED_STD:
            return "v_prediction"
    return "epsilon"
