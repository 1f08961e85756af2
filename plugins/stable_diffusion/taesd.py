"""TAESD: the tiny autoencoder that decodes Stable Diffusion's latents for previews, in real colour.

madebyollin's TAESD (SD 1.x/2.x) and TAESDXL (SDXL) read the pipeline's latents as they are
(no VAE scaling) and cost a few per cent of the VAE. Studio finds an ONNX export of one:

- inside the model's folder, where a user or a converter put it: ``taesd/`` (``taesdxl/`` for
  SDXL), ``tiny_vae/``, or ComfyUI's ``vae_approx/`` that holds both families' files;
- else in Studio's models folder, shared by every model of the family: ``taesd/`` or
  ``taesdxl/``, or a download named after one (``taesd-onnx/``, ``owner--taesdxl-onnx/``: a hub
  repository installs under its own name).

In such a folder the decoder is either the diffusers layout the ONNX exports of the diffusers
weights use (``config.json`` of an ``AutoencoderTiny``, ``vae_decoder/model.onnx``: pixels in
[-1, 1], as diffusers' ``DecoderTiny`` gives them) or the original weights' file
(``taesd_decoder.onnx`` / ``taesdxl_decoder.onnx``, or ``decoder.onnx``: pixels in [0, 1], as
madebyollin's ``Decoder``). SD 3 and FLUX (16 latent channels) have other tiny decoders: not these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

import studio
from studio.core.base import paths
from studio.core.models.loaders import read_json

NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


@dataclass(frozen=True)
class TinyDecoder:
    """One TAESD decoder graph and how to read its output."""

    path: Path
    signed: bool  # True: pixels in [-1, 1] (diffusers' layout); False: in [0, 1] (the original)
    scaling_factor: float = 1.0
    shift_factor: float = 0.0

    def decode(self, latents: np.ndarray, session: Callable[[Path], Any], run: Callable[..., list]) -> np.ndarray:
        """(1, 4, h, w) latents -> float32 (H, W, 3) in [0, 1]."""
        loaded = session(self.path)
        graph_in = loaded.session.get_inputs()[0]
        channels = graph_in.shape[1] if len(graph_in.shape) == 4 else None
        if isinstance(channels, int) and channels != latents.shape[1]:
            raise studio.ModelError(
                f"the TAESD decoder {self.path} takes {channels} latent channels; this model makes {latents.shape[1]}: "
                "it is another family's (use taesd for SD 1.x/2.x, taesdxl for SDXL)"
            )
        feed = latents / np.float32(self.scaling_factor) + np.float32(self.shift_factor)
        (pixels,) = run(loaded, [loaded.session.get_outputs()[0].name], {graph_in.name: feed.astype(NUMPY_TYPES.get(graph_in.type, np.float32))})
        pixels = pixels[0].astype(np.float32).transpose(1, 2, 0)
        if self.signed:
            pixels = pixels / 2.0 + 0.5
        return np.clip(pixels, 0.0, 1.0)


def find_tiny_decoder(folder: Path, xl: bool) -> TinyDecoder | None:
    """The TAESD decoder for the model in ``folder`` (``xl``: SDXL's family), or None."""
    family = "taesdxl" if xl else "taesd"
    inside = [folder / family, folder / "tiny_vae", folder / "vae_approx"]
    for candidate in [*inside, *_shared(family)]:
        found = _decoder_in(candidate, family)
        if found is not None:
            return found
    return None


def _shared(family: str) -> list[Path]:
    """Folders of Studio's models folder named for ``family`` (its own name first, then downloads
    such as ``taesd-onnx``; ``taesdxl-onnx`` is not SD 1.x's), in a stable order."""
    pattern = re.compile(rf"^(?:.+--)?{family}(?:[-_.].*)?$", re.IGNORECASE)
    try:
        names = sorted(entry.name for entry in paths.models().iterdir() if pattern.match(entry.name))
    except OSError:  # no models folder yet
        return []
    return [paths.models() / name for name in sorted(names, key=lambda name: name.lower() != family)]


def _decoder_in(folder: Path, family: str) -> TinyDecoder | None:
    if not folder.is_dir():
        return None
    diffusers_graph = folder / "vae_decoder" / "model.onnx"
    if diffusers_graph.is_file():
        config = read_json(folder / "config.json", f"{folder.name}/config.json", required=False)
        return TinyDecoder(diffusers_graph, True, _factor(config, "scaling_factor", 1.0, folder), _factor(config, "shift_factor", 0.0, folder))
    for name in (f"{family}_decoder.onnx", "decoder.onnx"):
        if (folder / name).is_file():
            return TinyDecoder(folder / name, False)
    return None


def _factor(config: dict, key: str, default: float, folder: Path) -> float:
    value = config.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -100.0 <= value <= 100.0 or (key == "scaling_factor" and value <= 0):
        raise studio.ModelError(f"{folder / 'config.json'}: {key} should be a number from -100 to 100 (a scale above 0), not {str(value)[:40]}")
    return float(value)
