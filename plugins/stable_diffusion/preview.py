"""Step previews: the predicted clean latents shown as a picture after every step.

The VAE decoder costs about as much as a UNet step, so a step is shown either by TAESD, the
tiny autoencoder (``taesd.py``: real colours for a few per cent of the VAE), when a decoder for
the model's family is installed, or else for the price of a matrix product: the latent
channels mapped to colour by a fixed linear fit of the VAE's output to its input (the factors
the community measured for SD 1.x/2.x and SDXL latents), upsampled to image size by
repetition. A real VAE preview can be asked for every N steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

import studio

from .images import float_to_rgba
from .taesd import find_tiny_decoder

# rows: latent channels 0..3; columns: R, G, B
SD_FACTORS = np.array(
    [[0.298, 0.207, 0.208], [0.187, 0.286, 0.173], [-0.158, 0.189, 0.264], [-0.184, -0.271, -0.473]], dtype=np.float32
)
SDXL_FACTORS = np.array(
    [[0.3448, 0.4168, 0.4395], [-0.1953, -0.0290, 0.0250], [0.1074, 0.0886, -0.0163], [-0.3730, -0.2499, -0.2088]],
    dtype=np.float32,
)


def latent_preview(latents: np.ndarray, xl: bool = False, scale: int = 8) -> np.ndarray:
    """(1, 4, h, w) latents -> uint8 RGBA (h*scale, w*scale, 4)."""
    factors = SDXL_FACTORS if xl else SD_FACTORS
    channels = latents[0, : factors.shape[0]].transpose(1, 2, 0)  # h, w, 4
    rgb = channels @ factors[: channels.shape[2]]
    rgb = np.clip((rgb + 1.0) * 127.5, 0, 255).astype(np.uint8)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.repeat(np.repeat(rgba, scale, axis=0), scale, axis=1)


class StepPreviews:
    """The picture each step shows for a model: TAESD's decode when it has one, else latent colours."""

    def __init__(self, model: Any, ctx: studio.JobContext, session: Callable[[Path], Any]) -> None:
        self.model, self.ctx, self.session = model, ctx, session
        self.tiny = find_tiny_decoder(model.folder, model.is_xl)

    @property
    def kind(self) -> str:
        return "taesd" if self.tiny is not None else "latent"

    def image(self, latents: np.ndarray) -> np.ndarray:
        """(1, C, h, w) predicted clean latents -> uint8 RGBA at the picture's size."""
        if self.tiny is None:
            return latent_preview(latents, self.model.is_xl, self.model.vae_scale_factor)
        return float_to_rgba(self.tiny.decode(latents, self.session, self.ctx.run))
