"""The variants present in one model folder, whatever layout it has (the model library's view).

A loader knows its own layout in depth; the library only needs to say, for any folder, which
variants of the weights are on disk and how much each takes, so it reads file names and the
graphs' external-data entries (``variants``), never creates a session:

- onnxruntime-genai folders: the graphs ``genai_config.json`` names; the decoder's file name
  says the precision (``…-cpu-int4-…onnx`` is q4).
- diffusers folders (``model_index.json``): each component's ``model*.onnx``; a variant is whole
  when the denoiser (``unet``/``transformer``) has it.
- every other folder: the graphs at the root and under ``onnx/`` grouped by part
  (``model``, ``decoder_model_merged``, ``text_encoder``…) and suffix (``_q4``…); a variant is
  whole when the model's main part has it, the small parts falling back to their fp32 file.
"""

from __future__ import annotations

from pathlib import Path

from studio.core.models.loaders import read_json
from studio.core.models.variants import SUFFIXES, Variant, collect, genai_variant, graph_size, variant_files
from studio.errors import ModelError

#: The part that holds most of the weights, in the order a loader would pick it.
MAIN_PARTS = ("decoder_model_merged", "model", "decoder_model", "decoder_with_past_model")
#: Parts a merged decoder replaces: listing them in its variants would count bytes that never run.
MERGED_REPLACES = ("decoder_model", "decoder_with_past_model")
DIFFUSERS_PARTS = ("text_encoder", "text_encoder_2", "text_encoder_3", "unet", "transformer", "vae_decoder", "vae_encoder")
DENOISERS = ("unet", "transformer")
# Longest first, so "_q4f16" is never read as "_q4" + "f16".
_SUFFIXES_LONGEST_FIRST = sorted((s for s in SUFFIXES if s), key=len, reverse=True)


def folder_variants(folder: Path | str) -> dict[str, Variant]:
    """``{variant name: Variant}`` for the folder, in ``variants.VARIANTS`` order; ``{}`` when it
    holds no graph. Raises ``ModelError`` for a damaged ``genai_config.json``."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    if (folder / "genai_config.json").is_file():
        return _genai(folder)
    if (folder / "model_index.json").is_file():
        return _diffusers(folder)
    return _graphs(folder)


def _base_of(filename: str) -> str | None:
    """The part a graph file belongs to: ``decoder_model_merged_q4.onnx`` -> ``decoder_model_merged``."""
    if not filename.endswith(".onnx"):
        return None
    stem = filename[: -len(".onnx")]
    for suffix in _SUFFIXES_LONGEST_FIRST:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


def _graphs(folder: Path) -> dict[str, Variant]:
    parts: dict[str, dict[str, Path]] = {}
    for place in (folder, folder / "onnx"):  # the root first: the loaders read it first
        if not place.is_dir():
            continue
        bases = {_base_of(p.name) for p in place.iterdir() if p.is_file()} - {None}
        for base in sorted(bases):
            for name, path in variant_files(place, base).items():
                parts.setdefault(base, {}).setdefault(name, path)
    if not parts:
        return {}
    if "decoder_model_merged" in parts:
        for replaced in MERGED_REPLACES:
            parts.pop(replaced, None)
    main = next((base for base in MAIN_PARTS if base in parts), None)
    ordered = {base: parts[base] for base in sorted(parts, key=lambda b: (b != main, b))}
    return collect(ordered, (main,) if main else ())


def _genai(folder: Path) -> dict[str, Variant]:
    config = read_json(folder / "genai_config.json", "genai_config.json")
    model = config.get("model")
    if not isinstance(model, dict):
        raise ModelError(f"{folder / 'genai_config.json'} has no \"model\" section")
    names = []
    for section in ("decoder", "encoder", "embedding", "vision", "speech"):
        part = model.get(section)
        name = part.get("filename") if isinstance(part, dict) else None
        if isinstance(name, str) and name:
            if Path(name).name != name:  # a path, not a file name beside the config
                raise ModelError(f"genai_config.json names {name!r}: a graph must lie beside it, not in another folder")
            names.append(name)
    files = tuple(folder / name for name in names if (folder / name).is_file())
    if not names or folder / names[0] not in files:
        return {}
    variant = genai_variant(names[0])
    return {variant: Variant(variant, files, sum(graph_size(path) for path in files))}


def _diffusers(folder: Path) -> dict[str, Variant]:
    parts = {part: variant_files(folder / part, "model") for part in DIFFUSERS_PARTS}
    parts = {part: found for part, found in parts.items() if found}
    if not parts:
        return {}
    denoiser = tuple(part for part in DENOISERS if part in parts)[:1]
    return collect(parts, denoiser or tuple(parts))
