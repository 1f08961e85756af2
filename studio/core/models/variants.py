"""The variants of one model's weights, as the public ONNX exports name their files.

One model often ships several copies of each graph, told apart by a suffix of the file name
(onnx-community / transformers.js repositories)::

    onnx/model.onnx  model_fp16.onnx  model_q4.onnx  model_q4f16.onnx  model_int8.onnx
    model_uint8.onnx  model_quantized.onnx  model_bnb4.onnx   (+ model*.onnx_data)

and encoder-decoder repositories repeat the suffixes for each part (``decoder_model_merged_q4``).
onnxruntime-genai folders name one file in ``genai_config.json``, often a long name that says
its precision (``…-cpu-int4-rtn-block-32-acc-level-4.onnx``). This module gives each file its
variant name, lists the variants present in a folder with their size on disk (the graph and
every external-data file it names, read from the graph, never guessed) and says which device
each suits. It reads file names and the graphs' own bytes only: no session is created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from studio.core.engine.model_safety import external_references

#: Every variant name, in the order a user is shown them: the plain export first.
VARIANTS = ("fp32", "fp16", "q4", "q4f16", "int8", "uint8", "quantized", "bnb4")

#: The file-name suffix of each variant (``model_q4.onnx``); the plain file is fp32.
SUFFIXES = {"": "fp32", "_fp16": "fp16", "_q4": "q4", "_q4f16": "q4f16", "_int8": "int8",
            "_uint8": "uint8", "_quantized": "quantized", "_bnb4": "bnb4"}

#: Which device each variant suits, in a few words a user reads in the model list. fp16 is not
#: a fast path on the CPU (onnxruntime inserts casts); 4- and 8-bit weights are, on the CPU.
SUITS = {
    "fp32": "CPU or GPU",
    "fp16": "GPU",
    "q4": "CPU (fastest there); GPU",
    "q4f16": "GPU",
    "int8": "CPU",
    "uint8": "CPU",
    "quantized": "CPU",
    "bnb4": "CPU",
}

#: Which variant to prefer on each kind of device when the user has not chosen one.
PREFERRED = {
    "cpu": ("q4", "int8", "quantized", "uint8", "fp32", "bnb4", "q4f16", "fp16"),
    "gpu": ("fp16", "q4f16", "fp32", "q4", "int8", "quantized", "uint8", "bnb4"),
}

# onnxruntime-genai's builder names its output after the precision: "model-cpu-int4-rtn-block-32-
# acc-level-4.onnx", "phi-3-mini-4k-instruct-cuda-fp16.onnx", "…-int4-awq-block-128.onnx".
_GENAI_PRECISION = re.compile(r"(?:^|[-_.])(int4|int8|fp16|bf16|fp32)(?:[-_.]|$)", re.IGNORECASE)
_GENAI_NAMES = {"int4": "q4", "int8": "int8", "fp16": "fp16", "bf16": "fp16", "fp32": "fp32"}


def variant_of(filename: str, base: str) -> str | None:
    """The variant ``filename`` holds of the graph ``base`` (``"model_q4.onnx"``, ``"model"`` ->
    ``"q4"``), or ``None`` when it is another graph's file."""
    if not filename.endswith(".onnx") or not filename.startswith(base):
        return None
    return SUFFIXES.get(filename[len(base):-len(".onnx")])


def genai_variant(filename: str) -> str:
    """The variant an onnxruntime-genai file name says (``…-cpu-int4-….onnx`` -> ``"q4"``);
    ``"fp32"`` when the name says none (the builder's plain ``model.onnx``)."""
    match = _GENAI_PRECISION.search(Path(filename).stem)
    return _GENAI_NAMES[match.group(1).lower()] if match else "fp32"


def variant_files(place: Path, base: str) -> dict[str, Path]:
    """Every variant of graph ``base`` in folder ``place``, in ``VARIANTS`` order."""
    found: dict[str, Path] = {}
    if place.is_dir():
        for path in place.iterdir():
            variant = variant_of(path.name, base) if path.is_file() else None
            if variant:
                found[variant] = path
    return {name: found[name] for name in VARIANTS if name in found}


def graph_size(path: Path) -> int:
    """Bytes on disk of one ONNX file and of every external-data file it names (each once).

    Only files inside the graph's folder count: a graph naming ``../x`` or ``/x`` is refused by
    ``model_safety`` when it is loaded, and its size must not reveal another file's either."""
    size = path.stat().st_size
    folder = path.parent.resolve()
    seen: set[str] = set()
    for reference in external_references(path):
        if reference.location in seen:
            continue
        seen.add(reference.location)
        if "\0" in reference.location:
            continue
        data = (path.parent / reference.location).resolve()
        if data.is_relative_to(folder) and data.is_file():
            size += data.stat().st_size
    return size


@dataclass(frozen=True)
class Variant:
    """One variant of a model: its name, its files (a graph per part) and their size."""

    name: str
    files: tuple[Path, ...]
    size: int

    @property
    def suits(self) -> str:
        return SUITS.get(self.name, "CPU or GPU")


def collect(parts: dict[str, dict[str, Path]], required: tuple[str, ...] = ()) -> dict[str, Variant]:
    """Variants of a model made of several graphs (``{part: variant_files(...)}``).

    A variant exists when every ``required`` part has it; a part that lacks it falls back to
    its fp32 file (the public MusicGen exports quantize the decoder, not always the EnCodec
    decoder). Without ``required`` every part is required."""
    required = required or tuple(parts)
    names = [name for name in VARIANTS if all(name in parts.get(part, {}) for part in required)]
    variants: dict[str, Variant] = {}
    for name in names:
        files = []
        for found in parts.values():
            path = found.get(name) or found.get("fp32")
            if path is not None:
                files.append(path)
        variants[name] = Variant(name, tuple(files), sum(graph_size(path) for path in files))
    return variants


def preferred(variants: list[str] | tuple[str, ...], device_kind: str) -> str | None:
    """The variant to use on a ``"cpu"`` or ``"gpu"`` device when the user chose none."""
    for name in PREFERRED.get(device_kind, PREFERRED["cpu"]):
        if name in variants:
            return name
    return variants[0] if variants else None


def human_size(size: int) -> str:
    """``1536`` -> ``"1.5 KB"``: sizes as a file manager shows them (powers of 1000)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"
