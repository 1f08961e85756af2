"""Latents kept in the Explorer: pictures of a latent generator a painter wants to come back to.

A kept latent is what made a picture, as plain data: the generator's id and the parameters
that make it again (the ``latent`` numbers, the seed, and whatever else the generator took:
its colour mode, truncation, class). They belong to the canvas document, are saved in the
project beside its layers (``canvas.json``'s ``kept_latents``) and come back when it is
opened; morphs run through them in their order. Reading trusts nothing: an entry that is
not a generator and a latent is left out, and said.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from studio.core.engine.latent_values import coerce_latent
from studio.errors import StudioError

#: More than anyone keeps by hand; a bound on what a file may make the explorer render.
MAX_KEPT = 512
#: What a kept entry never holds: pictures given to the generator (the user's work, large),
#: and how many pictures one job made (a kept entry is one picture).
LEFT_OUT = ("image", "mask", "batch_count")


@dataclass(frozen=True)
class KeptLatent:
    """One kept picture: ``generator`` (its id) and ``params`` (JSON-plain, ``latent`` a list
    of floats, exactly its float32 values)."""

    generator: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def latent(self) -> tuple[float, ...]:
        return tuple(self.params["latent"])

    @property
    def seed(self) -> int | None:
        seed = self.params.get("seed")
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    def record(self) -> dict[str, Any]:
        """As the project file holds it."""
        return {"generator": self.generator, "params": dict(self.params)}


def kept_latent(generator: str, params: Mapping[str, Any]) -> KeptLatent:
    """A kept entry from a picture's parameters: its latent checked (``StudioError`` in words
    when it has none or a bad one), pictures and non-plain values left out."""
    if not isinstance(generator, str) or not generator:
        raise StudioError("a kept picture names no generator")
    if not isinstance(params, Mapping):
        raise StudioError("a kept picture's parameters are not a table of names and values")
    latent = coerce_latent("latent", params.get("latent"), optional=False)
    assert latent is not None  # optional=False: a missing latent raised
    # Through JSON and back: tuples become lists, as they come back from the file.
    plain = {str(name): json.loads(json.dumps(value)) for name, value in params.items() if name not in LEFT_OUT and _plain(value)}
    plain["latent"] = list(latent)
    return KeptLatent(generator, plain)


def kept_records(kept: Sequence[KeptLatent]) -> list[dict[str, Any]]:
    return [entry.record() for entry in kept[:MAX_KEPT]]


def read_kept(data: Any, problems: list[str]) -> list[KeptLatent]:
    """The kept latents of a project's canvas (``None``: a project saved before them, none);
    what cannot be read is left out with a sentence in ``problems``."""
    if data is None:
        return []
    if not isinstance(data, list):
        problems.append("The Explorer's kept pictures could not be read and were left out (they are not a list).")
        return []
    kept, bad = [], 0
    for item in data[:MAX_KEPT]:
        try:
            if not isinstance(item, dict):
                raise StudioError("not a generator and its parameters")
            kept.append(kept_latent(item.get("generator"), item.get("params")))
        except StudioError:
            bad += 1
    if bad:
        problems.append(f"{bad} of the Explorer's kept pictures could not be read (no generator or no readable latent) and were left out.")
    if len(data) > MAX_KEPT:
        problems.append(f"The project keeps {len(data)} pictures in the Explorer; the first {MAX_KEPT} were read.")
    return kept


def _plain(value: Any, depth: int = 0) -> bool:
    """JSON-plain and small: numbers, text, true/false, null, and lists of them."""
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)) and depth < 4:
        return all(_plain(item, depth + 1) for item in value)
    if isinstance(value, dict) and depth < 4:
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False
