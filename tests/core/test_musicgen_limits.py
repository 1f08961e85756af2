"""A MusicGen model's own limits bound one window: the decoder has a fixed number of positions
(the tiny test model: 512), and each step of new audio takes one. Asking for more in one window
used to end in onnxruntime's "indices element out of data bounds" as an internal error (exit 1);
now a longer piece is made window by window (long_piece.py) up to ``LONGEST_SECONDS``, which is
the parameter's max, so the form, the CLI and validation all know it. A decoder with too few
positions to continue from keeps one window as its limit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio_plugins.musicgen.generator import LONGEST_SECONDS, MAX_SECONDS, MusicGenLoader, window_frames

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


def test_a_window_is_what_the_decoder_positions_hold_and_the_piece_is_longer():
    generator = MusicGenLoader().load(MODEL_DIR)
    assert window_frames(generator.model) / 50 == pytest.approx(FIXTURE_MAX_SECONDS)
    duration = generator.param("duration")
    assert duration.max == LONGEST_SECONDS
    assert duration.coerce(45) == pytest.approx(45)  # on the grid
    assert "10.18 s" in duration.help and "window by window" in duration.help


def test_a_model_with_room_for_more_keeps_a_thirty_second_window(tmp_path):
    generator = MusicGenLoader().load(with_positions(tmp_path, 2048))
    assert window_frames(generator.model) / 50 == MAX_SECONDS
    assert generator.param("duration").max == LONGEST_SECONDS


def test_a_decoder_too_small_to_continue_keeps_one_window(tmp_path):
    generator = MusicGenLoader().load(with_positions(tmp_path, 16))
    assert generator.param("duration").max == pytest.approx(13 / 50)


@pytest.mark.parametrize("seconds", [600.5, 3600])
def test_a_longer_duration_is_refused_naming_the_limit(seconds):
    generator = MusicGenLoader().load(MODEL_DIR)
    with pytest.raises(studio.ParamError, match=r"^duration: .*600"):
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
    run = studio_cli("generate", "musicgen:model", "-q", "--prompt", "jazz", "--param", "duration=700", "--param", "guidance_scale=1")
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("studio: error: duration: ") and "600" in last, run.stderr
