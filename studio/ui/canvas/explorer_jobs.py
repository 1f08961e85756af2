"""The Explorer's jobs: every picture it shows is an ordinary job of the generator, in a named slot.

A slot is one place a picture goes ("cell 4", "current", "frame 2", "study"). A new job in a
slot cancels the one before it there, and whatever that one still sends is dropped: the
painter moved on (a slider dragged, Vary pressed again), and a late picture must not replace a
newer one. The jobs queue on the host's device like any other, but through the Explorer's own
bridge, so they stay out of the Jobs panel and never land on the canvas.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from PySide6.QtCore import QObject, Signal

from studio.core.engine.generators import INPUT_TYPES, Generator, Result
from studio.core.engine.latent_values import LatentSpace, recorded
from studio.core.engine.jobs import Job, JobState
from studio.host import Host
from studio.ui.window.workers import JobBridge

NOT_STYLE = ("latent", "seed", "batch_count")  # what every picture sets for itself


def style_of(generator: Generator, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of ``params`` a picture keeps as its own (a CPPN's colour mode, a GAN's
    truncation): not its latent, seed or size (thumbnails have theirs), not pictures (the canvas's)."""
    space = generator.latent_space
    kinds = {p.name: p.type for p in generator.params}
    return {k: v for k, v in params.items() if k in kinds and kinds[k] not in INPUT_TYPES and k not in NOT_STYLE
            and (space is None or k not in space.thumbnail_params)}


def thumbnail_values(space: LatentSpace, latent: np.ndarray | None, seed: int, style: Mapping[str, Any]) -> dict[str, Any]:
    """A small, quick picture of ``latent`` (None: the seed's) in ``style``."""
    return {**style, **space.thumbnail_params, "seed": seed, "batch_count": 1, "latent": None if latent is None else recorded(latent)}


def full_values(generator: Generator, form: Mapping[str, Any], latent: np.ndarray, seed: int, style: Mapping[str, Any]) -> dict[str, Any]:
    """``latent`` at full size: the form's values (its size, what the painter set), the
    picture's style over them."""
    kinds = {p.name: p.type for p in generator.params}
    chosen = {k: v for k, v in form.items() if k in kinds and kinds[k] not in INPUT_TYPES and k not in NOT_STYLE}
    return {**chosen, **style, "seed": seed, "batch_count": 1, "latent": recorded(latent)}


class ExplorerJobs(QObject):
    """Submits jobs into slots and passes on the events of each slot's latest job only."""

    result = Signal(str, object)  # slot, Result (a batch's study sends several)
    ended = Signal(str, object, str)  # slot, JobState, message (a failure's, in words)

    def __init__(self, host: Host, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.bridge = JobBridge(self)  # events come on worker threads; the bridge queues them here
        self.bridge.result.connect(self._on_result)
        self.bridge.state_changed.connect(self._on_state)
        self._slots: dict[str, Job] = {}

    def submit(self, slot: str, generator_id: str, values: Mapping[str, Any]) -> Job:
        """Queue a job for ``slot``, replacing the one there; ``StudioError`` on bad values."""
        self.cancel(slot)
        job = self.host.submit(generator_id, dict(values), listeners=[self.bridge.listener])
        self._slots[slot] = job
        return job

    def cancel(self, slot: str) -> None:
        job = self._slots.pop(slot, None)
        if job is not None:
            job.cancel()

    def cancel_all(self, prefix: str = "") -> None:
        """Cancel every slot whose name starts with ``prefix`` (all of them by default)."""
        for slot in [s for s in self._slots if s.startswith(prefix)]:
            self.cancel(slot)

    def busy(self, prefix: str = "") -> bool:
        """Whether a job is still under way in a slot starting with ``prefix``."""
        return any(slot.startswith(prefix) for slot in self._slots)

    def owns(self, job: Job) -> bool:
        """Whether ``job`` is one of the Explorer's (its pictures land in the panel, not the canvas)."""
        return self._slot_of(job) is not None

    def _slot_of(self, job: Job) -> str | None:
        return next((slot for slot, held in self._slots.items() if held is job), None)

    def _on_result(self, job: Job, result: Result) -> None:
        slot = self._slot_of(job)
        if slot is not None:  # else: replaced since, its picture is stale
            self.result.emit(slot, result)

    def _on_state(self, job: Job, state: JobState, message: str) -> None:
        if not state.done:
            return
        job.release_pictures()  # the Explorer keeps what it shows; the job need not hold it too
        slot = self._slot_of(job)
        if slot is not None:
            del self._slots[slot]
            self.ended.emit(slot, state, message)
