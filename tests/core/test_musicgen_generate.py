"""MusicGen end to end through the real JobRunner: progress each decoder step, cancel, and
seeded sampling (same seed, same audio; another seed, other audio)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio_plugins.musicgen.generator import MusicGenLoader

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "musicgen"
MODEL_DIR = FIXTURES / "model"
GOLDEN = dict(np.load(FIXTURES / "goldens" / "goldens.npz"))
PROMPT = "an epic orchestral march"
FRAME_RATE, CODEBOOKS, RATE = 50, 4, 8000


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


@pytest.fixture(scope="module")
def generator():
    return MusicGenLoader().load(MODEL_DIR)


def run(runner, generator, values, listeners=()):
    job = runner.submit(generator, generator.request(values), listeners=listeners)
    assert job.wait(60), "no answer"
    return job


def audio(runner, generator, **values):
    job = run(runner, generator, {"prompt": PROMPT, "duration": 0.5, **values})
    assert job.state is JobState.FINISHED, job.message
    return job.result


def test_progress_is_reported_every_decoder_step(runner, generator):
    events = []
    job = run(runner, generator, {"prompt": PROMPT, "duration": 0.3, "seed": 1}, [lambda job, event: events.append(event)])
    assert job.state is JobState.FINISHED, job.message
    steps = round(0.3 * FRAME_RATE) + CODEBOOKS - 1
    composing = [e.step for e in events if isinstance(e, studio.Progress) and e.total == steps and e.message == "Composing…"]
    assert composing == list(range(1, steps + 1))
    results = [i for i, e in enumerate(events) if isinstance(e, studio.Result)]
    last_progress = max(i for i, e in enumerate(events) if isinstance(e, studio.Progress))
    assert len(results) == 1 and results[0] > last_progress


def test_the_result_is_mono_audio_of_the_asked_duration(runner, generator):
    result = audio(runner, generator, duration=0.42, seed=3)
    assert result.kind == "audio" and result.sample_rate == RATE
    assert result.value.dtype == np.float32 and result.value.shape == (round(0.42 * FRAME_RATE) * RATE // FRAME_RATE, 1)
    assert np.isfinite(result.value).all() and result.value.std() > 0
    assert result.params["seed"] == 3 and result.info["real_time_factor"] > 0


def test_same_seed_same_audio_other_seed_other_audio(runner, generator):
    first = audio(runner, generator, seed=7).value
    again = audio(runner, generator, seed=7).value
    other = audio(runner, generator, seed=8).value
    np.testing.assert_array_equal(first, again)
    assert first.shape == other.shape and not np.array_equal(first, other)


def test_a_random_seed_is_recorded_and_reproduces(runner, generator):
    result = audio(runner, generator)
    again = audio(runner, generator, seed=result.params["seed"])
    np.testing.assert_array_equal(result.value, again.value)


def test_top_k_one_samples_the_greedy_choice(runner, generator):
    """Sampling among one candidate is greedy, whatever the seed: transformers' greedy audio."""
    frames = GOLDEN["greedy_cfg_codes_1"].shape[-1]
    result = audio(runner, generator, duration=frames / FRAME_RATE, top_k=1, temperature=1.0, seed=11)
    golden = GOLDEN["greedy_cfg_audio_1"].reshape(-1)
    assert np.abs(result.value[:, 0] - golden).max() < 1e-4


def test_guidance_changes_the_music(runner, generator):
    guided = audio(runner, generator, seed=5, guidance_scale=3.0).value
    plain = audio(runner, generator, seed=5, guidance_scale=1.0).value
    assert not np.array_equal(guided, plain)


def test_cancel_between_steps_stops_the_job(runner, generator):
    seen = []

    def cancel_at_step_three(job, event):
        if isinstance(event, studio.Progress) and event.message == "Composing…":
            seen.append(event.step)
            if event.step == 3:
                job.cancel()

    job = run(runner, generator, {"prompt": PROMPT, "duration": 10, "seed": 1}, [cancel_at_step_three])
    assert job.state is JobState.CANCELLED and job.result is None
    assert seen == [1, 2, 3], "the decoder kept going after cancel"


def test_cancel_from_another_thread_mid_generation(runner, generator):
    started = threading.Event()

    def on_event(job, event):
        if isinstance(event, studio.Progress) and event.step == 5:
            started.set()

    job = runner.submit(generator, generator.request({"prompt": PROMPT, "duration": 10, "seed": 1}), listeners=[on_event])
    assert started.wait(30)
    job.cancel()
    assert job.wait(10), "cancel did not stop the job"
    assert job.state is JobState.CANCELLED
    # The runner is free again: the next job runs.
    assert audio(runner, generator, duration=0.2, seed=1).value.size > 0


def test_a_48k_stereo_prompt_is_cut_to_whole_frames_that_end_where_the_clip_ends(generator):
    """The window hands the clip as heard (48 kHz stereo, any length); the model gets mono at
    its rate, whole EnCodec frames, ending on the clip's last sample, so the continuation
    that lands after the clip starts exactly there."""
    from studio.core.media.sound_files import resample
    from studio.core.media.sound import Audio

    rng = np.random.default_rng(3)
    stereo = rng.uniform(-0.5, 0.5, (48_000 + 7, 2)).astype(np.float32)  # 1 s and 7 frames
    notes: list[str] = []
    prompt = generator._prompt_audio(Audio(stereo, 48_000), 0.2, 13, notes)
    hop = generator.model.hop_length
    assert prompt.size % hop == 0 and prompt.size > 0
    whole = resample(stereo.mean(axis=1, keepdims=True), 48_000, RATE)[:, 0]
    np.testing.assert_allclose(prompt, whole[-prompt.size :], atol=1e-4)  # the clip's end, not padding
    assert notes == []

    long = rng.uniform(-0.5, 0.5, (48_000 * 120, 2)).astype(np.float32)  # past the model's positions
    prompt = generator._prompt_audio(Audio(long, 48_000), 0.2, 13, notes)
    positions = generator.model.decoder.get("max_position_embeddings", 2048)
    assert prompt.size % hop == 0 and prompt.size <= (positions - 1 - 13) * hop
    assert notes and "continued the last" in notes[0]
