"""Sound as a value: ``Audio`` (read-only float32 samples and their rate) and its waveform ``Peaks``.

What an audio generator yields and an audio parameter takes; the timeline's clips share one
``Audio`` each (``studio.core.audio.timeline``), the mixer reads it, the sound files make it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: Frames per waveform peak at the finest level; each further level halves the resolution.
PEAK_BLOCK = 64


# -- audio buffers ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Audio:
    """Samples shared by every clip cut from them: float32 (frames, channels), read-only."""

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[:, None]
        if samples.ndim != 2 or samples.shape[1] not in (1, 2):
            raise ValueError(f"audio is (frames, 1 or 2 channels), not shape {samples.shape}")
        if self.sample_rate <= 0:
            raise ValueError("audio needs a positive sample rate")
        if samples.flags.writeable:
            samples = samples.copy() if samples is self.samples else samples
            samples.flags.writeable = False
        object.__setattr__(self, "samples", samples)

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @cached_property
    def peaks(self) -> "Peaks":
        """Computed once per buffer, on first use, and shared by all its clips."""
        return Peaks.of(self.samples)


@dataclass(frozen=True, eq=False)
class Peaks:
    """Min/max envelopes at halving resolutions, for drawing waveforms at any zoom cheaply.

    ``levels[k]`` holds (blocks, 2) float32 [min, max] over ``PEAK_BLOCK * 2**k`` frames of
    the channels' mean.
    """

    levels: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, samples: np.ndarray) -> "Peaks":
        mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
        blocks = -(-mono.size // PEAK_BLOCK)
        padded = np.zeros(blocks * PEAK_BLOCK, dtype=np.float32)
        padded[: mono.size] = mono
        shaped = padded.reshape(blocks, PEAK_BLOCK) if blocks else padded.reshape(0, PEAK_BLOCK)
        level = np.stack([shaped.min(axis=1), shaped.max(axis=1)], axis=1) if blocks else np.zeros((0, 2), np.float32)
        levels = [level.astype(np.float32)]
        while levels[-1].shape[0] > 1:
            prev = levels[-1]
            if prev.shape[0] % 2:
                prev = np.concatenate([prev, prev[-1:]])
            pairs = prev.reshape(-1, 2, 2)
            levels.append(np.stack([pairs[:, :, 0].min(axis=1), pairs[:, :, 1].max(axis=1)], axis=1))
        return cls(tuple(levels))

    def span(self, start: int, stop: int, columns: int) -> np.ndarray:
        """(columns, 2) [min, max] of frames ``start..stop`` split into ``columns`` pixels.

        Uses the coarsest level that still gives every column at least one block, so a
        whole-song overview costs the same as a close-up.
        """
        columns = max(1, int(columns))
        out = np.zeros((columns, 2), dtype=np.float32)
        if stop <= start or not self.levels or self.levels[0].shape[0] == 0:
            return out
        frames_per_column = (stop - start) / columns
        k = 0
        while k + 1 < len(self.levels) and PEAK_BLOCK * 2 ** (k + 1) <= frames_per_column:
            k += 1
        level, block = self.levels[k], PEAK_BLOCK * 2**k
        # Column c reads blocks [lo_c, hi_c).
        edges = np.linspace(start, stop, columns + 1)
        lo = np.minimum((edges[:-1] // block).astype(np.int64), level.shape[0] - 1)
        hi = np.minimum(np.ceil(edges[1:] / block).astype(np.int64), level.shape[0])
        inside = lo < hi
        lo, hi = lo[inside], hi[inside]
        if not lo.size:
            return out
        if frames_per_column < block:
            # Zoomed in past the finest level: a column lies in one block or across two.
            first, last = level[lo], level[hi - 1]
        else:
            # A block or more per column: the lo_c strictly increase, so reduceat gives
            # [lo_c, lo_c+1); the block a column boundary cuts through (hi_c - 1) is folded
            # in after, so neither neighbour misses its samples.
            upto = level[: hi[-1]]
            first = np.stack([np.minimum.reduceat(upto[:, 0], lo), np.maximum.reduceat(upto[:, 1], lo)], axis=1)
            last = level[hi - 1]
        out[inside, 0] = np.minimum(first[:, 0], last[:, 0])
        out[inside, 1] = np.maximum(first[:, 1], last[:, 1])
        return out
