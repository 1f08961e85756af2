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

One module per sampler family (``euler``, ``ddim``, ``lcm``, ``dpm_solver``) on the shared
``base``; this module holds the registry, ``make_scheduler`` and the names other code imports.
"""

from __future__ import annotations

from typing import Any, Mapping

from .base import Scheduler, StepResult
from .betas import (
    betas_for_alpha_bar,
    cumprod_f32,
    make_betas,
    rescale_zero_terminal_snr,
    torch_linspace_f32,
)
from .config import BETA_SCHEDULES, MAX_TRAIN_TIMESTEPS, TIMESTEP_SPACINGS
from .ddim import DDIM
from .dpm_solver import DPMSolverMultistep
from .errors import SchedulerConfigError, SchedulerParamError
from .euler import EulerAncestralDiscrete, EulerDiscrete
from .foreign_config import foreign_class, with_sd_training
from .lcm import LCM

__all__ = [
    "BETA_SCHEDULES",
    "DDIM",
    "FALLBACK_SCHEDULER",
    "LCM",
    "MAX_TRAIN_TIMESTEPS",
    "SCHEDULERS",
    "SCHEDULER_FOR_CLASS",
    "TIMESTEP_SPACINGS",
    "DPMSolverMultistep",
    "EulerAncestralDiscrete",
    "EulerDiscrete",
    "Scheduler",
    "SchedulerConfigError",
    "SchedulerParamError",
    "StepResult",
    "betas_for_alpha_bar",
    "cumprod_f32",
    "default_scheduler_name",
    "make_betas",
    "make_scheduler",
    "rescale_zero_terminal_snr",
    "torch_linspace_f32",
]

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
