"""The two ways a sampler can be refused: the model folder's configuration, or the request."""

from __future__ import annotations

import studio


class SchedulerConfigError(studio.ModelError, ValueError):
    """scheduler_config.json holds a value the sampler cannot use: a problem of the model folder."""


class SchedulerParamError(studio.ParamError, ValueError):
    """A sampler, step count or strength that cannot be used: a problem of the request."""
