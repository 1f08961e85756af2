"""Choosing the next token from logits, in numpy, in the order transformers applies its
processors: repetition penalty, temperature, top-k, top-p, min-p, then a draw."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 0.8  # 0: greedy
    top_k: int = 40  # 0: off
    top_p: float = 1.0  # 1: off
    min_p: float = 0.0  # 0: off
    repetition_penalty: float = 1.0  # 1: off

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


def penalise_repetition(logits: np.ndarray, seen: np.ndarray, penalty: float) -> np.ndarray:
    """transformers' RepetitionPenaltyLogitsProcessor: seen tokens' scores shrink toward less likely."""
    if penalty == 1.0 or seen.size == 0:
        return logits
    logits = logits.copy()
    tokens = np.unique(seen)
    scores = logits[tokens]
    logits[tokens] = np.where(scores < 0, scores * penalty, scores / penalty)
    return logits


def next_token(logits: np.ndarray, settings: SamplingSettings, seen: np.ndarray, rng: np.random.Generator) -> int:
    """One token id from a vocabulary-sized row of logits."""
    if settings.greedy and settings.repetition_penalty == 1.0:
        return int(np.argmax(logits))  # the common greedy case, without a copy
    logits = penalise_repetition(logits.astype(np.float32), seen, settings.repetition_penalty)
    if settings.greedy:
        return int(np.argmax(logits))
    logits = logits / np.float32(settings.temperature)
    if 0 < settings.top_k < logits.size:
        kth = np.partition(logits, -settings.top_k)[-settings.top_k]
        logits = np.where(logits < kth, -np.inf, logits)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    if settings.top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        cumulative = np.cumsum(probs[order])
        drop = cumulative - probs[order] > settings.top_p  # keep the smallest set reaching top_p
        probs[order[drop]] = 0.0
    if settings.min_p > 0.0:
        probs = np.where(probs < settings.min_p * probs.max(), 0.0, probs)
    probs /= probs.sum()
    return int(rng.choice(probs.size, p=probs))
