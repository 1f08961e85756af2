"""Latent vectors: the ``latent`` parameter type, and what a generator says of its latent space.

A latent generator (a GAN, a VAE, the CPPN) turns a vector of numbers into a picture. Its
``latent`` parameter (type ``"latent"``, optional) holds that vector: left empty, the seed
draws it; given, it makes exactly that picture, so a picture can be moved, kept, reloaded
and morphed. Every result records the latent that made it, as plain numbers (float32 values
written as Python floats: JSON keeps them exactly), in its parameters, so a PNG's parameters
and a project's layer carry it.

``LatentSpace`` is what the explorer needs to know of a generator to walk its space; a
generator that has one sets ``latent_space``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from studio.errors import ParamError

#: The longest latent Studio takes (StyleGAN's w is 512; BigGAN's z 128): a bound before
#: anything is allocated from a pasted or loaded value.
MAX_LATENT_SIZE = 16384
INTERPOLATIONS = ("slerp", "lerp")


@dataclass(frozen=True)
class LatentSpace:
    """How a generator's latents behave, for the explorer and ``studio explore``.

    - ``size``: how many numbers a latent has.
    - ``interpolation``: ``"slerp"`` for a Gaussian latent (z drawn from N(0, 1): the path
      between two keeps to the shell where such latents lie), ``"lerp"`` for a learned
      intermediate latent (StyleGAN's w, where straight lines are what the network saw).
    - ``intermediate``: the latents are intermediate (w), so their principal directions are
      found from sampled latents themselves; otherwise from the pictures they make (GANSpace's
      way for z: the directions that change the picture most).
    - ``encodes``: the generator can find a picture's latent (a VAE's encoder): its optional
      ``image`` parameter, given, makes the result carry that picture's latent.
    - ``thumbnail_params``: parameter values that make a small, quick picture (grid cells,
      morph strips, studies); the full-size picture uses the form's own values.
    """

    size: int
    interpolation: str = "slerp"
    intermediate: bool = False
    encodes: bool = False
    thumbnail_params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or not 1 <= self.size <= MAX_LATENT_SIZE:
            raise ValueError(f"a latent space's size must be 1 to {MAX_LATENT_SIZE}, not {self.size!r}")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, not {self.interpolation!r}")


def coerce_latent(name: str, value: Any, optional: bool = True) -> tuple[float, ...] | None:
    """``value`` as a latent (a tuple of finite float32 numbers), or ``None`` (draw it from the
    seed). Takes a sequence or array of numbers, or text: ``0.1,-2,3e-1`` or a JSON list
    (the command line, a pasted value)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise ParamError(f"{name}: a latent (a list of numbers) is required")
    if isinstance(value, str):
        value = _parse_text(name, value)
    if isinstance(value, (bytes, Mapping)) or not hasattr(value, "__len__"):
        raise ParamError(f"{name}: expected a latent, a list of numbers; got {type(value).__name__}")
    if len(value) > MAX_LATENT_SIZE:
        raise ParamError(f"{name}: {len(value):,} numbers; Studio takes latents of up to {MAX_LATENT_SIZE:,}")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParamError(f"{name}: a latent is a list of numbers; this one holds something else") from None
    if array.ndim != 1 or array.size == 0:
        raise ParamError(f"{name}: a latent is one flat list of numbers, got shape {array.shape}")
    if isinstance(value, (list, tuple)) and any(isinstance(item, (bool, str)) for item in value):
        raise ParamError(f"{name}: a latent is a list of numbers; this one holds text or true/false")
    if not np.isfinite(array).all():
        raise ParamError(f"{name}: a latent's numbers must be finite; this one holds NaN or infinity")
    if np.abs(array).max() > 1e6:
        raise ParamError(f"{name}: a latent's numbers lie far below 1,000,000; this one reaches {np.abs(array).max():g}")
    return tuple(float(x) for x in array.astype(np.float32))


def _parse_text(name: str, text: str) -> Any:
    text = text.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParamError(f"{name}: not a JSON list of numbers ({exc.msg})") from None
    try:
        return [float(part) for part in text.replace(";", ",").split(",")]
    except ValueError:
        raise ParamError(f"{name}: expected numbers separated by commas, got {text[:40]!r}") from None


def latent_for_seed(seed: int, size: int) -> np.ndarray:
    """The Gaussian latent a seed draws (float32, ``size`` numbers): every generator whose
    latent is z ~ N(0, 1) draws it so, and the explorer draws the same for the same seed."""
    return np.random.default_rng(seed).standard_normal(size).astype(np.float32)


def latent_array(value: Any, size: int, name: str = "latent") -> np.ndarray:
    """A given latent as float32, refused in words when its length is not the model's."""
    array = np.asarray(value, dtype=np.float32).reshape(-1)
    if array.size != size:
        raise ParamError(f"{name}: {array.size} numbers, but this model's latent has {size}")
    return array


def picture_latent(given: Any, seed: int, size: int, count: int = 1) -> np.ndarray:
    """The latent of one picture: ``given`` (the request's ``latent``) when set, else the seed's
    Gaussian latent. A given latent makes one picture, so a batch of several is refused."""
    if given is None:
        return latent_for_seed(seed, size)
    if count > 1:
        raise ParamError("latent: a given latent makes one picture; make one image (batch of 1), or clear the latent to draw them from seeds")
    return latent_array(given, size)


def recorded(latent: np.ndarray) -> list[float]:
    """A latent as a result's parameters hold it: plain floats, exactly its float32 values."""
    return [float(x) for x in np.asarray(latent, dtype=np.float32).reshape(-1)]
