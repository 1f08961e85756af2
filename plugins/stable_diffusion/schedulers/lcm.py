"""LCM: diffusers' LCMScheduler, for latent consistency models (1-8 steps)."""

from __future__ import annotations

import numpy as np

from ..noise import NoiseSource
from .alpha_base import AlphaScheduler
from .base import StepResult
from .config import check_steps, check_strength, is_int, require
from .errors import SchedulerParamError
from .numerics import f32


class LCM(AlphaScheduler):
    """diffusers' LCMScheduler: consistency-model steps (1-8), re-noised between steps."""

    uses_spacing = False

    DEFAULTS = dict(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        trained_betas=None, original_inference_steps=50, clip_sample=False, clip_sample_range=1.0,
        set_alpha_to_one=True, steps_offset=0, prediction_type="epsilon", thresholding=False,
        dynamic_thresholding_ratio=0.995, sample_max_value=1.0, timestep_spacing="leading", timestep_scaling=10.0,
        rescale_betas_zero_snr=False,
    )

    def _check_config(self) -> None:
        super()._check_config()
        original_steps = self.config["original_inference_steps"]
        require(is_int(original_steps) and 1 <= original_steps <= self.config["num_train_timesteps"],
                f"original_inference_steps must be a whole number from 1 to num_train_timesteps, not {original_steps!r}")

    def _set_timesteps(self, num_inference_steps: int, strength: float = 1.0) -> None:
        original_steps = self.config["original_inference_steps"]
        k = self.config["num_train_timesteps"] // original_steps
        # The distillation schedule: every k-th training timestep, shortened by strength.
        origin = np.asarray(list(range(1, int(original_steps * strength) + 1))) * k - 1
        if num_inference_steps > original_steps:
            raise SchedulerParamError(
                f"this LCM model was distilled for at most {original_steps} steps; {num_inference_steps} is too many"
            )
        if len(origin) // num_inference_steps < 1:
            raise SchedulerParamError(
                f"strength {strength:g} leaves {len(origin)} of the model's {original_steps} timesteps, fewer than "
                f"{num_inference_steps} steps; raise the strength or lower the steps"
            )
        self.num_inference_steps = num_inference_steps
        origin = origin[::-1].copy()
        indices = np.floor(np.linspace(0, len(origin), num=num_inference_steps, endpoint=False)).astype(np.int64)
        self.timesteps = origin[indices].astype(np.int64)

    def strength_timesteps(self, num_inference_steps: int, strength: float) -> np.ndarray:
        """As diffusers' LCM img2img pipeline: the strength shortens the distillation schedule
        itself, and all ``num_inference_steps`` steps run on what is left."""
        steps = check_steps(num_inference_steps)
        strength = check_strength(strength)
        self._set_timesteps(steps, strength)
        self._step_index = None
        self._begin_index = None
        return self.timesteps.copy()

    def step(self, model_output: np.ndarray, timestep, sample: np.ndarray, noise: NoiseSource) -> StepResult:
        self._require_timesteps()
        model_output, sample = f32(model_output), f32(sample)
        if self._step_index is None:
            self._init_step_index(timestep)
        timestep = int(timestep)
        next_index = self._step_index + 1
        prev_timestep = int(self.timesteps[next_index]) if next_index < len(self.timesteps) else timestep
        alpha_prod_t = self._alpha_prod(timestep)
        alpha_prod_t_prev = self._alpha_prod(prev_timestep)
        c_skip, c_out = self._boundary_scalings(timestep)
        original = self._predict_original(model_output, sample, alpha_prod_t)
        denoised = c_out * original + c_skip * sample
        if self._step_index != self.num_inference_steps - 1:
            fresh = f32(noise.normal(model_output.shape))
            prev_sample = np.sqrt(alpha_prod_t_prev) * denoised + np.sqrt(np.float32(1.0) - alpha_prod_t_prev) * fresh
        else:
            prev_sample = denoised
        self._step_index += 1
        return StepResult(prev_sample.astype(np.float32), denoised.astype(np.float32))

    def _boundary_scalings(self, timestep: int) -> tuple[np.float32, np.float32]:
        """c_skip and c_out of the consistency boundary condition (sigma_data = 0.5), in float32."""
        sigma_data_sq = np.float32(0.25)
        scaled = np.float32(timestep) * np.float32(self.config["timestep_scaling"])
        c_skip = sigma_data_sq / (scaled * scaled + sigma_data_sq)
        c_out = scaled / np.sqrt(scaled * scaled + sigma_data_sq)
        return c_skip, c_out
