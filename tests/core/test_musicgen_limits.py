"""A MusicGen model's own limits bound its duration: the decoder has a fixed number of
positions (the tiny test model: 512), and each step of new audio takes one. Asking for more
used to end in onnxruntime's "indices element out of data bounds" as an internal error (exit 1)
for any duration from about 10.2 s to 30 s; the limit is now the parameter's max, so the form,
the CLI and validation all know it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio_plugins.musicgen.generator import MAX_SECONDS, MusicGenLoader

MODEL_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "musicgen" / "model"
# 512 positions - (4 codebooks - 1) delay steps = 509 frames of 50 per second.
FIXTURE_MAX_SECONDS = 509 / 50


def with_positions(tmp_path: Path, positions: int) -> Path:
    copy = tmp_path / f"musicgen-{positions}"
    shutil.copytree(MODEL_DIR, copy)
    config = json.loads((copy / "config.json").read_text())
    config["decoder"]["max_position_embeddings"] = positions
    (copy / "config.json").write_text(json.dumps(config))
    return copy


def test_the_duration_max_is_what_the_decoder_positions_hold():
    duration = MusicGenLoader().load(MODEL_DIR).param("duration")
    assert duration.max == pytest.approx(FIXTURE_MAX_SECONDS)
    assert duration.coerce(duration.max) == pytest.approx(FIXTURE_MAX_SECONDS)  # on the grid


def test_a_model_with_room_for_more_keeps_the_thirty_second_cap(tmp_path):
    duration = MusicGenLoader().load(with_positions(tmp_path, 2048)).param("duration")
    assert duration.max == MAX_SECONDS


@pytest.mark.parametrize("seconds", [10.5, 12, 30])
def test_a_longer_duration_is_refused_naming_the_limit(seconds):
    generator = MusicGenLoader().load(MODEL_DIR)
    with pytest.raises(studio.ParamError, match=r"^duration: .*10\.18"):
        generator.request({"prompt": "jazz", "duration": seconds})


def test_the_longest_allowed_duration_really_generates():
    generator = MusicGenLoader().load(MODEL_DIR)
    runner = JobRunner()
    try:
        job = runner.submit(generator, generator.request({"prompt": "jazz", "duration": FIXTURE_MAX_SECONDS, "guidance_scale": 1.0, "seed": 1}))
        assert job.wait(120), "no answer"
    finally:
        runner.shutdown()
    assert job.state is JobState.FINISHED, job.message
    assert job.result.value.shape[0] == round(FIXTURE_MAX_SECONDS * 50) * 160  # frames x hop


def test_the_cli_says_the_limit_in_one_line(tmp_path):
    def studio_cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "studio", *args], cwd=tmp_path, capture_output=True, text=True, timeout=300)

    added = studio_cli("models", "add", str(MODEL_DIR))
    assert added.returncode == 0, added.stderr
    run = studio_cli("generate", "musicgen:model", "-q", "--prompt", "jazz", "--param", "duration=12", "--param", "guidance_scale=1")
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("studio: error: duration: ") and "10.18" in last, run.stderr
