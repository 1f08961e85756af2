"""``convert()``: a transformers causal-LM folder -> the onnx-community layout text_lm reads.

    config.json  generation_config.json  tokenizer.json  tokenizer_config.json  (chat_template.jinja ...)
    onnx/model.onnx + onnx/model.onnx_data                     fp32, always
    onnx/model_q4.onnx (+ _data)  or  onnx/model_int8.onnx     as the ``variant`` option asks
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

from studio.convert.protocol import ConvertError

from .config import read_config
from .decoder import build_gpt2, build_llama
from .graph import Graph
from .rope import rotary_tables
from .variants import VARIANTS, write_variant
from .weights import Weights

#: Files copied as they are, when the source has them (the tokenizer and its settings).
COPIED = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
          "added_tokens.json", "chat_template.jinja", "chat_template.json", "vocab.json", "merges.txt", "tokenizer.model")


def _tokenizer(source: Path, out: Path) -> None:
    """tokenizer.json, which the app's tokenizers library reads; converted by transformers when
    the folder has only a slow tokenizer (sentencepiece's tokenizer.model)."""
    if (out / "tokenizer.json").is_file():
        return
    try:
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(str(source), local_files_only=True, use_fast=True).save_pretrained(str(out))
    except Exception as exc:  # noqa: BLE001 - transformers says why it cannot
        raise ConvertError(f"{source} has no tokenizer.json and transformers could not make one ({type(exc).__name__}: {exc})") from None
    if not (out / "tokenizer.json").is_file():
        raise ConvertError(f"{source} has no tokenizer.json, and its tokenizer has no fast version to make one from")


def _generation_config(source: Path, out: Path) -> None:
    if (out / "generation_config.json").is_file():
        return
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    keys = ("bos_token_id", "eos_token_id", "pad_token_id")
    (out / "generation_config.json").write_text(json.dumps({k: config[k] for k in keys if config.get(k) is not None}, indent=2) + "\n")


def _tied_embedding(config) -> str:
    """The graph's name for the token embedding when the lm_head is the same table, else ""."""
    if not config.tied:
        return ""
    return "transformer.wte.weight" if config.model_type == "gpt2" else "model.embed_tokens.weight"


def convert(source: Path, out: Path, options: dict[str, Any], report: Callable[[str, int, int, str], None]) -> dict[str, Any]:
    source, out = Path(source), Path(out)
    variant = options.get("variant") or ""
    if variant not in ("", *VARIANTS):
        raise ConvertError(f"a language model can be imported with the variant int4 or int8, not {variant!r}")
    config = read_config(source)
    weights = Weights(source)
    report("model", 0, config.layers, f"Reading the {config.name} weights")
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    model_path = out / "onnx" / "model.onnx"
    graph = Graph(out / "onnx" / "model.onnx_data")
    try:
        if config.model_type == "gpt2":
            build_gpt2(graph, config, weights, report)
        else:
            build_llama(graph, config, weights, rotary_tables(source, config), report)
        graph.save(model_path, "studio.convert.lm")
    finally:
        graph.close()
    variants = ["fp32"]
    if variant:
        report(variant, 0, 0, f"Writing the {variant} weights")
        variants.append(write_variant(variant, model_path, _tied_embedding(config)))
    for name in COPIED:
        if (source / name).is_file():
            shutil.copyfile(source / name, out / name)
    _tokenizer(source, out)
    _generation_config(source, out)
    parameters = weights.parameters()
    return {"layout": "lm", "variants": variants,
            "description": f"{config.name} language model, {parameters / 1e6:,.1f} M parameters, {config.layers} layers"}
