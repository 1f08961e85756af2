"""Where the schedulers' (and the pipeline's) Gaussian noise comes from.

A sampler draws noise at fixed points (the initial latents, and each step of an ancestral
or LCM sampler). Putting every draw behind one small interface lets a seed reproduce an
image exactly, and lets the parity tests replay the very noise diffusers drew.
"""

from __future__ import annotations

from typing import Iterable, Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class NoiseSource(Protocol):
    def normal(self, shape: Sequence[int]) -> np.ndarray:
        """Standard normal noise of ``shape``, float32."""
        ...


class SeededNoise:
    """Noise from a seed: numpy's PCG64, the same numbers on every platform and run.

    (torch's generator would not give the same numbers on CPU and CUDA anyway, so images
    are reproducible within Studio by seed, not bit-identical to a diffusers run.)
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._generator = np.random.Generator(np.random.PCG64(self.seed))

    def normal(self, shape: Sequence[int]) -> np.ndarray:
        return self._generator.standard_normal(tuple(shape), dtype=np.float32)

    def __repr__(self) -> str:
        return f"SeededNoise({self.seed})"


class RecordedNoise:
    """Hands back recorded arrays in order: replays the noise another sampler drew.

    A draw of a different shape, or one more draw than was recorded, means the replay has
    gone out of step with the recording, so it raises rather than inventing numbers.
    """

    def __init__(self, arrays: Iterable[np.ndarray]) -> None:
        self._arrays = [np.asarray(array, dtype=np.float32) for array in arrays]
        self._next = 0

    @property
    def remaining(self) -> int:
        """How many recorded arrays have not been drawn yet."""
        return len(self._arrays) - self._next

    def normal(self, shape: Sequence[int]) -> np.ndarray:
        if self._next >= len(self._arrays):
            raise ValueError(f"recorded noise exhausted: all {len(self._arrays)} recorded arrays were already drawn")
        array = self._arrays[self._next]
        if array.shape != tuple(shape):
            raise ValueError(
                f"recorded noise #{self._next} has shape {array.shape}, but shape {tuple(shape)} was asked for"
            )
        self._next += 1
        return array.copy()
