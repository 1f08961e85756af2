"""Built-in plugin: Stable Diffusion (1.x, 2.x, XL, turbo/LCM) from diffusers ONNX model folders.

Studio ships no Stable Diffusion weights: add a folder exported by optimum (or downloaded in
that layout) with Settings > Model folders or ``studio models add``.
"""

from __future__ import annotations

import studio

from .generator import StableDiffusionLoader


@studio.hookimpl
def register_model_loaders(register):
    register(StableDiffusionLoader())
