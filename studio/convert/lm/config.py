"""What a causal-LM folder's config.json says, read and checked before any weight is touched."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.convert.protocol import ConvertError

#: The architectures this converter writes, by config.json's ``model_type`` (import_source.py in
#: the app keeps the same list; a test compares them).
SUPPORTED_MODEL_TYPES = ("gpt2", "llama", "mistral", "qwen2", "phi3")
NAMES = {"gpt2": "GPT-2", "llama": "Llama", "mistral": "Mistral", "qwen2": "Qwen2", "phi3": "Phi-3"}
#: transformers' activation names -> how the graph computes them.
ACTIVATIONS = {"silu": "silu", "swish": "silu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
               "gelu_fast": "gelu_tanh", "gelu": "gelu"}
#: Rotary scalings whose tables depend on the sequence length: one fixed table cannot hold them.
DYNAMIC_ROPE = {"dynamic": "dynamic NTK", "longrope": "LongRoPE (Phi-3 128k)"}
LIMIT = 1 << 20


@dataclass(frozen=True)
class LMConfig:
    model_type: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    context: int
    epsilon: float
    activation: str  # "silu" (gated MLP) | "gelu_tanh" | "gelu"
    tied: bool
    window: int  # attention window (Mistral's sliding window); -1: the whole context
    raw: dict[str, Any]

    @property
    def name(self) -> str:
        return NAMES[self.model_type]


def _int(raw: dict, *keys: str, default: int | None = None) -> int:
    for key in keys:
        value = raw.get(key)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= LIMIT * 64:
                raise ConvertError(f"config.json: {key} is {value!r}, not a positive whole number")
            return value
    if default is None:
        raise ConvertError(f"config.json has no {keys[0]}: it is not a complete transformers configuration")
    return default


def read_raw(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        raise ConvertError(f"{folder} has no config.json: Studio imports transformers model folders as save_pretrained writes them")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConvertError(f"{path} cannot be read as JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ConvertError(f"{path} holds no JSON object")
    return raw


def read_config(folder: Path) -> LMConfig:
    raw = read_raw(folder)
    model_type = raw.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        supported = ", ".join(f"{NAMES[t]} ({t})" for t in SUPPORTED_MODEL_TYPES)
        raise ConvertError(f"Studio cannot convert language models of type {model_type!r} yet; it converts {supported}")
    if model_type == "gpt2":
        if raw.get("scale_attn_by_inverse_layer_idx") or raw.get("reorder_and_upcast_attn") or raw.get("add_cross_attention"):
            raise ConvertError("this GPT-2 variant scales or reorders its attention in a way Studio does not convert")
        hidden = _int(raw, "n_embd", "hidden_size")
        heads = _int(raw, "n_head", "num_attention_heads")
        act = raw.get("activation_function", "gelu_new")
        return _checked(LMConfig(model_type, _int(raw, "n_layer", "num_hidden_layers"), hidden, heads, heads, hidden // heads,
                                 _int(raw, "n_inner", default=4 * hidden), _int(raw, "vocab_size"), _int(raw, "n_positions", "n_ctx"),
                                 float(raw.get("layer_norm_epsilon", 1e-5)), _activation(act),
                                 bool(raw.get("tie_word_embeddings", True)), -1, raw))
    hidden = _int(raw, "hidden_size")
    heads = _int(raw, "num_attention_heads")
    rope = raw.get("rope_scaling") or raw.get("rope_parameters") or {}
    kind = rope.get("rope_type", rope.get("type", "default")) if isinstance(rope, dict) else "default"
    if kind in DYNAMIC_ROPE:
        raise ConvertError(f"this model's rotary embedding is {DYNAMIC_ROPE[kind]}, which changes with the text's length; "
                           f"Studio converts fixed rotary scalings only (default, linear, llama3, yarn)")
    partial = raw.get("partial_rotary_factor", rope.get("partial_rotary_factor", 1.0) if isinstance(rope, dict) else 1.0)
    if partial not in (None, 1, 1.0):
        raise ConvertError(f"this model rotates only part of each attention head (partial_rotary_factor {partial}); Studio does not convert that yet")
    context = _int(raw, "max_position_embeddings")
    window = raw.get("sliding_window")
    uses_window = raw.get("use_sliding_window", model_type != "qwen2")  # Qwen2 states it; Mistral always slides
    window = window if isinstance(window, int) and uses_window and 0 < window < context else -1
    return _checked(LMConfig(model_type, _int(raw, "num_hidden_layers"), hidden, heads, _int(raw, "num_key_value_heads", default=heads),
                             _int(raw, "head_dim", default=hidden // heads), _int(raw, "intermediate_size"), _int(raw, "vocab_size"),
                             context, float(raw.get("rms_norm_eps", 1e-6)), _activation(raw.get("hidden_act", "silu")),
                             bool(raw.get("tie_word_embeddings", False)), window, raw))


def _activation(name: Any) -> str:
    if name not in ACTIVATIONS:
        raise ConvertError(f"config.json names the activation {name!r}, which Studio does not convert (it knows {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]


def _checked(config: LMConfig) -> LMConfig:
    if config.heads % config.kv_heads:
        raise ConvertError(f"config.json: {config.heads} attention heads cannot be shared among {config.kv_heads} key/value heads")
    if config.model_type == "gpt2" and config.hidden % config.heads:
        raise ConvertError(f"config.json: a width of {config.hidden} cannot be split into {config.heads} heads")
    if config.head_dim % 2 or config.head_dim > 1024:
        raise ConvertError(f"config.json: a head size of {config.head_dim} is not one attention can use")
    if config.model_type != "gpt2" and config.activation != "silu":
        raise ConvertError(f"{config.name} models use a gated SiLU MLP; this one says {config.raw.get('hidden_act')!r}")
    return config
