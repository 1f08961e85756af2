"""What a file or folder the user wants to import is, told without torch: ``recognise(path)``.

Studio imports four kinds of source, each converted by its own converter in the child process
(``python -m studio.convert FORMAT``):

    a single-file Stable Diffusion checkpoint (.safetensors)  -> "sd-checkpoint"
    a diffusers folder (model_index.json)                       -> "diffusers"
    a transformers causal-LM folder (config.json, safetensors)  -> "causal-lm"
    a transformers MusicGen folder (model_type "musicgen")      -> "musicgen"

Everything here reads file names, small JSON files and safetensors headers
(``safetensors_file.read_safetensors``: every offset checked, a truncated file named as such),
so a bad source is refused with a plain message before the child (and torch) starts. Pickled
weights (.ckpt, .pt, .pth, .bin) are refused: loading them can run code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.models.loaders import read_json
from studio.core.models.safetensors_file import read_safetensors
from studio.errors import ModelError

FORMATS = ("sd-checkpoint", "diffusers", "causal-lm", "musicgen")
#: transformers' ``model_type`` of the causal LMs the converter exports (``studio/convert/lm``
#: keeps the same list; tests/core/test_import_lm.py compares the two by running the child).
SUPPORTED_LM_TYPES = ("gpt2", "llama", "mistral", "qwen2", "phi3")
PICKLED = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")
WHAT_STUDIO_IMPORTS = (
    "Studio imports a Stable Diffusion checkpoint (.safetensors), a diffusers folder (with model_index.json), "
    "a Hugging Face causal language model folder (config.json and .safetensors weights: "
    + ", ".join(SUPPORTED_LM_TYPES) + ") or a MusicGen folder")
#: The smaller variants each format can write beside fp32 (``--variant``).
VARIANTS_OFFERED = {"sd-checkpoint": ("fp16",), "diffusers": ("fp16",), "causal-lm": ("int4", "int8"), "musicgen": ()}


@dataclass(frozen=True)
class ImportSource:
    """A recognised source: which converter reads it and what it holds."""

    path: Path
    format: str  # one of FORMATS
    description: str  # plain words: "Stable Diffusion 2.x (v-prediction)", "a Qwen2 language model"
    name: str  # the installed folder's name, unless the user gives one
    weights_bytes: int  # bytes of the weights that will be read
    parameters: int  # numbers in those weights
    architecture: dict[str, Any] = field(default_factory=dict)  # what the child needs (sd-checkpoint)
    variants_offered: tuple[str, ...] = ()


def pickled_refusal(path: Path) -> ModelError:
    return ModelError(
        f"{path.name} is a pickled file ({path.suffix or 'pickle'}): loading a pickle can run any code "
        "hidden in it, so Studio reads only .safetensors weights. The same model is almost always "
        "published as .safetensors too: download that one and import it")


def recognise(path: str | Path) -> ImportSource:
    """What ``path`` is, or a ``ModelError`` saying why Studio cannot import it."""
    path = Path(path).expanduser().absolute()
    if not path.exists():
        raise ModelError(f"{path} does not exist")
    if path.is_dir():
        return _folder(path)
    suffix = path.suffix.lower()
    if suffix in PICKLED:
        raise pickled_refusal(path)
    if suffix == ".safetensors":
        return _checkpoint(path)
    if suffix == ".onnx":
        raise ModelError(f"{path.name} is an ONNX graph already: add the folder that holds it with "
                         "`studio models add FOLDER` (or Models > Add folder) instead of importing it")
    raise ModelError(f"{path.name} is not something Studio can import. {WHAT_STUDIO_IMPORTS}")


def _checkpoint(path: Path) -> ImportSource:
    from studio.core.models.checkpoint_kind import classify_checkpoint  # the checkpoint's family, from its tensors

    kind = classify_checkpoint(path)
    return ImportSource(path, "sd-checkpoint", kind.description, _clean_name(path.stem), path.stat().st_size,
                        int(kind.parameters), dict(kind.architecture), VARIANTS_OFFERED["sd-checkpoint"])


def _folder(path: Path) -> ImportSource:
    if (path / "model_index.json").is_file():
        return _diffusers(path)
    if (path / "config.json").is_file():
        return _transformers(path)
    if (path / "genai_config.json").is_file() or any(path.glob("*.onnx")) or any(path.glob("*/*.onnx")):
        raise ModelError(f"{path} holds ONNX models already: add it with `studio models add {path}` "
                         "(or Models > Add folder) instead of importing it")
    raise ModelError(f"{path} is neither a diffusers folder (model_index.json) nor a Hugging Face model folder "
                     f"(config.json). {WHAT_STUDIO_IMPORTS}")


def _diffusers(path: Path) -> ImportSource:
    index = read_json(path / "model_index.json", "model_index.json")
    pipeline = str(index.get("_class_name") or "")
    lcm = pipeline == "LatentConsistencyModelPipeline"  # an LCM-distilled SD 1.5 (Dreamshaper v7...)
    if "StableDiffusion" not in pipeline and not lcm:
        raise ModelError(f"{path} is a diffusers {pipeline or 'pipeline'} folder; Studio imports Stable Diffusion "
                         "pipelines (SD 1.x, 2.x, SDXL, and LCM-distilled SD)")
    parts = [name for name, value in index.items() if not name.startswith("_") and isinstance(value, list)]
    weights = []
    for part in ("unet", "text_encoder", "text_encoder_2", "vae"):
        if part in parts:
            weights += _weights(path / part, required=part != "text_encoder_2")
    files = [read_safetensors(w) for w in weights]
    xl = "XL" in pipeline or "text_encoder_2" in parts
    inpaint = "Inpaint" in pipeline
    description = (f"a diffusers Stable Diffusion{' XL' if xl else ''} pipeline" + (" (inpainting)" if inpaint else "")
                   + (" distilled for few steps (LCM)" if lcm else ""))
    return ImportSource(path, "diffusers", description, _clean_name(path.name), sum(w.stat().st_size for w in weights),
                        sum(f.parameters() for f in files), {}, VARIANTS_OFFERED["diffusers"])


def _transformers(path: Path) -> ImportSource:
    config = read_json(path / "config.json", "config.json")
    model_type = str(config.get("model_type") or "")
    architectures = [str(a) for a in config.get("architectures") or [] if isinstance(a, str)]
    if model_type == "musicgen":
        fmt, description = "musicgen", "a MusicGen model"
    elif any(a.endswith("ForCausalLM") or a.endswith("LMHeadModel") for a in architectures) or model_type in SUPPORTED_LM_TYPES:
        if model_type not in SUPPORTED_LM_TYPES:
            raise ModelError(f"{path} is a {model_type or 'causal'} language model; Studio's converter exports "
                             f"these architectures: {', '.join(SUPPORTED_LM_TYPES)}")
        family = architectures[0].removesuffix("ForCausalLM").removesuffix("LMHeadModel") if architectures else model_type
        fmt, description = "causal-lm", f"a {family} language model"
    else:
        what = architectures[0] if architectures else (model_type or "model")
        raise ModelError(f"{path} holds a {what}, which is not a causal language model nor MusicGen. {WHAT_STUDIO_IMPORTS}")
    weights = _weights(path)
    files = [read_safetensors(w) for w in weights]
    return ImportSource(path, fmt, description, _clean_name(path.name), sum(w.stat().st_size for w in weights),
                        sum(f.parameters() for f in files), {}, VARIANTS_OFFERED[fmt])


def _weights(folder: Path, required: bool = True) -> list[Path]:
    """The safetensors files a folder's model is read from: the full-precision ones when a
    folder holds both (``diffusion_pytorch_model.safetensors`` beside ``….fp16.safetensors``)."""
    found = sorted(p for p in folder.glob("*.safetensors") if p.is_file()) if folder.is_dir() else []
    plain = [p for p in found if len(p.name.split(".")) == 2]  # name.safetensors, no .fp16. in it
    if plain or found:
        return plain or found
    pickled = sorted(p for p in folder.glob("*") if p.suffix.lower() in PICKLED) if folder.is_dir() else []
    if pickled:
        raise pickled_refusal(pickled[0])
    if required:
        raise ModelError(f"{folder} holds no .safetensors weights. {WHAT_STUDIO_IMPORTS}")
    return []


def _clean_name(text: str) -> str:
    """A folder name from a file's or folder's: no separators, no leading dot, not empty."""
    name = "".join(c if c.isalnum() or c in "-_.+ " else "-" for c in text).strip(" .-")
    return name[:100] or "imported-model"
