"""A job that ignores Cancel is abandoned: it never stalls its device, shutdown or exit.

The generators here sleep in a loop without ever calling ``check_cancelled`` or yielding, as a
plugin stuck in a long pure-Python loop (or a chat template with a huge ``range``) does. Real
worker threads, real runner; waits have generous bounds, far under the old "forever".
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from studio.core.engine.generators import Generator, Param, Progress, Result
from studio.core.engine.jobs import CANCEL_GRACE, JobRunner, JobState
from studio.core.engine.runtime import Runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from job_recorder import Recorder  # noqa: E402

WAIT = 10.0  # seconds: far more than the grace period, far less than the stuck loop's 60 s
STUCK_FOR = 60.0


class Stuck(Generator):
    """Sleeps in a loop for a minute in ``load`` or ``generate`` and never looks at cancel;
    ``release`` lets it go on, and it then yields a Result that nobody should see."""

    id = "stuck"
    title = "Stuck loop"
    kind = "text"
    params = (Param("seed", "seed"),)

    def __init__(self, where: str = "generate") -> None:
        self.where = where
        self.entered = threading.Event()
        self.release = threading.Event()
        self.left = threading.Event()
        self.thread: threading.Thread | None = None

    def _loop(self) -> None:
        self.thread = threading.current_thread()
        self.entered.set()
        deadline = time.monotonic() + STUCK_FOR
        while time.monotonic() < deadline and not self.release.is_set():
            time.sleep(0.01)

    def load(self, ctx):
        if self.where == "load":
            self._loop()

    def generate(self, request, ctx):
        try:
            if self.where == "generate":
                self._loop()
            yield Progress(1, 1, "late")
            yield Result("text", "late", self.id, dict(request.params))
        finally:
            self.left.set()


class Quick(Generator):
    id = "quick"
    kind = "text"
    params = (Param("seed", "seed"),)

    def generate(self, request, ctx):
        yield Result("text", "quick", self.id, dict(request.params))


@pytest.fixture
def runner():
    runner = JobRunner(Runtime())
    yield runner
    runner.shutdown(timeout=WAIT)


@pytest.mark.parametrize("where", ["generate", "load"])
def test_a_job_that_ignores_cancel_is_abandoned_and_the_next_job_on_its_device_runs(runner, where):
    stuck, quick, recorder = Stuck(where), Quick(), Recorder()
    try:
        job = runner.submit(stuck, stuck.request(), listeners=[recorder])
        assert stuck.entered.wait(WAIT)
        waiting = runner.submit(quick, quick.request())  # same device: queued behind the stuck job

        asked = time.monotonic()
        job.cancel()
        assert job.wait(WAIT), "the stuck job was never abandoned: its device is blocked"
        assert time.monotonic() - asked >= CANCEL_GRACE * 0.9  # it had its grace period first
        assert job.state is JobState.CANCELLED and job.abandoned
        assert "did not stop" in job.message and "abandoned" in job.message and "Stuck loop" in job.message
        assert recorder.states(job) == [JobState.QUEUED, JobState.RUNNING, JobState.CANCELLED]

        assert waiting.wait(WAIT), "the next job on the device did not start after the abandon"
        assert waiting.state is JobState.FINISHED and waiting.result.value == "quick"
        assert stuck.thread.daemon, "a stuck thread must never block the process from exiting"
        assert not stuck.left.is_set()  # it really was still stuck when the next job ran
    finally:
        stuck.release.set()


def test_the_late_events_and_result_of_an_abandoned_job_are_discarded(runner):
    stuck, recorder = Stuck(), Recorder()
    job = runner.submit(stuck, stuck.request(), listeners=[recorder])
    assert stuck.entered.wait(WAIT)
    job.cancel()
    assert job.wait(WAIT)
    heard = list(recorder.of(job))

    stuck.release.set()  # it wakes up and yields a Progress and a Result into the void
    assert stuck.left.wait(WAIT)
    stuck.thread.join(WAIT)
    assert not stuck.thread.is_alive(), "the abandoned thread took more work instead of leaving"

    assert recorder.of(job) == heard
    assert not any(isinstance(event, Result) for event in recorder.of(job))
    assert Progress(1, 1, "late") not in recorder.of(job)
    assert job.result is None and job.results == []
    assert job.state is JobState.CANCELLED


def test_a_fresh_worker_keeps_jobs_one_at_a_time_after_an_abandon(runner):
    stuck = Stuck()
    job = runner.submit(stuck, stuck.request())
    assert stuck.entered.wait(WAIT)
    job.cancel()
    assert job.wait(WAIT)
    stuck.release.set()
    assert stuck.left.wait(WAIT)
    # Only the fresh worker takes jobs from the queue: each runs alone, in order, on one thread.
    threads, lock = [], threading.Lock()

    class Where(Quick):
        def generate(self, request, ctx):
            with lock:
                threads.append(threading.current_thread())
            yield from super().generate(request, ctx)

    jobs = [runner.submit(Where(), Where().request()) for _ in range(5)]
    for each in jobs:
        assert each.wait(WAIT) and each.state is JobState.FINISHED
    assert len(set(threads)) == 1 and threads[0] is not stuck.thread


def test_shutdown_returns_within_its_bound_with_a_stuck_job():
    runner = JobRunner(Runtime())
    stuck = Stuck()
    try:
        job = runner.submit(stuck, stuck.request())
        queued = runner.submit(Quick(), Quick().request())
        assert stuck.entered.wait(WAIT)

        asked = time.monotonic()
        runner.shutdown(timeout=0.5)
        took = time.monotonic() - asked
        assert took < 0.5 + 2.0, f"shutdown took {took:.1f} s with a bound of 0.5 s"
        assert job.state is JobState.CANCELLED and job.abandoned
        assert queued.state is JobState.CANCELLED
    finally:
        stuck.release.set()


def test_a_job_that_stops_within_the_grace_period_is_not_abandoned(runner):
    stuck, quick = Stuck(), Quick()
    job = runner.submit(stuck, stuck.request())
    assert stuck.entered.wait(WAIT)
    job.cancel()
    stuck.release.set()  # it stops on its own, well within the grace period
    assert job.wait(WAIT)
    assert job.state is JobState.CANCELLED and not job.abandoned and job.message == "cancelled"
    time.sleep(CANCEL_GRACE + 0.5)  # past the grace period: the watchdog must leave it alone
    assert not job.abandoned and job.message == "cancelled"
    assert runner.submit(quick, quick.request()).wait(WAIT)
