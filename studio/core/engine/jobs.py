"""Jobs: a generator run in a worker thread, one queue per device.

One queue per device means jobs on the same GPU wait for each other instead of fighting over
its memory, while a CPU job and a GPU job can run side by side. Cancel is cooperative
between steps (the runner stops pulling events; ``ctx.check_cancelled()``) and immediate
inside a long onnxruntime call (``RunOptions.terminate``); a job that still has not stopped
after ``CANCEL_GRACE`` is abandoned (``studio.core.engine.device_queue``), so no plugin can stall
its device.

Listeners are plain callables ``listener(job, event)``, called on the worker thread; the UI
bridges them to Qt signals (``studio.ui.window.workers``) and the CLI prints them.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
import time
import weakref
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator, Mapping

from studio.core.base.ids import new_id
from studio.core.base.logs import log_path
from studio.core.engine.device_queue import CANCEL_GRACE, DeviceQueue
from studio.core.engine.generators import Event, Generator, Progress, Request, Result
from studio.core.engine.result_check import check_event
from studio.core.engine.runtime import CPU_DEVICE, Device, LoadedSession, Runtime
from studio.errors import Cancelled, StudioError

log = logging.getLogger(__name__)

__all__ = ["CANCEL_GRACE", "SHUTDOWN_WAIT", "Job", "JobContext", "JobRunner", "JobState", "StateChanged"]

#: Seconds ``JobRunner.shutdown`` waits for cancelled jobs to stop before abandoning them:
#: closing the window or the CLI must never hang on a plugin that does not stop.
SHUTDOWN_WAIT = 1.0


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def done(self) -> bool:
        return self in (JobState.FINISHED, JobState.CANCELLED, JobState.FAILED)


@dataclass(frozen=True)
class StateChanged:
    """The job moved to ``state``; ``message`` says why when it failed."""

    state: JobState
    message: str = ""


Listener = Callable[["Job", Any], None]


class Job:
    """One run of a generator. Created by ``JobRunner.submit``; safe to read from any thread."""

    def __init__(self, generator: Generator, request: Request, device: Device, listeners: Iterable[Listener]) -> None:
        self.id = new_id()
        self.generator = generator
        self.request = request
        self.device = device
        self.state = JobState.QUEUED
        self.message = ""
        #: True when the job ignored Cancel and was left behind: it ended as cancelled, and
        #: whatever its thread still produces is discarded.
        self.abandoned = False
        #: True when the job failed on a bug (in a plugin or Studio) rather than on bad input.
        self.internal_error = False
        self.result: Result | None = None  # the last result
        self.results: list[Result] = []  # a batch yields several
        self.progress: Progress | None = None
        self.created = time.monotonic()
        self.started: float | None = None
        self.ended: float | None = None
        self._listeners = list(listeners)
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        # Held while listeners hear an event, so the end is announced after any event already
        # on its way and nothing is heard after it (re-entrant: a listener may cancel the job).
        self._emit_lock = threading.RLock()
        self._run_options: set[Any] = set()
        self._on_cancel: Callable[[Job], None] | None = None  # the device queue's watchdog
        self._watched = False

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.generator.id} {self.state.value}>"

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the job to stop: at once if it is still queued, else at its next step or call."""
        self._cancel.set()
        with self._lock:
            for options in self._run_options:
                options.terminate = True
            queued = self.state is JobState.QUEUED
            if queued:  # decided under the lock, so the worker cannot start it meanwhile
                self.state, self.message, self.ended = JobState.CANCELLED, "cancelled before it started", time.monotonic()
            watch = self.state is JobState.RUNNING and not self._watched and self._on_cancel is not None
            self._watched = self._watched or watch
        if queued:
            self._announce_end()
        elif watch:  # it may never look at the flag: start the grace period that ends in abandon
            self._on_cancel(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended; True if it did within ``timeout``."""
        return self._done.wait(timeout)

    def release_pictures(self) -> None:
        """Let go of the pictures among the results (their ``value`` becomes None), keeping
        their parameters and info: the window has put them into the canvas or the results
        strip, and need not hold them a second time for as long as the job is listed (a
        4096 x 4096 picture is 64 MB, and the Jobs panel lists 30 jobs)."""
        with self._emit_lock:
            self.results = [replace(r, value=None) if r.kind == "image" else r for r in self.results]
            self.result = self.results[-1] if self.results else None

    # -- used by the runner and the context -------------------------------------------------

    def _emit(self, event: Any) -> None:
        """Record ``event`` and hand it to the listeners, unless the job has ended: an
        abandoned job's thread may go on yielding, and none of that may reach anyone."""
        with self._emit_lock:
            if self.state.done:
                return
            if isinstance(event, Progress):
                self.progress = event
            elif isinstance(event, Result):
                self.result = event
                self.results.append(event)
            self._deliver(event)

    def _deliver(self, event: Any) -> None:
        with self._emit_lock:
            for listener in self._listeners:
                try:
                    listener(self, event)
                except Exception:  # a broken listener must not kill the job or the worker
                    log.exception("job listener %r failed", listener)

    def _start(self) -> bool:
        with self._lock:
            if self.state is not JobState.QUEUED:
                return False
            self.state = JobState.RUNNING
            self.started = time.monotonic()
        self._emit(StateChanged(JobState.RUNNING))
        return True

    def _end(self, state: JobState, message: str = "") -> None:
        if self._mark_ended(state, message):
            self._announce_end()

    def _mark_abandoned(self, message: str) -> bool:
        """End a running job that ignored Cancel; False if it has ended meanwhile."""
        return self._mark_ended(JobState.CANCELLED, message, abandoned=True)

    def _mark_ended(self, state: JobState, message: str, abandoned: bool = False) -> bool:
        with self._lock:
            if self.state.done:
                return False
            self.state, self.message, self.abandoned = state, message, abandoned
            self.ended = time.monotonic()
            return True

    def _announce_end(self) -> None:
        self._deliver(StateChanged(self.state, self.message))
        self._done.set()


class JobContext:
    """What a generator sees of the job running it: its device, sessions and cancellation."""

    def __init__(self, job: Job, runtime: Runtime) -> None:
        self._job = job
        self.runtime = runtime
        self.device = job.device

    @property
    def cancelled(self) -> bool:
        return self._job.cancel_requested

    def check_cancelled(self) -> None:
        """Raise ``Cancelled`` if the user asked to stop; call it between steps."""
        if self._job.cancel_requested:
            raise Cancelled()

    def progress(self, step: int, total: int, message: str = "") -> None:
        """Report progress from inside ``load`` (``generate`` yields ``Progress`` instead)."""
        self._job._emit(Progress(step, total, message))

    def session(self, path: Any, patch: Any = None) -> LoadedSession:
        """The cached onnxruntime session for ``path`` on this job's device (``patch``: see
        ``Runtime.session``)."""
        return self.runtime.session(path, self.device, patch)

    def run(self, session: LoadedSession | Any, outputs: list[str] | None, feeds: Mapping[str, Any]) -> list[Any]:
        """``session.run`` that the job's cancel can interrupt mid-call."""
        raw = session.session if isinstance(session, LoadedSession) else session
        with self.cancellable() as options:
            return raw.run(outputs, dict(feeds), options)

    @contextlib.contextmanager
    def cancellable(self) -> Iterator[Any]:
        """RunOptions for one onnxruntime call (``run``, ``run_with_iobinding``) that the job's
        cancel terminates; an interrupted call comes out as ``Cancelled``."""
        self.check_cancelled()
        options = self.runtime.ort.RunOptions()
        job = self._job
        with job._lock:
            job._run_options.add(options)
        try:
            if job.cancel_requested:  # cancelled between the check above and registering
                raise Cancelled()
            yield options
        except Cancelled:
            raise
        except Exception:
            if job.cancel_requested:
                raise Cancelled() from None
            raise
        finally:
            with job._lock:
                job._run_options.discard(options)


class JobRunner:
    """Runs jobs; one worker thread per device. The CLI and the UI both use this."""

    HISTORY = 20

    def __init__(self, runtime: Runtime | None = None, listeners: Iterable[Listener] = (), cancel_grace: float = CANCEL_GRACE) -> None:
        self.runtime = runtime or Runtime()
        self.listeners = list(listeners)
        self.cancel_grace = cancel_grace
        self._queues: dict[str, list[DeviceQueue]] = {}
        # Which devices each generator has loaded on; weak, so a dropped generator's entry goes
        # with it (an id() could be reused by a new generator and skip its load()).
        self._loaded: "weakref.WeakKeyDictionary[Generator, set[str]]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._jobs: list[Job] = []

    def submit(
        self,
        generator: Generator,
        request: Request,
        device: Device | None = None,
        listeners: Iterable[Listener] = (),
    ) -> Job:
        """Queue ``request`` on ``device`` (CPU when not given) and return its job at once."""
        job = Job(generator, request, device or CPU_DEVICE, [*self.listeners, *listeners])
        with self._lock:
            workers = self._queues.get(job.device.id)
            if workers is None:
                workers = self._queues[job.device.id] = self._device_queues(job.device)
            self._jobs.append(job)
            self._forget_old_jobs()
        job._emit(StateChanged(JobState.QUEUED))
        workers[0].put(job)  # one line of jobs per device, shared by its queues
        return job

    def _device_queues(self, device: Device) -> list[DeviceQueue]:
        """One queue for a local device; ``device.slots`` sharing one line for a cluster."""
        first = DeviceQueue(device, self._execute, self.cancel_grace)
        others = [DeviceQueue(device, self._execute, self.cancel_grace, first._jobs) for _ in range(device.slots - 1)]
        return [first, *others]

    def _forget_old_jobs(self) -> None:
        """Keep the last ``HISTORY`` ended jobs: each holds its result (an image can be 64 MB)."""
        ended = [job for job in self._jobs if job.state.done]
        for job in ended[: max(0, len(ended) - self.HISTORY)]:
            self._jobs.remove(job)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def active(self) -> list[Job]:
        return [job for job in self.jobs() if not job.state.done]

    def cancel_all(self) -> None:
        for job in self.active():
            job.cancel()

    def shutdown(self, timeout: float = SHUTDOWN_WAIT) -> None:
        """Cancel everything and stop the worker threads; returns within about ``timeout``.

        A job still running then is abandoned: it ends as cancelled and its (daemon) thread
        is left behind, so neither the window nor the CLI ever hangs on a stuck plugin."""
        self.cancel_all()
        with self._lock:
            queues = [worker for workers in self._queues.values() for worker in workers]
            self._queues.clear()
        for worker in queues:
            worker.stop()
        deadline = time.monotonic() + timeout
        for worker in queues:
            if not worker.join(max(0.0, deadline - time.monotonic())):
                worker.abandon_running()

    def _execute(self, job: Job) -> None:
        ctx = JobContext(job, self.runtime)
        generator = job.generator
        try:
            if job.device.remote is not None:  # a cluster: its worker loads and generates
                events = job.device.remote.run(job, ctx)
            else:
                events = self._generate_here(job, ctx)
            try:
                for event in events:
                    self._accept(job, event)
                    ctx.check_cancelled()
            finally:
                close = getattr(events, "close", None)
                if close is not None:
                    close()
            if job.result is None:
                raise StudioError(f"{generator.id} ended without producing a result")
        except Cancelled:
            job._end(JobState.CANCELLED, "cancelled")
        except StudioError as exc:
            if job.cancel_requested:
                job._end(JobState.CANCELLED, "cancelled")
            else:
                log.info("job %s failed: %s", job.id, exc)
                job._end(JobState.FAILED, str(exc))
        except BaseException as exc:  # even SystemExit from a plugin must not kill the device's worker
            if job.cancel_requested:
                job._end(JobState.CANCELLED, "cancelled")
                return
            log.exception("internal error in generator %s (job %s)", generator.id, job.id)
            job.internal_error = True
            job._end(JobState.FAILED, internal_error_message(generator, exc))
        else:
            job._end(JobState.FINISHED)

    def _generate_here(self, job: Job, ctx: JobContext) -> Iterator[Event]:
        generator = job.generator
        loaded_on = self._loaded.setdefault(generator, set())
        if job.device.id not in loaded_on:
            job._emit(Progress(0, 0, getattr(generator, "loading_message", "Loading model…")))
            generator.load(ctx)
            loaded_on.add(job.device.id)
        ctx.check_cancelled()
        return generator.generate(job.request, ctx)

    def _accept(self, job: Job, event: Event) -> None:
        event = check_event(job, event)  # before anything sees it: window, files and projects alike
        job._emit(event)  # records a Result too, unless the job was abandoned meanwhile


def internal_error_message(generator: Generator, exc: BaseException) -> str:
    owner = getattr(generator, "plugin_name", "") or type(generator).__module__
    return (
        f"internal error in {generator.id} (plugin {owner}): {type(exc).__name__}: {exc}. "
        f"The details are in the log: {log_path()}"
    )
