"""Joining a Ray cluster and keeping its workers: one per GPU, one per node without a GPU.

This runs in the cluster gateway, a child process of Studio's (``studio.cluster.gateway``):
a Ray driver process exits when the cluster it is attached to dies, and that must never be
the window. Connecting is lazy (the first cluster job, ``studio doctor``, Settings' Test button). It is bounded: the address is checked first (``address.check_address``)
and Ray's own handshake gets what is left of ``CONNECT_LIMIT``, so an unreachable cluster is
a plain message within seconds, never a hang. Workers that cannot start on a node (Studio is
not installed there, say) are named and left out; the others work.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from studio.cluster.address import CONNECT_LIMIT, ClusterAddress, check_address
from studio.errors import Cancelled, StudioError

log = logging.getLogger(__name__)

NAMESPACE = "studio"
#: Seconds the workers get to start (import Studio, load the node's plugins) before a node is
#: reported as not answering.
WORKER_START_LIMIT = 120.0
_CONCURRENCY = 8  # calls a worker answers at once: a job, its polls, cancel, info, ping


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise StudioError(
            "the Ray cluster needs Ray, which is not installed: pip install 'studio-desktop[cluster]' "
            "(the same Ray version as the cluster's)"
        ) from None
    return ray


@dataclass(eq=False)
class Worker:
    """One render worker as this process knows it."""

    actor: Any
    info: dict[str, Any]
    busy: bool = False
    lost: bool = False

    @property
    def name(self) -> str:
        gpus = self.info.get("gpus") or []
        node = str(self.info.get("node_id", ""))[:6]  # two nodes may share a host name (one machine, or containers)
        return f"{self.info.get('host', '?')}{'/' + node if node else ''} ({'GPU ' + ','.join(gpus) if gpus else 'CPU'})"

    def has_generator(self, generator_id: str) -> bool:
        """Whether one of the node's plugins registers ``generator_id`` itself."""
        return any(generator_id in p.get("generators", ()) for p in self.info.get("plugins", {}).values())

    def has_plugin(self, plugin: str) -> bool:
        return not plugin or (self.info.get("plugins", {}).get(plugin, {}).get("status") == "loaded")


@dataclass
class Pool:
    """The workers of one connection, handed out one job at a time each."""

    address: ClusterAddress
    workers: list[Worker]
    problems: list[str] = field(default_factory=list)  # nodes where no worker started, and why
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def acquire(self, plugin: str, avoid: set[int], cancelled: Callable[[], bool]) -> Worker:
        """A free worker that has ``plugin`` (preferring one not in ``avoid``: ids of workers a
        job already failed on); waits for one while the job is not cancelled."""
        able = [w for w in self.workers if w.has_plugin(plugin)]
        if not able:
            lacking = ", ".join(sorted({w.info.get("host", "?") for w in self.workers}))
            raise StudioError(
                f"no node of the Ray cluster at {self.address} has the plugin {plugin!r} this job needs "
                f"(nodes without it: {lacking}); install it there, as it is installed here"
            )
        all_lost_since = None
        with self._cond:
            while True:
                free = [w for w in able if not w.busy and not w.lost]
                fresh = [w for w in free if id(w) not in avoid] or free
                if fresh:
                    worker = fresh[0]
                    worker.busy = True
                    return worker
                if all(w.lost for w in able):  # being restarted by Ray, or gone: wait a while
                    all_lost_since = all_lost_since or time.monotonic()
                    if time.monotonic() - all_lost_since > WORKER_START_LIMIT:
                        raise StudioError(f"every worker of the Ray cluster at {self.address} that has the plugin {plugin!r} is gone")
                else:
                    all_lost_since = None
                if cancelled():
                    raise Cancelled()
                self._cond.wait(0.2)

    def release(self, worker: Worker) -> None:
        with self._cond:
            worker.busy = False
            self._cond.notify_all()


class RayConnection:
    """This gateway's link to one cluster and its workers once joined (``studio.cluster.gateway``)."""

    def __init__(self) -> None:
        self._pool: Pool | None = None
        self._lock = threading.Lock()

    def pool(self, address: ClusterAddress, say: Callable[[str], None] = lambda _: None) -> Pool:
        """The workers at ``address``, joining the cluster first if needed (or again, when the
        address changed: Ray joins one cluster per process, so the other one is left)."""
        with self._lock:
            if self._pool is not None and self._pool.address == address and any(not w.lost for w in self._pool.workers):
                return self._pool
            self._disconnect()
            say(f"Connecting to the Ray cluster at {address}…")
            ray = connect(address)
            say("Starting the cluster's workers…")
            self._pool = start_workers(ray, address)
            return self._pool

    def shutdown(self) -> None:
        with self._lock:
            self._disconnect()

    def _disconnect(self) -> None:
        if self._pool is None:
            return
        self._pool = None
        try:
            import ray

            ray.shutdown()
        except Exception:  # a cluster that went away: nothing left to tell it
            log.debug("ray.shutdown failed", exc_info=True)


