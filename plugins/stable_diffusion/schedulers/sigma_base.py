"""The base of the samplers that walk a list of sigmas (noise levels), k-diffusion style:
Euler, Euler ancestral, DPM-Solver++."""

from __future__ import annotations

import numpy as np

from .base import Scheduler
from .numerics import f32


class SigmaScheduler(Scheduler):
    """Samplers that walk a list of sigmas (noise levels), k-diffusion style."""

    sigmas: np.ndarray

    def _train_sigmas(self) -> np.ndarray:
        return np.sqrt((np.float32(1.0) - self.alphas_cumprod) / self.alphas_cumprod).astype(np.float32)

    def _zero_snr_fixup(self) -> None:
        # diffusers' sigma samplers keep the last alpha_cumprod just above zero so the
        # largest sigma stays finite.
        if self.config["rescale_betas_zero_snr"]:
            self.alphas_cumprod[-1] = np.float32(2.0 ** -24)

    @property
    def init_noise_sigma(self) -> float:
        max_sigma = self.sigmas.max()
        if self.config["timestep_spacing"] in ("linspace", "trailing"):
            return float(max_sigma)
        return float(np.sqrt(max_sigma * max_sigma + np.float32(1.0)))

    def scale_model_input(self, sample: np.ndarray, timestep) -> np.ndarray:
        if self._step_index is None:
            self._init_step_index(timestep)
        sigma = self.sigmas[self._step_index]
        return (f32(sample) / np.sqrt(sigma * sigma + np.float32(1.0))).astype(np.float32)

    def _begin_step(self, timestep) -> None:
        self._require_timesteps()
        if self._step_index is None:
            self._init_step_index(timestep)
        if self._step_index >= len(self.timesteps):
            raise RuntimeError("all planned steps have been taken; call set_timesteps() again")

    def add_noise(self, original: np.ndarray, noise: np.ndarray, timestep) -> np.ndarray:
        self._require_timesteps()
        original = f32(original)
        sigma = self.sigmas[self._noise_indices(np.atleast_1d(timestep))]
        sigma = sigma.reshape((-1,) + (1,) * (original.ndim - 1))
        return (original + f32(noise) * sigma).astype(np.float32)
