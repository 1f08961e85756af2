"""The diffusers config folder a single-file checkpoint is read with, made offline.

A single-file checkpoint has weights and no configuration. diffusers' ``from_single_file``
needs a diffusers-layout folder of configs (``model_index.json``, ``unet/config.json``, …) and
would otherwise fetch one from the hub. Studio ships the published configs of each family
(``resources/convert/<family>/``, see its README) and lays over them the sizes
``studio.core.models.checkpoint_kind`` read from the checkpoint's tensors (``architecture``),
so a fine-tune, a pruned or a tiny checkpoint of the same family loads with its own sizes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from studio.convert.protocol import ConvertError
from studio.core.base.paths import resources

FAMILIES = ("sd1", "sd2", "sdxl")
COMPONENTS = ("unet", "vae", "text_encoder", "text_encoder_2")
TOKENIZER_FILES = ("vocab.json", "merges.txt")


def shipped_configs(family: str) -> Path:
    """``resources/convert/<family>``: the published configs of that family."""
    return resources() / "convert" / family


def write_config_folder(architecture: dict[str, Any], folder: Path) -> Path:
    """``folder`` filled with the family's configs overridden by ``architecture``; returned."""
    family = architecture.get("family")
    if family not in FAMILIES:
        raise ConvertError(f"Studio has no configuration for a checkpoint of family {family!r}")
    folder = Path(folder)
    shutil.copytree(shipped_configs(family), folder)
    for component in COMPONENTS:
        sizes = architecture.get(component)
        path = folder / component / "config.json"
        if sizes is None:
            continue
        if not path.is_file():
            raise ConvertError(f"a {family} checkpoint has no {component} in Studio's configuration")
        _update(path, sizes)
    prediction = architecture.get("prediction", "epsilon")
    _update(folder / "scheduler" / "scheduler_config.json", {"prediction_type": prediction})
    if family == "sd2" and prediction == "epsilon":  # SD 2.x base: 512 px, not the 768 px of the v-models
        _update(folder / "unet" / "config.json", {"sample_size": 64})
        _update(folder / "vae" / "config.json", {"sample_size": 512})
    index = {"_class_name": architecture.get("pipeline") or _read(folder / "model_index.json")["_class_name"]}
    if index["_class_name"] == "StableDiffusionXLInpaintPipeline":
        index["requires_aesthetics_score"] = False
    _update(folder / "model_index.json", index)
    vocabulary = resources() / "convert" / "clip_tokenizer"
    for tokenizer in ("tokenizer", "tokenizer_2"):
        if (folder / tokenizer).is_dir():
            for name in TOKENIZER_FILES:
                shutil.copyfile(vocabulary / name, folder / tokenizer / name)
    return folder


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _update(path: Path, values: dict[str, Any]) -> None:
    config = _read(path)
    config.update(values)
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
