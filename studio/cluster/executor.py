"""One job on the cluster, in the gateway: pick a worker, send what it lacks, stream the events back.

The gateway passes the events on to Studio's runner, where a local job's would come from the
generator's ``generate``: the same events, in order, so the window and the CLI cannot tell a
cluster job from a local one. Cancel reaches the worker at once (its job's terminate
flag, and ``ray.cancel`` for the stream). A worker that dies mid-job is replaced by Ray and
the job is tried once more, on another worker where there is one; what the first try already
delivered (text, audio) is not delivered twice, since the same seed makes the same output.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

from studio.cluster import folders
from studio.cluster.address import ClusterAddress
from studio.cluster.connection import Pool, RayConnection, Worker
from studio.cluster.messages import JobSpec
from studio.cluster.worker import END
from studio.core.engine.generators import Event, Preview, Progress, Result
from studio.errors import Cancelled, StudioError

log = logging.getLogger(__name__)

#: Seconds without a word from a worker before it is asked whether it is still there.
QUIET_LIMIT = 10.0
PING_LIMIT = 10.0
WORKER_RESTART_LIMIT = 120.0
SEND_GROUP = 4  # chunks of a model file in flight to a node at once (64 MB)
_POLL = 0.25


class WorkerLost(Exception):
    """The worker (or its node) went away mid-job."""


class ClusterExecutor:
    """Runs jobs on the workers of a ``RayConnection``. ``job``: a ``studio.cluster.messages.JobSpec``;
    ``ctx``: progress, cancelled, check_cancelled."""

    def __init__(self, connection: RayConnection) -> None:
        self.connection = connection

    def run(self, job: JobSpec, ctx: Any, address: ClusterAddress) -> Iterator[Event]:
        pool = self.connection.pool(address, say=lambda message: ctx.progress(0, 0, message))
        plugin = job.generator.plugin_name
        tried: set[int] = set()
        seen = Delivered()
        for attempt in (1, 2):
            worker = pool.acquire(plugin, tried, lambda: ctx.cancelled)
            try:
                spec = self._spec(job, worker, ctx)
                yield from (e for e in map(seen.admit, self._events(worker, spec, pool, job, ctx)) if e is not None)
                return
            except WorkerLost as exc:
                _check_later(worker)
                tried.add(id(worker))
                log.warning("job %s: worker %s lost (%s)", job.id, worker.name, exc)
                if ctx.cancelled:
                    raise Cancelled() from None
                if attempt == 2:
                    raise StudioError(f"the cluster job failed twice: {worker.name} went away ({exc})") from None
                seen.retrying()
                yield Progress(0, 0, f"{worker.name} went away; trying again on another worker")
            finally:
                pool.release(worker)

    # -- what the worker gets -----------------------------------------------------------------

    def _spec(self, job: JobSpec, worker: Worker, ctx: Any) -> JobSpec:
        """The job as this worker gets it: its model folder where the node finds it, or none
        when one of the node's plugins has the generator itself (a built-in model)."""
        ref, folder = job.generator, job.generator.model_folder
        placed = self._place_folder(Path(folder), worker, ctx) if folder and not worker.has_generator(ref.id) else None
        return replace(job, generator=replace(ref, model_folder=placed))

    def _place_folder(self, folder: Path, worker: Worker, ctx: Any) -> str:
        """The path of the model folder on the worker's node: in place, cached, or sent now."""
        ray = _ray()
        print_ = folders.fingerprint(folder)
        state, where = _call(ray, worker.actor.locate_folder.remote(str(folder), print_))
        if state == "shared":
            return where
        ctx.progress(0, 0, f"Checking {folder.name} for the cluster…")
        digest = folders.digest(folder, print_)
        state, where = _call(ray, worker.actor.locate_folder.remote(str(folder), print_, digest))
        if state == "cached":
            return where
        size = folders.folder_size(print_)
        message = f"Sending {folder.name} ({size / 1e6:.0f} MB) to {worker.info.get('host', 'the node')}…"
        ctx.progress(0, size, message)
        token = _call(ray, worker.actor.begin_folder.remote(digest, folder.name, size))
        try:
            sent = 0
            for rel, path in folders.model_files(folder):
                first = True
                for group in _groups(folders.read_chunks(path), SEND_GROUP):  # a few chunks in Ray's store at once
                    ctx.check_cancelled()
                    _call(ray, worker.actor.receive_chunks.remote(token, rel, [ray.put(chunk) for chunk in group], first), limit=None)
                    first, sent = False, sent + sum(len(chunk) for chunk in group)
                    ctx.progress(sent, size, message)
                if first:  # an empty file
                    _call(ray, worker.actor.receive_chunks.remote(token, rel, [], True))
            return _call(ray, worker.actor.finish_folder.remote(token), limit=None)
        except BaseException:
            worker.actor.abort_folder.remote(token)
            raise

    # -- the events ---------------------------------------------------------------------------

    def _events(self, worker: Worker, spec: JobSpec, pool: Pool, job: Any, ctx: Any) -> Iterator[Any]:
        ray = _ray()
        if pool.address.is_client:
            batches = self._polled(ray, worker, spec, ctx)
        else:
            batches = self._streamed(ray, worker, spec, ctx)
        for batch in batches:
            for event in batch:
                if isinstance(event, tuple) and event[:1] == (END,):
                    _, state, message, internal = event
                    if state == "finished":
                        return
                    if state == "cancelled":
                        raise Cancelled()
                    job.internal_error = bool(internal)
                    raise StudioError(f"{message} (on {worker.name})")
                yield _mark(event, worker)
        if ctx.cancelled:
            raise Cancelled()
        raise WorkerLost("its stream ended without the job's end")

    def _streamed(self, ray: Any, worker: Worker, spec: JobSpec, ctx: Any) -> Iterator[list[Any]]:
        """A Ray streaming generator: each event an object, in order."""
        stream = worker.actor.run.options(num_returns="streaming").remote(spec)
        watch = Watch(ray, worker, spec.id, ctx, stream)
        while True:
            ready, _ = ray.wait([stream], timeout=_POLL)
            if not ready:
                watch.quiet()
                continue
            try:
                ref = next(stream)
            except StopIteration:
                return
            except (ray.exceptions.RayError, ConnectionError) as exc:
                raise WorkerLost(_first(exc)) from None
            watch.heard()
            yield [_call(ray, ref)]

    def _polled(self, ray: Any, worker: Worker, spec: JobSpec, ctx: Any) -> Iterator[list[Any]]:
        """Ray Client cannot stream from an actor: the events are fetched in batches instead."""
        job_id = _call(ray, worker.actor.start.remote(spec))
        watch = Watch(ray, worker, job_id, ctx)
        while True:
            batch, done = _call(ray, worker.actor.poll.remote(job_id, _POLL), limit=_POLL + PING_LIMIT)
            if batch:
                watch.heard()
                yield batch
            else:
                watch.quiet()
            if done:
                return


