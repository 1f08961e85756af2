"""A model download from the Hugging Face hub, as an ordinary job: the Jobs panel, Cancel and the
command line's progress bar work on it as on any generation.

``start_download(host, "onnx-community/Qwen2.5-0.5B-Instruct", variant="q4")`` lists the
repository (``hub.inspect_repo``), takes the files of one variant (``hub_layout``), checks the
disk has room for what is still to fetch before the first byte, then fetches each file into
``paths.models()/.partial/<name>/`` (``hub_fetch``: resumed after a kill, a cancel or a dropped
connection, hash-checked), checks each ONNX graph and the data files it names, moves the files
into ``paths.models()/<name>/`` (real files, no links into a cache) and writes the manifest
LAST: a folder is an installed model only once its manifest is there. A second variant of an
installed repository adds its files to the same folder and to the manifest.

The bytes move in a thread of the job's own: the job's loop yields ``Progress`` (KiB, so the
values fit a Qt progress bar) and looks at Cancel ten times a second, so a cancelled download
ends at once, its partial files kept for the next attempt.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from studio.core.base import paths
from studio.core.engine.generators import Event, Generator, Param, Progress, Request, Result
from studio.core.engine.model_safety import check_model_file, external_references
from studio.core.engine.runtime import Device
from studio.core.models.hub import HubError, RepoListing, check_repo_id, endpoint, inspect_repo
from studio.core.models.hub_fetch import Stopped, fetch_file, file_matches, local_path, partial_size
from studio.core.models.hub_layout import RepoFile, RepoLayout
from studio.core.models.manifest import Manifest, read_manifest, write_manifest
from studio.core.models.variants import human_size, preferred
from studio.errors import Cancelled, ModelError, StudioError

log = logging.getLogger(__name__)

#: Downloads have their own queue: one never waits behind a generation, nor a generation behind it.
DOWNLOAD_DEVICE = Device("download", "Network", ())
PARTIAL = ".partial"
#: Room kept free beyond the download itself (the manifest, the filesystem's own needs).
MARGIN = 32 * 1024 * 1024
POLL = 0.1  # seconds between looks at Cancel
PROGRESS_EVERY = 0.25  # seconds between progress events
STOP_WAIT = 0.2  # seconds a cancelled job waits for its transfer to let go (else the transfer keeps the lock)
#: Seconds a download waits for another into the same folder: long enough for a cancelled one's
#: transfer to stop even on a stalled connection (its read times out after 10 s).
LOCK_WAIT = 12.0


def disk_free(path: Path) -> int:
    """Free bytes on the disk that holds ``path`` (its nearest existing folder)."""
    place = Path(path)
    while not place.exists() and place != place.parent:
        place = place.parent
    return shutil.disk_usage(place).free


def folder_name(repo_id: str, prefix: str = "") -> str:
    """The installed folder's name: the repository's (``-<folder>`` for one of its genai folders,
    each a model of its own), or ``owner--name`` when another repository of that name is
    installed already."""
    owner, name = repo_id.split("/", 1)
    if prefix:
        name = f"{name}-{prefix.strip('/').replace('/', '-')}"
    manifest = _manifest_or_none(paths.models() / name)
    if manifest is not None and manifest.hub_repo and manifest.hub_repo != repo_id:
        return f"{owner}--{name}"
    return name


def _manifest_or_none(folder: Path) -> Manifest | None:
    try:
        return read_manifest(folder) if folder.is_dir() else None
    except ModelError:
        return None


class ModelDownload(Generator):
    """Downloads one hub repository's variant into ``paths.models()``; its result is the folder."""

    kind = "model"
    loading_message = "Starting the download…"  # the runner's first word for a job; there is no model to load yet

    def __init__(self, repo_id: str) -> None:
        self.repo_id = check_repo_id(repo_id)
        self.id = f"download:{self.repo_id}"
        self.title = f"Download {self.repo_id}"
        self.params = (
            Param("repo_id", "text", self.repo_id, help="the hub repository (owner/name)"),
            Param("variant", "text", "", help="the variant to download (q4, fp16...); empty: the best for the CPU"),
            Param("revision", "text", "", help="a branch, tag or commit; empty: main"),
            Param("subfolder", "text", "", help="the folder of a repository that holds several builds; empty: the whole repository"),
        )

    def generate(self, request: Request, ctx: Any) -> Iterator[Event]:
        repo_id = check_repo_id(request.params["repo_id"])
        yield Progress(0, 0, f"Asking the hub about {repo_id}…")
        listing = inspect_repo(repo_id, request.params.get("revision", ""))
        layout = within(listing, request.params.get("subfolder", ""))
        runnable, verdict = layout.verdict()
        if not runnable:  # gigabytes for nothing: say so before the first byte
            raise HubError(f"Studio cannot run {repo_id}: {verdict}. Nothing was downloaded")
        variant = choose_variant(listing, request.params.get("variant", ""), layout.variant_names())
        files = layout.files_for(variant)
        if not files:
            raise HubError(f"{repo_id} has nothing Studio can download ({verdict})")
        prefix = layout.install_prefix(variant)
        name = folder_name(repo_id, prefix)
        ctx.check_cancelled()  # the listing may take seconds
        lock = FolderLock(name, repo_id)
        if not lock.acquire(0):
            yield Progress(0, 0, f"Waiting for the other download of {repo_id} to stop…")
            deadline = time.monotonic() + LOCK_WAIT
            while not lock.acquire(POLL):  # short waits: Cancel is heard meanwhile
                ctx.check_cancelled()
                if time.monotonic() > deadline:
                    raise HubError(f"{repo_id} is being downloaded already (into {paths.models() / name}); "
                                   "wait for that download to end")
        try:
            ctx.check_cancelled()
            plan = DownloadPlan(listing, variant, name, files, prefix)
            ctx.check_cancelled()
            plan.check_disk()
            yield from plan.run(ctx, lock)
            folder = plan.install()
        finally:
            lock.release()
        info = {"repo_id": repo_id, "revision": listing.revision, "variant": variant,
                "bytes": plan.total, "folder": str(folder)}
        yield Result("model", str(folder), self.id, dict(request.params), info=info)


