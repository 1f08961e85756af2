"""What the machine itself allows, measured the same way by every benchmark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"  # the tiny models a --smoke run uses
TORCH_PYTHON_HELP = ("a python with torch (and transformers/diffusers) that runs the reference side; "
                     "default $STUDIO_TORCH_PYTHON; without one the reference is skipped with a note")


def bench_folder(*parts: str) -> Path:
    """Where benchmark models are built and looked for by default: the system's temp folder."""
    return Path(tempfile.gettempdir(), "studio-bench", *parts)


def default_torch_python() -> str | None:
    return os.environ.get("STUDIO_TORCH_PYTHON") or None


def no_model(folder: Path, build: str) -> SystemExit:
    """The exit (code 2) for a benchmark whose model folder is missing: how to build it."""
    print(f"error: no benchmark model in {folder}\nbuild it first (see README, Benchmarks):\n    {build}", file=sys.stderr)
    return SystemExit(2)


def require(*modules: str, install: str) -> None:
    """Stop (exit 2) with what to install when a builder's python lacks one of ``modules``."""
    import importlib.util

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        print(f"error: this script needs {', '.join(missing)}, which {sys.executable} lacks.\n"
              f"Run it with a python that has them (not Studio's own venv: torch never enters it), e.g.:\n    {install}", file=sys.stderr)
        raise SystemExit(2)


def reference_skipped(python: str | None) -> str:
    """Why the torch reference cannot run with ``python`` ("" when it can)."""
    if not python:
        return "reference skipped: no python with torch given (--torch-python or $STUDIO_TORCH_PYTHON)"
    if not Path(python).exists():
        return f"reference skipped: {python} does not exist"
    return ""


def bandwidth_gbs(megabytes: int = 256, runs: int = 5) -> float:
    """Memory bandwidth one core reaches: a numpy copy (read + write), best of a few.

    A decoder at batch 1 reads every weight once per step, so this over the bytes of the
    weights is the fastest any implementation can step on this machine.
    """
    import numpy as np

    src = np.ones(megabytes * 2**20 // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = float("inf")
    for _ in range(runs):
        begin = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - begin)
    return 2 * src.nbytes / best / 1e9


def peak_rss_gb() -> float:
    """This process's resident-memory high-water mark (VmHWM), in GB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_worker(script: Path, python: str, config: dict) -> dict:
    """Run ``script --worker CONFIG`` under ``python`` (the app's or a torch environment) with
    ``config["threads"]`` threads and a scratch STUDIO_HOME; its last stdout line is JSON."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS=str(config["threads"]))
    env.setdefault("STUDIO_HOME", str(Path(tempfile.gettempdir()) / "studio-bench-home"))
    done = subprocess.run([python, str(script), "--worker", json.dumps(config)], stdout=subprocess.PIPE, env=env, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the {config['variant']} worker failed (exit {done.returncode}); its log is above")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_time(function, rounds: int) -> tuple[float, object]:
    """The median seconds of ``rounds`` calls of ``function`` after one warm-up, and its last result."""
    import statistics

    result = function()  # warm-up
    times = []
    for _ in range(rounds):
        begin = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - begin)
    return statistics.median(times), result
