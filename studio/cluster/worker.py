"""The render worker: a Ray actor on a cluster node that runs Studio's generators.

One worker per GPU (per node where a node has none). It loads the node's own plugins with the
same ``PluginHost`` and runs jobs with the same ``JobRunner`` and runtime as the window, so
sessions stay warm between jobs, results are checked on the node as they are here, and a
plugin that ignores Cancel is abandoned there as it would be here. Events leave through a
queue per job: ``run`` streams them (a Ray streaming generator), ``poll`` hands them over in
batches for Ray Client connections, which cannot stream from an actor.

The actor is threaded (``max_concurrency``): ``cancel``, ``poll`` and ``info`` are answered
while a job runs.
"""

from __future__ import annotations

import os
import platform
import queue
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from studio.cluster.folders import MODELS_MODE_VARIABLE, NodeCache, fingerprint
from studio.cluster.messages import JobSpec
from studio.errors import StudioError

#: What ``poll`` and ``run`` send when the job has ended: ("end", state, message, internal error).
END = "end"
#: Seconds an ended job's events wait for a client that no longer asks for them.
UNCLAIMED_AFTER = 600.0


class RenderWorker:
    def __init__(self, slot: int = 0, cpu_threads: int = 0) -> None:
        from studio.core.base import paths
        from studio.core.base.logs import setup_logging
        from studio.core.engine.jobs import JobRunner
        from studio.core.engine.runtime import Runtime, all_cores
        from studio.plugins import PluginHost

        setup_logging()
        self.slot = slot
        self.plugins = PluginHost().load()
        # No window on a node: every core it offers the cluster (``ray start --num-cpus``).
        self.runtime = Runtime(cpu_threads=cpu_threads or all_cores())
        self.runner = JobRunner(self.runtime)
        self.device = self.runtime.device("auto")  # Ray shows a GPU worker only its own GPU
        self.cache = NodeCache(paths.cache() / "cluster-models")
        self.models_mode = os.environ.get(MODELS_MODE_VARIABLE, "auto").strip().lower() or "auto"
        self._jobs: dict[str, tuple[Any, "queue.Queue[Any]"]] = {}
        self._folder_generators: dict[str, Any] = {}
        self._incoming: dict[str, Any] = {}  # folders being sent, by token
        self._lock = threading.Lock()

    # -- what the node is ---------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        from studio import __version__

        probe = self.runtime.probe(self.device)
        try:
            import ray

            context = ray.get_runtime_context()
            node_id, gpu_ids = context.get_node_id(), [str(g) for g in ray.get_gpu_ids()]
        except Exception:  # outside Ray (a test calling the class directly)
            node_id, gpu_ids = "", []
        return {
            "host": socket.gethostname(),
            "node_id": node_id,
            "pid": os.getpid(),
            "slot": self.slot,
            "studio": __version__,
            "python": platform.python_version(),
            "onnxruntime": self.runtime.ort.__version__,
            "device": self.device.id,
            "device_name": self.device.name,
            "threads": self.runtime.cpu_threads,
            "provider": probe.got[0] if probe.got else "",
            "device_problem": probe.reason,
            "gpus": gpu_ids,
            "models_mode": self.models_mode,
            "plugins": {
                p.name: {"version": p.version or __version__, "status": p.status, "generators": list(p.generators), "error": p.error}
                for p in self.plugins.plugins
            },
        }

    def ping(self) -> bool:
        return True

    # -- model folders ------------------------------------------------------------------------

    def locate_folder(self, path: str, print_: tuple, digest: str = "") -> tuple[str, str]:
        """Where this node finds the client's model folder: ("shared", path) when it sees the
        very same files there, ("cached", path) when it holds a sent copy, else ("missing", "")."""
        folder = Path(path)
        if self.models_mode != "copy" and folder.is_dir():
            try:
                if fingerprint(folder) == tuple(tuple(f) for f in print_):
                    return "shared", str(folder)
            except OSError:
                pass
        if digest:
            found = self.cache.find(digest, folder.name)
            if found is not None:
                return "cached", str(found)
        return "missing", ""

    def begin_folder(self, digest: str, name: str, size: int) -> str:
        """Start receiving a sent folder; the token its chunks and its end name."""
        incoming = self.cache.begin(digest, name, size)
        token = f"{digest}-{id(incoming)}"
        with self._lock:
            self._incoming[token] = incoming
        return token

    def receive_chunks(self, token: str, rel: str, refs: list[Any], first: bool) -> int:
        """Append the chunks (references into Ray's store, one in memory at a time) to ``rel``."""
        import ray

        incoming = self._incoming[token]
        if first:
            incoming.write(rel, b"", first=True)
        for ref in refs:
            incoming.write(rel, ray.get(ref))
        return len(refs)

    def finish_folder(self, token: str) -> str:
        with self._lock:
            incoming = self._incoming.pop(token)
        try:
            return str(incoming.finish())
        finally:
            incoming.abort()

    def abort_folder(self, token: str) -> None:
        with self._lock:
            incoming = self._incoming.pop(token, None)
        if incoming is not None:
            incoming.abort()

    def _generator(self, spec: JobSpec) -> Any:
        folder = spec.generator.model_folder
        if not folder:  # a plugin's own generator (built-in models included)
            return self.plugins.generator(spec.generator.id)
        with self._lock:
            known = self._folder_generators.get(folder)
        if known is not None:
            return known
        from studio.core.models.loaders import load_folders

        entry = load_folders([folder], self.plugins.loaders)[0]
        if entry.generator is None:
            raise StudioError(f"{socket.gethostname()} cannot read the model folder {folder}: {entry.error}")
        entry.generator.plugin_name = getattr(entry.loader, "plugin_name", "")
        entry.generator.model_folder = entry.path
        with self._lock:
            self._folder_generators[folder] = entry.generator
        return entry.generator

    # -- jobs ---------------------------------------------------------------------------------

    def start(self, spec: JobSpec) -> str:
        """Queue the job ``spec`` describes; its events wait in a queue for ``poll`` or ``run``."""
        from studio.core.engine.generators import Request
        from studio.core.engine.jobs import StateChanged

        events: "queue.Queue[Any]" = queue.Queue()
        job_id = spec.id
        try:
            generator = self._generator(spec)
        except StudioError as exc:
            events.put((END, "failed", str(exc), False))
            with self._lock:
                self._jobs[job_id] = (None, events)
            return job_id

        def listen(job: Any, event: Any) -> None:
            if isinstance(event, StateChanged):
                if event.state.done:
                    events.put((END, event.state.value, event.message, job.internal_error))
            else:
                events.put(event)

        request = Request(generator.id, spec.params)
        job = self.runner.submit(generator, request, self.device, listeners=[listen])
        with self._lock:
            self._forget_unclaimed()
            self._jobs[job_id] = (job, events)
        return job_id

    def _forget_unclaimed(self) -> None:
        """Drop jobs whose client never came back for the end (it went away): their results
        would otherwise stay in this worker's memory for good."""
        now = time.monotonic()
        for job_id, (job, _) in list(self._jobs.items()):
            if job is not None and job.state.done and now - (job.ended or now) > UNCLAIMED_AFTER:
                self._jobs.pop(job_id, None)

    def poll(self, job_id: str, wait: float = 0.5) -> tuple[list[Any], bool]:
        """The job's events since the last poll (waiting up to ``wait`` s for the first), and
        whether it has ended (its last event is then the end)."""
        with self._lock:
            job, events = self._jobs.get(job_id, (None, None))
        if events is None:
            return [(END, "failed", "the worker does not know this job (it was restarted)", False)], True
        out: list[Any] = []
        try:
            out.append(events.get(timeout=wait))
            while True:
                out.append(events.get_nowait())
        except queue.Empty:
            pass
        done = bool(out) and isinstance(out[-1], tuple) and out[-1][:1] == (END,)
        if done:
            with self._lock:
                self._jobs.pop(job_id, None)
        return out, done

    def run(self, spec: JobSpec) -> Iterator[Any]:
        """``start``, then every event as it comes: a Ray streaming generator."""
        job_id = self.start(spec)
        finished = False
        try:
            while not finished:
                batch, finished = self.poll(job_id, 1.0)
                for event in batch:  # not `yield from`: Ray sends values into the generator
                    yield event
        finally:
            if not finished:  # the client let go of the stream (cancelled, or gone)
                self.cancel(job_id)

    def cancel(self, job_id: str) -> None:
        with self._lock:
            job, _ = self._jobs.get(job_id, (None, None))
        if job is not None:
            job.cancel()
