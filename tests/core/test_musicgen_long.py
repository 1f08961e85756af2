"""MusicGen past its window, on the tiny test model (a window of 509 frames, 10.18 s): a piece
of any length is made window by window, streamed as audio previews that add up to the result,
with progress over the whole piece, the same for the same seed, and without a seam where the
windows or the decoded segments meet."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from studio.core.engine.generators import Preview, Progress
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.media.sound import Audio
from studio_plugins.musicgen.generator import MusicGenLoader, window_frames
from studio_plugins.musicgen.long_piece import Plan, generate_long
from studio_plugins.musicgen.pipeline import AudioCodec, Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from job_probe import drain, in_job  # noqa: E402 - a pipeline's parts inside a real job

MODEL_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "musicgen" / "model"
RATE, HOP = 8000, 160


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


@pytest.fixture(scope="module")
def generator():
    return MusicGenLoader().load(MODEL_DIR)


def run(runner, generator, listeners=(), **values):
    events: list = []
    job = runner.submit(generator, generator.request({"prompt": "a slow jazz ballad", "guidance_scale": 1.0, "seed": 11, **values}),
                        listeners=[lambda job, event: events.append(event), *listeners])
    assert job.wait(120), "no answer"
    return job, events


def test_a_45_second_piece_is_made_in_windows_and_streamed(runner, generator):
    job, events = run(runner, generator, duration=45)
    assert job.state is JobState.FINISHED, job.message
    audio = job.result.value
    assert audio.shape == (45 * RATE, 1)
    previews = [e.value for e in events if isinstance(e, Preview)]
    assert len(previews) == 7  # one per window: 10.18 s, then 6 continuing 4 s of the last
    np.testing.assert_array_equal(np.concatenate(previews), audio)  # what streamed is the piece
    first_preview = next(i for i, e in enumerate(events) if isinstance(e, Preview))
    steps = [e for e in events if isinstance(e, Progress) and "Window" in e.message]
    assert first_preview < len(events) // 3, "the first window's audio arrives long before the end"
    assert len({e.total for e in steps}) == 1 and [e.step for e in steps] == sorted(e.step for e in steps)
    assert steps[-1].step == steps[-1].total  # one bar over the whole piece
    assert "Window 1 of 7 · 0:00 of 0:45" in steps[0].message and "Window 7 of 7 · 0:45 of 0:45" == steps[-1].message
    assert any("7 windows" in note for note in job.result.info["notes"])


def test_the_same_seed_gives_the_same_piece_and_another_seed_another(runner, generator):
    first, _ = run(runner, generator, duration=25)
    again, _ = run(runner, generator, duration=25)
    other, _ = run(runner, generator, duration=25, seed=12)
    np.testing.assert_array_equal(first.result.value, again.result.value)
    assert not np.allclose(first.result.value, other.result.value)


def test_the_first_window_is_the_one_window_generation_of_the_same_seed(runner, generator):
    one, _ = run(runner, generator, duration=window_frames(generator.model) / 50)
    long, events = run(runner, generator, duration=30)
    first = next(e.value for e in events if isinstance(e, Preview))
    np.testing.assert_allclose(first, one.result.value[: first.shape[0]], atol=1e-5)


def test_the_segments_join_without_a_seam(runner, generator):
    """The audio decoded segment by segment equals EnCodec's decode of all the codes at once."""
    model = generator.model

    def piece(ctx):
        made = drain(generate_long(ctx, model, generator.tokenizer(), "jazz", Settings(0, 1.0, 1.0, 250, 5), 1500, window_frames(model)))
        return made.audio, AudioCodec(model).decode(ctx, made.codes)

    audio, whole = in_job(runner, piece)
    assert audio.shape == whole.shape == (1500 * HOP,)
    assert np.abs(audio - whole).max() < 1e-5 * max(1.0, np.abs(whole).max())


def test_a_long_continuation_of_a_clip_starts_where_the_clip_ends(runner, generator):
    rng = np.random.default_rng(2)
    clip = Audio(rng.uniform(-0.3, 0.3, (48_000 * 6, 2)).astype(np.float32), 48_000)
    job, events = run(runner, generator, duration=20, audio_prompt=clip)
    assert job.state is JobState.FINISHED, job.message
    assert job.result.value.shape == (20 * RATE, 1)  # the new audio only: the clip is on the timeline


def test_cancel_keeps_the_windows_already_streamed(runner, generator):
    job_box: list = []

    def cancel_after_first_preview(job, event):
        if isinstance(event, Preview) and not job_box:
            job_box.append(event)
            job.cancel()

    job, events = run(runner, generator, listeners=[cancel_after_first_preview], duration=60)
    assert job.state is JobState.CANCELLED
    kept = [e.value for e in events if isinstance(e, Preview)]
    assert kept and sum(c.shape[0] for c in kept) >= 9 * RATE  # the first window's audio arrived


@pytest.mark.parametrize("frames, windows", [(509, 1), (510, 2), (2250, 7), (30_000, 98)])
def test_the_plan_covers_the_piece_in_windows_that_fit(frames, windows):
    plan = Plan.of(frames, 509)
    assert sum(plan.windows) == frames and len(plan.windows) == windows
    assert plan.windows[0] <= 509 and all(n + plan.context <= 508 for n in plan.windows[1:])


def test_a_plan_after_an_audio_prompt_leaves_room_for_it():
    plan = Plan.of(1000, 509, prompt_frames=300)
    assert plan.windows[0] + min(300, plan.context) <= 508
