"""Choosing the next code of each codebook: classifier-free guidance, temperature, top-k.

The order is transformers' for MusicGen: guidance on the raw logits first
(``ClassifierFreeGuidanceLogitsProcessor``), then temperature, then top-k, then a draw.
Temperature 0 means greedy (the likeliest code), which is what the parity tests compare.
"""

from __future__ import annotations

import numpy as np


def guide(logits: np.ndarray, codebooks: int, scale: float) -> np.ndarray:
    """(2C, V) logits, conditional rows first -> (C, V): uncond + (cond - uncond) * scale."""
    cond, uncond = logits[:codebooks], logits[codebooks:]
    return uncond + (cond - uncond) * np.float32(scale)


def choose(scores: np.ndarray, temperature: float, top_k: int, rng: np.random.Generator) -> np.ndarray:
    """One code per row of ``scores`` (C, V) -> (C,) int64."""
    if temperature <= 0:
        return scores.argmax(axis=1).astype(np.int64)
    scores = scores.astype(np.float64) / temperature
    vocab = scores.shape[1]
    if 0 < top_k < vocab:
        kth = np.partition(scores, vocab - top_k, axis=1)[:, vocab - top_k][:, None]
        scores = np.where(scores < kth, -np.inf, scores)
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    cumulative = np.cumsum(probs, axis=1)
    draws = rng.random((scores.shape[0], 1)) * cumulative[:, -1:]
    return np.minimum((cumulative <= draws).sum(axis=1), vocab - 1).astype(np.int64)
