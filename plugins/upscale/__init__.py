"""Built-in plugin: upscaling. Super-resolution ONNX models (Real-ESRGAN and its family) run tile
by tile, and a plain high-quality resize that needs no model, so upscaling exists on first launch.
"""

from __future__ import annotations

import studio

from .loader import SuperResolutionLoader
from .resize import ResizeGenerator


@studio.hookimpl
def register_generators(register):
    register(ResizeGenerator())


@studio.hookimpl
def register_model_loaders(register):
    register(SuperResolutionLoader())
