"""Running a piece of a pipeline inside a real job, so it gets a real JobContext (sessions made
by the runner's runtime, on the device asked for), and driving a pipeline's step generators."""

from __future__ import annotations

import studio
from studio.core.engine.jobs import JobState

from parity_device import parity_device  # STUDIO_TEST_DEVICE: bench/gpu_check.py runs the parity tests on CUDA


class Probe(studio.Generator):
    """A generator whose job runs ``fn(ctx)``; what it returns rides in the result's info (a
    result itself must keep the contract)."""

    id, kind = "probe", "text"

    def __init__(self, fn) -> None:
        self.fn = fn

    def generate(self, request, ctx):
        yield studio.Result("text", "", self.id, {}, info={"value": self.fn(ctx)})


def in_job(runner, fn, device=None):
    """``fn(ctx)`` run in a job of ``runner`` on ``device`` (the parity device when not given: the
    CPU unless STUDIO_TEST_DEVICE says otherwise); its return value."""
    probe = Probe(fn)
    job = runner.submit(probe, probe.request(), device or parity_device())
    assert job.wait(60), "no answer"
    assert job.state is JobState.FINISHED, job.message
    return job.result.info["value"]


def drain(steps):
    """Run a generator of Progress events to its return value."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
