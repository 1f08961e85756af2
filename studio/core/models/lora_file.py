"""What a Stable Diffusion LoRA file changes, read without torch: per model part and diffusers
parameter name, the two low-rank factors and the alpha that scales them.

LoRAs come in two key formats, both read here:

- kohya (sd-scripts, most of Civitai): ``lora_unet_<module path, dots as underscores>``,
  ``lora_te_…`` (SD 1/2 text encoder), ``lora_te1_…`` / ``lora_te2_…`` (SDXL's two), each with
  ``.lora_down.weight``, ``.lora_up.weight`` and a scalar ``.alpha``. SD 1/2 LoRAs spell the
  UNet's module paths as diffusers does (``down_blocks_0_attentions_0_…``); SDXL ones as the
  original LDM code does (``input_blocks_4_1_transformer_blocks_0_…``), turned into diffusers'
  names with the UNet's block layout (``layers_per_block``).
- diffusers / PEFT: ``unet.<module>.lora_A.weight`` / ``lora_B.weight`` (and the older
  ``.lora.down/.up`` and ``processor.to_q_lora.down`` spellings), ``text_encoder.…``,
  ``text_encoder_2.…``; alpha from the ``lora_adapter_metadata`` diffusers writes (``unet.r``,
  ``unet.lora_alpha``), or an ``.alpha`` key, else the rank (scale 1) as diffusers assumes.

``read_lora`` reads only the header: the factors are read (``load``) for the weights a model
holds, so a LoRA's memory is what it changes. Keys that are not LoRA factors Studio knows
(LyCORIS' LoHa/LoKr, DoRA scales, embeddings) are kept in ``unknown`` for the message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.core.models.safetensors_file import SafetensorsFile, read_safetensors
from studio.errors import ModelError

COMPONENTS = ("unet", "text_encoder", "text_encoder_2")
KOHYA_PREFIXES = {"lora_unet_": "unet", "lora_te_": "text_encoder", "lora_te1_": "text_encoder", "lora_te2_": "text_encoder_2"}
# (suffix of the down factor, of the up factor) per format, longest first.
FACTOR_SUFFIXES = (
    (".lora_down.weight", ".lora_up.weight"),
    (".lora_A.weight", ".lora_B.weight"),
    (".lora_linear_layer.down.weight", ".lora_linear_layer.up.weight"),
    (".lora.down.weight", ".lora.up.weight"),
)
# Words in diffusers/transformers module paths that hold an underscore; kohya's names turn every
# dot into one, so these are put back together after splitting on underscores.
UNDERSCORE_WORDS = (
    "down_blocks", "up_blocks", "mid_block", "transformer_blocks", "to_q", "to_k", "to_v", "to_out",
    "proj_in", "proj_out", "time_emb_proj", "conv_shortcut", "time_embedding", "linear_1", "linear_2",
    "conv_in", "conv_out", "conv_norm_out", "add_embedding", "text_model", "self_attn", "q_proj",
    "k_proj", "v_proj", "out_proj", "final_layer_norm", "layer_norm1", "layer_norm2", "text_projection",
    "input_blocks", "output_blocks", "middle_block", "in_layers", "out_layers", "emb_layers",
    "skip_connection", "time_embed", "label_emb",
)
# LDM resnet parts -> diffusers'.
LDM_RESNET = {"in_layers.2": "conv1", "out_layers.3": "conv2", "emb_layers.1": "time_emb_proj", "skip_connection": "conv_shortcut"}
LDM_TOP = {"time_embed.0": "time_embedding.linear_1", "time_embed.2": "time_embedding.linear_2",
           "label_emb.0.0": "add_embedding.linear_1", "label_emb.0.2": "add_embedding.linear_2",
           "input_blocks.0.0": "conv_in", "out.2": "conv_out"}


@dataclass(frozen=True)
class LoraLayer:
    """One changed weight: the tensors' names in the file and its alpha (None: the rank)."""

    down: str
    up: str
    alpha: float | None

    def factors(self, lora: "LoraFile") -> tuple[np.ndarray, np.ndarray, float]:
        """``(up, down, alpha)`` as float32 arrays (up: out x rank [x 1 x 1], down: rank x in [x kh x kw])."""
        up, down = lora.file.load(self.up), lora.file.load(self.down)
        if not (np.isfinite(up).all() and np.isfinite(down).all()):
            raise ModelError(f"the LoRA {lora.path.name} is damaged: {self.down.rsplit('.', 2)[0]} holds values that are not finite numbers")
        rank = down.shape[0]
        return up, down, float(rank if self.alpha is None else self.alpha)


