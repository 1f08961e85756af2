"""The sampler contract every family implements: the timesteps to visit, the step bookkeeping
diffusers' pipelines rely on (text-to-image and image-to-image), and what a step returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import numpy as np

from ..noise import NoiseSource
from .betas import cumprod_f32, make_betas
from .config import check_common, check_steps, check_strength, resolve_config
from .errors import SchedulerParamError


@dataclass
class StepResult:
    prev_sample: np.ndarray
    denoised: np.ndarray  # the predicted clean latents (x0): what a preview shows


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
        self.config = resolve_config(self.DEFAULTS, {} if config is None else config, overrides)
        self._check_config()
        self.betas = make_betas(self.config)
        self.alphas_cumprod = cumprod_f32(np.float32(1.0) - self.betas)
        self.num_inference_steps: int | None = None
        self._step_index: int | None = None
        self._begin_index: int | None = None

    def _check_config(self) -> None:
        check_common(self.config, self.PREDICTION_TYPES, self.uses_spacing)

    # -- timesteps --------------------------------------------------------------------

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Plan ``num_inference_steps`` steps from pure noise (text-to-image)."""
        self._set_timesteps(check_steps(num_inference_steps))
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
        steps = check_steps(num_inference_steps)
        strength = check_strength(strength)
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
