"""The one place that creates onnxruntime sessions.

Three facts shape this module:
- ``get_available_providers()`` lists what the onnxruntime *build* contains (the GPU wheel
  lists CUDA on a machine with no GPU), and a session asked for CUDA falls back to CPU
  silently when the CUDA libraries are missing. The truth is ``session.get_providers()``,
  so every session records what it really got, and a probe says why the GPU is not used.
- Creating a session holds the GIL; sessions are cached by (model file, device) and reused.
- On CPU, onnxruntime's spinning threads would steal the core the UI needs: spinning is off, the
  window leaves the GUI thread a core (``window_cpu_threads``), the CLI uses all (``all_cores``).
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.engine.model_safety import check_model_file
from studio.core.engine.onnx_import import import_onnxruntime
from studio.errors import ModelError, StudioError

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
# Accelerator devices in the order ``auto`` tries them: (device id, the provider that defines
# it, the providers a session on it asks for before the CPU). TensorRT comes after plain CUDA
# because its first run on each model builds an engine for minutes: a choice, not a default.
ACCELERATORS = (
    ("cuda:0", "CUDAExecutionProvider", ("CUDAExecutionProvider",)),
    ("rocm:0", "ROCMExecutionProvider", ("ROCMExecutionProvider",)),
    ("dml:0", "DmlExecutionProvider", ("DmlExecutionProvider",)),
    ("coreml", "CoreMLExecutionProvider", ("CoreMLExecutionProvider",)),
    ("tensorrt:0", "TensorrtExecutionProvider", ("TensorrtExecutionProvider", "CUDAExecutionProvider")),
)
# A 69-byte model (y = Identity(x)) that every provider can run: used to ask a provider
# whether it really starts on this machine.
PROBE_MODEL = (
    b'\x08\x08:;\n\x10\n\x01x\x12\x01y"\x08Identity\x12\x05probeZ\x0f\n\x01x\x12\n\n\x08\x08\x01'
    b"\x12\x04\n\x02\x08\x01b\x0f\n\x01y\x12\n\n\x08\x08\x01\x12\x04\n\x02\x08\x01B\x04\n\x00\x10\x11"
)


def all_cores() -> int:
    """Every core: what the CLI and batch runs give onnxruntime (no GUI thread waits on them)."""
    return max(1, os.cpu_count() or 1)


def window_cpu_threads() -> int:
    """The window's default: all cores but one, so the GUI thread keeps a core to itself.

    Measured, not assumed: bench/ui_responsiveness.py --threads N --no-startup (GUI-thread
    lateness while a 2048 x 2048 CPPN job runs; goal p99 <= 16 ms, max <= 50 ms), 13 rounds
    each, alternating, on the 2-core test machine (busy: load average 7-9):
      cores - 1 (1 thread):  p99 median 17.7 ms (<= 16 in 6 of 13), max median 27.3 ms (<= 50 in 12 of 13)
      all cores (2 threads): p99 median 19.0 ms (<= 16 in 3 of 13), max median 27.5 ms (<= 50 in 11 of 13,
                             one 202 ms)
    and the job took as long either way (about 1,020 heartbeats). Every core bought no speed in
    the window and cost the GUI thread its goal more often, so the window keeps a core free;
    the CLI, with no GUI thread, takes them all (``all_cores``).
    """
    return max(1, (os.cpu_count() or 2) - 1)


def default_cpu_threads() -> int:
    return window_cpu_threads()  # the window's, when nobody says (the CLI asks for ``all_cores``)


@dataclass(frozen=True)
class Device:
    """Where jobs run. ``providers`` is what a session on this device asks for, in order."""

    id: str
    name: str
    providers: tuple[str, ...]
    slots: int = 1  # jobs at once: one on a local device (jobs wait, not fight over a GPU); a cluster's workers
    remote: Any = field(default=None, compare=False, repr=False)  # runs its jobs elsewhere (studio.cluster); None: here

    @property
    def is_cpu(self) -> bool:
        return self.id == "cpu"


CPU_DEVICE = Device("cpu", f"CPU ({os.cpu_count() or 1} cores)", (CPU,))


@dataclass
class ProbeResult:
    """What happened when a device was asked to run the probe model."""

    device: Device
    asked: tuple[str, ...]
    got: tuple[str, ...]
    reason: str = ""  # why the accelerator was not used; empty when it was

    @property
    def usable(self) -> bool:
        return self.device.is_cpu or any(p != CPU for p in self.got)


@dataclass
class LoadedSession:
    """A cached session and the truth about it."""

    session: Any
    path: Path
    device: Device
    providers: tuple[str, ...]
    seconds: float
    kept: Any = None  # what a patch gave the session (replaced weights): alive as long as it is

    @property
    def fell_back(self) -> bool:
        """True when an accelerator was asked for and the session runs on the CPU anyway."""
        return not self.device.is_cpu and self.providers[:1] == (CPU,)

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]


@dataclass
class RuntimeReport:
    """Everything ``studio doctor`` and the status bar say about onnxruntime."""

    version: str
    package: str
    available: list[str]
    devices: list[ProbeResult] = field(default_factory=list)
    cpu_threads: int = 1

    @property
    def best(self) -> ProbeResult:
        usable = [p for p in self.devices if p.usable and not p.device.is_cpu]
        return usable[0] if usable else next(p for p in self.devices if p.device.is_cpu)

    @property
    def gpu_reason(self) -> str:
        """Why no accelerator is used, in a sentence; empty when one is."""
        if not self.best.device.is_cpu:
            return ""
        reasons = [p.reason for p in self.devices if not p.device.is_cpu and p.reason]
        if reasons:
            return reasons[0]
        return no_accelerator_reason(self.package)

    @property
    def gpu_status(self) -> str:
        """One plain sentence for the status bar and ``studio doctor``: the GPU in use, or why none is."""
        if not self.best.device.is_cpu:
            return f"Running on the {self.best.device.name}."
        reason = self.gpu_reason.replace("; running on the CPU", "")
        return f"{reason[:1].upper()}{reason[1:]}: running on the CPU."


def no_accelerator_reason(package: str) -> str:
    if sys.platform == "darwin":
        return f"this onnxruntime build ({package}) has no CoreML provider"
    return (
        f"this onnxruntime build ({package}) has no GPU provider; "
        "for an NVIDIA GPU install onnxruntime-gpu instead of onnxruntime"
    )


class Runtime:
    """Creates, caches and reports onnxruntime sessions."""

    def __init__(self, cpu_threads: int | None = None) -> None:
        self.cpu_threads = cpu_threads or default_cpu_threads()
        self._sessions: dict[tuple[str, str, str], LoadedSession] = {}
        self._probes: dict[str, ProbeResult] = {}
        self._lock = threading.RLock()  # guards the dicts, held only briefly
        self._probe_lock = threading.Lock()
        self._said: set[str] = set()  # reasons already logged
        self._loading: dict[tuple[str, str, str], threading.Lock] = {}  # one per model being created

    # -- devices -------------------------------------------------------------------------

    @property
    def ort(self) -> Any:
        return import_onnxruntime()

    def available_providers(self) -> list[str]:
        return list(self.ort.get_available_providers())

    def devices(self) -> list[Device]:
        """The CPU, then each accelerator this onnxruntime build contains (usable or not)."""
        available = self.available_providers()
        devices = [CPU_DEVICE]
        for device_id, provider, asked in ACCELERATORS:
            if provider in available:
                providers = tuple(p for p in asked if p in available) + (CPU,)
                devices.append(Device(device_id, _accelerator_name(provider), providers))
        return devices

    def device(self, device_id: str = "auto") -> Device:
        """The device called ``device_id``; ``auto`` is the first accelerator that really works, else CPU."""
        devices = self.devices()
        if device_id in ("", "auto"):
            for device in devices[1:]:
                if self.probe(device).usable:
                    return device
            return CPU_DEVICE
        for device in devices:
            if device.id == device_id:
                return device
        names = ", ".join(d.id for d in devices)
        raise StudioError(f"unknown device {device_id!r}; this machine has: {names} (or auto)")

    def probe(self, device: Device) -> ProbeResult:
        """Start the probe model on ``device`` and record which provider it really got, and why."""
        with self._probe_lock:
            cached = self._probes.get(device.id)
            if cached is not None:
                return cached
            if device.is_cpu:
                result = ProbeResult(device, device.providers, (CPU,))
            else:
                result = self._probe_accelerator(device)
            self._probes[device.id] = result
            return result

    def _probe_accelerator(self, device: Device) -> ProbeResult:
        if _needs_nvidia(device) and not nvidia_driver_present():
            # Nothing to try: asking onnxruntime would only print its load errors.
            reason = accelerator_failure_reason(device, "")
            self._say_once(device, reason)
            return ProbeResult(device, device.providers, (CPU,), reason)
        ort = self.ort
        options = ort.SessionOptions()
        with _captured_stderr() as captured:
            try:
                session = ort.InferenceSession(PROBE_MODEL, options, providers=list(device.providers))
                got = tuple(session.get_providers())
                error = ""
            except Exception as exc:  # a provider that fails hard rather than falling back
                got, error = (), str(exc)
        stderr_text = captured.text
        if stderr_text:  # its raw words, for whoever debugs a GPU set-up; people get the reason
            log.debug("onnxruntime said while probing %s:\n%s", device.id, stderr_text)
        usable = any(p != CPU for p in got)
        reason = "" if usable else accelerator_failure_reason(device, error + "\n" + stderr_text)
        if reason:
            self._say_once(device, reason)
        return ProbeResult(device, device.providers, got, reason)

    def _say_once(self, device: Device, reason: str) -> None:
        """Log why an accelerator is not used, once per reason (CUDA and TensorRT share one)."""
        if reason not in self._said:
            self._said.add(reason)
            log.info("%s not used: %s", device.id, reason)

    def report(self) -> RuntimeReport:
        ort = self.ort
        package = _package_name()
        probes = [self.probe(device) for device in self.devices()]
        return RuntimeReport(ort.__version__, package, self.available_providers(), probes, self.cpu_threads)

    # -- sessions ------------------------------------------------------------------------

    def session_options(self, device: Device) -> Any:
        ort = self.ort
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if device.is_cpu:
            options.intra_op_num_threads = self.cpu_threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            # A spinning worker would keep a core busy between calls and starve the UI.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        return options

    def effective_providers(self, device: Device) -> tuple[str, ...]:
        """The providers a session on ``device`` asks for: an accelerator that cannot start is not
        asked for (onnxruntime would print its load errors for every model before falling back;
        the probe has said why, once), so its sessions run on the CPU."""
        return device.providers if self.probe(device).usable else (CPU,)

    def session(self, path: str | os.PathLike[str], device: Device = CPU_DEVICE, patch: Any = None) -> LoadedSession:
        """The session for ``path`` on ``device``, created on first use and cached.

        ``patch`` (``.key``, ``.prepare(path, options) -> (graph bytes, what to keep alive)``: a
        LoRA's replaced weights) changes the graph before the session is made; it is cached under
        its key. One session per file and device is kept, patched or not: each holds its own copy
        of the weights, so a new one lets the last go (a job still running keeps its own)."""
        given = Path(path)  # as named: a link out of the model's folder is refused, so keep it
        path = given.resolve()
        key = (str(path), device.id, patch.key if patch is not None else "")
        with self._lock:
            cached = self._sessions.get(key)
            if cached is not None:
                return cached
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # two jobs asking for the same model create it once
            with self._lock:
                cached = self._sessions.get(key)
            if cached is not None:
                return cached
            with self._lock:  # one session per file and device: the last goes before the next is made
                for other in [k for k in self._sessions if k[:2] == key[:2]]:
                    del self._sessions[other]
            loaded = self._create(path, device, given, patch)
            with self._lock:
                self._sessions[key] = loaded
                self._loading.pop(key, None)
            return loaded

    def _create(self, path: Path, device: Device, given: Path | None = None, patch: Any = None) -> LoadedSession:
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        # Before onnxruntime sees the file: external data must stay inside the model's folder
        # (model_safety explains why), whatever this onnxruntime version checks itself.
        check_model_file(given or path)
        ort = self.ort
        providers = list(self.effective_providers(device))
        start = time.perf_counter()
        options = self.session_options(device)
        source, kept = patch.prepare(path, options) if patch is not None else (str(path), None)  # kept: outlives the session
        try:
            session = ort.InferenceSession(source, options, providers=providers)
        except Exception as exc:
            where = "the CPU" if providers == [CPU] else device.name
            raise ModelError(_describe_load_failure(path, exc, where)) from None
        loaded = LoadedSession(session, path, device, tuple(session.get_providers()), time.perf_counter() - start, kept)
        if loaded.fell_back:
            log.warning(
                "%s asked for %s but runs on %s: %s",
                path.name, device.providers[0], loaded.providers[0], self.probe(device).reason or "onnxruntime fell back",
            )
        log.info("loaded %s on %s (%s) in %.3f s", path, device.id, loaded.providers[0], loaded.seconds)
        return loaded

    def cached_sessions(self) -> list[LoadedSession]:
        with self._lock:
            return list(self._sessions.values())

    def clear(self) -> None:
        """Drop every cached session (their memory goes when the last job lets go of them)."""
        with self._lock:
            self._sessions.clear()


def _describe_load_failure(path: Path, exc: Exception, where: str = "the CPU") -> str:
    text = str(exc)
    detail = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    detail = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", detail)
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        return f"the model file {path} is empty"
    if "escapes model directory" in text or "Absolute path not allowed" in text:
        return (
            f"the model file {path} points at weights outside its folder; "
            "Studio only reads external data that sits beside the model"
        )
    missing = re.search(r'External data path does not exist: "([^"]+)"', text)
    if missing:
        return f"the weights file {missing.group(1)} that {path.name} needs is missing (copy the whole model folder)"
    no_kernel = re.search(r"Could not find an implementation for (\w+)\(\d+\) node", text)
    if no_kernel:  # a graph made for another device (GPU-fused operators): not a damaged file
        return (
            f"the model file {path} uses {no_kernel.group(1)}, which onnxruntime cannot run on {where}; "
            "the model was exported for another device (a GPU-optimized export?)"
        )
    if "out of bounds or can not be read in full" in text:
        return f"the weights file next to {path} is truncated (an interrupted download or copy?)"
    return f"the model file {path} could not be loaded; it is damaged, truncated or not an ONNX model ({detail})"


def nvidia_driver_present() -> bool:
    """Whether an NVIDIA driver could serve CUDA here (Linux and WSL tell; elsewhere, assume so)."""
    if not sys.platform.startswith("linux"):
        return True
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/dxg").exists()  # /dev/dxg: WSL 2


def _needs_nvidia(device: Device) -> bool:
    return device.id.startswith(("cuda", "tensorrt"))


def accelerator_failure_reason(device: Device, onnxruntime_said: str) -> str:
    """Turn onnxruntime's own words about a failed provider into one sentence for a person."""
    missing = re.search(r"with error: (\S+\.(?:so|dll|dylib)[\w.]*): cannot open", onnxruntime_said)
    if missing is None:
        missing = re.search(r"LoadLibrary failed with error \d+ \"[^\"]*\" when trying to load \"([^\"]+)\"", onnxruntime_said)
    if _needs_nvidia(device):
        if not nvidia_driver_present():
            lib = f" (and {missing.group(1)} is missing)" if missing else ""
            return f"no NVIDIA GPU driver found on this machine{lib}; running on the CPU"
        if missing:
            return (
                f"the CUDA libraries onnxruntime needs are not installed: {missing.group(1)} not found "
                f"(onnxruntime {_cuda_requirement()}); running on the CPU"
            )
    if missing:
        return f"{device.name} could not start: {missing.group(1)} not found; running on the CPU"
    first = next((_plain(line) for line in onnxruntime_said.splitlines() if _plain(line)), "")
    return f"{device.name} could not start{': ' + first if first else ''}; running on the CPU"


def _plain(line: str) -> str:
    """onnxruntime's words without its log prefix, error code and ` ; file=...` diagnostics."""
    line = re.sub(r"^\S+ \S+ \[[A-Z]:onnxruntime:[^\]]*\]\s*", "", line.strip())
    line = re.sub(r"^.*\[ONNXRuntimeError\] : \d+ : \w+ : ", "", line)
    return line.split(" ; ")[0].strip().rstrip(";")


def _cuda_requirement() -> str:
    try:
        info = import_onnxruntime("capi.build_and_package_info")
        return f"was built for CUDA {info.cuda_version}"
    except Exception:
        return "needs CUDA and cuDNN"


def _package_name() -> str:
    try:
        info = import_onnxruntime("capi.build_and_package_info")
        return str(info.package_name)
    except Exception:
        return "onnxruntime"


def _accelerator_name(provider: str) -> str:
    return {
        "TensorrtExecutionProvider": "NVIDIA GPU (TensorRT)",
        "CUDAExecutionProvider": "NVIDIA GPU (CUDA)",
        "ROCMExecutionProvider": "AMD GPU (ROCm)",
        "DmlExecutionProvider": "GPU (DirectML)",
        "CoreMLExecutionProvider": "Apple Neural Engine / GPU (CoreML)",
    }.get(provider, provider)


class _captured_stderr:
    """Capture onnxruntime's words while probing: its native log (file descriptor 2) and the
    "EP Error ... Falling back" notice its Python wrapper prints to ``sys.stdout``."""

    _lock = threading.Lock()

    def __enter__(self) -> "_captured_stderr":
        self.text = ""
        self._lock.acquire()
        self._printed = io.StringIO()
        # Only this thread's prints: the probe runs beside the window, whose own output
        # (and a test's) must not vanish into the capture meanwhile.
        self._stdout = sys.stdout
        sys.stdout = _ThisThreadTo(self._printed, self._stdout)
        try:
            sys.stderr.flush()
            self._file = tempfile.TemporaryFile(mode="w+b")
            self._saved = os.dup(2)
            os.dup2(self._file.fileno(), 2)
        except OSError:  # no usable fd 2 (some GUI launches): capture nothing
            self._saved = None
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._saved is not None:
                os.dup2(self._saved, 2)
                os.close(self._saved)
                self._file.seek(0)
                raw = self._file.read().decode("utf-8", "replace")
                self.text = re.sub(r"\x1b\[[0-9;]*m", "", raw).strip()
                self._file.close()
        finally:
            if isinstance(sys.stdout, _ThisThreadTo):
                sys.stdout = self._stdout
            self.text = (self.text + "\n" + self._printed.getvalue()).strip()
            self._lock.release()


class _ThisThreadTo:
    """A ``sys.stdout`` that sends the writes of the thread that made it to ``capture`` and
    everyone else's to ``other``."""

    def __init__(self, capture: io.StringIO, other: Any) -> None:
        self._thread = threading.get_ident()
        self._capture = capture
        self._other = other

    def write(self, text: str) -> int:
        return (self._capture if threading.get_ident() == self._thread else self._other).write(text)

    def flush(self) -> None:
        if threading.get_ident() != self._thread and self._other is not None:
            self._other.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._other, name)