class FolderLock:
    """One download into a folder at a time (two would write the same partial files), across
    the window and any command line: a file lock beside the staging folder. A cancelled job
    ends at once; when its transfer thread has not let go of the files yet, the lock is
    handed over to that thread, which releases it when it stops."""

    def __init__(self, name: str, repo_id: str) -> None:
        from filelock import FileLock

        place = paths.models() / PARTIAL
        place.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(place / f"{name}.lock"), thread_local=False)
        self.handed_over = False

    def acquire(self, timeout: float) -> bool:
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=timeout)
        except Timeout:
            return False
        return True

    def release(self, by_transfer: bool = False) -> None:
        if self._lock.is_locked and (by_transfer or not self.handed_over):
            self._lock.release()


def within(listing: RepoListing, subfolder: str) -> RepoLayout:
    """The repository's layout, or that of the one folder asked for (a catalogue entry names the
    build to take where a repository holds several)."""
    layout = listing.layout or RepoLayout([])
    subfolder = (subfolder or "").strip().strip("/")
    if not subfolder:
        return layout
    if subfolder.startswith(".") or ".." in subfolder.split("/") or not any(
            f.path.startswith(subfolder + "/") for f in layout.files):
        raise HubError(f"{listing.repo_id} has no folder {subfolder!r}")
    return layout.within(subfolder)


def choose_variant(listing: RepoListing, wanted: str, names: list[str] | None = None) -> str:
    names = list(listing.variants) if names is None else names
    wanted = (wanted or "").strip()
    if wanted in ("", "auto"):
        choice = preferred(names, "cpu")
        if choice is None:
            raise HubError(f"{listing.repo_id} cannot be downloaded for Studio: {listing.verdict}")
        return choice
    if wanted not in names:
        have = ", ".join(names) or "none"
        raise HubError(f"{listing.repo_id} has no {wanted} variant (it has: {have})")
    return wanted


