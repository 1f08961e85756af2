"""The soak, short: 30 generations with undo and redo in a fresh process (bench/soak.py).

The full run (200 generations, its memory table) is a benchmark; this one checks what must
hold at any length: every generation lands, undoes and redoes, and no thread is left behind
after the warm-up (a thread per job, or a session per job, would show here at once). Memory
is not asserted: the documents grow by design as takes are kept.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_thirty_generations_with_undo_and_redo_leave_no_thread_behind(studio_home):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STUDIO_HOME=str(studio_home))
    done = subprocess.run(
        [sys.executable, str(SOAK), "--generations", "30", "--warmup", "12", "--every", "6", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failures"] == []
    samples = [s for s in report["samples"] if s["generations"] >= report["warmup"]]
    assert [s["generations"] for s in samples] == [12, 18, 24, 30]
    warm = samples[0]
    assert all(s["threads_python"] == warm["threads_python"] for s in samples), samples
    assert all(s["threads_native"] <= warm["threads_native"] for s in samples), samples
    # Every take was kept (undo, then redo): the documents hold more at the end than at warm-up.
    assert samples[-1]["content_mb"] > warm["content_mb"]
    assert set(report["per_generator_s"]) == {"cppn", "shakespeare", "chorale"}
