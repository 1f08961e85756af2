"""`studio batch --device ray` on the real two-node test cluster: 32 requests spread over both
workers, interrupted with Ctrl-C, resumed by the same command, every picture the one a local
run makes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
from PIL import Image

from ray_cluster import ray_or_skip

ray_or_skip()


def pictures(folder):
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".png" and not p.name.startswith("."))


def pixels(path):
    with Image.open(path) as image:
        return np.asarray(image).copy()


def test_a_cluster_batch_of_32_resumes_after_an_interruption(ray_cluster, tmp_path):
    lines = [{"generator": "cppn", "params": {"seed": seed, "width": 384, "height": 384}} for seed in range(32)]
    (tmp_path / "seeds.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    env = {**os.environ, "RAY_ADDRESS": ray_cluster.direct}
    command = [sys.executable, "-m", "studio", "batch", "seeds.jsonl", "--device", "ray", "-o", "out"]
    out = tmp_path / "out"

    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not (out.is_dir() and len(pictures(out)) >= 4):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.02)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 130 and "Traceback" not in stderr, stderr
    done_first = len(pictures(out))
    assert 4 <= done_first < 32, "the interruption came in the middle"
    recorded = {json.loads(line)["line"] for line in (out / "batch.jsonl").read_text().splitlines()}
    assert len(recorded) == done_first, "each picture written is recorded as done, and nothing else"

    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert f"{done_first} already done, skipped" in again.stderr
    assert len(again.stdout.splitlines()) == 32 - done_first
    assert pictures(out) == [f"{n:05d}-cppn-{n - 1}.png" for n in range(1, 33)]

    local = subprocess.run([sys.executable, "-m", "studio", "batch", "seeds.jsonl", "--device", "cpu", "-o", "local", "-q"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert local.returncode == 0, local.stderr
    for name in pictures(out):
        assert np.array_equal(pixels(out / name), pixels(tmp_path / "local" / name)), name
