"""The cluster as Studio's process sees it: an address, a gateway child process, and the
``ClusterRunner`` that a cluster ``Device`` runs its jobs through.

Nothing here imports Ray. The gateway (``studio.cluster.gateway``) is started on first use
and joins the cluster; if it dies (the cluster went away, or Ray itself failed), the jobs it
had fail in words, and the next one starts a new gateway. Everything here waits with a time
limit, so neither the window nor the CLI can hang on a cluster.
"""

from __future__ import annotations

import itertools
import logging
import queue
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Iterator

from studio.cluster.address import CLUSTER_DEVICE_ID, ClusterAddress, cluster_address
from studio.cluster.messages import GeneratorRef, JobSpec, read_message, write_message
from studio.core.engine.generators import Event
from studio.core.engine.runtime import Device
from studio.errors import Cancelled, StudioError

log = logging.getLogger(__name__)

#: How many jobs the window and ``studio batch`` keep in flight on the cluster at most.
MAX_SLOTS = 64
#: Seconds a report or a list of workers may take (joining included) before Studio stops waiting.
CALL_LIMIT = 180.0
_LOST = ("lost",)


class GatewayProcess:
    """One gateway child and the thread that reads what it says."""

    def __init__(self) -> None:
        from studio.core.base.logs import log_path

        place = self.log = log_path().with_name("cluster-gateway.log")  # Ray's own words go there
        place.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(place, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "studio.cluster.gateway"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file,
        )
        log_file.close()
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._jobs: dict[str, "queue.Queue[tuple]"] = {}
        self._calls: dict[int, "queue.Queue[tuple]"] = {}
        self._numbers = itertools.count(1)
        self.lost = ""  # why the gateway is gone; empty while it runs
        threading.Thread(target=self._read, name="cluster-gateway-reader", daemon=True).start()

    @property
    def alive(self) -> bool:
        return not self.lost and self.process.poll() is None

    def _read(self) -> None:
        stream = self.process.stdout
        try:
            while True:
                message = read_message(stream)
                box = self._jobs.get(message[1]) if message[0] in ("event", "end") else self._calls.get(message[1])
                if box is not None:
                    box.put(message)
        except Exception as exc:  # EOF: the gateway ended (or died with its cluster)
            code = self.process.wait()
            why = f"exit status {code}" if isinstance(exc, EOFError) else f"{type(exc).__name__}: {exc}"
            self.lost = f"the cluster gateway ended ({why}; its log: {self.log})"
            log.warning("cluster gateway lost: %s", self.lost)
            with self._lock:
                boxes = [*self._jobs.values(), *self._calls.values()]
            for box in boxes:
                box.put(_LOST)

    def _send(self, message: tuple) -> None:
        try:
            with self._send_lock:
                write_message(self.process.stdin, message)
        except (OSError, ValueError):  # the gateway is gone; the reader says why
            raise StudioError(f"lost the connection to the Ray cluster ({self.lost or 'the cluster gateway ended'})") from None

    def run(self, spec: JobSpec, address: ClusterAddress) -> "queue.Queue[tuple]":
        box: "queue.Queue[tuple]" = queue.Queue()
        with self._lock:
            self._jobs[spec.id] = box
        if not self.alive:
            box.put(_LOST)
        else:
            self._send(("run", spec.id, spec, address))
        return box

    def forget(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)

    def cancel(self, job_id: str) -> None:
        try:
            self._send(("cancel", job_id))
        except StudioError:
            pass  # gone: nothing runs there any more

    def call(self, name: str, *args: Any, limit: float = CALL_LIMIT) -> Any:
        number = next(self._numbers)
        box: "queue.Queue[tuple]" = queue.Queue()
        with self._lock:
            self._calls[number] = box
        try:
            self._send(("call", number, name, args))
            try:
                message = box.get(timeout=limit)
            except queue.Empty:
                raise StudioError(f"the Ray cluster did not answer within {limit:g} s") from None
        finally:
            with self._lock:
                self._calls.pop(number, None)
        if message is _LOST:
            raise StudioError(f"lost the connection to the Ray cluster ({self.lost})")
        _, _, ok, value = message
        if not ok:
            raise StudioError(value)
        return value

    def stop(self, wait: float = 2.0) -> None:
        try:
            self._send(("stop",))
            self.process.stdin.close()
        except (StudioError, OSError):
            pass
        try:
            self.process.wait(wait)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Cluster:
    """The cluster device of one Studio process: where it is, and its gateway once started."""

    def __init__(self, address_setting: Callable[[], str]) -> None:
        self._address_setting = address_setting
        self._gateway: GatewayProcess | None = None
        self._lock = threading.Lock()

    @property
    def address(self) -> ClusterAddress | None:
        return cluster_address(self._address_setting())

    def require_address(self, address: ClusterAddress | None = None) -> ClusterAddress:
        address = address or self.address
        if address is None:
            raise StudioError(
                "no Ray cluster address is set: give one in Settings ▸ Devices, or set RAY_ADDRESS "
                "(ray://HOST:10001, or auto for a cluster started on this machine)"
            )
        return address

    def gateway(self) -> GatewayProcess:
        with self._lock:
            if self._gateway is None or not self._gateway.alive:
                self._gateway = GatewayProcess()
            return self._gateway

    def workers(self, address: ClusterAddress | None = None) -> list[dict[str, Any]]:
        """Each worker's facts (host, node, GPUs, plugins, pid) and whether it is busy."""
        return self.gateway().call("workers", self.require_address(address))

    def report(self, host: Any, address: ClusterAddress | None = None) -> list[str]:
        """The lines ``studio doctor`` and Settings ▸ Devices show (joining the cluster)."""
        address = address or self.address
        if address is None:
            return ["Ray cluster: none set (Settings ▸ Devices, or RAY_ADDRESS; `--device ray` uses it)"]
        ours = {p.name: p.version for p in host.plugins.plugins if p.status == "loaded"}
        folders = [(str(e.path), e.generator.id) for e in host.plugins.model_folders if e.ok]
        try:
            return self.gateway().call("report", address, ours, folders)
        except StudioError as exc:
            return [f"Ray cluster: {address} (from {address.source})", f"  not usable: {exc}"]

    def shutdown(self) -> None:
        with self._lock:
            gateway, self._gateway = self._gateway, None
        if gateway is not None:
            gateway.stop()