@dataclass
class LoraFile:
    """A LoRA's layers by ``(component, diffusers parameter name)`` (``…to_q.weight``)."""

    path: Path
    file: SafetensorsFile
    layers: dict[tuple[str, str], LoraLayer] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # keys that are not LoRA factors Studio reads

    @property
    def name(self) -> str:
        return self.path.stem

    def base_hint(self) -> str:
        """The base model the LoRA seems made for, in words ("" when it does not tell)."""
        if any(component == "text_encoder_2" for component, _ in self.layers):
            return "SDXL"
        for (component, name), layer in self.layers.items():
            if component == "unet" and name.endswith("attn2.to_k.weight"):
                width = self.file.shape(layer.down)[-1]
                return {768: "SD 1.x", 1024: "SD 2.x", 2048: "SDXL"}.get(width, "")
        return ""

    def delta(self, key: tuple[str, str], shape: tuple[int, ...], weight: float = 1.0, transposed: bool = False) -> np.ndarray:
        """``weight · up @ down · alpha / rank`` shaped like the torch weight ``shape`` (float32),
        or its transpose, made as such (``transposed``: a 2-D weight stored for a MatMul); a
        ``ModelError`` when the factors cannot make that shape (a LoRA for another model)."""
        up, down, alpha = self.layers[key].factors(self)
        rank = down.shape[0]
        if up.shape[1:2] != (rank,) or rank < 1:
            raise ModelError(f"the LoRA {self.path.name} is damaged: {key[1]}'s factors do not fit together ({up.shape} and {down.shape})")
        if up.shape[0] * int(np.prod(down.shape[1:])) != int(np.prod(shape)) or up.shape[0] != shape[0]:
            raise ShapeMismatch(key, (up.shape[0], *down.shape[1:]), shape)
        # The scale goes on the small factor: the full-size product is made once, nothing more.
        scaled = up.reshape(up.shape[0], rank) * np.float32(weight * alpha / rank)
        if transposed and len(shape) == 2:
            return down.reshape(rank, -1).T @ scaled.T
        return (scaled @ down.reshape(rank, -1)).reshape(shape)


class ShapeMismatch(ModelError):
    """A LoRA layer whose shape is not the model's weight's: the LoRA is for another model."""

    def __init__(self, key: tuple[str, str], lora_shape: tuple[int, ...], model_shape: tuple[int, ...]) -> None:
        self.key, self.lora_shape, self.model_shape = key, lora_shape, model_shape
        super().__init__(f"{key[0]} {key[1]} is {'x'.join(map(str, lora_shape))} in the LoRA but "
                         f"{'x'.join(map(str, model_shape))} in the model")


def read_lora(path: str | Path, layers_per_block: int = 2) -> LoraFile:
    """The LoRA at ``path`` (its header; factors are read on use). ``ModelError`` for a file
    that is not a readable safetensors file or holds no LoRA layer Studio can read.

    ``layers_per_block`` is the UNet's (2 in every released SD 1/2/XL): LDM-named keys need it.
    """
    path = Path(path)
    file = read_safetensors(path)
    lora = LoraFile(path, file)
    peft_alphas = _adapter_metadata(file)
    names = set(file.tensors)
    for name in sorted(names):
        suffixes = next(((d, u) for d, u in FACTOR_SUFFIXES if name.endswith(d)), None)
        if suffixes is None:
            if not any(name.endswith(u) for _, u in FACTOR_SUFFIXES) and not name.endswith(".alpha"):
                lora.unknown.append(name)
            continue
        down_suffix, up_suffix = suffixes
        stem = name[: -len(down_suffix)]
        up = stem + up_suffix
        if up not in names:
            lora.unknown.append(name)
            continue
        key = module_key(stem, layers_per_block)
        if key is None:
            lora.unknown.append(stem)
            continue
        alpha = _alpha(file, stem, name, key, peft_alphas)
        lora.layers[(key[0], key[1] + ".weight")] = LoraLayer(name, up, alpha)
    if not lora.layers:
        what = f" (its keys look like {_describe(lora.unknown)})" if lora.unknown else " (it holds no tensors)"
        raise ModelError(f"{path.name} is not a LoRA Studio can read: no kohya or diffusers LoRA layers in it{what}")
    return lora


def module_key(stem: str, layers_per_block: int = 2) -> tuple[str, str] | None:
    """``(component, diffusers module path)`` for a LoRA key's stem, or None if it names none.

    Text encoder paths are given as the SD repositories name them, ``text_model.encoder.…``
    (transformers 5 drops ``text_model.`` from the module, so new files may lack it)."""
    key = _module_key(stem, layers_per_block)
    if key is not None and key[0] != "unet" and key[1].startswith(("encoder.", "embeddings.", "final_layer_norm")):
        return key[0], "text_model." + key[1]
    return key


def _module_key(stem: str, layers_per_block: int) -> tuple[str, str] | None:
    for prefix, component in KOHYA_PREFIXES.items():
        if stem.startswith(prefix):
            module = _dotted(stem[len(prefix):])
            if component == "unet" and module.split(".")[0] in ("input_blocks", "middle_block", "output_blocks", "time_embed", "label_emb", "out"):
                module = ldm_to_diffusers(module, layers_per_block)
            return (component, module) if module else None
    stem = stem.removeprefix("base_model.model.")
    head, _, rest = stem.partition(".")
    if head in COMPONENTS and rest:
        return head, _old_processor_path(rest)
    if head in ("down_blocks", "up_blocks", "mid_block", "conv_in", "conv_out", "time_embedding"):
        return "unet", _old_processor_path(stem)  # a bare PEFT UNet state dict
    if head in ("text_model", "encoder"):
        return "text_encoder", stem  # a bare PEFT text encoder state dict
    return None


