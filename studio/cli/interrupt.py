"""Ctrl-C while the command line waits for a job: cancel it, say how to quit now, and wait
no longer than the runner's cancel grace period (after which a job that ignores Cancel is
abandoned), so `studio generate` never hangs on a plugin that does not stop."""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, TextIO

from studio.core.engine.jobs import CANCEL_GRACE

HINT = "studio: cancelling… press Ctrl-C again to quit now"
POLL = 0.1  # seconds: short waits keep Ctrl-C responsive on every platform


def wait_for_job(job: Any, runner: Any, before_hint: Callable[[], None] = lambda: None, stream: TextIO | None = None) -> bool:
    """Block until ``job`` has ended; True if the user pressed Ctrl-C meanwhile.

    The first Ctrl-C cancels the job and prints a one-line hint (``before_hint`` first ends
    whatever line was being drawn); the job then ends within the grace period, stopped or
    abandoned. A second Ctrl-C abandons it at once (``runner.shutdown(timeout=0)``)."""
    try:
        while not job.wait(POLL):
            pass
        return False
    except KeyboardInterrupt:
        pass
    before_hint()
    print(HINT, file=stream or sys.stderr, flush=True)
    job.cancel()
    # The runner abandons the job at the end of its grace period; the deadline only guards that.
    deadline = time.monotonic() + getattr(runner, "cancel_grace", CANCEL_GRACE) + 2.0
    try:
        while not job.wait(POLL) and time.monotonic() < deadline:
            pass
    except KeyboardInterrupt:
        pass
    else:
        if job.state.done:
            return True
    runner.shutdown(timeout=0)  # abandon it now: the user asked to quit
    return True
