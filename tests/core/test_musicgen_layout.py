"""Bad input to the MusicGen plugin: a folder missing a part, a damaged ONNX file or tokenizer,
a config that is not MusicGen's, and parameters out of range. Each ends in a StudioError whose
message names the problem, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.models.loaders import load_folder
from studio_plugins import musicgen
from studio_plugins.musicgen.generator import MusicGenLoader
from studio_plugins.musicgen.layout import MusicGenModel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODEL_DIR = FIXTURES / "musicgen" / "model"
PARTS = [
    "onnx/text_encoder.onnx",
    "onnx/decoder_model_merged.onnx",
    "onnx/encodec_decode.onnx",
    "config.json",
    "tokenizer.json",
]


@pytest.fixture
def folder(tmp_path):
    copy = tmp_path / "tiny-musicgen"
    shutil.copytree(MODEL_DIR, copy)
    return copy


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


def test_the_plugin_registers_the_loader():
    registered = []
    musicgen.register_model_loaders(registered.append)
    assert [loader.id for loader in registered] == ["musicgen"]


def test_the_loader_recognises_the_fixture_and_not_a_language_model():
    loader = MusicGenLoader()
    assert loader.detect(MODEL_DIR)
    assert not loader.detect(FIXTURES / "lm" / "models" / "gpt2")
    generator = loader.load(MODEL_DIR)
    assert generator.id == "musicgen:model" and generator.kind == "audio"
    names = [p.name for p in generator.params]
    assert names == ["prompt", "duration", "guidance_scale", "top_k", "temperature", "seed", "audio_prompt"]
    entry = load_folder(MODEL_DIR, [loader])  # as the app resolves folders: the contract checked
    assert entry.ok, entry.error


@pytest.mark.parametrize("part", PARTS)
def test_a_missing_part_is_named(folder, part):
    (folder / part).unlink()
    with pytest.raises(studio.ModelError) as error:
        MusicGenModel.read(folder)
    message = str(error.value)
    assert part in message and "should contain" in message
    # Through the app's folder resolution too: kept as the folder's error, not raised.
    entry = load_folder(folder, [MusicGenLoader()])
    assert not entry.ok and part in entry.error


def test_without_the_encoder_there_is_no_audio_prompt(folder):
    (folder / "onnx" / "encodec_encode.onnx").unlink()
    generator = MusicGenLoader().load(folder)
    assert "audio_prompt" not in [p.name for p in generator.params]
    with pytest.raises(studio.ParamError, match="audio_prompt"):
        generator.request({"audio_prompt": None})


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda c: c.pop("decoder"), "'decoder' section"),
        (lambda c: c["decoder"].pop("num_codebooks"), "num_codebooks"),
        (lambda c: c["decoder"].update(audio_channels=2), "stereo"),
        (lambda c: c["audio_encoder"].pop("upsampling_ratios"), "upsampling_ratios"),
    ],
)
def test_a_config_that_is_not_musicgens_is_refused(folder, edit, words):
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(studio.ModelError, match=words):
        MusicGenModel.read(folder)


def test_unreadable_config_json(folder):
    (folder / "config.json").write_text("{ not json")
    with pytest.raises(studio.ModelError, match="config.json is not readable JSON"):
        MusicGenModel.read(folder)


def run(runner, generator, values):
    job = runner.submit(generator, generator.request(values))
    assert job.wait(60), "no answer"
    return job


def test_a_truncated_onnx_file_fails_the_job_with_a_plain_message(folder, runner):
    path = folder / "onnx" / "decoder_model_merged.onnx"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    generator = MusicGenLoader().load(folder)  # reading the folder does not open the ONNX files
    job = run(runner, generator, {"prompt": "jazz", "duration": 0.2})
    assert job.state is JobState.FAILED and not job.internal_error
    assert "decoder_model_merged.onnx" in job.message and "truncated" in job.message


def test_a_broken_tokenizer_fails_the_job_with_a_plain_message(folder, runner):
    (folder / "tokenizer.json").write_text('{"model": 5}')
    generator = MusicGenLoader().load(folder)
    job = run(runner, generator, {"prompt": "jazz", "duration": 0.2})
    assert job.state is JobState.FAILED and not job.internal_error
    assert "tokenizer.json" in job.message


@pytest.mark.parametrize("duration", [0, -1, "0", -0.5, 600.5])  # past the longest piece (windows join up to 600 s)
def test_duration_out_of_range_is_a_param_error(duration):
    generator = MusicGenLoader().load(MODEL_DIR)
    with pytest.raises(studio.ParamError, match="duration"):
        generator.request({"prompt": "jazz", "duration": duration})


@pytest.mark.parametrize("values, name", [({"top_k": -1}, "top_k"), ({"temperature": 3}, "temperature"), ({"duration": "long"}, "duration")])
def test_other_bad_values_are_param_errors(values, name):
    generator = MusicGenLoader().load(MODEL_DIR)
    with pytest.raises(studio.ParamError, match=name):
        generator.request(values)


def test_an_unknown_parameter_is_named():
    generator = MusicGenLoader().load(MODEL_DIR)
    with pytest.raises(studio.ParamError, match="no parameter lenght"):
        generator.request({"prompt": "jazz", "lenght": 3})


def test_an_audio_prompt_must_be_audio():
    generator = MusicGenLoader().load(MODEL_DIR)
    with pytest.raises(studio.ParamError, match="audio_prompt"):
        generator.request({"audio_prompt": 3})


def test_onnx_files_at_the_root_as_optimum_cli_writes_them(folder, runner):
    for path in (folder / "onnx").iterdir():
        path.rename(folder / path.name)
    (folder / "onnx").rmdir()
    loader = MusicGenLoader()
    assert loader.detect(folder)
    generator = loader.load(folder)
    job = run(runner, generator, {"prompt": "jazz", "duration": 0.2, "seed": 1})
    assert job.state is JobState.FINISHED, job.message
    (folder / "decoder_model_merged.onnx").unlink()
    with pytest.raises(studio.ModelError, match=r"lacks decoder_model_merged\.onnx"):
        MusicGenModel.read(folder)


def test_the_delay_pattern_graph_is_not_needed(folder, runner):
    """The public exports ship build_delay_pattern_mask.onnx; the pattern is built in numpy."""
    (folder / "onnx" / "build_delay_pattern_mask.onnx").unlink()
    generator = MusicGenLoader().load(folder)
    job = runner.submit(generator, generator.request({"prompt": "a", "duration": 0.1, "seed": 1}))
    assert job.wait(60) and job.state is JobState.FINISHED, job.message
