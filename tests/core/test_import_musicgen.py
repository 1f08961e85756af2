"""Importing a transformers MusicGen folder: ``python -m studio.convert musicgen SOURCE OUT`` in a
child process (torch never enters this one), then the real MusicGen plugin on what it wrote.

The source (tests/fixtures/convert/musicgen/source) is a tiny random MusicGen saved by
transformers with safetensors; the goldens are transformers' own torch model on those weights
(tests/fixtures/convert/build_musicgen.py): greedy codes must be identical, audio within 1e-4."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.core.engine.jobs import JobRunner, JobState
from studio.host import Host
from studio_plugins.musicgen.generator import MusicGenLoader
from studio_plugins.musicgen.layout import MusicGenModel
from studio_plugins.musicgen.pipeline import AudioCodec, Decoder, Settings, TextEncoder, decode_codes
from studio_plugins.musicgen.tokenizer import T5Tokenizer
from job_probe import drain, in_job  # a pipeline's parts inside a real job

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "convert" / "musicgen"
SOURCE = FIXTURE / "source"
GOLDEN = dict(np.load(FIXTURE / "goldens.npz"))
MANIFEST = json.loads((FIXTURE / "goldens.json").read_text())
PROMPTS = MANIFEST["prompts"]
NEW_TOKENS = MANIFEST["new_tokens"]
BOUND = 1e-4
GRAPHS = ("text_encoder.onnx", "decoder_model_merged.onnx", "encodec_decode.onnx", "encodec_encode.onnx",
          "build_delay_pattern_mask.onnx")


def run_converter(source: Path, out: Path, options: dict | None = None) -> tuple[int, list[dict], str]:
    """The converter's child process as the import job starts it: exit code, protocol lines, log."""
    command = [sys.executable, "-m", "studio.convert", "musicgen", str(source), str(out)]
    if options is not None:
        command += ["--options", json.dumps(options)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, lines, done.stderr


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("import") / "musicgen-imported"
    out.mkdir()
    code, lines, log = run_converter(SOURCE, out, {"name": "musicgen-imported"})
    assert code == 0, log[-3000:]
    return out, lines


@pytest.fixture(scope="module")
def model(converted):
    return MusicGenModel.read(converted[0])


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


def test_the_child_reports_each_part_and_says_what_it_made(converted):
    _, lines = converted
    progress = [line["progress"] for line in lines if "progress" in line]
    assert {p["component"] for p in progress} >= {"text_encoder", "decoder", "audio_codec"}
    assert [p["step"] for p in progress] == list(range(1, len(progress) + 1))
    assert all(p["total"] == len(progress) for p in progress)
    assert lines[-1] == {"done": {"layout": "musicgen", "variants": ["fp32"],
                                  "description": "MusicGen (2 layers, width 32), text to music, mono 8 kHz"}}


def test_the_output_is_the_layout_the_plugin_reads(converted, model):
    """The public exports' layout: the graphs under onnx/, one merged decoder."""
    out, _ = converted
    assert {p.name for p in out.iterdir()} == {"onnx", "config.json", "generation_config.json", "tokenizer.json",
                                               "tokenizer_config.json", "preprocessor_config.json"}
    # No scratch folder left, no manifest (the parent writes it), no split decoder beside the merged one.
    assert {p.name for p in (out / "onnx").iterdir()} == set(GRAPHS)
    graphs = model.graphs_for()
    assert list(model.graphs) == ["fp32"] and not graphs.split and model.can_encode
    assert [p.name for p in graphs.decoder] == ["decoder_model_merged.onnx"]
    assert json.loads((out / "config.json").read_text()) == json.loads((SOURCE / "config.json").read_text())


def test_the_merged_decoder_holds_each_weight_once(converted):
    """The first step's graph and the cached steps' share every weight but the cross-attention
    key/value projections: merged, each is stored once, read by both branches."""
    import onnx

    merged = onnx.load(str(converted[0] / "onnx" / "decoder_model_merged.onnx"))
    contents = [onnx.numpy_helper.to_array(t).tobytes() for t in merged.graph.initializer if t.ByteSize() > 1024]
    assert len(contents) >= 2 * 2 * 6 and len(set(contents)) == len(contents)
    (node,) = merged.graph.node
    assert node.op_type == "If" and node.input == ["use_cache_branch"]
    branches = {a.name: a.g for a in node.attribute}
    assert not branches["then_branch"].initializer and not branches["else_branch"].initializer


@pytest.mark.parametrize("index", range(len(PROMPTS)))
def test_text_encoder_states_match_transformers(runner, converted, model, index):
    tokenizer = T5Tokenizer(converted[0] / "tokenizer.json")
    states, _ = in_job(runner, lambda ctx: TextEncoder(model, tokenizer)(ctx, PROMPTS[index]))
    golden = GOLDEN[f"text_states_{index}"]
    assert states.shape == golden.shape and np.abs(states - golden).max() < BOUND


@pytest.mark.parametrize("guided", [False, True], ids=["nocfg", "cfg"])
@pytest.mark.parametrize("index", range(len(PROMPTS)))
def test_greedy_codes_are_transformers(runner, converted, model, index, guided):
    settings = Settings(NEW_TOKENS, guidance_scale=3.0 if guided else 1.0, temperature=0.0)
    tokenizer = T5Tokenizer(converted[0] / "tokenizer.json")

    def run(ctx):
        states, mask = TextEncoder(model, tokenizer)(ctx, PROMPTS[index])
        return drain(decode_codes(ctx, model, Decoder(model, ctx), states, mask, settings))

    codes = in_job(runner, run)
    np.testing.assert_array_equal(codes, GOLDEN[f"greedy_{'cfg' if guided else 'nocfg'}_codes_{index}"][0, 0])


def test_continuing_audio_gives_transformers_codes(runner, converted, model):
    """generate(input_values=...): the exported EnCodec encoder's codes prompt the decoder."""
    settings = Settings(NEW_TOKENS, guidance_scale=3.0, temperature=0.0)
    tokenizer = T5Tokenizer(converted[0] / "tokenizer.json")

    def run(ctx):
        states, mask = TextEncoder(model, tokenizer)(ctx, PROMPTS[1])
        prompt = AudioCodec(model).encode(ctx, GOLDEN["continue_input"].reshape(-1))
        codes = drain(decode_codes(ctx, model, Decoder(model, ctx), states, mask, settings, prompt))
        return prompt, codes, AudioCodec(model).decode(ctx, codes)

    prompt, codes, audio = in_job(runner, run)
    np.testing.assert_array_equal(prompt, GOLDEN["continue_prompt_codes"][0, 0])
    np.testing.assert_array_equal(codes, GOLDEN["continue_codes"][0, 0])
    golden = GOLDEN["continue_audio"].reshape(-1)
    assert audio.shape == golden.shape and np.abs(audio - golden).max() < BOUND


def test_the_imported_folder_is_added_and_generates_transformers_audio(converted, tmp_path):
    folder = tmp_path / "musicgen-imported"
    shutil.copytree(converted[0], folder)
    host = Host()
    try:
        entry = host.add_model_folder(str(folder))
        assert entry.ok, entry.error
        frames = NEW_TOKENS + 1 - 4
        job = host.submit(entry.generator.id, {"prompt": PROMPTS[1], "duration": frames / 50, "temperature": 0,
                                                "guidance_scale": 3.0, "seed": 1})
        assert job.wait(60), "no answer"
        assert job.state is JobState.FINISHED, job.message
    finally:
        host.shutdown()
    golden = GOLDEN["greedy_cfg_audio_1"].reshape(-1)
    assert job.result.value.shape == (golden.size, 1)
    assert np.abs(job.result.value[:, 0] - golden).max() < BOUND


def test_the_loader_recognises_the_imported_folder(converted):
    assert MusicGenLoader().detect(converted[0])


def source_copy(tmp_path: Path, config_change: dict | None = None) -> Path:
    folder = tmp_path / "source"
    shutil.copytree(SOURCE, folder)
    if config_change:
        config = json.loads((folder / "config.json").read_text())
        for key, value in config_change.items():
            section, _, name = key.rpartition(".")
            (config[section] if section else config)[name] = value
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_folder_with_pickled_weights_only_is_refused_and_nothing_is_written(tmp_path):
    folder = source_copy(tmp_path)
    # The same weights under a pickle's name: the refusal comes from the name, nothing is loaded.
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    out = tmp_path / "out"
    out.mkdir()
    code, lines, log = run_converter(folder, out)
    assert code == 2, log[-2000:]
    message = lines[-1]["error"]
    assert "pytorch_model.bin" in message and "pickle" in message and ".safetensors" in message
    assert "Traceback" not in message and "internal error" not in message
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("change, says", [
    ({"decoder.audio_channels": 2}, "stereo MusicGen"),
    ({"model_type": "musicgen_melody"}, "MusicGen Melody"),
    ({"model_type": "t5"}, "holds a t5, not a MusicGen model"),
])
def test_models_the_plugin_cannot_play_are_refused_plainly(tmp_path, change, says):
    out = tmp_path / "out"
    out.mkdir()
    code, lines, log = run_converter(source_copy(tmp_path, change), out)
    assert code == 2, log[-2000:]
    assert says in lines[-1]["error"]
    assert list(out.iterdir()) == []


def test_a_smaller_variant_is_refused_plainly(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    code, lines, _ = run_converter(SOURCE, out, {"variant": "int8"})
    assert code == 2 and "no int8 variant" in lines[-1]["error"]


def test_weights_kept_beside_the_graphs_run_the_same(runner, tmp_path):
    """musicgen-medium's and -large's decoders pass protobuf's 2 GB: their weights go to
    ``<graph>.onnx_data``. The tiny model made to take that path gives the same codes."""
    out = tmp_path / "external"
    out.mkdir()
    code, lines, log = run_converter(SOURCE, out, {"external_data_over": 0})
    assert code == 0, log[-3000:]
    graphs = out / "onnx"
    for name in GRAPHS[:-1]:
        assert (graphs / f"{name}_data").stat().st_size > 0, name
    assert not (graphs / "build_delay_pattern_mask.onnx_data").exists()  # no weights: no empty file
    assert (graphs / "text_encoder.onnx").stat().st_size < (graphs / "text_encoder.onnx_data").stat().st_size
    model = MusicGenModel.read(out)
    settings = Settings(NEW_TOKENS, guidance_scale=3.0, temperature=0.0)
    tokenizer = T5Tokenizer(out / "tokenizer.json")

    def run(ctx):
        states, mask = TextEncoder(model, tokenizer)(ctx, PROMPTS[0])
        codes = drain(decode_codes(ctx, model, Decoder(model, ctx), states, mask, settings))
        return codes, AudioCodec(model).decode(ctx, codes)

    codes, audio = in_job(runner, run)
    np.testing.assert_array_equal(codes, GOLDEN["greedy_cfg_codes_0"][0, 0])
    assert np.abs(audio - GOLDEN["greedy_cfg_audio_0"].reshape(-1)).max() < BOUND


def copy_without(source: Path, target: Path, dropped: str) -> None:
    """``source``'s safetensors file without the tensors whose names start with ``dropped``,
    written as the format lays it out (header length, JSON header, the tensors' bytes)."""
    data = source.read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    body, kept, offset = data[8 + length :], {}, 0
    parts = []
    for name, info in header.items():
        if name == "__metadata__" or name.startswith(dropped):
            continue
        begin, end = info["data_offsets"]
        parts.append(body[begin:end])
        kept[name] = {**info, "data_offsets": [offset, offset + end - begin]}
        offset += end - begin
    kept["__metadata__"] = header.get("__metadata__", {})
    text = json.dumps(kept).encode()
    target.write_bytes(len(text).to_bytes(8, "little") + text + b"".join(parts))


def test_weights_missing_from_the_folder_are_named_not_made_up(tmp_path):
    """transformers fills a weight the file lacks with random numbers (and only warns): the
    import would make noise from a folder that lost its text encoder. It is refused instead."""
    folder = source_copy(tmp_path)
    copy_without(SOURCE / "model.safetensors", folder / "model.safetensors", "text_encoder.")
    out = tmp_path / "out"
    out.mkdir()
    code, lines, log = run_converter(folder, out)
    assert code == 2, log[-2000:]
    message = lines[-1]["error"]
    assert "lack" in message and "text_encoder.encoder" in message and "internal error" not in message
    assert list(out.iterdir()) == []


def test_a_cut_short_weights_file_is_refused_plainly(tmp_path):
    folder = source_copy(tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    out = tmp_path / "out"
    out.mkdir()
    code, lines, log = run_converter(folder, out)
    assert code == 2, log[-2000:]
    message = lines[-1]["error"]
    assert "model.safetensors" in message and "internal error" not in message and "Traceback" not in message
    assert list(out.iterdir()) == []


def test_studio_models_import_then_generate_gives_transformers_audio(tmp_path):
    """As a person does it: ``studio models import FOLDER`` (the job, the child, the install),
    then ``studio generate`` on the installed model: transformers' guided greedy audio."""
    from studio.core.base import paths
    from studio.core.media.sound_files import read_audio

    def studio(*args: str):
        return subprocess.run([sys.executable, "-m", "studio", *args], cwd=tmp_path, capture_output=True, text=True, timeout=300)

    run = studio("models", "import", str(SOURCE), "--name", "musicgen-tiny")
    assert run.returncode == 0, run.stderr
    folder = paths.models() / "musicgen-tiny"
    assert run.stdout.splitlines() == [str(folder), "Use it with: studio generate musicgen:musicgen-tiny"]
    assert "Importing" in run.stderr and "(a MusicGen model)" in run.stderr
    assert (folder / "onnx" / "decoder_model_merged.onnx").is_file() and (folder / "studio-model.json").is_file()
    frames = NEW_TOKENS + 1 - 4
    made = studio("generate", "musicgen:musicgen-tiny", "--param", f"prompt={PROMPTS[1]}", "--param", f"duration={frames / 50}",
                  "--param", "temperature=0", "--param", "guidance_scale=3", "-o", str(tmp_path / "out.wav"))
    assert made.returncode == 0, made.stderr
    audio = read_audio(tmp_path / "out.wav")
    golden = GOLDEN["greedy_cfg_audio_1"].reshape(-1)
    assert audio.sample_rate == 8000 and audio.samples.shape == (golden.size, 1)
    assert np.abs(audio.samples[:, 0] - golden).max() < BOUND
