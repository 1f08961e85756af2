"""Ctrl-C in `studio generate` while a plugin ignores Cancel: a hint, then a prompt exit.

The plugin is installed for real: a folder with the module and its ``.dist-info`` (an entry
point in the ``studio`` group) on PYTHONPATH, which ``importlib.metadata`` finds as it finds
any installed distribution. Its generator sleeps in a loop for a minute and never checks for
cancel; before the fix the CLI waited 15 s after Ctrl-C, silently.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.core.engine.jobs import CANCEL_GRACE

HINT = "press Ctrl-C again to quit now"
STUCK_PLUGIN = '''
import time

import studio


class Stuck(studio.Generator):
    id = "stuck"
    title = "Stuck loop"
    kind = "image"
    params = (studio.Param("seed", "seed"),)

    def generate(self, request, ctx):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # never looks at ctx.cancelled
            time.sleep(0.01)
        yield studio.Progress(1, 1)


@studio.hookimpl
def register_generators(register):
    register(Stuck())
'''


@pytest.fixture
def stuck_site(tmp_path) -> Path:
    site = tmp_path / "site"
    (site / "studio_fixture_stuck.dist-info").mkdir(parents=True)
    (site / "studio_fixture_stuck.py").write_text(STUCK_PLUGIN, encoding="utf-8")
    info = site / "studio_fixture_stuck.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: studio-fixture-stuck\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[studio]\nstuck = studio_fixture_stuck\n", encoding="utf-8")
    return site


def start_stuck_generation(site: Path, cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, STUDIO_LOAD_PLUGINS="stuck")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "studio", "generate", "stuck", "-o", "x.png"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    first_line = process.stderr.readline()  # "Loading model…": the job has started
    assert "Loading model" in first_line, first_line + process.stderr.read()
    time.sleep(0.5)  # into the stuck loop
    return process


def test_ctrl_c_on_a_stuck_job_hints_and_exits_after_the_grace_period(stuck_site, tmp_path):
    process = start_stuck_generation(stuck_site, tmp_path)

    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        stdout, stderr = process.communicate(timeout=CANCEL_GRACE + 8)
    finally:
        process.kill()
    took = time.monotonic() - interrupted

    assert process.returncode == 130, stderr
    assert HINT in stderr
    assert "Stuck loop" in stderr and "abandoned" in stderr  # what happened, in one line
    assert "Traceback" not in stderr
    assert stdout == "" and not (tmp_path / "x.png").exists()
    assert took < CANCEL_GRACE + 6, f"exit took {took:.1f} s after Ctrl-C"


def test_a_second_ctrl_c_quits_at_once(stuck_site, tmp_path):
    process = start_stuck_generation(stuck_site, tmp_path)

    process.send_signal(signal.SIGINT)
    lines = []
    while HINT not in "".join(lines):
        line = process.stderr.readline()
        assert line, "the hint never came: " + "".join(lines)
        lines.append(line)
    process.send_signal(signal.SIGINT)
    try:
        stdout, stderr = process.communicate(timeout=CANCEL_GRACE + 8)
    finally:
        process.kill()
    stderr = "".join(lines) + stderr

    assert process.returncode == 130, stderr
    assert "did not stop within" not in stderr  # it did not sit out the grace period
    assert "Traceback" not in stderr
