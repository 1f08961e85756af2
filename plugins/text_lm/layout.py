"""Causal-LM folders as optimum / Hugging Face ONNX repositories and onnxruntime-genai ship them.

    config.json  generation_config.json  tokenizer.json  tokenizer_config.json
    model.onnx | decoder_model_merged.onnx        at the root or under onnx/
    (onnxruntime-genai: genai_config.json naming the decoder file)

Reading a folder looks at file names and JSON only; the ONNX file is opened when a job runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import studio
from studio.core.models.limits import bounded_int, check_file_size
from studio.core.models.loaders import read_json

#: Longer than any released model's context (a million tokens), far below what would overflow.
MAX_CONTEXT = 1 << 24
MAX_VOCAB = 1 << 24

MODEL_FILES = ("decoder_model_merged.onnx", "model.onnx", "decoder_with_past_model.onnx", "decoder_model.onnx")
LAYOUT = "a causal-LM ONNX folder: config.json, tokenizer.json and model.onnx or decoder_model_merged.onnx (at the root or under onnx/), or an onnxruntime-genai folder"


def find_model_file(folder: Path) -> Path | None:
    genai = folder / "genai_config.json"
    if genai.is_file():
        try:
            check_file_size(genai)
            name = json.loads(genai.read_text(encoding="utf-8"))["model"]["decoder"]["filename"]
        except (OSError, ValueError, KeyError, TypeError, studio.StudioError):
            name = None
        if name and (folder / name).is_file():
            return folder / name
    for place in (folder, folder / "onnx"):
        for name in MODEL_FILES:
            if (place / name).is_file():
                return place / name
    return None


def is_lm_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file() and find_model_file(folder) is not None and (
        (folder / "tokenizer.json").is_file() or (folder / "genai_config.json").is_file()
    )


@dataclass
class LMModel:
    folder: Path
    model_file: Path
    config: dict[str, Any]
    generation: dict[str, Any] = field(default_factory=dict)
    tokenizer_config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path) -> "LMModel":
        folder = Path(folder)
        config = read_json(folder / "config.json", "config.json")
        model_file = find_model_file(folder)
        if model_file is None:
            raise studio.ModelError(f"{folder} has no model.onnx or decoder_model_merged.onnx (looked at the root and in onnx/)")
        if not (folder / "tokenizer.json").is_file():
            raise studio.ModelError(f"{folder} has no tokenizer.json: Studio needs the model's tokenizer to read and write its text")
        generation = read_json(folder / "generation_config.json", "generation_config.json", required=False)
        tokenizer_config = read_json(folder / "tokenizer_config.json", "tokenizer_config.json", required=False)
        model = cls(folder, model_file, config, generation, tokenizer_config)
        # Every size is read once now, so a bad one is reported when the folder is added.
        _ = model.context_length, model.vocab_size, model.attention_shape()
        return model

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def context_length(self) -> int:
        for key in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
            if self.config.get(key) is not None:
                return bounded_int(self.config, key, 1, MAX_CONTEXT, f"{self.folder / 'config.json'}")
        value = self.tokenizer_config.get("model_max_length")
        return int(value) if isinstance(value, int) and 0 < value < 10**7 else 2048

    @property
    def vocab_size(self) -> int | None:
        return bounded_int(self.config, "vocab_size", 1, MAX_VOCAB, f"{self.folder / 'config.json'}", default=None)

    def attention_shape(self) -> tuple[int, int, int]:
        """(heads, key/value heads, head size) as config.json gives them, each bounded: they
        size the empty key/value cache when the graph leaves its dimensions open."""
        where = f"{self.folder / 'config.json'}"
        config = self.config

        def named(*keys: str) -> str:  # the first of a size's names (GPT-2's or Llama's) that is given
            return next((key for key in keys if config.get(key) is not None), keys[0])

        heads = bounded_int(config, named("num_attention_heads", "n_head"), 1, 1024, where, default=1)
        kv_heads = bounded_int(config, "num_key_value_heads", 1, heads, where, default=heads)
        width = bounded_int(config, named("hidden_size", "n_embd"), 1, 1 << 17, where, default=heads)
        head_dim = bounded_int(config, "head_dim", 1, 1 << 14, where, default=max(1, width // heads))
        return heads, kv_heads, head_dim

    @property
    def chat_template(self) -> str | None:
        template = self.tokenizer_config.get("chat_template")
        if isinstance(template, list):  # several named templates: the default one
            template = next((t.get("template") for t in template if t.get("name") == "default"), None)
        return template if isinstance(template, str) and template.strip() else None

    def eos_ids(self, tokenizer_eos: int | None) -> set[int]:
        ids: set[int] = set()
        for source in (self.generation, self.config):
            value = source.get("eos_token_id")
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, list):
                ids.update(v for v in value if isinstance(v, int))
        if tokenizer_eos is not None:
            ids.add(tokenizer_eos)
        return ids
