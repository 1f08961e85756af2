"""The base of the samplers that index alphas_cumprod by the integer timestep itself: DDIM, LCM."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .base import Scheduler
from .errors import SchedulerParamError
from .numerics import f32, threshold_sample


class AlphaScheduler(Scheduler):
    """Samplers that index alphas_cumprod by the integer timestep itself (DDIM, LCM)."""

    init_noise_sigma = 1.0

    def __init__(self, config: Mapping[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.final_alpha_cumprod = np.float32(1.0) if self.config["set_alpha_to_one"] else self.alphas_cumprod[0]
        self.timesteps = np.arange(0, self.config["num_train_timesteps"])[::-1].copy().astype(np.int64)

    def _alpha_prod(self, timestep: int) -> np.float32:
        return self.alphas_cumprod[timestep] if timestep >= 0 else self.final_alpha_cumprod

    def _check_in_range(self, timesteps: np.ndarray) -> None:
        if len(timesteps) and (timesteps.max() >= self.config["num_train_timesteps"] or timesteps.min() < 0):
            raise SchedulerParamError(
                f"{self.num_inference_steps} steps reach past this model's {self.config['num_train_timesteps']} "
                "training timesteps; use fewer steps"
            )

    def _predict_original(self, model_output: np.ndarray, sample: np.ndarray, alpha_prod: np.float32) -> np.ndarray:
        beta_prod = np.float32(1.0) - alpha_prod
        prediction = self.config["prediction_type"]
        with np.errstate(divide="ignore", invalid="ignore"):
            if prediction == "epsilon":
                original = (sample - np.sqrt(beta_prod) * model_output) / np.sqrt(alpha_prod)
            elif prediction == "sample":
                original = model_output
            else:
                original = np.sqrt(alpha_prod) * sample - np.sqrt(beta_prod) * model_output
        if self.config["thresholding"]:
            return threshold_sample(original, self.config["dynamic_thresholding_ratio"], self.config["sample_max_value"])
        if self.config["clip_sample"]:
            limit = np.float32(self.config["clip_sample_range"])
            return np.clip(original, -limit, limit)
        return original

    def add_noise(self, original: np.ndarray, noise: np.ndarray, timestep) -> np.ndarray:
        original = f32(original)
        alpha_prod = self.alphas_cumprod[np.atleast_1d(np.asarray(timestep)).astype(np.int64)]
        shape = (-1,) + (1,) * (original.ndim - 1)
        sqrt_alpha = np.sqrt(alpha_prod).reshape(shape)
        sqrt_one_minus_alpha = np.sqrt(np.float32(1.0) - alpha_prod).reshape(shape)
        return (sqrt_alpha * original + sqrt_one_minus_alpha * f32(noise)).astype(np.float32)

