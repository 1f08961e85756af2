"""MusicGen as ``optimum-cli export onnx --task text-to-audio`` writes it today (optimum-onnx
0.1.0): the ONNX files at the folder's root and the decoder split in two, ``decoder_model.onnx``
for the first step and ``decoder_with_past_model.onnx`` for every step after it, no merged file.
It used to be refused with "lacks decoder_model_merged.onnx". The folder
(tests/fixtures/musicgen/model-optimum) is optimum's own export of the checkpoint whose torch
model made the goldens, so it must give transformers' codes and audio exactly as the merged
layout does."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio.host import Host
from studio_plugins.musicgen.generator import MusicGenLoader
from studio_plugins.musicgen.layout import MusicGenModel
from studio_plugins.musicgen.pipeline import Decoder, Settings, TextEncoder, decode_codes
from studio_plugins.musicgen.tokenizer import T5Tokenizer
from parity_device import check_sessions_ran_on, parity_device  # STUDIO_TEST_DEVICE: bench/gpu_check.py can run these on CUDA
from job_probe import drain, in_job  # a pipeline's parts inside a real job

DEVICE = parity_device()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "musicgen"
OPTIMUM_DIR = FIXTURES / "model-optimum"
MERGED_DIR = FIXTURES / "model"
GOLDEN = dict(np.load(FIXTURES / "goldens" / "goldens.npz"))
BOUND = 1e-4  # goldens/manifest.json's parity bound
PROMPTS = ["lofi hip hop beat with warm piano", "an epic orchestral march"]
GREEDY_TOKENS = 24


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()
    check_sessions_ran_on(runner.runtime, DEVICE)


@pytest.fixture(scope="module")
def model():
    return MusicGenModel.read(OPTIMUM_DIR)


def test_the_fixture_is_optimums_layout():
    names = {p.name for p in OPTIMUM_DIR.iterdir()}
    assert {"text_encoder.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx", "encodec_decode.onnx"} <= names
    assert "decoder_model_merged.onnx" not in names and not (OPTIMUM_DIR / "onnx").exists()


def test_the_split_decoder_runs_first_step_then_cached_steps(model):
    graphs = model.graphs_for()
    assert graphs.variant == "fp32" and graphs.split
    assert [p.name for p in graphs.decoder] == ["decoder_model.onnx", "decoder_with_past_model.onnx"]


def test_decoder_logits_match_transformers_over_ten_guided_cached_steps(runner, model):
    steps = GOLDEN["step_input_ids"]
    golden = GOLDEN["step_logits"][:, :, -1, :]
    tokenizer = T5Tokenizer(OPTIMUM_DIR / "tokenizer.json")

    def run(ctx):
        states, mask = TextEncoder(model, tokenizer)(ctx, PROMPTS[0])
        states = np.concatenate([states, np.zeros_like(states)])
        mask = np.concatenate([mask, np.zeros_like(mask)])
        decoder = Decoder(model, ctx)
        # Both sessions are opened (and stay cached) up front, each from its own file.
        assert decoder.first.loaded.path.name == "decoder_model.onnx"
        assert decoder.following.loaded.path.name == "decoder_with_past_model.onnx"
        return np.stack([decoder.step(ctx, ids, states, mask) for ids in steps])

    logits = in_job(runner, run)
    assert logits.shape == golden.shape
    assert np.abs(logits - golden).max() < BOUND


@pytest.mark.parametrize("guided", [False, True], ids=["nocfg", "cfg"])
@pytest.mark.parametrize("index", range(len(PROMPTS)))
def test_greedy_codes_are_transformers_and_the_merged_layouts(runner, model, index, guided):
    settings = Settings(GREEDY_TOKENS, guidance_scale=3.0 if guided else 1.0, temperature=0.0)
    tokenizer = T5Tokenizer(OPTIMUM_DIR / "tokenizer.json")
    merged = MusicGenModel.read(MERGED_DIR)

    def codes_of(which):
        def run(ctx):
            states, mask = TextEncoder(which, tokenizer)(ctx, PROMPTS[index])
            return drain(decode_codes(ctx, which, Decoder(which, ctx), states, mask, settings))
        return in_job(runner, run)

    split_codes = codes_of(model)
    name = "cfg" if guided else "nocfg"
    np.testing.assert_array_equal(split_codes, GOLDEN[f"greedy_{name}_codes_{index}"][0, 0])
    np.testing.assert_array_equal(split_codes, codes_of(merged))


def test_the_folder_is_added_and_generates_transformers_audio(tmp_path):
    folder = tmp_path / "musicgen-optimum"
    shutil.copytree(OPTIMUM_DIR, folder)
    host = Host()
    try:
        entry = host.add_model_folder(str(folder))
        assert entry.ok, entry.error
        generator = entry.generator
        assert generator.id == "musicgen:musicgen-optimum" and generator.model_folder == folder
        assert "variant" not in [p.name for p in generator.params]  # one copy of the weights: nothing to choose
        assert list(generator.variants) == ["fp32"]
        assert {p.name for p in generator.variants["fp32"].files} == {
            "text_encoder.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx", "encodec_decode.onnx"}
        frames = GREEDY_TOKENS + 1 - 4
        job = host.submit(generator.id, {"prompt": PROMPTS[1], "duration": frames / 50, "temperature": 0, "guidance_scale": 3.0, "seed": 1})
        assert job.wait(60), "no answer"
        assert job.state is JobState.FINISHED, job.message
    finally:
        host.shutdown()
    golden = GOLDEN["greedy_cfg_audio_1"].reshape(-1)
    assert job.result.value.shape == (golden.size, 1)
    assert np.abs(job.result.value[:, 0] - golden).max() < BOUND
    assert job.result.info["variant"] == "fp32"


@pytest.fixture
def folder(tmp_path):
    copy = tmp_path / "optimum-copy"
    shutil.copytree(OPTIMUM_DIR, copy)
    return copy


@pytest.mark.parametrize("removed, named, says", [
    ("decoder_with_past_model.onnx", "decoder_with_past_model.onnx", "decoder_model.onnx runs only the first"),
    ("decoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx runs only the steps after it"),
])
def test_half_a_split_decoder_is_named_plainly(folder, removed, named, says):
    (folder / removed).unlink()
    with pytest.raises(studio.ModelError) as error:
        MusicGenModel.read(folder)
    message = str(error.value)
    assert f"lacks {named} (" in message and says in message
    assert "Traceback" not in message and "should contain" in message
    # Through the app: the folder is refused with that sentence and not remembered.
    host = Host()
    try:
        with pytest.raises(studio.StudioError, match=f"lacks {named}"):
            host.add_model_folder(str(folder))
        assert host.settings.model_folders == []
    finally:
        host.shutdown()


def test_without_any_decoder_the_merged_file_is_named_with_the_split_pair(folder):
    (folder / "decoder_model.onnx").unlink()
    (folder / "decoder_with_past_model.onnx").unlink()
    with pytest.raises(studio.ModelError) as error:
        MusicGenModel.read(folder)
    assert "lacks decoder_model_merged.onnx (" in str(error.value)
    assert "decoder_model.onnx and decoder_with_past_model.onnx" in str(error.value)


def test_a_split_pair_of_two_different_variants_is_not_a_decoder(folder):
    (folder / "decoder_model.onnx").rename(folder / "decoder_model_q4.onnx")
    with pytest.raises(studio.ModelError, match="of the same variant .*decoder_model_q4.onnx"):
        MusicGenModel.read(folder)


def test_beside_a_merged_decoder_the_merged_one_runs(folder):
    shutil.copy(MERGED_DIR / "onnx" / "decoder_model_merged.onnx", folder / "decoder_model_merged.onnx")
    model = MusicGenModel.read(folder)
    assert [p.name for p in model.graphs_for().decoder] == ["decoder_model_merged.onnx"]
    assert not model.graphs_for().split


def test_the_loader_recognises_the_folder():
    assert MusicGenLoader().detect(OPTIMUM_DIR)


def test_a_split_variant_beside_a_merged_fp32_decoder_is_listed_and_runs(tmp_path):
    """Repos that ship both shapes may have a variant only as a split pair: it is a variant,
    and it runs its pair (here optimum's fp32 pair under an int8 name: transformers' audio)."""
    folder = tmp_path / "mixed"
    shutil.copytree(MERGED_DIR, folder)
    shutil.copy(OPTIMUM_DIR / "decoder_model.onnx", folder / "onnx" / "decoder_model_int8.onnx")
    shutil.copy(OPTIMUM_DIR / "decoder_with_past_model.onnx", folder / "onnx" / "decoder_with_past_model_int8.onnx")
    generator = MusicGenLoader().load(folder)
    assert generator.param("variant").choices == ("auto", "fp32", "int8")
    assert [p.name for p in generator.model.graphs_for("int8").decoder] == ["decoder_model_int8.onnx", "decoder_with_past_model_int8.onnx"]
    assert {p.name for p in generator.variants["int8"].files} == {
        "text_encoder.onnx", "decoder_model_int8.onnx", "decoder_with_past_model_int8.onnx", "encodec_decode.onnx"}
    runner = JobRunner()
    try:
        frames = GREEDY_TOKENS + 1 - 4
        job = runner.submit(generator, generator.request({"prompt": PROMPTS[1], "duration": frames / 50, "temperature": 0, "seed": 1, "variant": "int8"}))
        assert job.wait(60) and job.state is JobState.FINISHED, job.message
    finally:
        runner.shutdown()
    assert job.result.info["variant"] == "int8"
    assert np.abs(job.result.value[:, 0] - GOLDEN["greedy_cfg_audio_1"].reshape(-1)).max() < BOUND


@pytest.mark.parametrize("replaced, says", [
    ("decoder_with_past_model.onnx", "is not the cached steps of a MusicGen decoder"),
    ("decoder_model.onnx", "is not the first step of a MusicGen decoder"),
])
def test_a_graph_that_is_not_a_decoder_step_fails_the_job_plainly(folder, runner, replaced, says):
    shutil.copy(folder / "encodec_decode.onnx", folder / replaced)  # a real graph, the wrong one
    generator = MusicGenLoader().load(folder)
    job = runner.submit(generator, generator.request({"prompt": "jazz", "duration": 0.2, "seed": 1}), DEVICE)
    assert job.wait(60), "no answer"
    assert job.state is JobState.FAILED and not job.internal_error
    assert replaced in job.message and says in job.message


def test_naming_the_only_variant_is_no_error_and_another_is_named(runner):
    """A project saved with a variant chosen elsewhere, opened where the folder has one copy."""
    generator = MusicGenLoader().load(OPTIMUM_DIR)
    for value in ("auto", "fp32"):
        request = generator.request({"prompt": "jazz", "duration": 0.1, "seed": 1, "variant": value})
        assert "variant" not in request.params
    with pytest.raises(studio.ParamError, match="no parameter variant"):
        generator.request({"prompt": "jazz", "variant": "q4"})
    job = runner.submit(generator, generator.request({"prompt": "jazz", "duration": 0.1, "seed": 1, "variant": "fp32"}), DEVICE)
    assert job.wait(60) and job.state is JobState.FINISHED, job.message
    assert job.result.info["variant"] == "fp32"
