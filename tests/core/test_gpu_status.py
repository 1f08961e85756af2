"""On a machine without a usable GPU, Studio says so once, in one plain sentence.

onnxruntime's own "EP Error" banners and native log lines about providers that cannot
start are not for people: the CLI never prints them, the log does not repeat them, and
`studio doctor` prints the sentence the window's status bar shows (``gpu_status``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.engine import runtime as rt
from studio.core.engine.runtime import CPU, CPU_DEVICE, Device, Runtime

# What onnxruntime writes itself: its Python wrapper's banner, and its native log lines.
ONNXRUNTIME_NOISE = re.compile(r"EP Error|Falling back to|\[[EW]:onnxruntime:")


def studio(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def log_text() -> str:
    path = Path(os.environ["STUDIO_HOME"]) / "logs" / "studio.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


@pytest.fixture(scope="module")
def unusable_accelerators() -> list[str]:
    runtime = Runtime()
    return [d.id for d in runtime.devices()[1:] if not runtime.probe(d).usable]


def test_doctor_says_the_gpu_status_in_one_plain_sentence_and_nothing_of_onnxruntimes(tmp_path):
    run = studio("doctor", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    assert not ONNXRUNTIME_NOISE.search(run.stdout + run.stderr), run.stdout + run.stderr
    assert not ONNXRUNTIME_NOISE.search(log_text()), log_text()
    assert log_text().count(" not used: ") <= 1  # CUDA and TensorRT fail for one reason: said once
    sentence = Runtime().report().gpu_status
    assert f"GPU: {sentence}\n" in run.stdout
    assert sentence[0].isupper() and sentence.endswith(".") and "\n" not in sentence
    assert "ExecutionProvider" not in sentence and "onnxruntime_src" not in sentence


def test_a_generation_on_an_accelerator_that_cannot_start_prints_nothing_of_onnxruntimes(tmp_path, unusable_accelerators):
    if not unusable_accelerators:
        pytest.skip("every accelerator of this onnxruntime build starts here")
    for device in unusable_accelerators:  # on this machine: cuda:0 and tensorrt:0 with no driver
        run = studio("generate", "cppn", "-o", "x.png", "--param", "width=16", "--param", "height=16",
                     "--device", device, cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        assert not ONNXRUNTIME_NOISE.search(run.stdout + run.stderr), run.stdout + run.stderr
        assert "ran on the CPU" in run.stderr  # said once, plainly
    assert not ONNXRUNTIME_NOISE.search(log_text()), log_text()


def test_gpu_status_when_a_gpu_is_used():
    gpu = Device("cuda:0", "NVIDIA GPU (CUDA)", ("CUDAExecutionProvider", CPU))
    probes = [rt.ProbeResult(CPU_DEVICE, (CPU,), (CPU,)), rt.ProbeResult(gpu, gpu.providers, gpu.providers)]
    report = rt.RuntimeReport("1.0", "onnxruntime-gpu", ["CUDAExecutionProvider", CPU], probes)
    assert report.gpu_status == "Running on the NVIDIA GPU (CUDA)."


def test_gpu_status_without_a_gpu_provider_in_the_build():
    report = rt.RuntimeReport("1.0", "onnxruntime", [CPU], [rt.ProbeResult(CPU_DEVICE, (CPU,), (CPU,))])
    assert report.gpu_status.endswith("running on the CPU.")
    assert report.gpu_status[0].isupper()


def test_gpu_status_when_the_driver_is_missing():
    gpu = Device("cuda:0", "NVIDIA GPU (CUDA)", ("CUDAExecutionProvider", CPU))
    reason = "no NVIDIA GPU driver found on this machine; running on the CPU"
    probes = [rt.ProbeResult(CPU_DEVICE, (CPU,), (CPU,)), rt.ProbeResult(gpu, gpu.providers, (CPU,), reason)]
    report = rt.RuntimeReport("1.0", "onnxruntime-gpu", ["CUDAExecutionProvider", CPU], probes)
    assert report.gpu_status == "No NVIDIA GPU driver found on this machine: running on the CPU."
