"""`studio batch FILE.jsonl`, run as a user runs it: `python -m studio batch ...` in a subprocess,
with the built-in CPPN at small sizes, and a small plugin installed for real (a folder with its
``.dist-info`` on PYTHONPATH) whose requests fail on demand."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.engine.jobs import CANCEL_GRACE, JobRunner, JobState
from studio.core.project.batch_record import RECORD_NAME
from studio.core.project.outputs import read_parameters
from studio.plugins import PluginHost

SMALL = {"width": 32, "height": 32}
RESUME = "run the same command again to resume"

FLAKY_PLUGIN = '''
import time
import numpy as np
import studio


class Flaky(studio.Generator):
    id = "flaky"
    title = "Fails when asked"
    kind = "image"
    digital_source = "algorithmicMedia"
    params = (
        studio.Param("seed", "seed"),
        studio.Param("fail", "choice", "no", choices=("no", "refuse", "crash")),
        studio.Param("wait", "float", 0.0, min=0, max=30),
    )

    def generate(self, request, ctx):
        deadline = time.monotonic() + request["wait"]
        while time.monotonic() < deadline:
            ctx.check_cancelled()
            time.sleep(0.01)
        if request["fail"] == "refuse":
            raise studio.StudioError(f"flaky refuses seed {request.seed}")
        if request["fail"] == "crash":
            raise ZeroDivisionError("a bug in flaky")
        pixels = np.random.default_rng(request.seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
        yield studio.Result("image", pixels, self.id, dict(request.params))


@studio.hookimpl
def register_generators(register):
    register(Flaky())
'''


@pytest.fixture
def flaky_env(tmp_path) -> dict[str, str]:
    """The environment of a `studio` that has the flaky plugin installed, beside the CPPN."""
    site = tmp_path / "site"
    info = site / "studio_fixture_flaky.dist-info"
    info.mkdir(parents=True)
    (site / "studio_fixture_flaky.py").write_text(FLAKY_PLUGIN, encoding="utf-8")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: studio-fixture-flaky\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[studio]\nflaky = studio_fixture_flaky\n", encoding="utf-8")
    env = dict(os.environ, STUDIO_LOAD_PLUGINS="cppn,flaky")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return env


def studio(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def start_batch(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "studio", "batch", *args]
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_after(process: subprocess.Popen, folder: Path, count: int, signum: int) -> tuple[str, float]:
    """Send ``signum`` once ``count`` results are in ``folder``: the process's stderr, and the
    seconds it took to exit after that."""
    deadline = time.monotonic() + 60
    while not (folder.is_dir() and len(results(folder)) >= count):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.01)
    process.send_signal(signum)
    sent = time.monotonic()
    try:
        return process.communicate(timeout=CANCEL_GRACE + 8)[1], time.monotonic() - sent
    finally:
        process.kill()


def write_batch(path: Path, *lines: dict | str) -> Path:
    path.write_text("".join((json.dumps(line) if isinstance(line, dict) else line) + "\n" for line in lines), encoding="utf-8")
    return path


def cppn(seed: int | None = None, **params) -> dict:
    return {"generator": "cppn", "params": {**SMALL, **params, **({"seed": seed} if seed is not None else {})}}


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image).copy()


def results(folder: Path) -> list[str]:
    """The result files in ``folder``, by name (not the record, nor a temporary file)."""
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".png" and not p.name.startswith("."))


def recorded_lines(folder: Path) -> list[int]:
    return [json.loads(line)["line"] for line in (folder / RECORD_NAME).read_text(encoding="utf-8").splitlines()]


def assert_exit(run: subprocess.CompletedProcess, code: int) -> None:
    assert run.returncode == code and "Traceback" not in run.stderr, run.stderr


def test_a_batch_writes_one_file_a_request_named_by_line_and_seed_with_the_pixels_of_generate(tmp_path):
    # A comment, a blank line, and a generator's own batch (-2 after the first).
    write_batch(tmp_path / "art.jsonl", "# seeds to compare", cppn(7), "", cppn(8, width=48, batch_count=2))

    run = studio("batch", "art.jsonl", "--device", "cpu", cwd=tmp_path)

    assert_exit(run, 0)
    folder = tmp_path / "art-results"
    names = ["00002-cppn-7.png", "00004-cppn-8.png", "00004-cppn-8-2.png"]
    assert run.stdout.splitlines() == [str(folder / name) for name in names]  # absolute, as each is written
    assert results(folder) == sorted(names)
    assert "100% (2/2)" in run.stderr and "ETA" in run.stderr  # one overall progress line, plain in a log
    assert run.stderr.strip().splitlines()[-1].startswith("2 done, 0 failed, 0 skipped in ")

    seven = ["-o", "seven.png", "-p", "seed=7", "-p", "width=32", "-p", "height=32"]
    eight = ["-o", "eight.png", "-p", "seed=8", "-p", "width=48", "-p", "height=32", "-p", "batch_count=2"]
    for args in (seven, eight):
        assert_exit(studio("generate", "cppn", "--device", "cpu", *args, cwd=tmp_path), 0)
    for batch_name, generate_name in zip(names, ["seven.png", "eight.png", "eight-2.png"]):
        assert np.array_equal(pixels(folder / batch_name), pixels(tmp_path / generate_name)), batch_name
        assert read_parameters(folder / batch_name) == read_parameters(tmp_path / generate_name)


def test_bad_lines_are_all_reported_with_their_numbers_and_nothing_runs(tmp_path):
    write_batch(
        tmp_path / "b.jsonl",
        cppn(1),
        '{"generator": "cppn", "params": {"seed": 2,',
        {"generator": "cppm", "params": {"seed": 3}},
        cppn(4, width=15),
        {"generator": "cppn", "seed": 5},
    )

    run = studio("batch", "b.jsonl", cwd=tmp_path)

    assert_exit(run, 2)
    assert "b.jsonl:2: not valid JSON" in run.stderr
    assert "b.jsonl:3: unknown generator 'cppm'" in run.stderr
    assert "b.jsonl:4: width: 15 is out of range (16 to 8192)" in run.stderr
    assert "b.jsonl:5: unknown key 'seed'" in run.stderr
    assert "b.jsonl:1:" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == "studio: error: 4 bad lines in b.jsonl; nothing was generated"
    assert run.stdout == "" and not (tmp_path / "b-results").exists()

    with open(tmp_path / "huge.jsonl", "wb") as file:
        file.truncate(64 * 1024**2 + 1)  # sparse: one byte over the limit costs no disk
    run = studio("batch", "huge.jsonl", cwd=tmp_path)
    assert_exit(run, 2)
    assert "larger than any batch file Studio reads" in run.stderr and not (tmp_path / "huge-results").exists()

    write_batch(tmp_path / "empty.jsonl", "# nothing yet", "")
    assert "holds no requests" in studio("batch", "empty.jsonl", cwd=tmp_path).stderr
    # A folder whose record would be the batch file itself: the file is kept as it is.
    record = write_batch(tmp_path / RECORD_NAME, cppn(1))
    assert "choose another folder" in studio("batch", RECORD_NAME, "-o", ".", cwd=tmp_path).stderr
    assert record.read_text(encoding="utf-8") == json.dumps(cppn(1)) + "\n"


def test_a_re_run_skips_what_is_done_and_runs_a_changed_line_again(tmp_path):
    batch = write_batch(tmp_path / "b.jsonl", cppn(1), cppn(2), cppn())  # the last leaves its seed to chance
    first = studio("batch", "b.jsonl", "-o", "out", cwd=tmp_path)
    assert_exit(first, 0)
    folder = tmp_path / "out"
    drawn = json.loads((folder / RECORD_NAME).read_text(encoding="utf-8").splitlines()[2])["seed"]
    assert results(folder) == ["00001-cppn-1.png", "00002-cppn-2.png", f"00003-cppn-{drawn}.png"]
    written = {name: (folder / name).stat().st_mtime_ns for name in results(folder)}

    again = studio("batch", "b.jsonl", "-o", "out", cwd=tmp_path)

    assert_exit(again, 0)
    assert again.stdout == ""
    assert "3 already done, skipped" in again.stderr  # the drawn seed was remembered: line 3 too
    assert {name: (folder / name).stat().st_mtime_ns for name in results(folder)} == written

    write_batch(batch, cppn(1), cppn(5), cppn())  # line 2 changed
    (folder / "00001-cppn-1.png").unlink()  # and a result deleted
    third = studio("batch", "b.jsonl", "-o", "out", cwd=tmp_path)

    assert_exit(third, 0)
    assert "1 already done, skipped" in third.stderr
    assert third.stdout.splitlines() == [str(folder / "00001-cppn-1.png"), str(folder / "00002-cppn-5.png")]
    quiet = studio("batch", "b.jsonl", "-o", "out", "-q", cwd=tmp_path)
    assert_exit(quiet, 0)
    assert quiet.stderr == quiet.stdout == ""  # -q: not a word when all is well
    assert recorded_lines(folder) == [1, 2, 3, 1, 2]


def fresh_picture(generator, params: dict) -> np.ndarray:
    """The picture one generation of ``params`` makes, on its own runner."""
    runner = JobRunner()
    try:
        job = runner.submit(generator, generator.request(params))
        assert job.wait(60) and job.state is JobState.FINISHED, job.message
        return job.result.value
    finally:
        runner.shutdown()


def test_ctrl_c_keeps_what_was_written_and_the_same_command_resumes(tmp_path):
    # Two small requests, then ten that take a moment each: Ctrl-C lands after the first two.
    lines = [cppn(seed) for seed in (1, 2)] + [cppn(seed, width=512, height=512) for seed in range(3, 13)]
    write_batch(tmp_path / "b.jsonl", *lines)
    folder = tmp_path / "b-results"

    process = start_batch("b.jsonl", "--device", "cpu", cwd=tmp_path)
    stderr, _ = stop_after(process, folder, 2, signal.SIGINT)

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and RESUME in stderr
    kept = results(folder)
    assert 2 <= len(kept) < 12
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]  # no partial file left behind
    for name in kept:
        pixels(folder / name)  # each file whole
    done = recorded_lines(folder)
    assert f"interrupted: {len(done)} done" in stderr

    resumed = studio("batch", "b.jsonl", "--device", "cpu", cwd=tmp_path)

    assert_exit(resumed, 0)
    assert f"{len(done)} already done, skipped" in resumed.stderr
    assert len(resumed.stdout.splitlines()) == 12 - len(done)
    assert results(folder) == sorted(f"{n:05d}-cppn-{n}.png" for n in range(1, 13))
    generator = PluginHost(safe_mode=True).load().generator("cppn")
    for number, line in enumerate(lines, start=1):
        expected = fresh_picture(generator, line["params"])
        assert np.array_equal(pixels(folder / f"{number:05d}-cppn-{number}.png"), expected), number


def test_a_failing_request_is_reported_and_the_rest_are_written(tmp_path, flaky_env):
    write_batch(
        tmp_path / "b.jsonl",
        {"generator": "flaky", "params": {"seed": 1}},
        {"generator": "flaky", "params": {"seed": 2, "fail": "refuse"}},
        cppn(3),
        {"generator": "flaky", "params": {"seed": 4}},
    )
    folder = tmp_path / "b-results"

    run = studio("batch", "b.jsonl", cwd=tmp_path, env=flaky_env)

    assert_exit(run, 2)
    assert "b.jsonl:2: flaky refuses seed 2" in run.stderr
    assert results(folder) == ["00001-flaky-1.png", "00003-cppn-3.png", "00004-flaky-4.png"]
    assert run.stderr.strip().splitlines()[-1].startswith("3 done, 1 failed, 0 skipped in ")
    assert recorded_lines(folder) == [1, 3, 4]  # the failed request is not done

    again = studio("batch", "b.jsonl", cwd=tmp_path, env=flaky_env)  # and is tried again
    assert_exit(again, 2)
    assert "3 already done, skipped" in again.stderr and "b.jsonl:2: flaky refuses seed 2" in again.stderr

    # A bug in a plugin is the internal-error exit, as in `studio generate`.
    write_batch(tmp_path / "crash.jsonl", {"generator": "flaky", "params": {"seed": 1, "fail": "crash"}}, cppn(3))
    crash = studio("batch", "crash.jsonl", cwd=tmp_path, env=flaky_env)
    assert_exit(crash, 1)
    assert "crash.jsonl:1: internal error in flaky" in crash.stderr and "ZeroDivisionError" in crash.stderr
    assert results(tmp_path / "crash-results") == ["00002-cppn-3.png"]


def test_sigterm_stops_a_batch_as_ctrl_c_does(tmp_path, flaky_env):
    quick, slow = {"generator": "flaky", "params": {"seed": 1}}, {"generator": "flaky", "params": {"seed": 2, "wait": 20}}
    write_batch(tmp_path / "b.jsonl", quick, *[slow] * 4)
    folder = tmp_path / "b-results"

    process = start_batch("b.jsonl", cwd=tmp_path, env=flaky_env)
    stderr, seconds = stop_after(process, folder, 1, signal.SIGTERM)

    assert process.returncode == 130, stderr
    assert RESUME in stderr
    assert seconds < 5  # the running request was cancelled, not waited for (20 s)
    assert recorded_lines(folder) == [1]
