"""Built-in plugin: MusicGen text-to-music from the public ONNX exports (a loader for model
folders; no model ships with Studio)."""

from __future__ import annotations

import studio

from .generator import MusicGenGenerator, MusicGenLoader

__all__ = ["MusicGenGenerator", "MusicGenLoader"]


@studio.hookimpl
def register_model_loaders(register):
    register(MusicGenLoader())
