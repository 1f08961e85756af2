"""The language-model pipeline fed what users really give it: each case a plain message or a
note, never a crash, and text streams to stdout from the command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from studio.core.engine.jobs import JobRunner, JobState
from studio.core.models.loaders import find_loader
from studio.errors import ModelError, ParamError
from studio_plugins.text_lm.generator import LMLoader
from studio_plugins.text_lm.layout import LMModel

MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models"


def copy(tmp_path: Path, name: str = "gpt2") -> Path:
    target = tmp_path / name
    shutil.copytree(MODELS / name, target)
    return target


def generate(folder: Path, **values):
    generator = LMLoader().load(folder)
    runner = JobRunner()
    try:
        job = runner.submit(generator, generator.request({"max_new_tokens": 8, "temperature": 0.0, "seed": 1, **values}))
        assert job.wait(120)
        return job
    finally:
        runner.shutdown()


def test_a_missing_tokenizer_is_named(tmp_path):
    folder = copy(tmp_path)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="no tokenizer.json"):
        LMModel.read(folder)


def test_a_tokenizer_that_does_not_belong_to_the_model_is_refused(tmp_path):
    folder = copy(tmp_path)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.add_tokens([f"<extra_{i}>" for i in range(100)])
    tokenizer.save(str(folder / "tokenizer.json"))
    job = generate(folder, prompt="To be")
    assert job.state is JobState.FAILED and "do not belong together" in job.message and not job.internal_error


def test_a_truncated_model_fails_plainly(tmp_path):
    folder = copy(tmp_path)
    data = (folder / "model.onnx").read_bytes()
    (folder / "model.onnx").write_bytes(data[: len(data) // 3])
    job = generate(folder, prompt="To be")
    assert job.state is JobState.FAILED and "could not be loaded" in job.message


def test_a_model_without_a_kv_cache_runs_and_says_so():
    job = generate(MODELS / "gpt2-nocache", prompt="To be")
    assert job.state is JobState.FINISHED
    assert any("no KV-cache inputs" in note for note in job.result.info["notes"])


def test_a_prompt_longer_than_the_context_is_cut_from_the_left_and_said():
    long_prompt = "Shall I compare thee to a summer's day? " * 40  # far past 128 tokens
    job = generate(MODELS / "llama", prompt=long_prompt, max_new_tokens=16)
    assert job.state is JobState.FINISHED, job.message
    assert any("longer than the model's context" in note for note in job.result.info["notes"])
    # Cut at a multiple of a quarter of the context (pipeline.stable_cut): the start stays put
    # while the text grows, and at least three quarters of the room is read.
    assert 128 - 16 - 32 < job.result.info["prompt_tokens"] <= 128 - 16


def test_an_empty_prompt_starts_from_the_start_token():
    job = generate(MODELS / "gpt2", prompt="")
    assert job.state is JobState.FINISHED and job.result.info["prompt_tokens"] == 1


def test_rewrite_needs_a_chat_template():
    with pytest.raises(ParamError, match="no chat template"):  # refused before any job starts
        generate(MODELS / "gpt2", prompt="Wherefore art thou", instruction="Modernise")
    job = generate(MODELS / "llama", prompt="Wherefore art thou", instruction="Modernise")
    assert job.state is JobState.FINISHED


def test_the_loader_finds_onnx_under_onnx_and_a_folder_it_cannot_read_is_explained(tmp_path):
    assert LMLoader().detect(MODELS / "llama")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="Language model: a causal-LM ONNX folder"):
        find_loader(tmp_path / "empty", [LMLoader()])


def test_the_cli_streams_text_to_stdout(tmp_path):
    env = dict(os.environ)
    added = subprocess.run([sys.executable, "-m", "studio", "models", "add", str(MODELS / "llama")], capture_output=True, text=True, env=env, timeout=120)
    assert added.returncode == 0, added.stderr
    result = subprocess.run(
        [sys.executable, "-m", "studio", "generate", "lm:llama", "--prompt", "To be", "--param", "max_new_tokens=12", "--param", "temperature=0"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and "tokens/s" in result.stderr and "Traceback" not in result.stderr


def test_int8_weights_are_made_once_and_still_write_text(studio_home):
    from studio_plugins.text_lm.quantize import int8_model

    first = generate(MODELS / "gpt2", prompt="To be", weights="int8", max_new_tokens=12)
    assert first.state is JobState.FINISHED, first.message
    assert first.result.info["weights"] == "int8" and first.result.info["new_tokens"] > 0
    copies = list((studio_home / "cache" / "int8").glob("*/model.onnx"))
    assert len(copies) == 1 and copies[0].stat().st_size < (MODELS / "gpt2" / "model.onnx").stat().st_size
    assert int8_model(MODELS / "gpt2" / "model.onnx", studio_home / "cache" / "int8") == copies[0]  # cached