class Watch:
    """Passes Cancel on to the worker once, and notices a worker that has gone silent."""

    def __init__(self, ray: Any, worker: Worker, job_id: str, ctx: Any, stream: Any = None) -> None:
        self.ray, self.worker, self.job_id, self.ctx, self.stream = ray, worker, job_id, ctx, stream
        self.last = time.monotonic()
        self.cancel_sent = False

    def heard(self) -> None:
        self.last = time.monotonic()
        self._pass_cancel()

    def quiet(self) -> None:
        self._pass_cancel()
        if time.monotonic() - self.last > QUIET_LIMIT:  # a long model load is quiet too: ask
            _call(self.ray, self.worker.actor.ping.remote(), limit=PING_LIMIT)
            self.last = time.monotonic()

    def _pass_cancel(self) -> None:
        if self.ctx.cancelled and not self.cancel_sent:
            self.cancel_sent = True
            self.worker.actor.cancel.remote(self.job_id)
            if self.stream is not None:
                try:
                    self.ray.cancel(self.stream)
                except Exception:  # the stream may have ended meanwhile
                    log.debug("ray.cancel of a stream failed", exc_info=True)


class Delivered:
    """What a job has already passed on, so a retry does not pass it on twice: the text and the
    audio frames streamed before the worker went away (the retry makes them again)."""

    def __init__(self) -> None:
        self.text = self.frames = 0
        self.skip_text = self.skip_frames = 0

    def retrying(self) -> None:
        self.skip_text, self.skip_frames = self.text, self.frames
        self.text = self.frames = 0

    def admit(self, event: Any) -> Any:
        if not isinstance(event, Preview) or event.kind not in ("text", "audio"):
            return event
        if event.kind == "text":
            size, skip = len(event.value), self.skip_text - self.text
            self.text += size
            if skip >= size:
                return None
            return replace(event, value=event.value[max(0, skip):]) if skip > 0 else event
        size, skip = len(event.value), self.skip_frames - self.frames
        self.frames += size
        if skip >= size:
            return None
        return replace(event, value=event.value[max(0, skip):]) if skip > 0 else event


def _groups(chunks: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    group: list[bytes] = []
    for chunk in chunks:
        group.append(chunk)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def _mark(event: Any, worker: Worker) -> Any:
    """A result says which node made it (shown with its parameters)."""
    if isinstance(event, Result):
        return replace(event, info={**event.info, "node": worker.info.get("host", "")})
    return event


def _call(ray: Any, ref: Any, limit: float | None = PING_LIMIT + 50.0) -> Any:
    """``ray.get`` that turns a lost worker, node or connection into ``WorkerLost`` and a
    failure on the node into words."""
    errors = ray.exceptions
    try:
        return ray.get(ref, timeout=limit)
    except errors.GetTimeoutError:
        raise WorkerLost(f"no answer within {limit:g} s") from None
    except errors.TaskCancelledError:
        raise Cancelled() from None
    except errors.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, StudioError):
            raise StudioError(str(cause)) from None
        what = f"{type(cause).__name__}: {cause}" if cause is not None else _first(exc)
        log.warning("a cluster worker failed: %s", exc)
        raise StudioError(f"the cluster worker failed: {what}") from None
    except (errors.RayError, ConnectionError) as exc:  # the actor, its node or the connection is gone
        raise WorkerLost(_first(exc)) from None


def _check_later(worker: Worker) -> None:
    """Ray restarts a dead worker once (``max_restarts``): it is left out until it answers again,
    asked off the job's thread (a restart takes seconds; a dead node never answers)."""
    worker.lost = True

    def ask() -> None:
        try:
            _call(_ray(), worker.actor.ping.remote(), limit=WORKER_RESTART_LIMIT)
            worker.lost = False
        except (WorkerLost, StudioError, Cancelled):
            log.warning("cluster worker %s is gone for good", worker.name)

    threading.Thread(target=ask, name="cluster-worker-check", daemon=True).start()


def _first(exc: BaseException) -> str:
    """Ray's first clause ("The actor … is unavailable"): the rest is RPC detail, for the log."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    cut = text.find(": ", 10)
    return (text[:cut] if cut > 0 else text)[:200]


def _ray() -> Any:
    import ray

    return ray
