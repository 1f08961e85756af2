"""One device's queue of jobs, run in order by one worker thread that can be replaced.

A Python thread cannot be killed, so a plugin that never looks at Cancel (a long pure-Python
loop, a model's chat template with a huge ``range``) would hold its device's only worker for
ever, and every later job would wait behind it. Instead, a cancelled job that has not stopped
within ``CANCEL_GRACE`` is *abandoned*: it ends as cancelled at once, its thread is left
behind (a daemon, so it never keeps the process alive) and may never take another job, and
a fresh worker takes over the queue. What the old thread still produces is dropped by the
job itself (``Job._emit``).

A device that runs several jobs at once (a cluster: one per worker) has several queues
sharing one line of jobs (``jobs``): each worker thread takes the next job when it is free.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from studio.core.engine.jobs import Job
    from studio.core.engine.runtime import Device

log = logging.getLogger(__name__)

#: Seconds a cancelled job may take to stop before it is abandoned. Long enough for any
#: generator that checks between steps (or an onnxruntime call being terminated), short
#: enough that the user is not left looking at "Cancelling…".
CANCEL_GRACE = 2.0


class DeviceQueue:
    """Runs one device's jobs in submission order, one at a time, on a worker thread."""

    def __init__(
        self,
        device: "Device",
        execute: Callable[["Job"], None],
        grace: float = CANCEL_GRACE,
        jobs: "queue.Queue[Job | None] | None" = None,
    ) -> None:
        self.device = device
        self.grace = grace
        self._execute = execute
        self._jobs: "queue.Queue[Job | None]" = jobs if jobs is not None else queue.Queue()
        # Guards which thread owns the queue and which job it runs, so an abandon and the
        # worker finishing that same job at that moment cannot both go on taking jobs.
        self._lock = threading.Lock()
        self._running: "Job | None" = None
        self._stopped = False
        self.thread = self._new_worker()

    def put(self, job: "Job") -> None:
        self._jobs.put(job)

    def stop(self) -> None:
        """Let the worker leave once it is done with its job (queued ones are cancelled first)."""
        with self._lock:
            self._stopped = True
        self._jobs.put(None)

    def join(self, timeout: float) -> bool:
        """Wait for the worker to leave; True if it did."""
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def abandon_running(self) -> None:
        """Abandon whatever job the worker is still running: Studio is quitting."""
        with self._lock:
            job = self._running
        if job is not None:
            self.abandon(job, quitting=True)

    # -- the cancel watchdog ----------------------------------------------------------------

    def _watch(self, job: "Job") -> None:
        """Called once when a running job is cancelled: give it ``grace`` seconds to stop."""
        timer = threading.Timer(self.grace, self.abandon, (job,))
        timer.name = f"cancel-grace-{job.id}"
        timer.daemon = True
        timer.start()

    def abandon(self, job: "Job", quitting: bool = False) -> bool:
        """If ``job`` is still running, end it as cancelled and give the queue a fresh worker."""
        with self._lock:
            if self._running is not job or not job._mark_abandoned(self.stuck_message(job, quitting)):
                return False  # it stopped in time (or never ran here)
            self._running = None
            stuck = self.thread
            if not self._stopped:
                self.thread = self._new_worker()
        log.warning("job %s abandoned in its thread %s: %s", job.id, stuck.name, job.message)
        job._announce_end()
        return True

    def stuck_message(self, job: "Job", quitting: bool = False) -> str:
        generator = job.generator
        owner = getattr(generator, "plugin_name", "") or type(generator).__module__
        what = "was still running when Studio quit" if quitting else f"did not stop within {self.grace:g} s of Cancel"
        return f"{generator.title or generator.id} (plugin {owner}) {what}; it was abandoned and its result will be discarded"

    # -- the worker -------------------------------------------------------------------------

    def _new_worker(self) -> threading.Thread:
        thread = threading.Thread(target=self._work, name=f"studio-{self.device.id}", daemon=True)
        thread.start()
        return thread

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            job = self._jobs.get()
            if job is None:
                return
            with self._lock:
                self._running = job
            job._on_cancel = self._watch  # here, not in put: with a shared line, whoever takes it watches it
            if job._start():
                self._execute(job)
            with self._lock:
                if self.thread is not me:  # abandoned meanwhile: the queue has a new worker
                    return
                self._running = None
