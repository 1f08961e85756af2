"""onnxruntime: session cache, CPU options, the truthful provider report, plain load errors.

The machine these tests were written on has onnxruntime-gpu installed and no GPU: CUDA is
listed by the build but cannot start. Tests that depend on that say so and skip elsewhere.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from studio.core.engine import runtime as rt
from studio.core.engine.onnx_import import import_onnxruntime
from studio.core.engine.runtime import CPU, CPU_DEVICE, Device, LoadedSession, Runtime, accelerator_failure_reason
from studio.errors import ModelError, StudioError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import slow_model  # noqa: E402

ort = import_onnxruntime()

DRIVER_FILE = "/proc/driver/nvidia/version"
HAS_NVIDIA_DRIVER = os.path.exists(DRIVER_FILE)
HAS_CUDA_BUILD = "CUDAExecutionProvider" in ort.get_available_providers()
no_gpu_here = pytest.mark.skipif(
    HAS_NVIDIA_DRIVER or not HAS_CUDA_BUILD,
    reason="needs onnxruntime-gpu on a machine without an NVIDIA driver (the CUDA provider is listed but cannot start)",
)
CPPN_MODEL = Path(__file__).resolve().parents[2] / "resources" / "models" / "cppn" / "model.onnx"


@pytest.fixture
def model_file(tmp_path):
    return slow_model.write(slow_model.add_one_model(), tmp_path / "add_one.onnx")


def assert_plain(message: str) -> None:
    """One line a person can read: no traceback, no onnxruntime log prefix or error code."""
    assert message.strip()
    assert "\n" not in message
    assert "Traceback" not in message
    assert "[ONNXRuntimeError]" not in message
    assert ":onnxruntime:" not in message
    assert ".cc:" not in message  # onnxruntime source locations


# -- CPU session options ------------------------------------------------------------------


@pytest.mark.parametrize("cores, threads", [(None, 1), (1, 1), (2, 1), (4, 3), (16, 15)])
def test_default_cpu_threads_leaves_the_ui_a_core(monkeypatch, cores, threads):
    monkeypatch.setattr(rt.os, "cpu_count", lambda: cores)
    assert rt.default_cpu_threads() == threads


def test_cpu_session_options_limit_threads_and_turn_spinning_off():
    runtime = Runtime()
    assert runtime.cpu_threads == max(1, (os.cpu_count() or 2) - 1)
    options = runtime.session_options(CPU_DEVICE)
    assert isinstance(options, ort.SessionOptions)
    assert options.intra_op_num_threads == runtime.cpu_threads
    assert options.inter_op_num_threads == 1
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


def test_an_explicit_thread_count_is_used():
    assert Runtime(cpu_threads=3).session_options(CPU_DEVICE).intra_op_num_threads == 3


# -- session cache --------------------------------------------------------------------------


def test_session_runs_and_reports_the_providers_it_really_got(model_file):
    loaded = Runtime().session(model_file)
    assert isinstance(loaded, LoadedSession)
    assert loaded.providers == tuple(loaded.session.get_providers()) == (CPU,)
    assert loaded.device is CPU_DEVICE
    assert loaded.path == model_file.resolve()
    assert loaded.fell_back is False
    assert loaded.input_names == ["x"]
    assert loaded.seconds >= 0
    (y,) = loaded.session.run(None, {"x": np.array([1.0, 2.0], dtype=np.float32)})
    assert y.tolist() == [2.0, 3.0]


def test_the_session_cache_returns_the_same_session(model_file, monkeypatch):
    runtime = Runtime()
    first = runtime.session(model_file)
    monkeypatch.chdir(model_file.parent)
    assert runtime.session("add_one.onnx") is first  # same file, spelled differently
    assert runtime.session(str(model_file), CPU_DEVICE) is first
    assert runtime.cached_sessions() == [first]

    other_device = Device("other:0", "Other", (CPU,))
    elsewhere = runtime.session(model_file, other_device)
    assert elsewhere is not first
    assert runtime.session(model_file, other_device) is elsewhere

    runtime.clear()
    assert runtime.cached_sessions() == []
    assert runtime.session(model_file) is not first


def test_the_cache_is_per_runtime(model_file):
    assert Runtime().session(model_file) is not Runtime().session(model_file)


def test_concurrent_first_use_creates_one_session(model_file):
    runtime = Runtime()
    barrier = threading.Barrier(4)
    got: list[LoadedSession] = []

    def use():
        barrier.wait()
        got.append(runtime.session(model_file))

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(got) == 4 and all(s is got[0] for s in got)
    assert len(runtime.cached_sessions()) == 1


# -- load failures are ModelErrors with a plain message ---------------------------------------


def test_a_missing_model_file(tmp_path):
    with pytest.raises(ModelError) as caught:
        Runtime().session(tmp_path / "nope.onnx")
    assert str(caught.value) == f"model file not found: {tmp_path / 'nope.onnx'}"


def test_a_folder_is_not_a_model_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Runtime().session(tmp_path)


def test_an_empty_model_file(tmp_path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelError) as caught:
        Runtime().session(empty)
    assert str(caught.value) == f"the model file {empty} is empty"


@pytest.mark.parametrize(
    "name, content",
    [
        ("garbage", lambda: bytes(range(256)) * 8),
        ("text", lambda: b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 24124\n"),
        ("truncated", lambda: CPPN_MODEL.read_bytes()[: CPPN_MODEL.stat().st_size // 2]),
        ("head-only", lambda: CPPN_MODEL.read_bytes()[:40]),
    ],
)
def test_a_damaged_model_file_is_a_plain_model_error(tmp_path, name, content):
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(content())
    with pytest.raises(ModelError) as caught:
        Runtime().session(path)
    message = str(caught.value)
    assert message.startswith(f"the model file {path} could not be loaded")
    assert "damaged, truncated or not an ONNX model" in message
    assert_plain(message)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_failed_load_is_not_cached(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"not yet")
    runtime = Runtime()
    with pytest.raises(ModelError):
        runtime.session(path)
    slow_model.write(slow_model.add_one_model(), path)
    assert runtime.session(path).providers == (CPU,)


# -- devices and the truthful report --------------------------------------------------------


def test_devices_start_with_the_cpu_and_list_every_accelerator_of_the_build():
    devices = Runtime().devices()
    assert devices[0] is CPU_DEVICE
    assert CPU_DEVICE.providers == (CPU,) and CPU_DEVICE.is_cpu
    for device in devices[1:]:
        assert not device.is_cpu
        assert device.providers[-1] == CPU  # every accelerator can fall back
        assert device.name
    if HAS_CUDA_BUILD:
        cuda = next(d for d in devices if d.id == "cuda:0")
        assert cuda.providers == ("CUDAExecutionProvider", CPU)  # TensorRT is opt-in, never asked by default
        assert cuda.name == "NVIDIA GPU (CUDA)"  # the name says what it asks for
    ids = [d.id for d in devices]
    assert len(ids) == len(set(ids))


def test_device_by_id_and_unknown_device():
    runtime = Runtime()
    assert runtime.device("cpu") is CPU_DEVICE
    with pytest.raises(StudioError) as caught:
        runtime.device("nope")
    message = str(caught.value)
    assert "'nope'" in message
    for device in runtime.devices():
        assert device.id in message
    assert "auto" in message


def test_the_cpu_probe_is_usable_without_running_anything():
    probe = Runtime().probe(CPU_DEVICE)
    assert probe.usable and probe.reason == "" and probe.got == (CPU,)


@no_gpu_here
def test_the_cuda_device_is_listed_but_not_usable_here_and_says_why():
    runtime = Runtime()
    cuda = runtime.device("cuda:0")
    probe = runtime.probe(cuda)
    assert probe.asked == cuda.providers
    assert probe.got == (CPU,)  # onnxruntime fell back silently; the probe noticed
    assert not probe.usable
    assert probe.reason.startswith("no NVIDIA GPU driver found on this machine")
    assert probe.reason.endswith("running on the CPU")
    assert_plain(probe.reason)
    assert runtime.probe(cuda) is probe  # probed once


@no_gpu_here
def test_auto_picks_the_cpu_here():
    assert Runtime().device("auto") is CPU_DEVICE
    assert Runtime().device("") is CPU_DEVICE


@no_gpu_here
def test_the_report_says_why_there_is_no_gpu():
    runtime = Runtime()
    report = runtime.report()
    assert report.version == ort.__version__
    assert report.package == "onnxruntime-gpu"
    assert "CUDAExecutionProvider" in report.available
    assert [p.device.id for p in report.devices] == [d.id for d in runtime.devices()]
    assert report.best.device is CPU_DEVICE
    assert report.gpu_reason
    assert "NVIDIA" in report.gpu_reason
    assert_plain(report.gpu_reason)
    assert report.cpu_threads == runtime.cpu_threads


@no_gpu_here
def test_a_session_asked_for_cuda_records_that_it_fell_back(model_file, caplog):
    runtime = Runtime()
    cuda = runtime.device("cuda:0")
    with caplog.at_level("WARNING", logger="studio"):
        loaded = runtime.session(model_file, cuda)
    assert loaded.providers == tuple(loaded.session.get_providers()) == (CPU,)
    assert loaded.fell_back
    assert "asked for CUDAExecutionProvider but runs on CPUExecutionProvider" in caplog.text
    assert runtime.session(model_file, CPU_DEVICE) is not loaded


def test_report_without_accelerators_blames_the_build():
    report = rt.RuntimeReport("1.0", "onnxruntime", [CPU], [rt.ProbeResult(CPU_DEVICE, (CPU,), (CPU,))])
    assert report.best.device is CPU_DEVICE
    assert "has no GPU provider" in report.gpu_reason or "CoreML" in report.gpu_reason


def test_report_with_a_working_accelerator_has_no_reason():
    gpu = Device("cuda:0", "NVIDIA GPU (CUDA)", ("CUDAExecutionProvider", CPU))
    probes = [rt.ProbeResult(CPU_DEVICE, (CPU,), (CPU,)), rt.ProbeResult(gpu, gpu.providers, gpu.providers)]
    report = rt.RuntimeReport("1.0", "onnxruntime-gpu", ["CUDAExecutionProvider", CPU], probes)
    assert report.best.device is gpu
    assert report.gpu_reason == ""


# -- accelerator_failure_reason on what onnxruntime really says -------------------------------

CUDA = Device("cuda:0", "NVIDIA GPU (CUDA)", ("CUDAExecutionProvider", CPU))
ROCM = Device("rocm:0", "AMD GPU (ROCm)", ("ROCMExecutionProvider", CPU))
DML = Device("dml:0", "GPU (DirectML)", ("DmlExecutionProvider", CPU))

# What onnxruntime-gpu 1.31 writes to stderr on a machine without the CUDA libraries.
MISSING_LIBRARY = (
    "2026-11-21 20:58:15.953460093 [E:onnxruntime:Default, provider_bridge_ort.cc:2458 operator()] "
    "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:2043 onnxruntime::Provider& "
    "onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library "
    "/venv/lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime_providers_cuda.so with error: "
    "libcublasLt.so.13: cannot open shared object file: No such file or directory\n\n"
    "2026-11-21 20:58:15.953496557 [W:onnxruntime:Default, onnxruntime_pybind_state.cc:1295 "
    "CreateExecutionProviderFactoryInstance] Failed to create CUDAExecutionProvider. Require cuDNN 9.* "
    "and CUDA 13.*. Please install all dependencies as mentioned in the GPU requirements page "
    "(https://onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html#requirements), make "
    "sure they're in the PATH, and that your GPU is supported."
)
# What it writes when the driver is too old for its CUDA runtime (no library is missing).
DRIVER_TOO_OLD = (
    "2026-11-21 21:03:11.120211551 [E:onnxruntime:Default, cuda_call.cc:118 CudaCall] CUDA failure 35: "
    "CUDA driver version is insufficient for CUDA runtime version ; GPU=0 ; hostname=box ; "
    "file=/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_execution_provider.cc ; line=282 ; "
    "expr=cudaSetDevice(info_.device_id);"
)
WINDOWS_MISSING_DLL = (
    '\nLoadLibrary failed with error 126 "The specified module could not be found." when trying to load '
    '"C:\\Python311\\Lib\\site-packages\\onnxruntime\\capi\\onnxruntime_providers_cuda.dll"'
)


@pytest.fixture
def nvidia_driver(monkeypatch):
    """Make /proc/driver/nvidia/version exist or not, whatever the machine has."""

    def set_present(present: bool) -> None:
        real_exists = Path.exists

        def exists(self, *args, **kwargs):
            if str(self) == DRIVER_FILE:
                return present
            return real_exists(self, *args, **kwargs)

        monkeypatch.setattr(Path, "exists", exists)

    return set_present


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the NVIDIA driver check is Linux's")


@linux_only
def test_reason_missing_library_without_a_driver(nvidia_driver):
    nvidia_driver(False)
    reason = accelerator_failure_reason(CUDA, MISSING_LIBRARY)
    assert reason == "no NVIDIA GPU driver found on this machine (and libcublasLt.so.13 is missing); running on the CPU"


@linux_only
def test_reason_nothing_said_without_a_driver(nvidia_driver):
    nvidia_driver(False)
    assert accelerator_failure_reason(CUDA, "") == "no NVIDIA GPU driver found on this machine; running on the CPU"


@linux_only
def test_reason_missing_library_with_a_driver(nvidia_driver):
    nvidia_driver(True)
    reason = accelerator_failure_reason(CUDA, MISSING_LIBRARY)
    assert reason.startswith("the CUDA libraries onnxruntime needs are not installed: libcublasLt.so.13 not found")
    assert "CUDA" in reason.split("not found", 1)[1]  # says which CUDA the build wants
    assert reason.endswith("; running on the CPU")
    assert_plain(reason)


@linux_only
def test_reason_unknown_cuda_failure_with_a_driver(nvidia_driver):
    nvidia_driver(True)
    reason = accelerator_failure_reason(CUDA, DRIVER_TOO_OLD)
    assert reason.startswith("NVIDIA GPU (CUDA) could not start: ")
    assert "CUDA driver version is insufficient for CUDA runtime version" in reason
    assert reason.endswith("; running on the CPU")
    assert_plain(reason)
    assert "2026-11-21" not in reason  # onnxruntime's log timestamp is not for people


def test_reason_unknown_failure_of_another_provider():
    reason = accelerator_failure_reason(ROCM, "\n  hipErrorNoDevice: no ROCm-capable device is detected\nmore detail\n")
    assert reason == "AMD GPU (ROCm) could not start: hipErrorNoDevice: no ROCm-capable device is detected; running on the CPU"


def test_reason_when_onnxruntime_said_nothing():
    assert accelerator_failure_reason(ROCM, "\n") == "AMD GPU (ROCm) could not start; running on the CPU"


def test_reason_windows_missing_dll():
    reason = accelerator_failure_reason(DML, WINDOWS_MISSING_DLL)
    assert reason == (
        "GPU (DirectML) could not start: "
        "C:\\Python311\\Lib\\site-packages\\onnxruntime\\capi\\onnxruntime_providers_cuda.dll not found; "
        "running on the CPU"
    )


def test_reason_missing_library_for_a_non_cuda_device():
    said = "Failed to load library libonnxruntime_providers_rocm.so with error: libamdhip64.so.6: cannot open shared object file"
    assert accelerator_failure_reason(ROCM, said) == (
        "AMD GPU (ROCm) could not start: libamdhip64.so.6 not found; running on the CPU"
    )


def test_import_onnxruntime_failure_is_a_plain_studio_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` raise ImportError
    with pytest.raises(StudioError) as caught:
        rt.import_onnxruntime()
    assert "pip install onnxruntime" in str(caught.value)


def test_a_probe_captures_only_its_own_threads_prints(capsys):
    """The probe runs beside the window: what other threads print meanwhile must still reach
    stdout (it once vanished into the probe's capture)."""
    import threading

    from studio.core.engine.runtime import _captured_stderr

    inside, done, captured = threading.Event(), threading.Event(), []

    def probe() -> None:
        with _captured_stderr() as capture:
            print("EP Error: falling back to the CPU")
            inside.set()
            done.wait(5)
        captured.append(capture.text)

    thread = threading.Thread(target=probe)
    thread.start()
    assert inside.wait(5)
    print("the window's own line")
    done.set()
    thread.join(5)
    out = capsys.readouterr().out
    assert "the window's own line" in out and "EP Error" not in out
    assert "EP Error: falling back to the CPU" in captured[0]