class DownloadPlan:
    """The files of one download, where they go, and the bytes still to fetch."""

    def __init__(self, listing: RepoListing, variant: str, name: str, files: list[RepoFile], prefix: str = "") -> None:
        self.listing = listing
        self.prefix = prefix  # a genai folder's path in the repository: its files go to the model's root
        self.variant = variant
        self.folder = paths.models() / name
        self.staging = paths.models() / PARTIAL / name
        self.manifest = _manifest_or_none(self.folder)
        self._reset_stale_staging()
        self.files = list(files)
        self.fetch = [f for f in files if not self._installed(f)]
        self.total = sum(f.size for f in files)
        self.needed = sum(f.size for f in self.fetch)
        self._lock = threading.Lock()  # the transfer thread adds the data files a graph names

    def local(self, file: RepoFile) -> str:
        return file.path[len(self.prefix):] if self.prefix and file.path.startswith(self.prefix) else file.path

    def staged(self, file: RepoFile) -> Path:
        return local_path(self.staging, self.local(file))

    def target(self, file: RepoFile) -> Path:
        return local_path(self.folder, self.local(file))

    def _installed(self, file: RepoFile) -> bool:
        """Already in the installed folder, as the hub has it now (a second variant shares the
        configs and tokenizer of the first)."""
        target = self.target(file)
        file_key = self.local(file)
        recorded = self.manifest.files.get(file_key, {}) if self.manifest else {}
        expected = file.sha256 or file.blob_id
        if expected and expected in (recorded.get("sha256"), recorded.get("git_sha1")) and target.is_file():
            return target.stat().st_size == file.size
        return file_matches(target, file)

    def _reset_stale_staging(self) -> None:
        """Partial files of another revision are useless: start that staging folder afresh."""
        marker = self.staging / ".studio-download"
        wanted = f"{self.listing.repo_id}@{self.listing.revision}"
        if self.staging.is_dir() and (not marker.is_file() or marker.read_text(encoding="utf-8").strip() != wanted):
            shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True, exist_ok=True)
        marker.write_text(wanted + "\n", encoding="utf-8")

    def named_data(self, graph: RepoFile, staged: Path) -> list[RepoFile]:
        """Data files the graph itself names that the plan lacks (any name: ``weights.pb``), when
        the repository has them beside it; they join the download."""
        folder = graph.path.rsplit("/", 1)[0] + "/" if "/" in graph.path else ""
        listed = {f.path: f for f in self.listing.files}
        planned = {f.path for f in self.files}
        extra = []
        for location in sorted({ref.location for ref in external_references(staged)}):
            file = listed.get(folder + location)
            if file is not None and file.path not in planned and not self._installed(file):
                extra.append(file)
        with self._lock:
            self.files.extend(extra)
            self.fetch.extend(extra)
            self.needed += sum(f.size for f in extra)
            self.total += sum(f.size for f in extra)
        return extra

    def check_disk(self, free: Callable[[Path], int] = disk_free) -> None:
        """Refuse before the first byte when the disk cannot hold what is still to fetch."""
        missing = self.needed - sum(partial_size(self.staged(f), f) for f in self.fetch)
        available = free(paths.models())
        if missing + MARGIN > available:
            raise HubError(
                f"downloading {self.listing.repo_id} ({self.variant}) needs {human_size(missing + MARGIN)}, "
                f"but only {human_size(available)} is free on the disk of {paths.models()}: free some space and try again")

    def run(self, ctx: Any, lock: FolderLock | None = None) -> Iterator[Event]:
        """Fetch every missing file in a thread; yield progress and stop at once on Cancel."""
        transfer = Transfer(self, sum(partial_size(self.staged(f), f) for f in self.fetch))
        worker = threading.Thread(target=transfer.work, name=f"download {self.listing.repo_id}", daemon=True)
        worker.start()
        last = 0.0
        while worker.is_alive():
            worker.join(POLL)
            if ctx.cancelled:
                transfer.stop.set()
                worker.join(STOP_WAIT)  # it lets go at its next chunk; a stalled read is left to time out
                if lock is not None:
                    transfer.hand_over(lock)
                raise Cancelled()
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY and worker.is_alive():
                last = now
                yield transfer.progress()
        if transfer.error is not None:
            raise transfer.error
        yield transfer.progress()

    def install(self) -> Path:
        """Check the graphs, move the files into place, write the manifest last."""
        for file in self.files:
            if file.path.endswith(".onnx"):
                staged = self.staged(file)
                if staged.is_file():
                    _check_graph(staged, self)
        self.folder.mkdir(parents=True, exist_ok=True)
        for file in self.fetch:
            staged, target = self.staged(file), self.target(file)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
        manifest = self.manifest or Manifest(name=self.folder.name)
        if manifest.source.get("revision") not in ("", None, self.listing.revision):
            # files of another revision: keep only those this download brought or confirmed
            manifest.files, manifest.variants = {}, []
        manifest.source = {"hub": self.listing.repo_id, "revision": self.listing.revision, "endpoint": endpoint()}
        manifest.license = self.listing.license or manifest.license
        manifest.variants = [*[v for v in manifest.variants if v != self.variant], self.variant]
        for file in self.files:
            record: dict[str, Any] = {"size": file.size}
            if file.sha256 or file.blob_id:
                record["sha256" if file.sha256 else "git_sha1"] = file.sha256 or file.blob_id
            manifest.files[self.local(file)] = record
        write_manifest(self.folder, manifest)
        shutil.rmtree(self.staging, ignore_errors=True)
        return self.folder