def ldm_to_diffusers(module: str, layers_per_block: int = 2) -> str:
    """An LDM UNet module path (``input_blocks.4.1.transformer_blocks.0.attn1.to_q``) as
    diffusers names it (``down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q``);
    "" for a path outside the known layout."""
    for old, new in LDM_TOP.items():
        if module == old or module.startswith(old + "."):
            return new + module[len(old):]
    parts = module.split(".")
    if len(parts) < 3 or not parts[1].isdigit():
        return ""
    kind, index, rest = parts[0], int(parts[1]), parts[2:]
    per = layers_per_block + 1
    if kind == "middle_block":
        sub = {0: "resnets.0", 1: "attentions.0", 2: "resnets.1"}.get(index)
        return "" if sub is None else _block_part(f"mid_block.{sub}", rest)
    if not rest[0].isdigit():
        return ""
    sub = int(rest[0])
    if kind == "input_blocks" and index >= 1:
        block, position = divmod(index - 1, per)
        if position == layers_per_block:  # the downsampler after the block's layers
            return f"down_blocks.{block}.downsamplers.0.conv" if rest[1:] == ["op"] else ""
        where = {0: "resnets", 1: "attentions"}.get(sub)
        return "" if where is None else _block_part(f"down_blocks.{block}.{where}.{position}", rest[1:])
    if kind == "output_blocks":
        block, position = divmod(index, per)
        if rest[1:] == ["conv"]:  # the upsampler: after the resnet (and attention) of the block's last layer
            return f"up_blocks.{block}.upsamplers.0.conv"
        where = {0: "resnets", 1: "attentions"}.get(sub)
        return "" if where is None else _block_part(f"up_blocks.{block}.{where}.{position}", rest[1:])
    return ""


def _block_part(base: str, rest: list[str]) -> str:
    tail = ".".join(rest)
    if ".resnets." in base or base.startswith("mid_block.resnets"):
        tail = LDM_RESNET.get(tail, tail)
    return f"{base}.{tail}" if tail else ""


def _dotted(flat: str) -> str:
    """kohya's ``down_blocks_0_attentions_0_proj_in`` -> ``down_blocks.0.attentions.0.proj_in``."""
    text = "." + flat.replace("_", ".") + "."
    for word in sorted(UNDERSCORE_WORDS, key=lambda w: -w.count("_")):
        text = text.replace("." + word.replace("_", ".") + ".", "." + word + ".")
    return text.strip(".")


def _old_processor_path(module: str) -> str:
    """diffusers' old attention-processor keys (``attn1.processor.to_out_lora``) -> the module."""
    match = re.fullmatch(r"(.*)\.processor\.(to_q|to_k|to_v|to_out)_lora", module)
    if match:
        return f"{match.group(1)}.{match.group(2)}" + (".0" if match.group(2) == "to_out" else "")
    return module


def _adapter_metadata(file: SafetensorsFile) -> dict:
    raw = file.metadata.get("lora_adapter_metadata")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _alpha(file: SafetensorsFile, stem: str, down: str, key: tuple[str, str], peft: dict) -> float | None:
    if stem + ".alpha" in file.tensors:
        value = file.load(stem + ".alpha").reshape(-1)
        if value.size == 1 and np.isfinite(value[0]):
            return float(value[0])
        raise ModelError(f"the LoRA {file.path.name} is damaged: {stem}.alpha is not one number")
    component, module = key
    if not peft:
        return None
    rank = _pattern(peft.get(f"{component}.rank_pattern"), module, peft.get(f"{component}.r"))
    alpha = _pattern(peft.get(f"{component}.alpha_pattern"), module, peft.get(f"{component}.lora_alpha"))
    if isinstance(alpha, (int, float)) and isinstance(rank, (int, float)) and rank > 0:
        # PEFT scales by lora_alpha / r; Studio by alpha / (the factors' rank), the same number
        # when they agree, and still PEFT's scale when they do not.
        actual = (file.shape(down) or (rank,))[0]
        return float(alpha) * actual / float(rank)
    return None


def _pattern(patterns: object, module: str, default: object) -> object:
    if isinstance(patterns, dict):
        for pattern, value in patterns.items():
            if module == pattern or module.endswith("." + str(pattern)):
                return value
    return default


def _describe(keys: list[str]) -> str:
    if any(".hada_" in k or ".lokr_" in k for k in keys):
        return "LyCORIS LoHa/LoKr, which Studio does not apply yet"
    return ", ".join(keys[:3]) + (" …" if len(keys) > 3 else "")
