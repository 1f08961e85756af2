"""A single-file Stable Diffusion checkpoint (``.safetensors``) -> Studio's SD ONNX layout.

Runs in the converter child (``python -m studio.convert sd-checkpoint SOURCE OUT``). The
parent recognised the file (``studio.core.models.checkpoint_kind``) and passes the
architecture it read in ``options["architecture"]``; the child reads it again when run alone.
diffusers' own ``from_single_file`` reads the weights (the key mapping of every SD family is
diffusers', not ours), with the config folder Studio ships and never the hub; the loaded
pipeline is then exported by ``studio.convert.sd_export``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

from studio.convert.protocol import ConvertError
from studio.convert.sd_config import write_config_folder

Report = Callable[[str, int, int, str], None]


def convert(source: Path, out: Path, options: dict[str, Any], report: Report) -> dict[str, Any]:
    """Read ``source`` with the architecture it holds, write the ONNX model folder into ``out``."""
    from studio.convert.sd_export import export_pipeline

    architecture = options.get("architecture") or _classify(source)
    description = architecture.get("description") or ""
    with tempfile.TemporaryDirectory(prefix="studio-sd-config-") as work:
        report("Checkpoint", 0, 0, "Reading the checkpoint")
        pipe = load_pipeline(Path(source), architecture, Path(work) / "config")
        result = export_pipeline(pipe, Path(out), options, report)  # its tokenizers are read from `work`
    if description:
        result["description"] = description
    return result


def load_pipeline(source: Path, architecture: dict[str, Any], config_folder: Path) -> Any:
    """The diffusers pipeline of ``source`` (float32, CPU), every weight read from the file."""
    import diffusers
    import torch

    write_config_folder(architecture, config_folder)
    pipeline_class = getattr(diffusers, str(architecture.get("pipeline")), None)
    if pipeline_class is None or not hasattr(pipeline_class, "from_single_file"):
        raise ConvertError(f"Studio cannot read a checkpoint as {architecture.get('pipeline')!r}")
    try:
        pipe = pipeline_class.from_single_file(str(source), config=str(config_folder), local_files_only=True,
                                               torch_dtype=torch.float32)
    except (ValueError, KeyError, RuntimeError, OSError) as exc:
        # A shape that does not fit the sizes read from the file, a missing tensor: the file is
        # not what its names say (or damaged). diffusers' words, after ours.
        raise ConvertError(f"{source.name} could not be read as {architecture.get('description') or 'a checkpoint'}: "
                           f"{exc}") from exc
    missing = [f"{part}.{name}" for part in ("unet", "vae", "text_encoder", "text_encoder_2")
               if getattr(pipe, part, None) is not None
               for name, tensor in getattr(pipe, part).state_dict().items() if tensor.device.type == "meta"]
    if missing:
        raise ConvertError(f"{source.name} lacks {len(missing)} weights the model needs (first: {missing[0]}): "
                           "it is damaged or only part of a checkpoint")
    return pipe


def _classify(source: Path) -> dict[str, Any]:
    from studio.core.models.checkpoint_kind import classify_checkpoint
    from studio.errors import ModelError

    try:
        return classify_checkpoint(source).architecture
    except ModelError as exc:
        raise ConvertError(str(exc)) from exc
