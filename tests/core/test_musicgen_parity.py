"""Our MusicGen pipeline against transformers' torch model on the same tiny random weights:
T5 states, decoder logits over 10 cached guided steps and EnCodec audio within 1e-4, the same
delay pattern, and the same greedy codes with and without guidance (and continuing audio).
The goldens come from transformers (tests/fixtures/musicgen/build_models.py), never from this
code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.core.engine.jobs import JobRunner, JobState
from studio.core.media.sound import Audio
from studio_plugins.musicgen.delay import apply_delay_pattern, build_delay_pattern
from studio_plugins.musicgen.generator import MusicGenLoader
from studio_plugins.musicgen.layout import MusicGenModel
from studio_plugins.musicgen.pipeline import AudioCodec, Decoder, Settings, TextEncoder, decode_codes
from studio_plugins.musicgen.tokenizer import T5Tokenizer
from parity_device import check_sessions_ran_on, parity_device  # STUDIO_TEST_DEVICE: bench/gpu_check.py runs these on CUDA
from job_probe import drain, in_job  # a pipeline's parts inside a real job

DEVICE = parity_device()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "musicgen"
MODEL_DIR = FIXTURES / "model"
MANIFEST = json.loads((FIXTURES / "goldens" / "manifest.json").read_text())
GOLDEN = dict(np.load(FIXTURES / "goldens" / "goldens.npz"))
BOUND = MANIFEST["parity_bound"]
PROMPTS = MANIFEST["prompts"]
GREEDY_TOKENS = MANIFEST["greedy_new_tokens"]


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()
    check_sessions_ran_on(runner.runtime, DEVICE)


@pytest.fixture(scope="module")
def model():
    return MusicGenModel.read(MODEL_DIR)


@pytest.fixture(scope="module")
def tokenizer(model):
    return T5Tokenizer(MODEL_DIR / "tokenizer.json")


@pytest.mark.parametrize("index", range(len(PROMPTS)))
def test_the_tokenizer_gives_transformers_ids(tokenizer, index):
    np.testing.assert_array_equal(tokenizer.encode(PROMPTS[index]), GOLDEN[f"text_ids_{index}"])


@pytest.mark.parametrize("index", range(len(PROMPTS)))
def test_text_encoder_states_match(runner, model, tokenizer, index):
    states, mask = in_job(runner, lambda ctx: TextEncoder(model, tokenizer)(ctx, PROMPTS[index]))
    golden = GOLDEN[f"text_states_{index}"]
    assert states.shape == golden.shape and mask.shape == golden.shape[:2]
    assert np.abs(states - golden).max() < BOUND


def test_decoder_logits_match_over_ten_guided_cached_steps(runner, model, tokenizer):
    """The inputs transformers fed its decoder in a guided greedy run, fed to ours one by one."""
    steps = GOLDEN["step_input_ids"]  # (10, 2C, 1)
    golden = GOLDEN["step_logits"][:, :, -1, :]  # (10, 2C, V)
    assert len(steps) == MANIFEST["logit_steps"] == 10

    def run(ctx):
        states, mask = TextEncoder(model, tokenizer)(ctx, PROMPTS[0])
        states = np.concatenate([states, np.zeros_like(states)])
        mask = np.concatenate([mask, np.zeros_like(mask)])
        decoder = Decoder(model, ctx)
        return np.stack([decoder.step(ctx, ids, states, mask) for ids in steps])

    logits = in_job(runner, run)
    assert logits.shape == golden.shape
    worst = np.abs(logits - golden).max(axis=(1, 2))
    assert worst.max() < BOUND, f"max abs logits difference per step: {worst}"


def test_encodec_decode_matches(runner, model):
    codes = GOLDEN["decode_codes"][0, 0]
    audio = in_job(runner, lambda ctx: AudioCodec(model).decode(ctx, codes))
    golden = GOLDEN["decode_audio"].reshape(-1)
    assert audio.shape == golden.shape
    assert np.abs(audio - golden).max() < BOUND


def test_encodec_encode_gives_transformers_codes(runner, model):
    codes = in_job(runner, lambda ctx: AudioCodec(model).encode(ctx, GOLDEN["encode_audio"].reshape(-1)))
    np.testing.assert_array_equal(codes, GOLDEN["encode_codes"][0, 0])


@pytest.mark.parametrize("case", ["start", "prompt", "short"])
def test_delay_pattern_is_transformers(case):
    ids, pattern = build_delay_pattern(GOLDEN[f"delay_{case}_in"], 64, int(GOLDEN[f"delay_{case}_max_length"]))
    np.testing.assert_array_equal(pattern, GOLDEN[f"delay_{case}_mask"])
    np.testing.assert_array_equal(ids, GOLDEN[f"delay_{case}_ids"])
    # Decoder output (a stand-in token everywhere) keeps the pattern's fixed tokens and only
    # fills the positions the pattern leaves open.
    decoded = np.full_like(pattern, 63)
    applied = apply_delay_pattern(decoded, pattern)
    np.testing.assert_array_equal(applied, np.where(pattern == -1, 63, pattern))
    assert (applied == 63).any() or (pattern != -1).all()


@pytest.mark.parametrize("guided", [False, True], ids=["nocfg", "cfg"])
@pytest.mark.parametrize("index", range(len(PROMPTS)))
def test_greedy_codes_are_transformers(runner, model, tokenizer, index, guided):
    settings = Settings(GREEDY_TOKENS, guidance_scale=3.0 if guided else 1.0, temperature=0.0)

    def run(ctx):
        states, mask = TextEncoder(model, tokenizer)(ctx, PROMPTS[index])
        return drain(decode_codes(ctx, model, Decoder(model, ctx), states, mask, settings))

    codes = in_job(runner, run)
    name = "cfg" if guided else "nocfg"
    np.testing.assert_array_equal(codes, GOLDEN[f"greedy_{name}_codes_{index}"][0, 0])


def run_generator(runner, generator, values):
    job = runner.submit(generator, generator.request(values), DEVICE)
    assert job.wait(60), "no answer"
    assert job.state is JobState.FINISHED, job.message
    return job.result


def test_the_generator_makes_transformers_greedy_audio(runner):
    """End to end: duration -> steps, guidance, greedy choice, EnCodec: the audio of generate()."""
    generator = MusicGenLoader().load(MODEL_DIR)
    frames = GREEDY_TOKENS + 1 - 4
    result = run_generator(runner, generator, {"prompt": PROMPTS[1], "duration": frames / 50, "temperature": 0, "guidance_scale": 3.0, "seed": 1})
    golden = GOLDEN["greedy_cfg_audio_1"].reshape(-1)
    assert result.kind == "audio" and result.sample_rate == 8000
    assert result.value.dtype == np.float32 and result.value.shape == (golden.size, 1)
    assert np.abs(result.value[:, 0] - golden).max() < BOUND
    assert result.info["real_time_factor"] > 0


def test_continuing_audio_gives_transformers_codes_and_audio(runner, model, tokenizer):
    """generate(input_values=...) in transformers: the audio's codes prompt the decoder."""
    settings = Settings(GREEDY_TOKENS, guidance_scale=3.0, temperature=0.0)

    def run(ctx):
        states, mask = TextEncoder(model, tokenizer)(ctx, PROMPTS[1])
        prompt = AudioCodec(model).encode(ctx, GOLDEN["encode_audio"].reshape(-1))
        return drain(decode_codes(ctx, model, Decoder(model, ctx), states, mask, settings, prompt))

    codes = in_job(runner, run)
    np.testing.assert_array_equal(codes, GOLDEN["continue_codes"][0, 0])

    # Through the generator: the result is the new audio only (the prompt is already there).
    generator = MusicGenLoader().load(MODEL_DIR)
    clip = Audio(GOLDEN["encode_audio"].reshape(-1, 1), 8000)
    frames = GREEDY_TOKENS + 1 - 4
    result = run_generator(runner, generator, {"prompt": PROMPTS[1], "duration": frames / 50, "temperature": 0, "audio_prompt": clip, "seed": 1})
    golden = GOLDEN["continue_audio"].reshape(-1)
    prompt_samples = GOLDEN["encode_codes"].shape[-1] * 160
    assert result.value.shape == (golden.size - prompt_samples, 1)
    assert np.abs(result.value[:, 0] - golden[prompt_samples:]).max() < BOUND
