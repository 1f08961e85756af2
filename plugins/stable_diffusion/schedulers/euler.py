"""The Euler family: diffusers' EulerDiscreteScheduler and EulerAncestralDiscreteScheduler."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..noise import NoiseSource
from .base import StepResult
from .betas import torch_linspace_f32
from .config import check_choice, is_number, require
from .numerics import f32, log_f32
from .sigma_base import SigmaScheduler
from .spacing import karras_sigmas, sigma_to_t, spaced_timesteps


class EulerDiscrete(SigmaScheduler):
    """diffusers' EulerDiscreteScheduler (with s_churn = 0, as its pipelines use it)."""

    DEFAULTS = dict(
        num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear", trained_betas=None,
        prediction_type="epsilon", interpolation_type="linear", use_karras_sigmas=False,
        use_exponential_sigmas=False, use_beta_sigmas=False, sigma_min=None, sigma_max=None,
        timestep_spacing="linspace", timestep_type="discrete", steps_offset=0, rescale_betas_zero_snr=False,
        final_sigmas_type="zero",
    )

    def __init__(self, config: Mapping[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._zero_snr_fixup()
        sigmas = self._train_sigmas()[::-1]
        self.sigmas = np.concatenate([sigmas, np.zeros(1, np.float32)])
        self.timesteps = np.linspace(0, self.config["num_train_timesteps"] - 1, self.config["num_train_timesteps"],
                                     dtype=float)[::-1].astype(np.float32)
        if self._continuous_v:
            self.timesteps = (np.float32(0.25) * np.array([log_f32(s) for s in sigmas], np.float32)).astype(np.float32)

    def _check_config(self) -> None:
        super()._check_config()
        config = self.config
        check_choice(config, "interpolation_type", ("linear", "log_linear"))
        check_choice(config, "timestep_type", ("discrete", "continuous"))
        check_choice(config, "final_sigmas_type", ("zero", "sigma_min"))
        require(not config["use_beta_sigmas"], "use_beta_sigmas is not supported; use Karras or exponential sigmas")
        require(config["use_karras_sigmas"] + config["use_exponential_sigmas"] <= 1,
                "only one of use_karras_sigmas and use_exponential_sigmas can be true")
        for key in ("sigma_min", "sigma_max"):
            require(config[key] is None or (is_number(config[key]) and config[key] > 0), f"{key} must be a positive number")

    @property
    def _continuous_v(self) -> bool:
        return self.config["timestep_type"] == "continuous" and self.config["prediction_type"] == "v_prediction"

    def _sigma_range(self, in_sigmas: np.ndarray) -> tuple[float, float]:
        sigma_min = self.config["sigma_min"] if self.config["sigma_min"] is not None else in_sigmas[-1].item()
        sigma_max = self.config["sigma_max"] if self.config["sigma_max"] is not None else in_sigmas[0].item()
        return sigma_min, sigma_max

    def _set_timesteps(self, num_inference_steps: int) -> None:
        config = self.config
        self.num_inference_steps = num_inference_steps
        timesteps = spaced_timesteps(config, num_inference_steps, np.float32)
        train_sigmas = self._train_sigmas()
        log_sigmas = np.log(train_sigmas)
        if config["interpolation_type"] == "linear":
            sigmas = np.interp(timesteps, np.arange(0, len(train_sigmas)), train_sigmas)
        else:  # log_linear (diffusers builds it with torch.linspace, so one sigma more than steps)
            sigmas = np.exp(torch_linspace_f32(np.log(train_sigmas[-1]), np.log(train_sigmas[0]), num_inference_steps + 1))
        if config["use_karras_sigmas"]:
            sigmas = karras_sigmas(*self._sigma_range(sigmas), num_inference_steps)
            timesteps = np.array([sigma_to_t(sigma, log_sigmas) for sigma in sigmas])
        elif config["use_exponential_sigmas"]:
            sigma_min, sigma_max = self._sigma_range(sigmas)
            sigmas = np.exp(np.linspace(math.log(sigma_max), math.log(sigma_min), num_inference_steps))
            timesteps = np.array([sigma_to_t(sigma, log_sigmas) for sigma in sigmas])
        if config["final_sigmas_type"] == "sigma_min":
            sigma_last = train_sigmas[0]
        else:
            sigma_last = 0
        self.sigmas = np.concatenate([sigmas, [sigma_last]]).astype(np.float32)
        if self._continuous_v:
            self.timesteps = (np.float32(0.25) * np.array([log_f32(s) for s in self.sigmas[:-1]], np.float32))
        else:
            self.timesteps = timesteps.astype(np.float32)

    def step(self, model_output: np.ndarray, timestep, sample: np.ndarray, noise: NoiseSource) -> StepResult:
        self._begin_step(timestep)
        model_output, sample = f32(model_output), f32(sample)
        sigma = self.sigmas[self._step_index]
        prediction = self.config["prediction_type"]
        if prediction == "epsilon":
            denoised = sample - sigma * model_output
        elif prediction == "v_prediction":
            denoised = model_output * (-sigma / np.sqrt(sigma * sigma + np.float32(1.0))) + (sample / (sigma * sigma + np.float32(1.0)))
        else:
            denoised = model_output
        derivative = (sample - denoised) / sigma
        dt = self.sigmas[self._step_index + 1] - sigma
        prev_sample = sample + derivative * dt
        self._step_index += 1
        return StepResult(prev_sample.astype(np.float32), denoised.astype(np.float32))


class EulerAncestralDiscrete(SigmaScheduler):
    """diffusers' EulerAncestralDiscreteScheduler: an Euler step down, then fresh noise back up."""

    DEFAULTS = dict(
        num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear", trained_betas=None,
        prediction_type="epsilon", timestep_spacing="linspace", steps_offset=0, rescale_betas_zero_snr=False,
    )
    # diffusers raises NotImplementedError for "sample" models here; say so up front.
    PREDICTION_TYPES = ("epsilon", "v_prediction")

    def __init__(self, config: Mapping[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._zero_snr_fixup()
        self.sigmas = np.concatenate([self._train_sigmas()[::-1], [0.0]]).astype(np.float32)
        self.timesteps = np.linspace(0, self.config["num_train_timesteps"] - 1, self.config["num_train_timesteps"],
                                     dtype=float)[::-1].copy()

    def _set_timesteps(self, num_inference_steps: int) -> None:
        self.num_inference_steps = num_inference_steps
        timesteps = spaced_timesteps(self.config, num_inference_steps, np.float32)
        train_sigmas = self._train_sigmas()
        sigmas = np.interp(timesteps, np.arange(0, len(train_sigmas)), train_sigmas)
        self.sigmas = np.concatenate([sigmas, [0.0]]).astype(np.float32)
        self.timesteps = timesteps

    def step(self, model_output: np.ndarray, timestep, sample: np.ndarray, noise: NoiseSource) -> StepResult:
        self._begin_step(timestep)
        model_output, sample = f32(model_output), f32(sample)
        sigma = self.sigmas[self._step_index]
        if self.config["prediction_type"] == "epsilon":
            denoised = sample - sigma * model_output
        else:
            denoised = model_output * (-sigma / np.sqrt(sigma * sigma + np.float32(1.0))) + (sample / (sigma * sigma + np.float32(1.0)))
        sigma_to = self.sigmas[self._step_index + 1]
        with np.errstate(invalid="ignore"):
            sigma_up = np.sqrt(sigma_to * sigma_to * (sigma * sigma - sigma_to * sigma_to) / (sigma * sigma))
            sigma_down = np.sqrt(sigma_to * sigma_to - sigma_up * sigma_up)
        derivative = (sample - denoised) / sigma
        prev_sample = sample + derivative * (sigma_down - sigma)
        # Drawn on every step, the last one included (where sigma_up is 0), as diffusers
        # draws it: the same seed then walks the same noise stream.
        prev_sample = prev_sample + f32(noise.normal(model_output.shape)) * sigma_up
        self._step_index += 1
        return StepResult(prev_sample.astype(np.float32), denoised.astype(np.float32))