def connect(address: ClusterAddress) -> Any:
    """``ray.init`` at ``address`` within ``CONNECT_LIMIT`` seconds, or a plain ``StudioError``."""
    ray = import_ray()
    started = time.monotonic()
    check_address(address)
    if ray.is_initialized():
        ray.shutdown()
    while True:
        error = _init_within(ray, address, CONNECT_LIMIT - (time.monotonic() - started))
        if error is None:
            return ray
        # A Ray Client server that has just started may refuse the first client: try once more
        # while the time allows.
        if isinstance(error, ConnectionAbortedError) and CONNECT_LIMIT - (time.monotonic() - started) > 3.0:
            time.sleep(0.5)
            continue
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise StudioError(f"could not join the Ray cluster at {address} (from {address.source}): {first}")


def _init_within(ray: Any, address: ClusterAddress, limit: float) -> BaseException | None:
    """``ray.init`` in a thread; what it raised, or a ``StudioError`` when it took too long."""
    outcome: dict[str, Any] = {}

    def init() -> None:
        try:
            ray.init(
                address=address.text, namespace=NAMESPACE, logging_level=logging.WARNING,
                log_to_driver=False, configure_logging=False,
            )
        except BaseException as exc:  # noqa: BLE001 - reported to the caller, in words
            outcome["error"] = exc

    # Joined from a thread of its own, so a cluster that never answers cannot hold the caller;
    # Ray then says it set no SIGTERM handler, which is as wanted (its handler would end the
    # window without a word): that line is kept out of the user's terminal.
    logging.getLogger("ray._private.worker").addFilter(_QUIET)
    thread = threading.Thread(target=init, name="ray-connect", daemon=True)
    thread.start()
    thread.join(max(1.0, limit))
    if thread.is_alive():
        raise StudioError(f"the Ray cluster at {address} did not answer within {CONNECT_LIMIT:g} s")
    return outcome.get("error")


def start_workers(ray: Any, address: ClusterAddress) -> Pool:
    """One worker per GPU of each live node, or one per node that has CPUs and no GPU; nodes
    that offer neither (a head started with ``--num-cpus=0``) are left alone, as asked."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from studio.cluster.worker import RenderWorker

    remote = ray.remote(RenderWorker)
    actors = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        resources = node.get("Resources", {})
        gpus, cpus = int(resources.get("GPU", 0)), resources.get("CPU", 0)
        if not gpus and not cpus:
            continue
        place = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        for slot in range(gpus or 1):
            options = dict(
                scheduling_strategy=place, max_concurrency=_CONCURRENCY, max_restarts=1, max_task_retries=0,
                # A GPU is reserved (two workers on one GPU would fight over its memory); a CPU
                # node's cores are not, so a second Studio (the window and a batch) gets workers too.
                num_gpus=1 if gpus else 0, num_cpus=0,
            )
            threads = 0 if gpus else int(cpus)  # a CPU node's worker uses the cores the node offers
            actors.append((node.get("NodeManagerHostname") or node.get("NodeManagerAddress", "?"), remote.options(**options).remote(slot, threads)))
    if not actors:
        raise StudioError(f"the Ray cluster at {address} has no node with a CPU or GPU to run on")
    refs = {actor.info.remote(): (host, actor) for host, actor in actors}
    ready, pending = ray.wait(list(refs), num_returns=len(refs), timeout=WORKER_START_LIMIT)
    workers, problems = [], []
    for ref in ready:
        host, actor = refs[ref]
        try:
            workers.append(Worker(actor, ray.get(ref)))
        except Exception as exc:  # e.g. Studio is not installed on that node
            problems.append(f"{host}: the worker could not start: {_first_line(exc)}")
    for ref in pending:
        host, actor = refs[ref]
        problems.append(f"{host}: the worker did not start within {WORKER_START_LIMIT:g} s (no free GPU or CPU there?)")
        ray.kill(actor)
    for problem in problems:
        log.warning("Ray cluster at %s: %s", address, problem)
    if not workers:
        raise StudioError(f"no worker could start on the Ray cluster at {address}: " + "; ".join(problems))
    workers.sort(key=lambda w: (w.info.get("host", ""), w.info.get("slot", 0)))
    return Pool(address, workers, problems)


class _NoSigtermNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()


_QUIET = _NoSigtermNotice()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # Ray wraps a worker's error in its traceback: the last line names what went wrong.
    return (lines[-1] if lines else type(exc).__name__)[:300]
