"""Noise schedules (betas), as diffusers builds them in torch float32, bit for bit."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np


def torch_linspace_f32(start: float, end: float, steps: int) -> np.ndarray:
    """``torch.linspace(start, end, steps, dtype=torch.float32)``, bit for bit.

    torch steps in float32 from both ends towards the middle, each value rounded once (a
    fused multiply-add); ``np.linspace(...).astype(np.float32)`` differs in ~30 % of the
    1000 betas of Stable Diffusion's schedule.
    """
    start32, end32 = np.float32(start), np.float32(end)
    if steps == 1:
        return np.array([start32], dtype=np.float32)
    step = np.float64((end32 - start32) / np.float32(steps - 1))
    index = np.arange(steps, dtype=np.float64)
    from_start = np.float64(start32) + step * index
    from_end = np.float64(end32) - step * (steps - 1 - index)
    return np.where(index < steps // 2, from_start, from_end).astype(np.float32)


def betas_for_alpha_bar(num_diffusion_timesteps: int, max_beta: float = 0.999) -> np.ndarray:
    """The cosine schedule ("squaredcos_cap_v2"): betas from a cumulative alpha curve."""

    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [
        min(1 - alpha_bar((i + 1) / num_diffusion_timesteps) / alpha_bar(i / num_diffusion_timesteps), max_beta)
        for i in range(num_diffusion_timesteps)
    ]
    return np.array(betas, dtype=np.float32)


def cumprod_f32(values: np.ndarray) -> np.ndarray:
    """torch.cumprod of float32 on CPU: accumulated in float64, each prefix rounded to float32."""
    return np.cumprod(values.astype(np.float64)).astype(np.float32)


def rescale_zero_terminal_snr(betas: np.ndarray) -> np.ndarray:
    """Rescale betas so the last timestep is pure noise (arXiv 2305.08891, Algorithm 1)."""
    alphas_bar_sqrt = np.sqrt(cumprod_f32(np.float32(1.0) - betas))
    first, last = alphas_bar_sqrt[0], alphas_bar_sqrt[-1]
    alphas_bar_sqrt = alphas_bar_sqrt - last
    alphas_bar_sqrt = alphas_bar_sqrt * (first / (first - last))
    alphas_bar = alphas_bar_sqrt * alphas_bar_sqrt
    alphas = np.concatenate([alphas_bar[:1], alphas_bar[1:] / alphas_bar[:-1]])
    return (np.float32(1.0) - alphas).astype(np.float32)


def make_betas(config: Mapping[str, Any]) -> np.ndarray:
    steps = config["num_train_timesteps"]
    if config["trained_betas"] is not None:
        betas = np.array(config["trained_betas"], dtype=np.float32)
    elif config["beta_schedule"] == "linear":
        betas = torch_linspace_f32(config["beta_start"], config["beta_end"], steps)
    elif config["beta_schedule"] == "scaled_linear":
        roots = torch_linspace_f32(config["beta_start"] ** 0.5, config["beta_end"] ** 0.5, steps)
        betas = roots * roots
    else:
        betas = betas_for_alpha_bar(steps)
    if config["rescale_betas_zero_snr"]:
        betas = rescale_zero_terminal_snr(betas)
    return betas
