"""onnxruntime-genai folders as its model builder writes them, read without a config.json.

    genai_config.json   tokenizer.json  tokenizer_config.json  chat_template.jinja
    model.onnx + model.onnx.data        (or a long name: llama-cpu-int4-rtn-block-32-acc-level-4.onnx)

``genai_config.json`` says everything a decoder needs: the file, the context length, heads, KV
heads, head size, hidden size, vocabulary, the eos/bos/pad ids, the names of the graph's
inputs and outputs (``past_key_values.%d.key``...) and the search defaults. This module turns it
into the shapes the rest of the plugin reads: a config.json-like dict (transformers' key
names), a generation_config.json-like dict, and the graph's names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import studio
from studio.core.models.limits import bounded_int

#: The sizes a decoder section states, with the bounds config.json's are held to (layout.py).
SIZES = {"num_attention_heads": 1024, "num_key_value_heads": 1024, "head_size": 1 << 14, "hidden_size": 1 << 17,
         "num_hidden_layers": 1 << 12}
LONGEST = 1 << 24  # context and vocabulary, as layout.MAX_CONTEXT / MAX_VOCAB

#: genai's search keys that mean the same as generation_config.json's.
SEARCH_KEYS = ("do_sample", "temperature", "top_k", "top_p", "repetition_penalty")


@dataclass(frozen=True)
class GraphNames:
    """The names a decoder graph gives its inputs and outputs (``%d``: the layer)."""

    input_ids: str = "input_ids"
    attention_mask: str = "attention_mask"
    position_ids: str = "position_ids"
    past_key: str = "past_key_values.%d.key"
    past_value: str = "past_key_values.%d.value"
    logits: str = "logits"
    present_key: str = "present.%d.key"
    present_value: str = "present.%d.value"


#: What optimum and the Hugging Face ONNX repositories name them.
OPTIMUM_NAMES = GraphNames()


def _section(data: Any, key: str, where: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, dict):
        raise studio.ModelError(f"{where} has no {key!r} section: it is not an onnxruntime-genai configuration")
    return value


def _name(value: Any, default: str, layered: bool = False) -> str:
    """A graph name from the config; a layer's template must hold exactly one ``%d``."""
    if not isinstance(value, str) or not value or len(value) > 200:
        return default
    if layered and value.count("%d") != 1 or not layered and "%" in value:
        return default
    return value


@dataclass
class GenaiConfig:
    model_file: Path
    config: dict[str, Any]
    generation: dict[str, Any]
    names: GraphNames


def read_genai_config(folder: Path, data: Any) -> GenaiConfig:
    """The decoder ``genai_config.json`` (already parsed as ``data``) describes, checked."""
    where = str(folder / "genai_config.json")
    model = _section(data, "model", where)
    decoder = _section(model, "decoder", where + " 'model'")
    filename = decoder.get("filename")
    if not isinstance(filename, str) or not filename.strip():
        raise studio.ModelError(f"{where} names no decoder file (model.decoder.filename)")
    path = folder / filename
    if Path(filename).name != filename or not path.is_file():
        raise studio.ModelError(f"{where} names {filename}, which is not a file in {folder}: copy the whole model folder")
    # Checked here under genai's own names, so a bad value is named as the file names it.
    for key in ("context_length", "vocab_size"):
        bounded_int(model, key, 1, LONGEST, where + " 'model'", default=None)
    for key, largest in SIZES.items():
        bounded_int(decoder, key, 1, largest, where + " 'model.decoder'", default=None)
    config = {
        "model_type": model.get("type"),
        "max_position_embeddings": model.get("context_length"),
        "vocab_size": model.get("vocab_size"),
        "num_attention_heads": decoder.get("num_attention_heads"),
        "num_key_value_heads": decoder.get("num_key_value_heads"),
        "head_dim": decoder.get("head_size"),
        "hidden_size": decoder.get("hidden_size"),
        "num_hidden_layers": decoder.get("num_hidden_layers"),
        "eos_token_id": model.get("eos_token_id"),
        "bos_token_id": model.get("bos_token_id"),
        "pad_token_id": model.get("pad_token_id"),
    }
    search = data.get("search") if isinstance(data.get("search"), dict) else {}
    generation = {key: search[key] for key in SEARCH_KEYS if key in search}
    inputs = decoder.get("inputs") if isinstance(decoder.get("inputs"), dict) else {}
    outputs = decoder.get("outputs") if isinstance(decoder.get("outputs"), dict) else {}
    base = OPTIMUM_NAMES
    names = GraphNames(
        input_ids=_name(inputs.get("input_ids"), base.input_ids),
        attention_mask=_name(inputs.get("attention_mask"), base.attention_mask),
        position_ids=_name(inputs.get("position_ids"), base.position_ids),
        past_key=_name(inputs.get("past_key_names"), base.past_key, layered=True),
        past_value=_name(inputs.get("past_value_names"), base.past_value, layered=True),
        logits=_name(outputs.get("logits"), base.logits),
        present_key=_name(outputs.get("present_key_names"), base.present_key, layered=True),
        present_value=_name(outputs.get("present_value_names"), base.present_value, layered=True),
    )
    return GenaiConfig(path, {k: v for k, v in config.items() if v is not None}, generation, names)
