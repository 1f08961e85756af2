"""The loader that recognises a super-resolution model folder and makes its upscaler."""

from __future__ import annotations

from pathlib import Path

import studio

from .generator import UpscaleGenerator
from .model import LAYOUT, model_file


class SuperResolutionLoader(studio.ModelLoader):
    id = "upscale"
    title = "Upscaler"
    layout = LAYOUT

    def detect(self, folder: Path) -> bool:
        return model_file(folder) is not None

    def load(self, folder: Path) -> studio.Generator:
        path = model_file(folder)
        if path is None:  # the folder changed since detect
            raise studio.ModelError(f"{folder} holds no super-resolution .onnx file")
        return UpscaleGenerator(path, f"upscale:{folder.name}", f"Upscale ({folder.name})")
