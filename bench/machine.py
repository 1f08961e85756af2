"""What the machine itself allows, measured the same way by every benchmark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


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
    env.setdefault("STUDIO_HOME", str(Path(os.environ.get("TMPDIR", "/tmp")) / "studio-bench-home"))
    done = subprocess.run([python, str(script), "--worker", json.dumps(config)], stdout=subprocess.PIPE, env=env, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the {config['variant']} worker failed (exit {done.returncode}); its log is above")
    return json.loads(done.stdout.strip().splitlines()[-1])
