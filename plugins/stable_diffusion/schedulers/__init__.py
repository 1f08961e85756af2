"""Samplers for Stable Diffusion in numpy: diffusers' schedulers, number for number.

Each class mirrors one diffusers class (0.42), configured the way diffusers'
``SchedulerClass.from_config(scheduler_config)`` configures it: the keys of
``scheduler/scheduler_config.json`` that the class knows are taken, every other key is
ignored, and a key that is missing gets the class's own default, whatever ``_class_name``
says. So a user's choice of sampler is honoured for any model folder. One exception: a file
written for another class than the sampler's lacks the keys only the sampler's class has, and
those start from what Stable Diffusion is trained with (``foreign_config.py``), not from
defaults made for pixel-space models.

Precision follows diffusers: latents and per-step coefficients in float32; the parts of the
schedule diffusers computes with numpy in float64 (interpolated and Karras sigmas, the
sigma -> timestep map) in float64. Where diffusers computes in torch float32, the torch
result is reproduced (``torch_linspace_f32``, cumprod accumulated in float64); elementary
functions may still differ from torch's in the last bit, which the parity tests bound.

The pipeline uses ``make_scheduler``, ``set_timesteps`` or ``strength_timesteps``,
``scale_model_input``, ``step`` and ``add_noise``, in that order, as diffusers' pipelines do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, ClassVar, Mapping

import numpy as np

import studio

from ..noise import NoiseSource
from .foreign_config import foreign_class, with_sd_training

SCHEDULERS = {
    "euler": "Euler",
    "euler_a": "Euler ancestral",
    "ddim": "DDIM",
    "dpmpp_2m_karras": "DPM++ 2M Karras",
    "lcm": "LCM",
}

# The sampler a model folder asks for in scheduler_config.json's "_class_name".
SCHEDULER_FOR_CLASS = {
    "EulerDiscreteScheduler": "euler",
    "EulerAncestralDiscreteScheduler": "euler_a",
    "DDIMScheduler": "ddim",
    "DPMSolverMultistepScheduler": "dpmpp_2m_karras",
    "LCMScheduler": "lcm",
}
# Anything else (PNDM, the default of Stable Diffusion 1.x folders; LMS; UniPC ...) gets
# Euler: it works with every prediction type and spacing, in few or many steps.
FALLBACK_SCHEDULER = "euler"

#: Every array of the schedule has one entry per training timestep: 1000 in every released
#: model. A file asking for 10**9 would make 8 GB arrays; it is refused instead.
MAX_TRAIN_TIMESTEPS = 100_000

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
TIMESTEP_SPACINGS = ("linspace", "leading", "trailing")


class SchedulerConfigError(studio.ModelError, ValueError):
    """scheduler_config.json holds a value the sampler cannot use: a problem of the model folder."""


class SchedulerParamError(studio.ParamError, ValueError):
    """A sampler, step count or strength that cannot be used: a problem of the request."""


@dataclass
class StepResult:
    prev_sample: np.ndarray
    denoised: np.ndarray  # the predicted clean latents (x0): what a preview shows


def make_scheduler(name: str, config: Mapping[str, Any] | None = None) -> "Scheduler":
    """The sampler ``name`` (a key of ``SCHEDULERS``), configured from a scheduler_config.json dict."""
    try:
        cls, overrides = _REGISTRY[name]
    except (KeyError, TypeError):
        raise SchedulerParamError(
            f"unknown sampler {name!r}; choose one of: {', '.join(SCHEDULERS)}"
        ) from None
    config = {} if config is None else config
    # A file written for another sampler class lacks this one's own keys: SD's settings fill them.
    foreign = foreign_class(config, SCHEDULER_FOR_CLASS, name)
    return cls(with_sd_training(config, cls.DEFAULTS) if foreign else config, **overrides)


def default_scheduler_name(config: Mapping[str, Any] | None) -> str:
    """The sampler the model folder was published with, or Euler when we have no such sampler."""
    class_name = config.get("_class_name") if isinstance(config, Mapping) else None
    return SCHEDULER_FOR_CLASS.get(class_name, FALLBACK_SCHEDULER) if isinstance(class_name, str) else FALLBACK_SCHEDULER


# ---------------------------------------------------------------------------------------
# Noise schedules (betas), as diffusers builds them in torch float32


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


# ---------------------------------------------------------------------------------------
# Helpers shared by several samplers


def _log_f32(value) -> np.float32:
    """log of a float32 scalar, correctly rounded (as torch's scalar log is, nearly always); log(0) = -inf."""
    value = float(value)
    return np.float32(math.log(value)) if value > 0 else np.float32(-np.inf if value == 0 else np.nan)


def _exp_f32(value) -> np.float32:
    value = float(value)
    return np.float32(math.exp(value)) if value != -np.inf else np.float32(0.0)


def _f32(array) -> np.ndarray:
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


def _threshold_sample(sample: np.ndarray, ratio: float, max_value: float) -> np.ndarray:
    """Dynamic thresholding (Imagen): clip x0 to a per-sample percentile and rescale."""
    batch = sample.shape[0]
    flat = sample.reshape(batch, -1)
    limit = _torch_quantile_rows(np.abs(flat), ratio)
    limit = np.minimum(np.maximum(limit, np.float32(1.0)), np.float32(max_value))[:, None]
    return (np.clip(flat, -limit, limit) / limit).reshape(sample.shape).astype(np.float32)


def _sigma_to_t(sigma, log_sigmas: np.ndarray) -> np.ndarray:
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


def _karras_sigmas(sigma_min: float, sigma_max: float, steps: int) -> np.ndarray:
    """Karras et al. 2022's noise levels (rho = 7), in float64 as diffusers computes them."""
    rho = 7.0
    ramp = np.linspace(0, 1, steps)
    min_inv_rho = sigma_min ** (1 / rho)
    max_inv_rho = sigma_max ** (1 / rho)
    return (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho


def _spaced_timesteps(config: Mapping[str, Any], steps: int, dtype) -> np.ndarray:
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


# ---------------------------------------------------------------------------------------
# Configuration


def _resolve_config(defaults: Mapping[str, Any], config: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    """diffusers' ``from_config``: known keys from ``config``, the class's defaults for the rest."""
    if not isinstance(config, Mapping):
        raise SchedulerConfigError(f"the scheduler configuration must be a JSON object, not {type(config).__name__}")
    # A config dict saved from a loaded diffusers scheduler names the keys it only filled in
    # with that class's defaults; from_config lets the new class use its own defaults there.
    filled_in = config.get("_use_default_values") or ()
    resolved = dict(defaults)
    for key in defaults:
        if key in config and key not in filled_in:
            resolved[key] = config[key]
    resolved.update(overrides)
    return resolved


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise SchedulerConfigError(f"scheduler_config.json: {message}")


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_choice(config: Mapping[str, Any], key: str, choices) -> None:
    _require(config[key] in choices, f"{key} is {config[key]!r}; this sampler supports {', '.join(map(repr, choices))}")


def _check_common(config: Mapping[str, Any], prediction_types, uses_spacing: bool) -> None:
    _require(_is_int(config["num_train_timesteps"]) and 2 <= config["num_train_timesteps"] <= MAX_TRAIN_TIMESTEPS,
             f"num_train_timesteps must be a whole number from 2 to {MAX_TRAIN_TIMESTEPS:,}, not {config['num_train_timesteps']!r}")
    if config["trained_betas"] is None:
        _check_choice(config, "beta_schedule", BETA_SCHEDULES)
        if config["beta_schedule"] != "squaredcos_cap_v2":
            for key in ("beta_start", "beta_end"):
                _require(_is_number(config[key]) and 0 <= config[key] < 1, f"{key} must be a number from 0 to 1, not {config[key]!r}")
    else:
        betas = config["trained_betas"]
        _require(isinstance(betas, (list, tuple, np.ndarray)) and all(_is_number(b) and 0 < b < 1 for b in betas),
                 "trained_betas must be a list of numbers between 0 and 1")
        _require(len(betas) == config["num_train_timesteps"],
                 f"trained_betas has {len(betas)} values but num_train_timesteps is {config['num_train_timesteps']}")
    _check_choice(config, "prediction_type", prediction_types)
    if uses_spacing:
        _check_choice(config, "timestep_spacing", TIMESTEP_SPACINGS)
    if "steps_offset" in config:
        _require(_is_int(config["steps_offset"]) and config["steps_offset"] >= 0,
                 f"steps_offset must be a whole number, not {config['steps_offset']!r}")
    for key in ("rescale_betas_zero_snr", "clip_sample", "set_alpha_to_one", "thresholding", "use_karras_sigmas",
                "use_exponential_sigmas", "use_beta_sigmas", "lower_order_final", "euler_at_final"):
        if key in config:
            _require(isinstance(config[key], (bool, np.bool_)), f"{key} must be true or false, not {config[key]!r}")
    for key in ("clip_sample_range", "dynamic_thresholding_ratio", "sample_max_value", "timestep_scaling"):
        if key in config:
            _require(_is_number(config[key]) and config[key] > 0, f"{key} must be a positive number, not {config[key]!r}")
    if config.get("thresholding"):
        _require(config["dynamic_thresholding_ratio"] <= 1, "dynamic_thresholding_ratio must be at most 1")


def _check_steps(num_inference_steps) -> int:
    if not _is_int(num_inference_steps) or num_inference_steps < 1:
        raise SchedulerParamError(f"the number of steps must be a whole number of at least 1, not {num_inference_steps!r}")
    return int(num_inference_steps)


def _check_strength(strength) -> float:
    if not _is_number(strength) or not 0 <= strength <= 1:
        raise SchedulerParamError(f"strength must be a number from 0 to 1, not {strength!r}")
    return float(strength)


# ---------------------------------------------------------------------------------------
# The samplers


class Scheduler:
    """A diffusion sampler: the timesteps to visit, and how to go from one to the next.

    State between ``set_timesteps`` and the last ``step`` (the step index, a multistep
    solver's history) lives in the instance, as in diffusers: one instance per image.
    """

    DEFAULTS: ClassVar[dict[str, Any]]
    PREDICTION_TYPES: ClassVar[tuple[str, ...]] = ("epsilon", "v_prediction", "sample")
    order: ClassVar[int] = 1
    # diffusers' img2img pipelines call set_begin_index only on samplers that have it.
    has_begin_index: ClassVar[bool] = True
    # LCM ignores timestep_spacing (its distillation schedule decides), so it must not reject it.
    uses_spacing: ClassVar[bool] = True

    init_noise_sigma: float
    timesteps: np.ndarray

    def __init__(self, config: Mapping[str, Any] | None = None, **overrides: Any) -> None:
        self.config = _resolve_config(self.DEFAULTS, {} if config is None else config, overrides)
        self._check_config()
        self.betas = make_betas(self.config)
        self.alphas_cumprod = cumprod_f32(np.float32(1.0) - self.betas)
        self.num_inference_steps: int | None = None
        self._step_index: int | None = None
        self._begin_index: int | None = None

    def _check_config(self) -> None:
        _check_common(self.config, self.PREDICTION_TYPES, self.uses_spacing)

    # -- timesteps --------------------------------------------------------------------

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Plan ``num_inference_steps`` steps from pure noise (text-to-image)."""
        self._set_timesteps(_check_steps(num_inference_steps))
        self._step_index = None
        self._begin_index = None

    def _set_timesteps(self, num_inference_steps: int) -> None:
        raise NotImplementedError

    def strength_timesteps(self, num_inference_steps: int, strength: float) -> np.ndarray:
        """Plan steps from a partly noised picture (image-to-image, inpainting).

        As diffusers' ``get_timesteps``: plan ``num_inference_steps`` steps, keep the last
        ``int(steps * strength)`` of them, and start the step counter at the first kept one.
        Returns the kept timesteps; ``add_noise`` with the first of them makes the start latents.
        """
        steps = _check_steps(num_inference_steps)
        strength = _check_strength(strength)
        self.set_timesteps(steps)
        init_timestep = min(int(steps * strength), steps)
        t_start = max(steps - init_timestep, 0)
        kept = self.timesteps[t_start * self.order:]
        if len(kept) == 0:
            raise SchedulerParamError(
                f"strength {strength:g} with {steps} steps leaves no step to run; raise the strength or the steps"
            )
        if self.has_begin_index:
            self._begin_index = t_start * self.order
        return kept.copy()

    # -- index bookkeeping (the sigma samplers find their place by timestep) ------------

    def _index_for_timestep(self, timestep, schedule: np.ndarray | None = None) -> int:
        schedule = self.timesteps if schedule is None else schedule
        indices = np.flatnonzero(schedule == timestep)
        if len(indices) == 0:
            raise SchedulerParamError(f"timestep {timestep} is not one of this schedule's timesteps")
        # Starting mid-schedule (img2img), diffusers takes the second of two equal timesteps
        # so no sigma is skipped.
        return int(indices[1] if len(indices) > 1 else indices[0])

    def _init_step_index(self, timestep) -> None:
        if self._begin_index is not None:
            self._step_index = self._begin_index
        elif len(self.timesteps) > 1 and timestep == self.timesteps[0]:
            # A run from the top of the schedule (text-to-image). diffusers looks the timestep
            # up, and where the first timestep repeats (Karras sigmas on a cosine schedule)
            # it starts at the repeat and then runs out of sigmas on the last step.
            self._step_index = 0
        else:
            self._step_index = self._index_for_timestep(timestep)

    def _require_timesteps(self) -> None:
        if self.num_inference_steps is None:
            raise RuntimeError("call set_timesteps() or strength_timesteps() before stepping")

    def _noise_indices(self, timesteps: np.ndarray) -> list[int]:
        """The schedule positions add_noise reads, as diffusers' sigma samplers choose them."""
        if self._begin_index is None:
            return [self._index_for_timestep(t) for t in timesteps]
        index = self._step_index if self._step_index is not None else self._begin_index
        return [index] * len(timesteps)

    # -- sampling ---------------------------------------------------------------------

    def scale_model_input(self, sample: np.ndarray, timestep) -> np.ndarray:
        """What the UNet gets for ``sample`` at ``timestep`` (the sigma samplers scale it)."""
        return sample

    def step(self, model_output: np.ndarray, timestep, sample: np.ndarray, noise: NoiseSource) -> StepResult:
        raise NotImplementedError

    def add_noise(self, original: np.ndarray, noise: np.ndarray, timestep) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(steps={self.num_inference_steps})"


class _SigmaScheduler(Scheduler):
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
        return (_f32(sample) / np.sqrt(sigma * sigma + np.float32(1.0))).astype(np.float32)

    def _begin_step(self, timestep) -> None:
        self._require_timesteps()
        if self._step_index is None:
            self._init_step_index(timestep)
        if self._step_index >= len(self.timesteps):
            raise RuntimeError("all planned steps have been taken; call set_timesteps() again")

    def add_noise(self, original: np.ndarray, noise: np.ndarray, timestep) -> np.ndarray:
        self._require_timesteps()
        original = _f32(original)
        sigma = self.sigmas[self._noise_indices(np.atleast_1d(timestep))]
        sigma = sigma.reshape((-1,) + (1,) * (original.ndim - 1))
        return (original + _f32(noise) * sigma).astype(np.float32)


class EulerDiscrete(_SigmaScheduler):
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
            self.timesteps = (np.float32(0.25) * np.array([_log_f32(s) for s in sigmas], np.float32)).astype(np.float32)

    def _check_config(self) -> None:
        super()._check_config()
        config = self.config
        _check_choice(config, "interpolation_type", ("linear", "log_linear"))
        _check_choice(config, "timestep_type", ("discrete", "continuous"))
        _check_choice(config, "final_sigmas_type", ("zero", "sigma_min"))
        _require(not config["use_beta_sigmas"], "use_beta_sigmas is not supported; use Karras or exponential sigmas")
        _require(config["use_karras_sigmas"] + config["use_exponential_sigmas"] <= 1,
                 "only one of use_karras_sigmas and use_exponential_sigmas can be true")
        for key in ("sigma_min", "sigma_max"):
            _require(config[key] is None or (_is_number(config[key]) and config[key] > 0), f"{key} must be a positive number")

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
        timesteps = _spaced_timesteps(config, num_inference_steps, np.float32)
        train_sigmas = self._train_sigmas()
        log_sigmas = np.log(train_sigmas)
        if config["interpolation_type"] == "linear":
            sigmas = np.interp(timesteps, np.arange(0, len(train_sigmas)), train_sigmas)
        else:  # log_linear (diffusers builds it with torch.linspace, so one sigma more than steps)
            sigmas = np.exp(torch_linspace_f32(np.log(train_sigmas[-1]), np.log(train_sigmas[0]), num_inference_steps + 1))
        if config["use_karras_sigmas"]:
            sigmas = _karras_sigmas(*self._sigma_range(sigmas), num_inference_steps)
            timesteps = np.array([_sigma_to_t(sigma, log_sigmas) for sigma in sigmas])
        elif config["use_exponential_sigmas"]:
            sigma_min, sigma_max = self._sigma_range(sigmas)
            sigmas = np.exp(np.linspace(math.log(sigma_max), math.log(sigma_min), num_inference_steps))
            timesteps = np.array([_sigma_to_t(sigma, log_sigmas) for sigma in sigmas])
        if config["final_sigmas_type"] == "sigma_min":
            sigma_last = train_sigmas[0]
        else:
            sigma_last = 0
        self.sigmas = np.concatenate([sigmas, [sigma_last]]).astype(np.float32)
        if self._continuous_v:
            self.timesteps = (np.float32(0.25) * np.array([_log_f32(s) for s in self.sigmas[:-1]], np.float32))
        else:
            self.timesteps = timesteps.astype(np.float32)

    def step(self, model_output: np.ndarray, timestep, sample: np.ndarray, noise: NoiseSource) -> StepResult:
        self._begin_step(timestep)
        model_output, sample = _f32(model_output), _f32(sample)
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


class EulerAncestralDiscrete(_SigmaScheduler):
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
        timesteps = _spaced_timesteps(self.config, num_inference_steps, np.float32)
        train_sigmas = self._train_sigmas()
        sigmas = np.interp(timesteps, np.arange(0, len(train_sigmas)), train_sigmas)
        self.sigmas = np.concatenate([sigmas, [0.0]]).astype(np.float32)
        self.timesteps = timesteps

    def step(self, model_output: np.ndarray, timestep, sample: np.ndarray, noise: NoiseSource) -> StepResult:
        self._begin_step(timestep)
        model_output, sample = _f32(model_output), _f32(sample)
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
        prev_sample = prev_sample + _f32(noise.normal(model_output.shape)) * sigma_up
        self._step_index += 1
        return StepResult(prev_sample.astype(np.float32), denoised.astype(np.float32))


class _AlphaScheduler(Scheduler):
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
            return _threshold_sample(original, self.config["dynamic_thresholding_ratio"], self.config["sample_max_value"])
        if self.config["clip_sample"]:
            limit = np.float32(self.config["clip_sample_range"])
            return np.clip(original, -limit, limit)
        return original

    def add_noise(self, original: np.ndarray, noise: np.ndarray, timestep) -> np.ndarray:
        original = _f32(original)
        alpha_prod = self.alphas_cumprod[np.atleast_1d(np.asarray(timestep)).astype(np.int64)]
        shape = (-1,) + (1,) * (original.ndim - 1)
        sqrt_alpha = np.sqrt(alpha_prod).reshape(shape)
        sqrt_one_minus_alpha = np.sqrt(np.float32(1.0) - alpha_prod).reshape(shape)
        return (sqrt_alpha * original + sqrt_one_minus_alpha * _f32(noise)).astype(np.float32)


_ALPHA_DEFAULTS = dict(
    num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear", trained_betas=None,
    clip_sample=True, set_alpha_to_one=True, steps_offset=0, prediction_type="epsilon", thresholding=False,
    dynamic_thresholding_ratio=0.995, clip_sample_range=1.0, sample_max_value=1.0, timestep_spacing="leading",
    rescale_betas_zero_snr=False,
)


class DDIM(_AlphaScheduler):
    """diffusers' DDIMScheduler with eta = 0 (deterministic), as its pipelines use it."""

    DEFAULTS = _ALPHA_DEFAULTS
    has_begin_index = False  # DDIM finds its place by the timestep value alone

    def _set_timesteps(self, num_inference_steps: int) -> None:
        train_steps = self.config["num_train_timesteps"]
        if num_inference_steps > train_steps:
            raise SchedulerParamError(f"DDIM can take at most {train_steps} steps with this model, not {num_inference_steps}")
        self.num_inference_steps = num_inference_steps
        self.timesteps = _spaced_timesteps(self.config, num_inference_steps, np.int64)
        self._check_in_range(self.timesteps)

    def step(self, model_output: np.ndarray, timestep, sample: np.ndarray, noise: NoiseSource) -> StepResult:
        self._require_timesteps()
        model_output, sample = _f32(model_output), _f32(sample)
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


class LCM(_AlphaScheduler):
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
        _require(_is_int(original_steps) and 1 <= original_steps <= self.config["num_train_timesteps"],
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
        steps = _check_steps(num_inference_steps)
        strength = _check_strength(strength)
        self._set_timesteps(steps, strength)
        self._step_index = None
        self._begin_index = None
        return self.timesteps.copy()

    def step(self, model_output: np.ndarray, timestep, sample: np.ndarray, noise: NoiseSource) -> StepResult:
        self._require_timesteps()
        model_output, sample = _f32(model_output), _f32(sample)
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
            fresh = _f32(noise.normal(model_output.shape))
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


class DPMSolverMultistep(_SigmaScheduler):
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
        _check_choice(config, "algorithm_type", ("dpmsolver++",))
        _check_choice(config, "solver_order", (1, 2))
        _check_choice(config, "solver_type", ("midpoint", "heun", "logrho", "bh1", "bh2"))
        _check_choice(config, "final_sigmas_type", ("zero", "sigma_min"))
        _check_choice(config, "variance_type", (None, "learned", "learned_range"))
        for key in ("use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas", "use_flow_sigmas"):
            _require(not config[key], f"{key} is not supported with DPM++ 2M Karras")
        _require(config["use_karras_sigmas"], "DPM++ 2M Karras needs use_karras_sigmas")

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
        sigmas = _karras_sigmas(train_sigmas[0].item(), train_sigmas[-1].item(), num_inference_steps)
        timesteps = np.array([_sigma_to_t(sigma, log_sigmas) for sigma in sigmas])
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
            x0 = _threshold_sample(x0, self.config["dynamic_thresholding_ratio"], self.config["sample_max_value"])
        return x0

    def _lambda(self, sigma) -> tuple[np.float32, np.float32, np.float32]:
        alpha, sigma = self._alpha_sigma(sigma)
        return alpha, sigma, _log_f32(alpha) - _log_f32(sigma)

    def _first_order(self, x0: np.ndarray, sample: np.ndarray) -> np.ndarray:
        alpha_t, sigma_t, lambda_t = self._lambda(self.sigmas[self._step_index + 1])
        _, sigma_s, lambda_s = self._lambda(self.sigmas[self._step_index])
        h = lambda_t - lambda_s
        return (sigma_t / sigma_s) * sample - (alpha_t * (_exp_f32(-h) - np.float32(1.0))) * x0

    def _second_order(self, sample: np.ndarray) -> np.ndarray:
        alpha_t, sigma_t, lambda_t = self._lambda(self.sigmas[self._step_index + 1])
        _, sigma_s0, lambda_s0 = self._lambda(self.sigmas[self._step_index])
        _, _, lambda_s1 = self._lambda(self.sigmas[self._step_index - 1])
        m0, m1 = self._model_outputs[-1], self._model_outputs[-2]
        h, h_0 = lambda_t - lambda_s0, lambda_s0 - lambda_s1
        r0 = h_0 / h
        d0, d1 = m0, (np.float32(1.0) / r0) * (m0 - m1)
        exp_term = _exp_f32(-h) - np.float32(1.0)
        if self.config["solver_type"] == "heun":
            return ((sigma_t / sigma_s0) * sample - (alpha_t * exp_term) * d0
                    + (alpha_t * (exp_term / h + np.float32(1.0))) * d1)
        # midpoint (and the solver types diffusers maps to it)
        return ((sigma_t / sigma_s0) * sample - (alpha_t * exp_term) * d0
                - (np.float32(0.5) * (alpha_t * exp_term)) * d1)

    def step(self, model_output: np.ndarray, timestep, sample: np.ndarray, noise: NoiseSource) -> StepResult:
        self._begin_step(timestep)
        model_output, sample = _f32(model_output), _f32(sample)
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
        original = _f32(original)
        sigma = self.sigmas[self._noise_indices(np.atleast_1d(timestep))]
        sigma = sigma.reshape((-1,) + (1,) * (original.ndim - 1))
        alpha_t, sigma_t = self._alpha_sigma(sigma)
        return (alpha_t * original + sigma_t * _f32(noise)).astype(np.float32)


_REGISTRY: dict[str, tuple[type[Scheduler], dict[str, Any]]] = {
    "euler": (EulerDiscrete, {}),
    "euler_a": (EulerAncestralDiscrete, {}),
    "ddim": (DDIM, {}),
    # What "DPM++ 2M Karras" means in every UI: diffusers' multistep solver configured so,
    # whatever the folder's own DPM settings say.
    "dpmpp_2m_karras": (DPMSolverMultistep, dict(
        algorithm_type="dpmsolver++", solver_order=2, use_karras_sigmas=True, use_exponential_sigmas=False,
        use_beta_sigmas=False, use_lu_lambdas=False, use_flow_sigmas=False,
    )),
    "lcm": (LCM, {}),
}