def _check_graph(staged: Path, plan: DownloadPlan) -> None:
    """The graph's own word on its data files: each must be one the download brought (or had),
    beside it, of the size it says (``check_model_file``)."""
    names = {ref.location for ref in external_references(staged)}
    folder = staged.parent
    for location in sorted(names):
        if not (folder / location).is_file():
            relative = staged.relative_to(plan.staging).parent / location
            raise HubError(f"{staged.name} of {plan.listing.repo_id} keeps its weights in {relative.as_posix()}, "
                           "which is not in the repository: nothing was installed")
    try:
        check_model_file(staged)
    except ModelError as exc:
        raise HubError(f"{plan.listing.repo_id}: {exc}; nothing was installed") from None


class Transfer:
    """The byte-moving side of a download, run in its own thread."""

    def __init__(self, plan: DownloadPlan, done: int) -> None:
        self.plan = plan
        self.done = done
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._window: collections.deque[tuple[float, int]] = collections.deque()
        self._window.append((time.monotonic(), done))
        self._file_done = 0
        self._finished = False
        self._lock_to_release: FolderLock | None = None

    def hand_over(self, lock: FolderLock) -> None:
        """Make the folder lock this thread's to release, unless it has stopped already."""
        with self._lock:
            if not self._finished:
                lock.handed_over = True
                self._lock_to_release = lock

    def work(self) -> None:
        try:
            self._work()
        finally:
            with self._lock:
                self._finished = True
                lock = self._lock_to_release
            if lock is not None:
                lock.release(by_transfer=True)

    def _work(self) -> None:
        try:
            queue = list(self.plan.fetch)
            while queue:
                file = queue.pop(0)
                if self.stop.is_set():
                    return
                self._file_done = partial_size(self.plan.staged(file), file)
                path = fetch_file(self.plan.listing.repo_id, self.plan.listing.revision, file, self.plan.staged(file), self._count)
                self._add(file.size - self._file_done)  # a file skipped or re-fetched whole
                if file.path.endswith(".onnx"):
                    queue.extend(self.plan.named_data(file, path))
        except Stopped:
            return
        except BaseException as exc:  # handed to the job's thread, which raises it
            self.error = exc if isinstance(exc, StudioError) else _unexpected(exc, self.plan)

    def _count(self, n: int) -> None:
        if self.stop.is_set():
            raise Stopped()
        self._file_done += n
        self._add(n)

    def _add(self, n: int) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            self._window.append((now, self.done))
            while len(self._window) > 2 and now - self._window[0][0] > 5.0:
                self._window.popleft()

    def progress(self) -> Progress:
        with self._lock:
            done, (start, start_bytes) = self.done, self._window[0]
            now = time.monotonic()
        total = self.plan.needed
        rate = (done - start_bytes) / (now - start) if now - start > 0.2 else 0.0
        text = f"{human_size(done)} of {human_size(total)}"
        if rate > 0:
            text += f" · {human_size(int(rate))}/s"
            if done < total:
                text += f" · {_eta((total - done) / rate)}"
        return Progress(done // 1024, max(1, total // 1024), text)


def _eta(seconds: float) -> str:
    if seconds < 60:
        return f"about {int(seconds) + 1} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


def _unexpected(exc: BaseException, plan: DownloadPlan) -> BaseException:
    log.error("download of %s failed", plan.listing.repo_id, exc_info=exc)
    return exc


def start_download(host_or_runner: Any, repo_id: str, variant: str = "", revision: str = "",
                   listeners: Iterable[Callable] = (), subfolder: str = "") -> Any:
    """Queue the download of ``repo_id`` (one variant, at ``revision``; of one ``subfolder``
    when the repository holds several builds) and return its job."""
    runner = getattr(host_or_runner, "runner", host_or_runner)
    generator = ModelDownload(repo_id)
    if not subfolder:  # a repository the catalogue lists: the build it names (Phi's acc-level-4 CPU folder)
        from studio.core.models.catalogue import entry_for

        entry = entry_for(generator.repo_id)
        subfolder = entry.subfolder if entry is not None else ""
    request = generator.request({"repo_id": generator.repo_id, "variant": variant or "", "revision": revision or "",
                                 "subfolder": subfolder or ""})
    return runner.submit(generator, request, DOWNLOAD_DEVICE, listeners)
