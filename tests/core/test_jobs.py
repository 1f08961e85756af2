"""Jobs: states and events, failures, cancellation (between steps and inside onnxruntime), queues.

Everything here is real: real worker threads, real onnxruntime sessions on models built by
``tests/fixtures/slow_model.py``. Waits use generous timeouts, never sleeps-as-assertions.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from studio.core.engine.generators import Generator, Param, Preview, Progress, Result
from studio.core.engine.jobs import Job, JobRunner, JobState, StateChanged
from studio.core.base.logs import setup_logging
from studio.core.engine.runtime import CPU_DEVICE, Device, Runtime
from studio.errors import Cancelled, ModelError, StudioError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import slow_model  # noqa: E402
from job_recorder import Recorder  # noqa: E402

WAIT = 10.0  # seconds: a job that should end "at once" gets this long before the test fails
PROMPTLY = 2.0  # seconds: the bound for "cancel ends the job promptly"


@pytest.fixture
def runner():
    runner = JobRunner(Runtime())
    yield runner
    runner.shutdown(timeout=WAIT)


def finished(job: Job) -> Job:
    assert job.wait(WAIT), f"{job} did not end within {WAIT} s"
    return job


# -- generators used by the tests ---------------------------------------------------------


class Counter(Generator):
    """Counts to ``steps``, then returns the count. Counts its loads."""

    id = "counter"
    kind = "text"
    params = (Param("steps", "int", 3, min=0, max=1000), Param("seed", "seed"))

    def __init__(self) -> None:
        self.loads = 0

    def load(self, ctx):
        self.loads += 1

    def generate(self, request, ctx):
        total = request["steps"]
        for step in range(1, total + 1):
            yield Progress(step, total, f"step {step}")
            yield Preview("text", f"{step} ")
        yield Result("text", "".join(f"{step} " for step in range(1, total + 1)), self.id, dict(request.params))


class Raising(Generator):
    id = "raising"
    kind = "text"

    def __init__(self, error: BaseException, after_steps: int = 1) -> None:
        self.error = error
        self.after_steps = after_steps

    def generate(self, request, ctx):
        for step in range(self.after_steps):
            yield Progress(step + 1, self.after_steps + 1)
        raise self.error


class NoResult(Generator):
    id = "no-result"
    kind = "text"

    def generate(self, request, ctx):
        yield Progress(1, 1)


class Endless(Generator):
    """A python generator that never calls check_cancelled; only the runner can stop it."""

    id = "endless"
    kind = "text"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.closed = threading.Event()
        self.steps = 0

    def generate(self, request, ctx):
        try:
            while True:
                self.steps += 1
                yield Progress(self.steps, 0, "working")
                if self.steps >= 3:
                    self.started.set()
                time.sleep(0.005)
        finally:
            self.closed.set()


class Gate(Generator):
    """Blocks in generate until its gate opens; records when it ran."""

    kind = "text"

    def __init__(self, name: str, log: list, gate: threading.Event | None = None) -> None:
        self.id = name
        self.log = log
        self.gate = gate
        self.entered = threading.Event()

    def generate(self, request, ctx):
        self.log.append(("start", self.id))
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT), "test gate never opened"
        self.log.append(("end", self.id))
        yield Result("text", self.id, self.id, {})


# -- a finishing job ----------------------------------------------------------------------


def test_a_finishing_job_emits_states_and_events_in_order(runner):
    recorder = Recorder()
    generator = Counter()
    job = runner.submit(generator, generator.request({"steps": 3, "seed": 5}), listeners=[recorder])
    assert finished(job).state is JobState.FINISHED

    events = recorder.of(job)
    kinds = [type(e).__name__ for e in events]
    assert events[0] == StateChanged(JobState.QUEUED)
    assert events[1] == StateChanged(JobState.RUNNING)
    assert events[-1] == StateChanged(JobState.FINISHED)
    assert isinstance(events[-2], Result)
    middle = kinds[2:-2]
    assert set(middle) <= {"Progress", "Preview"}
    steps = [(e.step, e.total) for e in events if isinstance(e, Progress) and e.total > 0]
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert recorder.states(job) == [JobState.QUEUED, JobState.RUNNING, JobState.FINISHED]

    assert job.result is events[-2]
    assert job.result.value == "1 2 3 "  # the chunks it streamed, joined
    assert job.result.params == {"steps": 3, "seed": 5}
    assert job.message == ""
    assert job.progress == Progress(3, 3, "step 3")
    assert job.started is not None and job.ended is not None and job.ended >= job.started


def test_runner_listeners_and_job_listeners_both_hear_everything():
    everyone, mine = Recorder(), Recorder()
    runner = JobRunner(Runtime(), listeners=[everyone])
    try:
        generator = Counter()
        job = finished(runner.submit(generator, generator.request({"steps": 2}), listeners=[mine]))
        assert everyone.of(job) == mine.of(job)
        assert len(mine.of(job)) >= 6
    finally:
        runner.shutdown()


# -- failures -----------------------------------------------------------------------------


def test_a_studio_error_fails_the_job_with_its_message(runner):
    recorder = Recorder()
    generator = Raising(ModelError("the model folder /x has no unet/model.onnx"))
    job = finished(runner.submit(generator, generator.request(), listeners=[recorder]))
    assert job.state is JobState.FAILED
    assert job.message == "the model folder /x has no unet/model.onnx"
    assert recorder.of(job)[-1] == StateChanged(JobState.FAILED, job.message)
    assert job.result is None


def test_an_unexpected_exception_is_an_internal_error_with_the_log(runner):
    log_file = setup_logging()
    generator = Raising(RuntimeError("tensor went sideways"))
    generator.plugin_name = "sideways-plugin"
    job = finished(runner.submit(generator, generator.request()))

    assert job.state is JobState.FAILED
    assert job.message.startswith("internal error in raising (plugin sideways-plugin)")
    assert "RuntimeError: tensor went sideways" in job.message
    assert str(log_file) in job.message
    for handler in logging.getLogger("studio").handlers:
        handler.flush()
    text = log_file.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: tensor went sideways" in text
    assert "in generate" in text  # the generator's own frame is in the traceback


def test_internal_error_names_the_module_when_no_plugin_is_known(runner):
    generator = Raising(KeyError("missing"))
    job = finished(runner.submit(generator, generator.request()))
    assert job.state is JobState.FAILED
    assert f"internal error in raising (plugin {__name__})" in job.message
    assert "Traceback" not in job.message


def test_a_generator_that_ends_without_a_result_fails(runner):
    generator = NoResult()
    job = finished(runner.submit(generator, generator.request()))
    assert job.state is JobState.FAILED
    assert job.message == "no-result ended without producing a result"


def test_a_failing_load_fails_the_job_and_is_retried_next_time(runner):
    class FlakyLoad(Counter):
        id = "flaky"

        def load(self, ctx):
            self.loads += 1
            if self.loads == 1:
                raise ModelError("model.onnx is missing")

    generator = FlakyLoad()
    first = finished(runner.submit(generator, generator.request()))
    assert (first.state, first.message) == (JobState.FAILED, "model.onnx is missing")
    second = finished(runner.submit(generator, generator.request()))
    assert second.state is JobState.FINISHED
    assert generator.loads == 2


def test_a_raising_listener_does_not_break_the_job(runner, caplog):
    def broken(job, event):
        raise RuntimeError("listener bug")

    recorder = Recorder()
    generator = Counter()
    with caplog.at_level(logging.ERROR, logger="studio"):
        job = finished(runner.submit(generator, generator.request({"steps": 2}), listeners=[broken, recorder]))
    assert job.state is JobState.FINISHED
    assert recorder.states(job) == [JobState.QUEUED, JobState.RUNNING, JobState.FINISHED]
    assert isinstance(recorder.of(job)[-2], Result)
    assert "listener" in caplog.text and "listener bug" in caplog.text
    # the worker survived too
    assert finished(runner.submit(generator, generator.request())).state is JobState.FINISHED


# -- cancellation ---------------------------------------------------------------------------


def test_cancel_while_queued_ends_at_once_without_running(runner):
    order: list = []
    gate = threading.Event()
    blocker = Gate("blocker", order, gate)
    waiting = Gate("waiting", order)
    recorder = Recorder()
    first = runner.submit(blocker, blocker.request())
    assert blocker.entered.wait(WAIT)
    second = runner.submit(waiting, waiting.request(), listeners=[recorder])
    assert second.state is JobState.QUEUED

    second.cancel()
    assert second.state is JobState.CANCELLED  # at once, not when the device frees up
    assert second.wait(0)
    assert second.message

    gate.set()
    assert finished(first).state is JobState.FINISHED
    after = Gate("after", order)
    assert finished(runner.submit(after, after.request())).state is JobState.FINISHED
    assert ("start", "waiting") not in order
    assert recorder.states(second) == [JobState.QUEUED, JobState.CANCELLED]


def test_cancel_between_steps_stops_a_generator_that_never_checks(runner):
    recorder = Recorder()
    generator = Endless()
    job = runner.submit(generator, generator.request(), listeners=[recorder])
    assert generator.started.wait(WAIT)
    assert job.state is JobState.RUNNING

    asked = time.monotonic()
    job.cancel()
    assert job.wait(PROMPTLY), "cancel did not end the job between steps"
    assert time.monotonic() - asked < PROMPTLY
    assert job.state is JobState.CANCELLED
    assert job.result is None
    assert generator.closed.wait(WAIT), "the generator was not closed (its finally did not run)"
    assert recorder.states(job) == [JobState.QUEUED, JobState.RUNNING, JobState.CANCELLED]


def test_check_cancelled_in_a_generator_ends_it_cancelled(runner):
    class Polite(Generator):
        id = "polite"
        kind = "text"
        began = threading.Event()

        def generate(self, request, ctx):
            self.began.set()
            while True:
                ctx.check_cancelled()
                time.sleep(0.005)
                if False:
                    yield

    generator = Polite()
    job = runner.submit(generator, generator.request())
    assert generator.began.wait(WAIT)
    job.cancel()
    assert job.wait(PROMPTLY)
    assert job.state is JobState.CANCELLED


def test_an_error_caused_by_cancelling_counts_as_cancelled(runner):
    class Sloppy(Generator):
        id = "sloppy"
        kind = "text"
        began = threading.Event()

        def generate(self, request, ctx):
            self.began.set()
            while not ctx.cancelled:
                time.sleep(0.005)
            raise RuntimeError("stream closed")  # what a library might raise when interrupted
            yield

    generator = Sloppy()
    job = runner.submit(generator, generator.request())
    assert generator.began.wait(WAIT)
    job.cancel()
    assert job.wait(PROMPTLY)
    assert job.state is JobState.CANCELLED


def test_cancel_after_the_end_changes_nothing(runner):
    generator = Counter()
    job = finished(runner.submit(generator, generator.request()))
    job.cancel()
    assert job.state is JobState.FINISHED
    assert job.result is not None


@pytest.fixture(scope="module")
def slow_model_file(tmp_path_factory):
    return slow_model.write(slow_model.slow_loop_model(), tmp_path_factory.mktemp("slow") / "slow.onnx")


class SlowOnnx(Generator):
    """One ctx.run of the slow Loop model: a single long onnxruntime call."""

    id = "slow-onnx"
    kind = "text"
    params = (Param("steps", "int", 10, min=1, max=10**9),)

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calling = threading.Event()
        self.returned = threading.Event()

    def load(self, ctx):
        ctx.session(self.path)

    def generate(self, request, ctx):
        loaded = ctx.session(self.path)
        yield Progress(0, 1, "one long call")
        self.calling.set()
        (y,) = ctx.run(loaded, ["y"], slow_model.slow_feeds(request["steps"]))
        self.returned.set()
        yield Result("text", str(float(y[0, 0])), self.id, dict(request.params))


def test_ctx_run_returns_the_model_output(runner, slow_model_file):
    generator = SlowOnnx(slow_model_file)
    job = finished(runner.submit(generator, generator.request({"steps": 3})))
    assert job.state is JobState.FINISHED, job.message
    assert job.result.value == "1.0"


def test_cancel_interrupts_a_long_onnxruntime_call(runner, slow_model_file):
    session = runner.runtime.session(slow_model_file, CPU_DEVICE)
    steps = slow_model.steps_for(session.session, seconds=20.0)  # uncancelled, this call takes ~20 s
    generator = SlowOnnx(slow_model_file)
    job = runner.submit(generator, generator.request({"steps": steps}))
    assert generator.calling.wait(WAIT)
    time.sleep(0.3)  # let onnxruntime get well into the call
    assert job.state is JobState.RUNNING, "the long call ended by itself: the model is not slow enough"

    asked = time.monotonic()
    job.cancel()
    assert job.wait(PROMPTLY), "RunOptions.terminate did not stop the running onnxruntime call"
    took = time.monotonic() - asked
    assert job.state is JobState.CANCELLED, job.message
    assert job.message == "cancelled"
    assert not generator.returned.is_set()
    assert took < PROMPTLY

    # The session is still good afterwards: the next job on it runs normally.
    again = SlowOnnx(slow_model_file)
    assert finished(runner.submit(again, again.request({"steps": 2}))).state is JobState.FINISHED


def test_an_onnxruntime_error_that_is_not_a_cancel_is_an_internal_error(runner, slow_model_file):
    class WrongFeeds(SlowOnnx):
        def generate(self, request, ctx):
            loaded = ctx.session(self.path)
            ctx.run(loaded, None, {"steps": np.array(1, dtype=np.int64), "x": np.ones((3, 3), np.float32)})
            yield Result("text", None, self.id, {})

    generator = WrongFeeds(slow_model_file)
    job = finished(runner.submit(generator, generator.request()))
    assert job.state is JobState.FAILED
    assert job.message.startswith("internal error in slow-onnx")


def test_a_model_that_does_not_load_fails_with_a_plain_message(runner, tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x01garbage, not protobuf" * 4)
    generator = SlowOnnx(broken)
    job = finished(runner.submit(generator, generator.request()))
    assert job.state is JobState.FAILED
    assert job.message.startswith(f"the model file {broken} could not be loaded")
    assert "internal error" not in job.message


# -- queues ---------------------------------------------------------------------------------


def test_jobs_on_one_device_run_one_at_a_time_in_submission_order(runner):
    order: list = []
    gate = threading.Event()
    first = Gate("first", order, gate)
    rest = [Gate(name, order) for name in ("second", "third", "fourth")]
    jobs = [runner.submit(first, first.request())]
    assert first.entered.wait(WAIT)
    jobs += [runner.submit(g, g.request()) for g in rest]
    time.sleep(0.05)
    assert [j.state for j in jobs[1:]] == [JobState.QUEUED] * 3, "a job started while the device was busy"
    assert runner.active() == jobs

    gate.set()
    for job in jobs:
        assert finished(job).state is JobState.FINISHED
    names = ["first", "second", "third", "fourth"]
    assert order == [(what, name) for name in names for what in ("start", "end")]
    assert runner.active() == []
    assert runner.jobs() == jobs


def test_jobs_on_different_devices_run_side_by_side(runner):
    order: list = []
    gate = threading.Event()
    other = Device("other:0", "Another device", ("CPUExecutionProvider",))
    on_cpu = Gate("on-cpu", order, gate)

    class Opener(Gate):
        def generate(self, request, ctx):
            assert ctx.device is other
            gate.set()
            yield from super().generate(request, ctx)

    opener = Opener("opener", order)
    cpu_job = runner.submit(on_cpu, on_cpu.request())
    assert on_cpu.entered.wait(WAIT)
    other_job = runner.submit(opener, opener.request(), device=other)
    # The CPU job can only end once the job on the other device has opened its gate.
    assert finished(other_job).state is JobState.FINISHED
    assert finished(cpu_job).state is JobState.FINISHED
    assert cpu_job.device is CPU_DEVICE and other_job.device is other


def test_load_runs_once_per_generator_and_device(runner):
    generator, other_generator = Counter(), Counter()
    other = Device("other:0", "Another device", ("CPUExecutionProvider",))
    for _ in range(3):
        assert finished(runner.submit(generator, generator.request())).state is JobState.FINISHED
    assert generator.loads == 1
    assert finished(runner.submit(generator, generator.request(), device=other)).state is JobState.FINISHED
    assert finished(runner.submit(generator, generator.request(), device=other)).state is JobState.FINISHED
    assert generator.loads == 2
    finished(runner.submit(other_generator, other_generator.request()))
    assert other_generator.loads == 1


def test_load_can_report_progress_and_be_cancelled(runner):
    class SlowLoad(Counter):
        id = "slow-load"
        loading = threading.Event()

        def load(self, ctx):
            super().load(ctx)
            ctx.progress(1, 2, "reading weights")
            self.loading.set()
            while not ctx.cancelled:
                time.sleep(0.005)

    recorder = Recorder()
    generator = SlowLoad()
    job = runner.submit(generator, generator.request(), listeners=[recorder])
    assert generator.loading.wait(WAIT)
    job.cancel()
    assert job.wait(PROMPTLY)
    assert job.state is JobState.CANCELLED
    assert Progress(1, 2, "reading weights") in recorder.of(job)
    assert not any(isinstance(e, Result) for e in recorder.of(job))


def test_shutdown_cancels_everything_and_stops_the_threads():
    runner = JobRunner(Runtime())
    before = set(threading.enumerate())
    endless = Endless()
    running = runner.submit(endless, endless.request())
    queued = runner.submit(Counter(), Counter().request())
    other = Counter()
    elsewhere = runner.submit(other, other.request(), device=Device("other:0", "Other", ("CPUExecutionProvider",)))
    assert endless.started.wait(WAIT)
    finished(elsewhere)
    workers = [t for t in set(threading.enumerate()) - before if t.name.startswith("studio-")]
    assert len(workers) == 2

    runner.shutdown(timeout=WAIT)
    assert running.state is JobState.CANCELLED
    assert queued.state is JobState.CANCELLED
    assert elsewhere.state is JobState.FINISHED
    assert not any(t.is_alive() for t in workers)


def test_cancelled_is_not_a_studio_error():
    # A generator that catches StudioError to report it must not swallow a cancel.
    assert not issubclass(Cancelled, StudioError)
