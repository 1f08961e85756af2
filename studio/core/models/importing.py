"""A model import (a checkpoint or Hugging Face folder converted to ONNX), as an ordinary job.

``start_import(host, "~/Downloads/dreamshaper_8.safetensors", variant="fp16")`` recognises the
source (``import_source.recognise``: no torch, a plain refusal for what Studio cannot import),
checks the ``convert`` extra is installed, and queues a ``ModelImport`` on a queue of its own
(a conversion takes minutes; no generation waits behind it). The job

1. estimates the disk and memory the conversion needs and refuses before anything is written
   when the machine lacks them (``import_estimate``);
2. runs ``python -m studio.convert FORMAT SOURCE OUT`` in a child process of its own process
   group: torch never enters this process, and all its memory goes back when the child ends.
   OUT is a fresh folder under ``paths.models()/.partial-import/`` (same disk: the install is a
   rename). The child's JSON lines become the job's ``Progress`` ("Exporting the UNet", step of
   total); its stderr is kept, its last lines quoted when it fails;
3. on Cancel kills the whole process group at once and removes the partial folder;
4. when the child is done, checks every graph it wrote, renames the folder into
   ``paths.models()/<name>`` (a free name: an existing model is never overwritten) and writes
   ``studio-model.json`` LAST (source ``{"import": PATH}``), so a folder is an installed model
   only once whole. Its ``Result`` is that folder, as a download's is: the window and the CLI
   reload the library the same way.

Whatever fails (the child, the disk, a cancel), nothing half-converted stays behind.
"""

from __future__ import annotations

import collections
import errno
import importlib.util
import json
import logging
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

from studio.core.base import paths
from studio.core.base.processes import process_alive, process_start
from studio.core.engine.generators import Event, Generator, Param, Progress, Request, Result
from studio.core.engine.model_safety import check_model_file
from studio.core.engine.runtime import Device
from studio.core.models.download import disk_free
from studio.core.models.import_estimate import check_room, estimate
from studio.core.models.import_source import ImportSource, recognise
from studio.core.models.manifest import Manifest, write_manifest
from studio.errors import Cancelled, ModelError, StudioError

log = logging.getLogger(__name__)

#: Imports have their own queue: a conversion never waits behind a generation, nor one behind it.
IMPORT_DEVICE = Device("convert", "Converter", ())
WORK = ".partial-import"
OWNER = "owner"  # beside the output: the pid (and start time) of the process that runs the import
OWNERLESS_GRACE = 60.0  # seconds a work folder without its owner file is left alone
#: What the child imports; the parent only asks whether they are there (find_spec), never imports them.
CONVERT_MODULES = ("torch", "diffusers", "transformers", "safetensors", "onnxscript")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
POLL = 0.1  # seconds between looks at Cancel
STDERR_LINES = 40  # the child's last lines of log kept for the error message
TAIL_SHOWN = 1500  # characters of that tail quoted in the message
DISK_FULL = "the disk is full"


def convert_extra_command() -> str:
    """The exact command that installs the convert extra into the Python running Studio."""
    return (f"{shlex.quote(sys.executable)} -m pip install --extra-index-url {TORCH_CPU_INDEX} "
            f"'studio-desktop[convert]'")


def missing_convert_modules(modules: Iterable[str] = CONVERT_MODULES) -> list[str]:
    """The converter's libraries this Python cannot import (asked of the finder, not imported)."""
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def check_convert_extra(modules: Iterable[str] = CONVERT_MODULES) -> None:
    """A ``StudioError`` with the command to run when the convert extra is not installed."""
    missing = missing_convert_modules(modules)
    if missing:
        raise StudioError(
            f"Importing models needs Studio's convert extra (torch's CPU build, diffusers, transformers), and "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed. Install it with:\n"
            f"  {convert_extra_command()}\n"
            f"(from a checkout: pip install --extra-index-url {TORCH_CPU_INDEX} -e '.[convert]')")


