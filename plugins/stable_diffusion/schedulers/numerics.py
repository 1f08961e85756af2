"""float32 arithmetic the way torch rounds it, shared by several samplers: scalar log and exp,
quantiles, and Imagen's dynamic thresholding of the predicted clean latents."""

from __future__ import annotations

import math

import numpy as np


def log_f32(value) -> np.float32:
    """log of a float32 scalar, correctly rounded (as torch's scalar log is, nearly always); log(0) = -inf."""
    value = float(value)
    return np.float32(math.log(value)) if value > 0 else np.float32(-np.inf if value == 0 else np.nan)


def exp_f32(value) -> np.float32:
    value = float(value)
    return np.float32(math.exp(value)) if value != -np.inf else np.float32(0.0)


def f32(array) -> np.ndarray:
    return np.asarray(array, dtype=np.float32)


def _torch_quantile_rows(values: np.ndarray, q: float) -> np.ndarray:
    """torch.quantile(values, q, dim=1) with linear interpolation, in float32 as torch computes it."""
    ordered = np.sort(values, axis=1)
    rank = np.float32(q) * np.float32(ordered.shape[1] - 1)
    below = int(rank)
    above = int(math.ceil(rank))
    weight = np.float32(rank - np.float32(below))
    low, high = ordered[:, below], ordered[:, above]
    if weight < 0.5:
        return low + weight * (high - low)
    return high - (high - low) * (np.float32(1.0) - weight)


def threshold_sample(sample: np.ndarray, ratio: float, max_value: float) -> np.ndarray:
    """Dynamic thresholding (Imagen): clip x0 to a per-sample percentile and rescale."""
    batch = sample.shape[0]
    flat = sample.reshape(batch, -1)
    limit = _torch_quantile_rows(np.abs(flat), ratio)
    limit = np.minimum(np.maximum(limit, np.float32(1.0)), np.float32(max_value))[:, None]
    return (np.clip(flat, -limit, limit) / limit).reshape(sample.shape).astype(np.float32)
