"""Settings for a sampler whose model folder's scheduler_config.json was written for another class.

diffusers' ``from_config`` gives each key the file lacks the new class's own default. A file
saved for Euler has no ``clip_sample`` or ``set_alpha_to_one`` (Euler has neither), so DDIM on
it would take DDIM's defaults, ``True`` and ``True``: made for the pixel-space models of the
DDIM paper. On Stable Diffusion latents clipping x0 to [-1, 1] ruins the picture (a difference
of up to 1.0 from what diffusers' SD pipelines make; they turn clipping off), and SD is trained
with both off. So for such a file those keys start from SD's settings; a key the file gives
still wins, and a file of the sampler's own class (or of no class) is read as it is.
"""

from __future__ import annotations

from typing import Any, Mapping

#: What Stable Diffusion models are trained and sampled with, for keys only some samplers have.
SD_TRAINING = {"clip_sample": False, "set_alpha_to_one": False}


def foreign_class(config: Mapping[str, Any], sampler_for_class: Mapping[str, str], sampler: str) -> bool:
    """Whether ``config`` names a scheduler class other than ``sampler``'s."""
    class_name = config.get("_class_name") if isinstance(config, Mapping) else None
    return isinstance(class_name, str) and sampler_for_class.get(class_name) != sampler


def with_sd_training(config: Mapping[str, Any], known_keys: Mapping[str, Any]) -> Mapping[str, Any]:
    """``config`` with SD's settings for the keys of ``known_keys`` (a sampler's defaults) it
    lacks, or only has as diffusers' filled-in defaults (``_use_default_values``)."""
    filled_in = config.get("_use_default_values") or ()
    missing = {k: v for k, v in SD_TRAINING.items() if k in known_keys and (k not in config or k in filled_in)}
    if not missing:
        return config
    if isinstance(filled_in, (list, tuple)):
        filled_in = [key for key in filled_in if key not in missing]
    return {**config, **missing, "_use_default_values": filled_in}
