"""Where a sampler's steps fall: spaced training timesteps, Karras sigmas, and the timestep of
a sigma, in float64 numpy as diffusers computes them."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np


def sigma_to_t(sigma, log_sigmas: np.ndarray) -> np.ndarray:
    """A sigma's (fractional) training timestep, by interpolating log-sigmas: diffusers' code verbatim."""
    log_sigma = np.log(np.maximum(sigma, 1e-10))
    dists = log_sigma - log_sigmas[:, np.newaxis]
    low_idx = np.cumsum((dists >= 0), axis=0).argmax(axis=0).clip(max=log_sigmas.shape[0] - 2)
    high_idx = low_idx + 1
    low = log_sigmas[low_idx]
    high = log_sigmas[high_idx]
    w = (low - log_sigma) / (low - high)
    w = np.clip(w, 0, 1)
    t = (1 - w) * low_idx + w * high_idx
    return t.reshape(np.shape(sigma))


def karras_sigmas(sigma_min: float, sigma_max: float, steps: int) -> np.ndarray:
    """Karras et al. 2022's noise levels (rho = 7), in float64 as diffusers computes them."""
    rho = 7.0
    ramp = np.linspace(0, 1, steps)
    min_inv_rho = sigma_min ** (1 / rho)
    max_inv_rho = sigma_max ** (1 / rho)
    return (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho


def spaced_timesteps(config: Mapping[str, Any], steps: int, dtype) -> np.ndarray:
    """Evenly spaced training timesteps, high to low (Table 2 of arXiv 2305.08891), diffusers' numpy."""
    train_steps = config["num_train_timesteps"]
    spacing = config["timestep_spacing"]
    if spacing == "linspace":
        if np.dtype(dtype).kind == "f":
            return np.linspace(0, train_steps - 1, steps, dtype=dtype)[::-1].copy()
        return np.linspace(0, train_steps - 1, steps).round()[::-1].copy().astype(dtype)
    if spacing == "leading":
        step_ratio = train_steps // steps
        timesteps = (np.arange(0, steps) * step_ratio).round()[::-1].copy().astype(dtype)
        timesteps += config["steps_offset"]
        return timesteps
    step_ratio = train_steps / steps
    timesteps = np.round(np.arange(train_steps, 0, -step_ratio)).astype(dtype)
    timesteps -= 1
    return timesteps
