"""Built-in plugin: latent generators (GANs, StyleGAN, VAEs) from ONNX folders, and the Emoji
VAE that ships in ``resources/models/emoji-vae``."""

from __future__ import annotations

import studio
from studio.core.base.paths import builtin_models

from .generator import LatentGenerator, LatentLoader


@studio.hookimpl
def register_generators(register):
    register(LatentGenerator(builtin_models() / "emoji-vae", "emoji-vae", "Emoji VAE"))


@studio.hookimpl
def register_model_loaders(register):
    register(LatentLoader())
