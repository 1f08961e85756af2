"""The audio timeline: clips as plain data (float32 samples, frames x channels)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np


@dataclass(eq=False)
class Clip:
    name: str
    samples: np.ndarray
    sample_rate: int
    generator: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[:, None]
        if samples.ndim != 2 or self.sample_rate <= 0:
            raise ValueError("a clip is float32 samples (frames, channels) with a positive sample rate")
        self.samples = samples

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / self.sample_rate

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    def envelope(self, points: int) -> np.ndarray:
        """Peak level in ``points`` equal slices: what a waveform thumbnail draws."""
        mono = np.abs(self.samples).max(axis=1)
        if mono.size == 0:
            return np.zeros(points, dtype=np.float32)
        edges = np.linspace(0, mono.size, points + 1).astype(int)
        return np.array([mono[a:max(b, a + 1)].max() if a < mono.size else 0.0 for a, b in zip(edges[:-1], edges[1:])], dtype=np.float32)


class Timeline:
    def __init__(self) -> None:
        self.clips: list[Clip] = []

    def insert(self, clip: Clip, index: int | None = None) -> int:
        index = len(self.clips) if index is None else index
        self.clips.insert(index, clip)
        return index

    def remove(self, clip: Clip) -> int:
        index = self.clips.index(clip)
        del self.clips[index]
        return index

    @property
    def seconds(self) -> float:
        return sum(clip.seconds for clip in self.clips)