def free_name(wanted: str) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3``… : the first name no folder in ``paths.models()`` has."""
    place = paths.models()
    name, n = wanted, 1
    while (place / name).exists() or (place / name).is_symlink():
        n += 1
        name = f"{wanted}-{n}"
    return name


def check_name(name: str) -> str:
    name = (name or "").strip()
    if name.startswith(".") or "/" in name or "\\" in name or len(name) > 100 or "\0" in name:
        raise StudioError(f"{name!r} cannot be a model's name: no slashes, no leading dot, at most 100 characters")
    return name


class ModelImport(Generator):
    """Converts one checkpoint or folder into a model folder in ``paths.models()``; its result is that folder."""

    kind = "model"
    loading_message = "Starting the import…"  # the runner's first word for a job; there is no model to load

    def __init__(self, source: ImportSource) -> None:
        self.source = source
        self.id = f"import:{source.path}"
        self.title = f"Import {source.path.name}"
        self.params = (
            Param("path", "text", str(source.path), help="the checkpoint file or model folder to import"),
            Param("name", "text", "", help="the installed model's name; empty: the file's or folder's"),
            Param("variant", "text", "", help="a smaller variant made beside fp32: " + (", ".join(source.variants_offered) or "none")),
            Param("threads", "int", 0, min=0, max=1024, help="torch's threads in the converter; 0: all cores but one"),
        )

    def generate(self, request: Request, ctx: Any) -> Iterator[Event]:
        source, params = self.source, request.params
        variant = _variant(source, params.get("variant", ""))
        name = check_name(params.get("name", "")) or source.name
        yield Progress(0, 0, f"Checking the room for {source.description}…")
        need = estimate(source.parameters, source.weights_bytes, variant)
        check_room(need, source.path.name, paths.models(), disk_free)
        ctx.check_cancelled()
        remove_stale_work()
        work = paths.models() / WORK / uuid.uuid4().hex
        out = work / "model"
        work.mkdir(parents=True)
        (work / OWNER).write_text(f"{os.getpid()} {process_start(os.getpid())}\n", encoding="ascii")
        out.mkdir()
        try:
            options = {"variant": variant, "name": name, "architecture": source.architecture,
                       "threads": int(params.get("threads") or 0)}
            child = Converter(source, out, options)
            yield from child.run(ctx)
            folder = install(out, name, source, child.done)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        info = {"name": folder.name, "format": source.format, "description": child.done.get("description") or source.description,
                "variants": list(child.done.get("variants") or []), "bytes": _size(folder),
                "child_peak_memory": child.peak_memory, "seconds": round(child.seconds, 1), "folder": str(folder)}
        yield Result("model", str(folder), self.id, dict(params), info=info)


def _variant(source: ImportSource, wanted: str) -> str:
    wanted = (wanted or "").strip().lower()
    if wanted in ("", "fp32", "none"):
        return ""
    if wanted not in source.variants_offered:
        offered = ", ".join(source.variants_offered) or "none"
        raise StudioError(f"{source.path.name} ({source.description}) cannot be imported with a {wanted} variant "
                          f"(offered: {offered})")
    return wanted


class Converter:
    """The child process of one import: started, read, and stopped at once on Cancel."""

    def __init__(self, source: ImportSource, out: Path, options: dict[str, Any]) -> None:
        self.source, self.out, self.options = source, out, options
        self.done: dict[str, Any] = {}
        self.error = ""
        self.peak_memory = 0  # bytes: the child's largest resident set, where the OS tells it
        self.seconds = 0.0
        self.stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def command(self) -> list[str]:
        return [sys.executable, "-m", "studio.convert", self.source.format, str(self.source.path), str(self.out),
                "--options", json.dumps(self.options)]

    def run(self, ctx: Any) -> Iterator[Progress]:
        started = time.monotonic()
        process = _spawn(self.command())
        readers = [threading.Thread(target=self._read_protocol, args=(process.stdout,), daemon=True),
                   threading.Thread(target=self._read_log, args=(process.stderr,), daemon=True)]
        for reader in readers:
            reader.start()
        try:
            ended = False
            while not ended:
                if ctx.cancelled:
                    raise Cancelled()
                try:
                    line = self.lines.get(timeout=POLL)
                except queue.Empty:
                    continue
                if line is None:  # the child closed its stdout: it has ended (or is ending)
                    ended = True
                elif "progress" in line:
                    yield _progress(line["progress"])
                elif "done" in line and isinstance(line["done"], dict):
                    self.done = line["done"]
                elif "error" in line:
                    self.error = str(line["error"])
            code = self._wait(process, ctx)
        finally:
            if process.returncode is None:
                _kill(process)
        for reader in readers:
            reader.join(1.0)
        self.seconds = time.monotonic() - started
        if code != 0 or not self.done:
            raise self._failure(code)

    def _wait(self, process: subprocess.Popen, ctx: Any) -> int:
        """The child's exit code once it has ended; its peak memory from the kernel where it says."""
        while True:
            if ctx.cancelled:
                raise Cancelled()
            if hasattr(os, "wait4"):
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    process.returncode = os.waitstatus_to_exitcode(status)
                    self.peak_memory = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
                    return process.returncode
            elif process.poll() is not None:
                return process.returncode
            time.sleep(POLL / 2)

    def _read_protocol(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                try:
                    line = json.loads(raw.decode("utf-8", "replace"))
                except ValueError:
                    line = None
                if isinstance(line, dict):
                    self.lines.put(line)
                else:
                    self.stderr.append(raw.decode("utf-8", "replace").rstrip())
        self.lines.put(None)

    def _read_log(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                text = raw.decode("utf-8", "replace").rstrip()
                self.stderr.append(text)
                log.debug("converter: %s", text)

    def _failure(self, code: int) -> StudioError:
        tail = "\n".join(self.stderr)
        what = f"importing {self.source.path.name} failed"
        words = f"{self.error}\n{tail}"
        if self.error.startswith(DISK_FULL) or "No space left on device" in words or "Disk quota exceeded" in words:
            return StudioError(f"{what}: {DISK_FULL} ({paths.models()}). Free some space and import again; "
                               "nothing was installed")
        if code == 0:  # exited without saying it was done: a converter bug
            reason = "the converter ended without finishing"
        elif code < 0:
            name = _signal_name(-code)
            reason = f"the converter was killed by {name}" + (
                " (out of memory?)" if -code == getattr(signal, "SIGKILL", 9) else "")
        else:
            reason = self.error or f"the converter stopped with exit code {code}"
        if code != 2 and tail:
            log.error("the converter of %s failed (exit %s); its log:\n%s", self.source.path, code, tail)
            reason += f". Its last words:\n{tail[-TAIL_SHOWN:]}"
        return StudioError(f"{what}: {reason}; nothing was installed")


def _progress(data: Any) -> Progress:
    if not isinstance(data, dict):
        return Progress(0, 0, "Converting…")
    component = str(data.get("component") or "")
    label = component.replace("_", " ").capitalize()
    step, total = data.get("step"), data.get("total")
    step = step if isinstance(step, int) and step >= 0 else 0
    total = total if isinstance(total, int) and total >= 0 else 0
    message = str(data.get("message") or label or "Converting…")
    if label and label.lower() not in message.lower():
        message = f"{label}: {message}"
    return Progress(min(step, total) if total else 0, total, message[:200])


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _spawn(command: list[str]) -> subprocess.Popen:
    """The child, in a process group of its own (Cancel kills the group: the child and anything it
    started), told to stay offline, and able to import this very ``studio``."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
                "DO_NOT_TRACK": "1", "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"})
    kwargs: dict[str, Any] = {"start_new_session": True} if os.name == "posix" else {
        "creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, **kwargs)


def _kill(process: subprocess.Popen) -> None:
    """End the child and its process group now (SIGKILL: a conversion holds nothing worth saving)."""
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        log.error("the converter (pid %s) did not end after SIGKILL", process.pid)


def install(out: Path, name: str, source: ImportSource, done: dict[str, Any]) -> Path:
    """Check the graphs the child wrote, rename its folder into place, write the manifest last."""
    graphs = sorted(out.rglob("*.onnx"))
    if not graphs:
        raise StudioError(f"importing {source.path.name} failed: the converter wrote no ONNX graph; nothing was installed")
    for graph in graphs:
        try:
            check_model_file(graph)
        except ModelError as exc:
            raise StudioError(f"importing {source.path.name} failed: {exc}; nothing was installed") from None
    files = {p.relative_to(out).as_posix(): {"size": p.stat().st_size} for p in sorted(out.rglob("*")) if p.is_file()}
    for _ in range(100):  # another import (another window, the CLI) may take a name meanwhile
        folder = paths.models() / free_name(name)
        try:
            os.rename(out, folder)
            break
        except OSError:
            if not folder.exists():
                raise
    else:
        raise StudioError(f"no free name for {name} in {paths.models()}")
    variants = [str(v) for v in done.get("variants") or ["fp32"]]
    manifest = Manifest(name=folder.name, source={"import": str(source.path), "format": source.format},
                        license=str(done.get("license") or ""), variants=variants, files=files)
    try:
        write_manifest(folder, manifest)
    except BaseException as exc:  # a folder without its manifest is no model: take it away again
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StudioError(f"importing {source.path.name} failed: {DISK_FULL} ({paths.models()}). "
                              "Free some space and import again; nothing was installed") from None
        raise
    return folder


def remove_stale_work() -> None:
    """Work folders of imports whose process has died (a killed window, a power cut)."""
    place = paths.models() / WORK
    if not place.is_dir():
        return
    for work in place.iterdir():
        try:
            pid_text, _, started = (work / OWNER).read_text(encoding="ascii").strip().partition(" ")
            alive = process_alive(int(pid_text), started)
        except (OSError, ValueError):  # no owner yet: another import may be making its folder this instant
            try:
                alive = time.time() - work.stat().st_mtime < OWNERLESS_GRACE
            except OSError:
                continue
        if not alive:
            shutil.rmtree(work, ignore_errors=True)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def start_import(host_or_runner: Any, path: str | os.PathLike[str], name: str = "", variant: str = "",
                 listeners: Iterable[Callable] = (), check_extra: Callable[[], None] = check_convert_extra) -> Any:
    """Queue the import of ``path`` and return its job; a ``StudioError`` at once when Studio
    cannot import it (what it is not, a variant it does not offer, the convert extra missing)."""
    runner = getattr(host_or_runner, "runner", host_or_runner)
    check_extra()
    source = recognise(path)
    _variant(source, variant)
    check_name(name)
    generator = ModelImport(source)
    threads = getattr(getattr(runner, "runtime", None), "cpu_threads", 0)
    request = generator.request({"path": str(source.path), "name": name or "", "variant": variant or "",
                                 "threads": int(threads or 0)})
    return runner.submit(generator, request, IMPORT_DEVICE, listeners)
