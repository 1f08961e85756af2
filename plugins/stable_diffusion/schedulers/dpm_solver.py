"""DPM-Solver++: diffusers' DPMSolverMultistepScheduler in its data-prediction form, order 1 or
2, as "DPM++ 2M Karras" uses it."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..noise import NoiseSource
from .base import StepResult
from .config import check_choice, require
from .numerics import exp_f32, f32, log_f32, threshold_sample
from .sigma_base import SigmaScheduler
from .spacing import karras_sigmas, sigma_to_t


class DPMSolverMultistep(SigmaScheduler):
    """diffusers' DPMSolverMultistepScheduler, data-prediction (dpmsolver++) form, order 1 or 2."""

    DEFAULTS = dict(
        num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear", trained_betas=None,
        solver_order=2, prediction_type="epsilon", thresholding=False, dynamic_thresholding_ratio=0.995,
        sample_max_value=1.0, algorithm_type="dpmsolver++", solver_type="midpoint", lower_order_final=True,
        euler_at_final=False, use_karras_sigmas=False, use_exponential_sigmas=False, use_beta_sigmas=False,
        use_lu_lambdas=False, use_flow_sigmas=False, flow_shift=1.0, final_sigmas_type="zero",
        lambda_min_clipped=-float("inf"), variance_type=None, timestep_spacing="linspace", steps_offset=0,
        rescale_betas_zero_snr=False, use_dynamic_shifting=False, time_shift_type="exponential",
    )

    def __init__(self, config: Mapping[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._zero_snr_fixup()
        self.sigmas = self._train_sigmas()
        self.timesteps = np.linspace(0, self.config["num_train_timesteps"] - 1, self.config["num_train_timesteps"],
                                     dtype=np.float32)[::-1].copy()
        self._model_outputs: list[np.ndarray | None] = [None] * self.config["solver_order"]
        self._lower_order_nums = 0

    def _check_config(self) -> None:
        super()._check_config()
        config = self.config
        check_choice(config, "algorithm_type", ("dpmsolver++",))
        check_choice(config, "solver_order", (1, 2))
        check_choice(config, "solver_type", ("midpoint", "heun", "logrho", "bh1", "bh2"))
        check_choice(config, "final_sigmas_type", ("zero", "sigma_min"))
        check_choice(config, "variance_type", (None, "learned", "learned_range"))
        for key in ("use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas", "use_flow_sigmas"):
            require(not config[key], f"{key} is not supported with DPM++ 2M Karras")
        require(config["use_karras_sigmas"], "DPM++ 2M Karras needs use_karras_sigmas")

    @property
    def init_noise_sigma(self) -> float:  # type: ignore[override]
        return 1.0

    def scale_model_input(self, sample: np.ndarray, timestep) -> np.ndarray:
        return sample

    def _index_for_timestep(self, timestep, schedule: np.ndarray | None = None) -> int:
        schedule = self.timesteps if schedule is None else schedule
        indices = np.flatnonzero(schedule == timestep)
        if len(indices) == 0:
            return len(self.timesteps) - 1  # diffusers' choice: a timestep off the schedule is the last step
        return int(indices[1] if len(indices) > 1 else indices[0])

    def _set_timesteps(self, num_inference_steps: int) -> None:
        train_sigmas = self._train_sigmas()
        log_sigmas = np.log(train_sigmas)
        sigmas = karras_sigmas(train_sigmas[0].item(), train_sigmas[-1].item(), num_inference_steps)
        timesteps = np.array([sigma_to_t(sigma, log_sigmas) for sigma in sigmas])
        if self.config["beta_schedule"] != "squaredcos_cap_v2":
            timesteps = timesteps.round()
        if self.config["final_sigmas_type"] == "sigma_min":
            sigma_last = train_sigmas[0]
        else:
            sigma_last = 0
        self.sigmas = np.concatenate([sigmas, [sigma_last]]).astype(np.float32)
        self.timesteps = timesteps.astype(np.int64)
        self.num_inference_steps = len(timesteps)
        self._model_outputs = [None] * self.config["solver_order"]
        self._lower_order_nums = 0

    @staticmethod
    def _alpha_sigma(sigma):
        alpha = np.float32(1.0) / np.sqrt(sigma * sigma + np.float32(1.0))
        return alpha, sigma * alpha

    def _data_prediction(self, model_output: np.ndarray, sample: np.ndarray) -> np.ndarray:
        """The model output as predicted clean latents (x0)."""
        prediction = self.config["prediction_type"]
        if prediction == "sample":
            x0 = model_output
        else:
            alpha_t, sigma_t = self._alpha_sigma(self.sigmas[self._step_index])
            if prediction == "epsilon":
                if self.config["variance_type"] in ("learned", "learned_range"):
                    model_output = model_output[:, :3]
                x0 = (sample - sigma_t * model_output) / alpha_t
            else:
                x0 = alpha_t * sample - sigma_t * model_output
        if self.config["thresholding"]:
            x0 = threshold_sample(x0, self.config["dynamic_thresholding_ratio"], self.config["sample_max_value"])
        return x0

    def _lambda(self, sigma) -> tuple[np.float32, np.float32, np.float32]:
        alpha, sigma = self._alpha_sigma(sigma)
        return alpha, sigma, log_f32(alpha) - log_f32(sigma)

    def _first_order(self, x0: np.ndarray, sample: np.ndarray) -> np.ndarray:
        alpha_t, sigma_t, lambda_t = self._lambda(self.sigmas[self._step_index + 1])
        _, sigma_s, lambda_s = self._lambda(self.sigmas[self._step_index])
        h = lambda_t - lambda_s
        return (sigma_t / sigma_s) * sample - (alpha_t * (exp_f32(-h) - np.float32(1.0))) * x0

    def _second_order(self, sample: np.ndarray) -> np.ndarray:
        alpha_t, sigma_t, lambda_t = self._lambda(self.sigmas[self._step_index + 1])
        _, sigma_s0, lambda_s0 = self._lambda(self.sigmas[self._step_index])
        _, _, lambda_s1 = self._lambda(self.sigmas[self._step_index - 1])
        m0, m1 = self._model_outputs[-1], self._model_outputs[-2]
        h, h_0 = lambda_t - lambda_s0, lambda_s0 - lambda_s1
        r0 = h_0 / h
        d0, d1 = m0, (np.float32(1.0) / r0) * (m0 - m1)
        exp_term = exp_f32(-h) - np.float32(1.0)
        if self.config["solver_type"] == "heun":
            return ((sigma_t / sigma_s0) * sample - (alpha_t * exp_term) * d0
                    + (alpha_t * (exp_term / h + np.float32(1.0))) * d1)
        # midpoint (and the solver types diffusers maps to it)
        return ((sigma_t / sigma_s0) * sample - (alpha_t * exp_term) * d0
                - (np.float32(0.5) * (alpha_t * exp_term)) * d1)

    def step(self, model_output: np.ndarray, timestep, sample: np.ndarray, noise: NoiseSource) -> StepResult:
        self._begin_step(timestep)
        model_output, sample = f32(model_output), f32(sample)
        config = self.config
        steps = len(self.timesteps)
        last = self._step_index == steps - 1
        # Few steps: finish with lower orders, which are more stable there (and a zero final
        # sigma allows nothing but a first-order step).
        lower_order_final = last and (
            config["euler_at_final"] or (config["lower_order_final"] and steps < 15) or config["final_sigmas_type"] == "zero"
        )
        x0 = self._data_prediction(model_output, sample)
        self._model_outputs = self._model_outputs[1:] + [x0]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if config["solver_order"] == 1 or self._lower_order_nums < 1 or lower_order_final:
                prev_sample = self._first_order(x0, sample)
            else:
                # (diffusers' "lower_order_second" only ever lowers a third-order step)
                prev_sample = self._second_order(sample)
        if self._lower_order_nums < config["solver_order"]:
            self._lower_order_nums += 1
        self._step_index += 1
        return StepResult(prev_sample.astype(np.float32), x0.astype(np.float32))

    def add_noise(self, original: np.ndarray, noise: np.ndarray, timestep) -> np.ndarray:
        self._require_timesteps()
        original = f32(original)
        sigma = self.sigmas[self._noise_indices(np.atleast_1d(timestep))]
        sigma = sigma.reshape((-1,) + (1,) * (original.ndim - 1))
        alpha_t, sigma_t = self._alpha_sigma(sigma)
        return (alpha_t * original + sigma_t * f32(noise)).astype(np.float32)
