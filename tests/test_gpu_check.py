"""bench/gpu_check.py on a machine without CUDA (CI, this one): one line says so, the CPU smoke
part runs (parity tests through the device switch, then the three figures), exit 0. And the
switch it uses cannot pass on the CPU unseen: a device that does not start fails the parity run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.engine.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
import gpu_check  # noqa: E402  (bench/ is a folder of scripts, not a package)


def cuda_works() -> bool:
    runtime = Runtime()
    device = next((d for d in runtime.devices() if d.id == "cuda:0"), None)
    return device is not None and runtime.probe(device).usable


@pytest.mark.skipif(cuda_works(), reason="CUDA works here: the script runs the real check instead")
def test_without_cuda_it_says_so_in_one_line_then_runs_the_cpu_smoke_part():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "bench/gpu_check.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("No CUDA here: ") and lines[0].endswith("Running the CPU smoke part only.")
    files = len(gpu_check.PARITY_TESTS)  # the smoke part runs the first case of each parity file
    assert any(line.startswith(f"parity tests on cpu: {files} passed") and line.endswith("OK") for line in lines), done.stdout
    rows = {line.split("  ")[0]: line for line in lines if line.startswith(("SD ", "LM ", "MusicGen "))}
    assert len(rows) == 3 and all("CPUExecutionProvider" in row and "failed" not in row for row in rows.values()), done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(cuda_works(), reason="CUDA works here")
def test_a_parity_run_asked_for_cuda_fails_where_cuda_does_not_start():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STUDIO_TEST_DEVICE="cuda:0")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/core/test_lm_parity.py"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "STUDIO_TEST_DEVICE=cuda:0, but it does not start here" in done.stdout
