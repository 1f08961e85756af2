"""A sampler's settings: diffusers' ``from_config`` rules for scheduler_config.json, and the
checks of every value a sampler reads (the file's, and a request's step count and strength)."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Mapping

import numpy as np

from .errors import SchedulerConfigError, SchedulerParamError

#: Every array of the schedule has one entry per training timestep: 1000 in every released
#: model. A file asking for 10**9 would make 8 GB arrays; it is refused instead.
MAX_TRAIN_TIMESTEPS = 100_000

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
TIMESTEP_SPACINGS = ("linspace", "leading", "trailing")


def resolve_config(defaults: Mapping[str, Any], config: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
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


def require(ok: bool, message: str) -> None:
    if not ok:
        raise SchedulerConfigError(f"scheduler_config.json: {message}")


def is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def check_choice(config: Mapping[str, Any], key: str, choices) -> None:
    require(config[key] in choices, f"{key} is {config[key]!r}; this sampler supports {', '.join(map(repr, choices))}")


def check_common(config: Mapping[str, Any], prediction_types, uses_spacing: bool) -> None:
    require(is_int(config["num_train_timesteps"]) and 2 <= config["num_train_timesteps"] <= MAX_TRAIN_TIMESTEPS,
            f"num_train_timesteps must be a whole number from 2 to {MAX_TRAIN_TIMESTEPS:,}, not {config['num_train_timesteps']!r}")
    if config["trained_betas"] is None:
        check_choice(config, "beta_schedule", BETA_SCHEDULES)
        if config["beta_schedule"] != "squaredcos_cap_v2":
            for key in ("beta_start", "beta_end"):
                require(is_number(config[key]) and 0 <= config[key] < 1, f"{key} must be a number from 0 to 1, not {config[key]!r}")
    else:
        betas = config["trained_betas"]
        require(isinstance(betas, (list, tuple, np.ndarray)) and all(is_number(b) and 0 < b < 1 for b in betas),
                "trained_betas must be a list of numbers between 0 and 1")
        require(len(betas) == config["num_train_timesteps"],
                f"trained_betas has {len(betas)} values but num_train_timesteps is {config['num_train_timesteps']}")
    check_choice(config, "prediction_type", prediction_types)
    if uses_spacing:
        check_choice(config, "timestep_spacing", TIMESTEP_SPACINGS)
    if "steps_offset" in config:
        require(is_int(config["steps_offset"]) and config["steps_offset"] >= 0,
                f"steps_offset must be a whole number, not {config['steps_offset']!r}")
    for key in ("rescale_betas_zero_snr", "clip_sample", "set_alpha_to_one", "thresholding", "use_karras_sigmas",
                "use_exponential_sigmas", "use_beta_sigmas", "lower_order_final", "euler_at_final"):
        if key in config:
            require(isinstance(config[key], (bool, np.bool_)), f"{key} must be true or false, not {config[key]!r}")
    for key in ("clip_sample_range", "dynamic_thresholding_ratio", "sample_max_value", "timestep_scaling"):
        if key in config:
            require(is_number(config[key]) and config[key] > 0, f"{key} must be a positive number, not {config[key]!r}")
    if config.get("thresholding"):
        require(config["dynamic_thresholding_ratio"] <= 1, "dynamic_thresholding_ratio must be at most 1")


def check_steps(num_inference_steps) -> int:
    if not is_int(num_inference_steps) or num_inference_steps < 1:
        raise SchedulerParamError(f"the number of steps must be a whole number of at least 1, not {num_inference_steps!r}")
    return int(num_inference_steps)


def check_strength(strength) -> float:
    if not is_number(strength) or not 0 <= strength <= 1:
        raise SchedulerParamError(f"strength must be a number from 0 to 1, not {strength!r}")
    return float(strength)
