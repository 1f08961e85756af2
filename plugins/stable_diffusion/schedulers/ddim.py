"""DDIM: diffusers' DDIMScheduler, deterministic (eta = 0)."""

from __future__ import annotations

import numpy as np

from ..noise import NoiseSource
from .alpha_base import AlphaScheduler
from .base import StepResult
from .errors import SchedulerParamError
from .numerics import f32
from .spacing import spaced_timesteps


class DDIM(AlphaScheduler):
    """diffusers' DDIMScheduler with eta = 0 (deterministic), as its pipelines use it."""

    DEFAULTS = dict(
        num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear", trained_betas=None,
        clip_sample=True, set_alpha_to_one=True, steps_offset=0, prediction_type="epsilon", thresholding=False,
        dynamic_thresholding_ratio=0.995, clip_sample_range=1.0, sample_max_value=1.0, timestep_spacing="leading",
        rescale_betas_zero_snr=False,
    )
    has_begin_index = False  # DDIM finds its place by the timestep value alone

    def _set_timesteps(self, num_inference_steps: int) -> None:
        train_steps = self.config["num_train_timesteps"]
        if num_inference_steps > train_steps:
            raise SchedulerParamError(f"DDIM can take at most {train_steps} steps with this model, not {num_inference_steps}")
        self.num_inference_steps = num_inference_steps
        self.timesteps = spaced_timesteps(self.config, num_inference_steps, np.int64)
        self._check_in_range(self.timesteps)

    def step(self, model_output: np.ndarray, timestep, sample: np.ndarray, noise: NoiseSource) -> StepResult:
        self._require_timesteps()
        model_output, sample = f32(model_output), f32(sample)
        timestep = int(timestep)
        prev_timestep = timestep - self.config["num_train_timesteps"] // self.num_inference_steps
        alpha_prod_t = self._alpha_prod(timestep)
        alpha_prod_t_prev = self._alpha_prod(prev_timestep)
        beta_prod_t = np.float32(1.0) - alpha_prod_t
        prediction = self.config["prediction_type"]
        with np.errstate(divide="ignore", invalid="ignore"):
            if prediction == "epsilon":
                pred_epsilon = model_output
            elif prediction == "sample":
                pred_epsilon = (sample - np.sqrt(alpha_prod_t) * model_output) / np.sqrt(beta_prod_t)
            else:
                pred_epsilon = np.sqrt(alpha_prod_t) * model_output + np.sqrt(beta_prod_t) * sample
        original = self._predict_original(model_output, sample, alpha_prod_t)
        # eta = 0: no variance term, so the direction to x_t keeps all of 1 - alpha_prev.
        direction = np.sqrt(np.float32(1.0) - alpha_prod_t_prev) * pred_epsilon
        prev_sample = np.sqrt(alpha_prod_t_prev) * original + direction
        return StepResult(prev_sample.astype(np.float32), original.astype(np.float32))
