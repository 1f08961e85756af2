"""Causal-LM folders as optimum / Hugging Face ONNX repositories and onnxruntime-genai ship them.

    config.json  generation_config.json  tokenizer.json  tokenizer_config.json
    model.onnx | decoder_model_merged.onnx        at the root or under onnx/, each possibly in
                                                  several variants (model_fp16, model_q4, ...)
    onnxruntime-genai: genai_config.json naming the decoder file, and no config.json

Reading a folder looks at file names, JSON and the graphs' external-data names only; an ONNX
file is opened when a job runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import studio
from studio.core.models import variants as model_variants
from studio.core.models.limits import bounded_int, check_file_size
from studio.core.models.loaders import read_json

from .genai_folder import OPTIMUM_NAMES, GraphNames, read_genai_config

#: Longer than any released model's context (a million tokens), far below what would overflow.
MAX_CONTEXT = 1 << 24
MAX_VOCAB = 1 << 24
MAX_TEMPLATE = 1 << 20

#: The graphs a folder may hold, best first; each may come in every variant (``model_q4.onnx``).
BASES = ("decoder_model_merged", "model")
#: Split decoders read alone, when nothing better is there (fp32 only).
FALLBACK_FILES = ("decoder_with_past_model.onnx", "decoder_model.onnx")
LAYOUT = (
    "a causal-LM ONNX folder: config.json, tokenizer.json and model.onnx or decoder_model_merged.onnx "
    "(at the root or under onnx/; any of the variants model_fp16, model_q4, model_q4f16, model_int8, "
    "model_uint8, model_quantized, model_bnb4), or an onnxruntime-genai folder (genai_config.json)"
)


def _size(path: Path) -> int:
    try:
        return model_variants.graph_size(path)
    except (OSError, studio.StudioError):  # a damaged file: said when a job opens it, not here
        return path.stat().st_size


def find_variants(folder: Path) -> dict[str, model_variants.Variant]:
    """The variants of the decoder graph in ``folder`` (ONNX-repo layouts; not genai folders)."""
    for place in (folder, folder / "onnx"):
        for base in BASES:
            files = model_variants.variant_files(place, base)
            if files:
                return {name: model_variants.Variant(name, (path,), _size(path)) for name, path in files.items()}
    for place in (folder, folder / "onnx"):
        for name in FALLBACK_FILES:
            if (place / name).is_file():
                return {"fp32": model_variants.Variant("fp32", (place / name,), _size(place / name))}
    return {}


#: A graph this small is read to see its precision; the builder keeps the weights outside it.
GRAPH_READ_LIMIT = 64 << 20
#: Operators that say what a graph's weights are (``MatMulNBits``: 4-bit).
PRECISION_OPS = {"MatMulNBits": "q4", "MatMulInteger": "int8", "DynamicQuantizeMatMul": "int8"}


def _genai_variant(path: Path) -> str:
    """The variant of a genai folder's graph: as its name says (``…-int4-….onnx``), else as the
    graph shows, since the builder's default name is ``model.onnx`` whatever the precision."""
    named = model_variants.genai_variant(path.name)
    if named != "fp32" or path.stat().st_size > GRAPH_READ_LIMIT:
        return named
    try:
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # noqa: BLE001 - a damaged graph is said when a job opens it
        return named
    for node in graph.node:
        if node.op_type in PRECISION_OPS:
            return PRECISION_OPS[node.op_type]
    if any(i.type.tensor_type.elem_type == 10 for i in graph.input):  # 10: float16 past values
        return "fp16"
    return named


def _genai_file(folder: Path) -> Path | None:
    """The decoder a genai_config.json names, when it names one that is there (for detection)."""
    genai = folder / "genai_config.json"
    if not genai.is_file():
        return None
    try:
        check_file_size(genai)
        name = json.loads(genai.read_text(encoding="utf-8"))["model"]["decoder"]["filename"]
    except (OSError, ValueError, KeyError, TypeError, studio.StudioError):
        return None
    return folder / name if isinstance(name, str) and name and (folder / name).is_file() else None


def find_model_file(folder: Path) -> Path | None:
    """The file a folder's plain variant (or its only one) is in, if any."""
    genai = _genai_file(folder)
    if genai is not None:
        return genai
    found = find_variants(folder)
    return (found.get("fp32") or next(iter(found.values()))).files[0] if found else None


def is_lm_folder(folder: Path) -> bool:
    if (folder / "genai_config.json").is_file():  # a broken one is explained by LMModel.read
        return (folder / "tokenizer.json").is_file() or (folder / "config.json").is_file()
    return (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file() and bool(find_variants(folder))


@dataclass
class LMModel:
    folder: Path
    model_file: Path  # the plain variant's file, else the first variant's
    config: dict[str, Any]
    generation: dict[str, Any] = field(default_factory=dict)
    tokenizer_config: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, model_variants.Variant] = field(default_factory=dict)
    names: GraphNames = OPTIMUM_NAMES
    template_file: str | None = None  # chat_template.jinja, as transformers >= 4.5x saves it

    @classmethod
    def read(cls, folder: Path) -> "LMModel":
        folder = Path(folder)
        names = OPTIMUM_NAMES
        generation: dict[str, Any] = {}
        if (folder / "genai_config.json").is_file():
            genai = read_genai_config(folder, read_json(folder / "genai_config.json", "genai_config.json"))
            variant = _genai_variant(genai.model_file)
            found = {variant: model_variants.Variant(variant, (genai.model_file,), _size(genai.model_file))}
            config = read_json(folder / "config.json", "config.json", required=False) or genai.config
            generation, names = dict(genai.generation), genai.names
        else:
            config = read_json(folder / "config.json", "config.json")
            found = find_variants(folder)
        if not found:
            raise studio.ModelError(f"{folder} has no model.onnx or decoder_model_merged.onnx, in any variant (looked at the root and in onnx/)")
        if not (folder / "tokenizer.json").is_file():
            raise studio.ModelError(f"{folder} has no tokenizer.json: Studio needs the model's tokenizer to read and write its text")
        generation.update(read_json(folder / "generation_config.json", "generation_config.json", required=False) or {})
        tokenizer_config = read_json(folder / "tokenizer_config.json", "tokenizer_config.json", required=False)
        model_file = (found.get("fp32") or next(iter(found.values()))).files[0]
        model = cls(folder, model_file, config, generation, tokenizer_config, found, names, _template_file(folder))
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
        template = self.tokenizer_config.get("chat_template") or self.template_file
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


def _template_file(folder: Path) -> str | None:
    path = folder / "chat_template.jinja"
    try:
        if path.is_file() and path.stat().st_size <= MAX_TEMPLATE:
            return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # no chat template: Continue still works, Rewrite says why not
    return None
