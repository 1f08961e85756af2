"""A diffusers Stable Diffusion folder (``model_index.json``, safetensors weights) -> the ONNX layout.

The folder is checked before torch reads a byte of it: the components the SD plugin runs
(``unet``, ``vae``, ``text_encoder``, ``text_encoder_2``) must hold safetensors weights; a folder
that holds only pickled ``.bin``/``.ckpt`` weights is refused (loading a pickle can run code),
and a folder of another architecture (SD 3, Flux: a ``transformer`` instead of a ``unet``) is
named. Repositories that ship only the half-precision files (``*.fp16.safetensors``, common for
SDXL) are read too, and their weights widened to float32 for the export. Then diffusers builds
the pipeline from the folder alone (``local_files_only``: the hub is never asked) and
``sd_export.export_pipeline`` writes it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from studio.convert.protocol import ConvertError
from studio.convert.sd_export import Report, export_pipeline

#: The components the SD plugin runs and the file name diffusers/transformers give their weights.
WEIGHT_BASES = {"unet": "diffusion_pytorch_model", "vae": "diffusion_pytorch_model",
                "text_encoder": "model", "text_encoder_2": "model"}
PICKLED = (".bin", ".ckpt", ".pt", ".pth", ".pkl")
OTHER_DENOISERS = {"transformer": "a transformer-based model (SD 3, Flux, PixArt…)", "prior": "a Kandinsky/Würstchen prior",
                   "decoder": "a cascade decoder"}
MAX_INDEX_BYTES = 1 << 20
PICKLED_MESSAGE = ("{where} holds only pickled weights ({files}). Pickled formats can run code when they are loaded, "
                   "so Studio reads only safetensors; the same model is almost always published as .safetensors "
                   "(look for *.safetensors files in the model's repository)")


def convert(source: Path, out: Path, options: dict[str, Any], report: Report) -> dict[str, Any]:
    source = Path(source)
    index = read_index(source)
    variant = weights_variant(source, index)
    report("Loading", 0, 0, "Reading the diffusers folder")
    pipe = load_pipeline(source, index, variant)
    result = export_pipeline(pipe, Path(out), options, report)
    license_name = read_license(source)
    if license_name:
        result["license"] = license_name
    return result


def read_index(source: Path) -> dict[str, Any]:
    path = source / "model_index.json"
    if not source.is_dir() or not path.is_file():
        raise ConvertError(f"{source} is not a diffusers folder: it has no model_index.json")
    if path.stat().st_size > MAX_INDEX_BYTES:
        raise ConvertError(f"{path} is {path.stat().st_size} bytes long, too long for a model_index.json")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConvertError(f"{path} cannot be read as JSON ({exc})") from None
    if not isinstance(index, dict):
        raise ConvertError(f"{path} is not a JSON object")
    for part, what in OTHER_DENOISERS.items():
        if _listed(index, part) and not _listed(index, "unet"):
            raise ConvertError(f"{source} is {what}; Studio imports Stable Diffusion 1.x, 2.x and SDXL models (a UNet)")
    for part in ("unet", "vae", "text_encoder"):
        if not _listed(index, part):
            raise ConvertError(f"{source}'s model_index.json lists no {part}; Studio imports Stable Diffusion 1.x, 2.x "
                               "and SDXL models (UNet, VAE and CLIP text encoders)")
    return index


def _listed(index: dict[str, Any], part: str) -> bool:
    entry = index.get(part)
    return isinstance(entry, list) and len(entry) == 2 and entry[1] is not None


def weights_variant(source: Path, index: dict[str, Any]) -> str | None:
    """``None`` when every needed component has full-precision safetensors, ``"fp16"`` when some
    have only ``*.fp16.safetensors``; ``ConvertError`` for pickled-only or missing weights."""
    variant = None
    for part, base in WEIGHT_BASES.items():
        if not _listed(index, part):
            continue
        folder = source / part
        files = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        if any(re.fullmatch(rf"{base}(-\d+-of-\d+)?\.safetensors(\.index\.json)?", name) for name in files):
            continue
        if any(re.fullmatch(rf"{base}\.fp16(-\d+-of-\d+)?\.safetensors(\.index\.json)?|{base}(-\d+-of-\d+)?\.fp16\.safetensors", name) for name in files):
            variant = "fp16"
            continue
        pickled = [name for name in files if name.endswith(PICKLED)]
        if pickled:
            raise ConvertError(PICKLED_MESSAGE.format(where=f"{source.name}/{part}/", files=", ".join(pickled[:3])))
        raise ConvertError(f"{source}/{part}/ holds no weights ({base}.safetensors is missing)")
    return variant


def load_pipeline(source: Path, index: dict[str, Any], variant: str | None) -> Any:
    import torch
    from diffusers import DiffusionPipeline

    # The safety checker and its image processor are never exported: not loading them saves
    # 1.2 GB of memory on the SD 1.x repositories that ship one.
    skip = {name: None for name in ("safety_checker", "feature_extractor", "image_encoder") if _listed(index, name)}
    try:
        pipe = DiffusionPipeline.from_pretrained(str(source), local_files_only=True, use_safetensors=True,
                                                 torch_dtype=torch.float32, variant=variant, **skip)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConvertError(f"diffusers could not read {source}: {first[:400]}") from None
    return pipe.to(torch.float32)


def read_license(source: Path) -> str:
    """The ``license:`` of the model card's front matter (``README.md``), if it has one."""
    card = source / "README.md"
    try:
        head = card.read_text(encoding="utf-8", errors="replace")[:8192] if card.is_file() else ""
    except OSError:
        return ""
    match = re.match(r"---\s*\n(.*?)\n---", head, re.DOTALL)
    found = re.search(r"^license:\s*([^\n#]+)", match.group(1), re.MULTILINE) if match else None
    return found.group(1).strip().strip("'\"")[:100] if found else ""
