"""The cluster gateway: the child process that is Studio's Ray driver.

A Ray driver process exits when the raylet it is attached to dies, so a cluster that went
away would take the window with it. Studio never imports Ray itself: its ``ClusterRunner``
(``studio.cluster.client``) starts this process and talks to it through messages on its
standard input and output (``studio.cluster.messages``: plain data, never pickle). A lost
gateway fails the jobs it had, in words, and the next cluster job starts a fresh one.

Studio -> gateway: ("run", job id, JobSpec, address), ("cancel", job id),
("call", call id, name, args), ("stop",).
Gateway -> Studio: ("event", job id, event), ("end", job id, state, message, internal error),
("reply", call id, ok, value).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any, BinaryIO, Callable

from studio.cluster.messages import JobSpec, read_message, write_message
from studio.errors import Cancelled, StudioError

log = logging.getLogger(__name__)


class GatewayContext:
    """What ``ClusterExecutor`` sees of a job here: its progress goes to Studio, its cancel
    comes from Studio."""

    def __init__(self, job_id: str, send: Callable[[tuple], None], cancel: threading.Event) -> None:
        self._job_id, self._send, self._cancel = job_id, send, cancel

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def progress(self, step: int, total: int, message: str = "") -> None:
        from studio.core.engine.generators import Progress

        self._send(("event", self._job_id, Progress(step, total, message)))


class Gateway:
    def __init__(self, out: BinaryIO) -> None:
        from studio.cluster.connection import RayConnection
        from studio.cluster.executor import ClusterExecutor

        self._out = out
        self._send_lock = threading.Lock()
        self.connection = RayConnection()
        self.executor = ClusterExecutor(self.connection)
        self._cancels: dict[str, threading.Event] = {}

    def send(self, message: tuple) -> None:
        with self._send_lock:
            write_message(self._out, message)

    def serve(self, messages: BinaryIO) -> None:
        while True:
            try:
                message = read_message(messages)
            except (EOFError, OSError, ValueError):
                return  # Studio went away
            kind = message[0]
            if kind == "stop":
                return
            if kind == "run":
                _, job_id, spec, address = message
                cancel = self._cancels[job_id] = threading.Event()
                threading.Thread(target=self._run, args=(spec, address, cancel), name=f"job-{job_id}", daemon=True).start()
            elif kind == "cancel" and message[1] in self._cancels:
                self._cancels[message[1]].set()
            elif kind == "call":
                threading.Thread(target=self._answer, args=message[1:], name="call", daemon=True).start()

    def _run(self, spec: JobSpec, address: Any, cancel: threading.Event) -> None:
        ctx = GatewayContext(spec.id, self.send, cancel)
        try:
            for event in self.executor.run(spec, ctx, address):
                self.send(("event", spec.id, event))
            end = ("finished", "", False)
        except Cancelled:
            end = ("cancelled", "cancelled", False)
        except StudioError as exc:
            end = ("failed", str(exc), spec.internal_error)
        except Exception as exc:  # a bug here: said, and the gateway goes on with other jobs
            log.exception("cluster job %s failed in the gateway", spec.id)
            end = ("failed", f"internal error in the cluster gateway: {type(exc).__name__}: {exc}", True)
        finally:
            self._cancels.pop(spec.id, None)
        self.send(("end", spec.id, *end))

    def _answer(self, call_id: int, name: str, args: tuple) -> None:
        try:
            if name == "report":
                from studio.cluster.report import cluster_lines

                value: Any = cluster_lines(self.connection, *args)
            elif name == "workers":
                pool = self.connection.pool(*args)
                value = [{**w.info, "busy": w.busy, "lost": w.lost} for w in pool.workers]
            else:
                raise StudioError(f"the cluster gateway knows no call {name!r}")
            self.send(("reply", call_id, True, value))
        except StudioError as exc:
            self.send(("reply", call_id, False, str(exc)))
        except Exception as exc:
            log.exception("cluster gateway call %s failed", name)
            self.send(("reply", call_id, False, f"internal error in the cluster gateway: {type(exc).__name__}: {exc}"))


def main() -> None:
    # The messages go out on what was standard output; anything else printed (Ray's own words)
    # goes where standard error goes (the gateway's log), so it can never break a message.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    gateway = Gateway(out)
    try:
        gateway.serve(sys.stdin.buffer)
    finally:
        gateway.connection.shutdown()
        # Not a normal exit: Ray's threads may not end on their own, and nothing is left to save.
        os._exit(0)


if __name__ == "__main__":
    main()