class ClusterRunner:
    """A cluster device's ``remote``: the runner asks it to run a job instead of the generator."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def run(self, job: Any, ctx: Any) -> Iterator[Event]:
        address = self.cluster.require_address()
        generator = job.generator
        folder = getattr(generator, "model_folder", None)
        spec = JobSpec(job.id, GeneratorRef(generator.id, getattr(generator, "plugin_name", ""), str(folder) if folder else None),
                       dict(job.request.params))
        gateway = self.cluster.gateway()
        box = gateway.run(spec, address)
        cancel_sent = 0.0
        try:
            while True:
                try:
                    message = box.get(timeout=0.1)
                except queue.Empty:
                    if ctx.cancelled and not cancel_sent:
                        cancel_sent = time.monotonic()
                        gateway.cancel(job.id)
                    elif cancel_sent and time.monotonic() - cancel_sent > CALL_LIMIT:
                        raise Cancelled() from None  # the gateway never said it stopped: stop listening
                    continue
                if message is _LOST:
                    raise StudioError(f"lost the connection to the Ray cluster at {address} ({gateway.lost}); run it again once the cluster is back")
                if message[0] == "event":
                    yield message[2]
                    continue
                _, _, state, text, internal = message
                if state == "finished":
                    return
                if state == "cancelled":
                    raise Cancelled()
                job.internal_error = bool(internal)
                raise StudioError(text)
        finally:
            gateway.forget(job.id)


def cluster_device(cluster: Cluster) -> Device:
    """The device whose jobs run on ``cluster`` (joined by its first job, not here)."""
    address = cluster.address
    where = str(address) if address else "no address set"
    return Device(CLUSTER_DEVICE_ID, f"Ray cluster ({where})", (), slots=MAX_SLOTS, remote=ClusterRunner(cluster))
