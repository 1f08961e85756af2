"""Walking a latent space: variations around a latent, morphs between kept ones, and the
principal directions that move a picture most. Plain numpy, no sessions: the pictures are
made by ordinary jobs of the generator, each with its ``latent`` parameter set.

Gaussian latents (z ~ N(0, 1)) are mixed by spherical interpolation: a straight line between
two of them passes near the origin, where no training latent lies, and the picture in the
middle fades; the great circle keeps to the shell they live on. Intermediate latents
(StyleGAN's w) are mixed in straight lines, as the network saw them.

Directions follow GANSpace (Härkönen et al., 2020): for intermediate latents, the principal
components of sampled latents; for Gaussian latents (whose samples have no preferred
direction), the principal components of the pictures they make, carried back into the
latent space by least squares, so each slider changes what the pictures vary by most.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from studio.core.engine.latent_values import LatentSpace, latent_for_seed
from studio.errors import StudioError

MAX_FRAMES = 600
MAX_VARIATIONS = 64
FEATURE_SIDE = 16  # pictures are compared at 16 x 16: their layout and colour, not their grain


def mix(a: np.ndarray, b: np.ndarray, t: float, interpolation: str) -> np.ndarray:
    """The latent a fraction ``t`` of the way from ``a`` to ``b`` (``a`` at 0, ``b`` at 1, exactly)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if t <= 0.0:
        return a.astype(np.float32)
    if t >= 1.0:
        return b.astype(np.float32)
    if interpolation == "slerp":
        norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
        if norm_a > 1e-12 and norm_b > 1e-12:
            cos = float(np.clip(np.dot(a, b) / (norm_a * norm_b), -1.0, 1.0))
            omega = np.arccos(cos)
            if omega > 1e-4:  # nearly parallel: the straight line is the same path
                sin = np.sin(omega)
                return ((np.sin((1 - t) * omega) / sin) * a + (np.sin(t * omega) / sin) * b).astype(np.float32)
    return ((1 - t) * a + t * b).astype(np.float32)


def morph(keys: Sequence[np.ndarray], frames: int, interpolation: str) -> list[np.ndarray]:
    """``frames`` latents through ``keys`` in order, evenly spaced along the way from the first
    key to the last; the first and last frames are those keys exactly, and with as many frames
    as there are keys, every key is a frame."""
    if len(keys) < 2:
        raise StudioError("Keep at least two pictures to morph between them")
    if not len(keys) <= frames <= MAX_FRAMES:
        raise StudioError(f"A morph through {len(keys)} pictures takes {len(keys)} to {MAX_FRAMES} frames, not {frames}")
    sizes = {np.asarray(key).size for key in keys}
    if len(sizes) != 1:
        raise StudioError("The kept pictures come from latents of different sizes (different models): they cannot be morphed")
    segments = len(keys) - 1
    out = []
    for frame in range(frames):
        position = frame * segments / (frames - 1)
        index = min(int(position), segments - 1)
        out.append(mix(keys[index], keys[index + 1], position - index, interpolation))
    return out


@dataclass(frozen=True)
class Directions:
    """Principal directions of a latent space: ``vectors`` (k, size), unit length, strongest
    first; ``scales`` (k,), how far latents typically lie along each (one standard deviation);
    ``mean``, the sampled latents' average; ``explained``, each direction's share of the
    variance it was found in (the latents', or the pictures')."""

    vectors: np.ndarray
    scales: np.ndarray
    mean: np.ndarray
    explained: np.ndarray

    def offset(self, amounts: Sequence[float]) -> np.ndarray:
        """The move of ``amounts[k]`` standard deviations along direction k, summed."""
        amounts = np.asarray(amounts, dtype=np.float64)[: len(self.scales)]
        return (amounts * self.scales[: len(amounts)]) @ self.vectors[: len(amounts)]

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Latents spread as the sampled ones were (the mean, plus each direction's spread)."""
        noise = rng.standard_normal((count, len(self.scales)))
        return (self.mean + (noise * self.scales) @ self.vectors).astype(np.float32)


def find_directions(latents: np.ndarray, pictures: Sequence[np.ndarray] | None, count: int = 8) -> Directions:
    """The ``count`` strongest directions of sampled ``latents`` (n, size): principal components
    of the latents themselves when ``pictures`` is None (intermediate latents), else of the
    pictures they made, regressed back onto the latents."""
    latents = np.asarray(latents, dtype=np.float64)
    samples, size = latents.shape
    if samples < 3:
        raise StudioError(f"Finding directions needs at least 3 sampled latents, got {samples}")
    mean = latents.mean(axis=0)
    centred = latents - mean
    count = max(1, min(count, size, samples - 1))
    if pictures is None:
        _, singular, basis = np.linalg.svd(centred, full_matrices=False)
        variance = singular**2
        vectors = basis[:count]
    else:
        features = np.stack([_features(picture) for picture in pictures])
        features -= features.mean(axis=0)
        left, singular, _ = np.linalg.svd(features, full_matrices=False)
        variance = singular**2
        scores = left[:, :count] * singular[:count]  # each sample's place along each picture direction
        # The latent change that best explains a unit move along each picture direction.
        solution, *_ = np.linalg.lstsq(scores, centred, rcond=None)
        norms = np.linalg.norm(solution, axis=1, keepdims=True)
        vectors = solution / np.where(norms > 1e-12, norms, 1.0)
    scales = np.std(centred @ vectors.T, axis=0)
    explained = variance[: len(vectors)] / max(float(variance.sum()), 1e-12)
    return Directions(vectors.astype(np.float64), np.maximum(scales, 1e-6), mean, explained)


def _features(picture: np.ndarray) -> np.ndarray:
    """A picture as a small vector: its colours on a 16 x 16 grid, from 0 to 1."""
    rgb = np.asarray(picture)[..., :3].astype(np.float64) / 255.0
    height, width = rgb.shape[:2]
    rows = (np.arange(FEATURE_SIDE) * height) // FEATURE_SIDE
    cols = (np.arange(FEATURE_SIDE) * width) // FEATURE_SIDE
    return rgb[rows][:, cols].reshape(-1)


def random_latents(space: LatentSpace, count: int, seed: int, directions: Directions | None = None) -> list[np.ndarray]:
    """``count`` new latents from ``seed``: Gaussian ones as the generator draws them, or, for an
    intermediate space, spread as its sampled latents were (which needs its ``directions``)."""
    if space.interpolation == "slerp" or directions is None:
        if space.intermediate:
            raise StudioError("This model's latents are intermediate: find its directions first, then vary")
        return [latent_for_seed((seed + i) % 2**32, space.size) for i in range(count)]
    return list(directions.sample(count, np.random.default_rng(seed)))


def variations(space: LatentSpace, center: np.ndarray, spread: float, count: int, seed: int,
               directions: Directions | None = None) -> list[np.ndarray]:
    """``count`` latents around ``center``: each a fraction ``spread`` (0 to 1) of the way to a
    new random latent, so 0 is the picture itself and 1 is a new picture altogether."""
    if not 1 <= count <= MAX_VARIATIONS:
        raise StudioError(f"Variations come 1 to {MAX_VARIATIONS} at a time, not {count}")
    spread = float(np.clip(spread, 0.0, 1.0))
    others = random_latents(space, count, seed, directions)
    return [mix(center, other, spread, space.interpolation) for other in others]
