"""MusicGen with the variants the public exports ship (Xenova/musicgen-small's naming):
``onnx/decoder_model_merged_{fp16,q4,int8,uint8,quantized}.onnx`` beside the fp32 files, the text
encoder and EnCodec with fewer variants (a part without one runs its fp32 file). Every variant
present is listed and selectable through the ``variant`` parameter, ``auto`` follows the user's
default for the device and else what suits it, and ``info["variant"]`` says what ran.

tests/fixtures/musicgen/model-variants was made by onnxruntime's own quantizer and float16
converter from the committed fp32 graphs; the references come from a plain onnxruntime loop over
the same files in build_layouts.py, never from this plugin. That loop runs here, in a child
process (it takes the delay pattern from transformers, and torch stays out of this process), on
the machine under test: onnxruntime's 8-bit kernels round differently by instruction set (AVX2,
AVX-512 VNNI), which changes int8's greedy codes, so codes written on one CPU are not another's
reference. goldens/variants.npz keeps those of the machine the fixtures were built on."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.models.variant_defaults import set_default_variant
from studio_plugins.musicgen.generator import MusicGenLoader
from studio_plugins.musicgen.layout import MusicGenModel
from studio_plugins.musicgen.pipeline import Decoder, Settings, TextEncoder, decode_codes
from studio_plugins.musicgen.tokenizer import T5Tokenizer
from job_probe import drain, in_job  # a pipeline's parts inside a real job

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "musicgen"
VARIANTS_DIR = FIXTURES / "model-variants"
ONNX_DIR = VARIANTS_DIR / "onnx"
MANIFEST = json.loads((FIXTURES / "goldens" / "variants.json").read_text())
PROMPTS = MANIFEST["prompts"]
CASES = MANIFEST["cases"]  # {"cfg": prompt index, "nocfg": prompt index}
BOUND = 1e-4
PRESENT = ["fp32", "fp16", "q4", "q4f16", "int8", "uint8", "quantized", "bnb4"]  # variants.VARIANTS order


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> dict[str, np.ndarray]:
    """Every variant's reference codes and audio, from the reference loop on this machine."""
    target = tmp_path_factory.mktemp("musicgen-references") / "variants.npz"
    done = subprocess.run([sys.executable, str(FIXTURES / "build_layouts.py"), "--references", str(target)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"the reference loop failed: {done.stderr[-3000:]}"
    return dict(np.load(target))


@pytest.fixture(scope="module")
def generator():
    return MusicGenLoader().load(VARIANTS_DIR)


def generate(runner, generator, **values):
    job = runner.submit(generator, generator.request(values))
    assert job.wait(60), "no answer"
    assert job.state is JobState.FINISHED, job.message
    return job.result


def test_every_variant_present_is_listed_and_selectable(generator):
    assert list(MANIFEST["variants"]) == ["fp32", "fp16", "quantized", "int8", "uint8", "q4", "q4f16", "bnb4"]  # what the builder made
    param = generator.param("variant")
    assert param.type == "choice" and param.default == "auto"
    assert param.choices == ("auto", *PRESENT)
    assert list(generator.variants) == PRESENT
    assert generator.model_folder == VARIANTS_DIR
    with pytest.raises(studio.ParamError, match="variant"):
        generator.request({"prompt": "jazz", "variant": "int4"})  # not a choice


@pytest.mark.parametrize("variant", PRESENT)
def test_each_variant_runs_its_own_files_and_the_fp32_ones_it_lacks(generator, variant):
    """The builder's rule (goldens/variants.json) is the plugin's: the decoder has the variant,
    the text encoder and EnCodec use theirs when they have one, else fp32."""
    expected = MANIFEST["variants"][variant]["files"]
    graphs = generator.model.graphs_for(variant)
    assert graphs.text_encoder.name == expected["text_encoder"][0]
    assert [p.name for p in graphs.decoder] == expected["decoder"]
    assert graphs.encodec_decode.name == expected["encodec_decode"][0]
    listed = generator.variants[variant]
    assert set(listed.files) == {graphs.text_encoder, *graphs.decoder, graphs.encodec_decode}
    assert listed.size == sum(p.stat().st_size for p in set(listed.files))


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("variant", PRESENT)
def test_each_variant_gives_the_reference_loops_codes(runner, generator, variant, case, golden):
    model = generator.model
    graphs = model.graphs_for(variant)
    tokenizer = T5Tokenizer(VARIANTS_DIR / "tokenizer.json")
    settings = Settings(MANIFEST["greedy_new_tokens"], guidance_scale=MANIFEST["guidance_scale"] if case == "cfg" else 1.0, temperature=0.0)

    def run(ctx):
        states, mask = TextEncoder(model, tokenizer, graphs)(ctx, PROMPTS[CASES[case]])
        return drain(decode_codes(ctx, model, Decoder(model, ctx, graphs), states, mask, settings))

    np.testing.assert_array_equal(in_job(runner, run), golden[f"{variant}_{case}_codes"])


@pytest.mark.parametrize("variant", PRESENT)
def test_each_variant_chosen_in_the_form_makes_the_reference_audio(runner, generator, variant, golden):
    frames = MANIFEST["greedy_new_tokens"] + 1 - 4
    result = generate(runner, generator, prompt=PROMPTS[CASES["cfg"]], duration=frames / 50, temperature=0,
                      guidance_scale=MANIFEST["guidance_scale"], seed=1, variant=variant)
    reference = golden[f"{variant}_cfg_audio"]
    assert result.info["variant"] == variant and result.params["variant"] == variant
    assert result.value.shape == (reference.size, 1)
    assert np.abs(result.value[:, 0] - reference).max() < BOUND


def test_the_variants_make_different_music(runner, generator, golden):
    """The variants are really different weights: not every one gives the fp32 codes."""
    codes = {v: golden[f"{v}_cfg_codes"] for v in PRESENT}
    assert any(not np.array_equal(codes[v], codes["fp32"]) for v in PRESENT if v != "fp32")


def test_auto_takes_what_suits_the_cpu_then_the_users_default(runner, generator):
    short = {"prompt": "jazz", "duration": 0.1, "seed": 1}
    assert generate(runner, generator, **short).info["variant"] == "q4"  # variants.preferred on a CPU
    set_default_variant(VARIANTS_DIR, "cpu", "int8")
    assert generate(runner, generator, **short).info["variant"] == "int8"
    assert generate(runner, generator, **short, variant="fp16").info["variant"] == "fp16"  # a choice beats the default
    set_default_variant(VARIANTS_DIR, "gpu", "fp16")  # another device's default does not apply here
    set_default_variant(VARIANTS_DIR, "cpu", None)
    assert generate(runner, generator, **short).info["variant"] == "q4"


def test_a_default_the_folder_no_longer_has_falls_back(runner, tmp_path):
    folder = tmp_path / "musicgen-variants"
    shutil.copytree(VARIANTS_DIR, folder)
    set_default_variant(folder, "cpu", "uint8")
    (folder / "onnx" / "decoder_model_merged_uint8.onnx").unlink()
    generator = MusicGenLoader().load(folder)
    assert "uint8" not in generator.param("variant").choices
    assert generate(runner, generator, prompt="jazz", duration=0.1, seed=1).info["variant"] == "q4"


def test_a_variant_of_the_text_encoder_alone_is_not_a_variant(tmp_path):
    folder = tmp_path / "musicgen-variants"
    shutil.copytree(VARIANTS_DIR, folder)
    for path in (folder / "onnx").glob("decoder_model_merged_*.onnx"):
        path.unlink()
    model = MusicGenModel.read(folder)
    assert list(model.graphs) == ["fp32"]  # text_encoder_q4.onnx and the rest wait for a decoder
    assert "variant" not in [p.name for p in MusicGenLoader().load(folder).params]


def test_a_folder_with_only_one_quantized_variant_runs_it(runner, tmp_path, golden):
    """A download of just the q4 files (and the fp32 EnCodec it falls back to)."""
    folder = tmp_path / "musicgen-q4"
    shutil.copytree(VARIANTS_DIR, folder)
    keep = {"text_encoder_q4.onnx", "decoder_model_merged_q4.onnx", "encodec_decode.onnx"}
    for path in (folder / "onnx").glob("*.onnx"):
        if path.name not in keep:
            path.unlink()
    generator = MusicGenLoader().load(folder)
    assert list(generator.variants) == ["q4"]
    frames = MANIFEST["greedy_new_tokens"] + 1 - 4
    result = generate(runner, generator, prompt=PROMPTS[CASES["cfg"]], duration=frames / 50, temperature=0,
                      guidance_scale=MANIFEST["guidance_scale"], seed=1)
    assert result.info["variant"] == "q4"
    assert np.abs(result.value[:, 0] - golden["q4_cfg_audio"]).max() < BOUND


def test_without_the_fp32_text_encoder_a_variant_needs_its_own(tmp_path):
    folder = tmp_path / "musicgen-variants"
    shutil.copytree(VARIANTS_DIR, folder)
    (folder / "onnx" / "text_encoder.onnx").unlink()
    model = MusicGenModel.read(folder)
    assert list(model.graphs) == ["fp16", "q4", "quantized"]  # the ones whose text encoder is there
    for path in (folder / "onnx").glob("text_encoder_*.onnx"):
        path.unlink()
    with pytest.raises(studio.ModelError, match=r"lacks onnx/text_encoder\.onnx \(the T5 text encoder\)"):
        MusicGenModel.read(folder)


def test_a_job_opens_only_the_files_of_the_variant_it_runs():
    """A first job that chose int8 does not also load the q4 copy auto would pick, and its
    loading step names the variant."""
    runner = JobRunner()
    try:
        generator = MusicGenLoader().load(VARIANTS_DIR)
        events = []
        job = runner.submit(generator, generator.request({"prompt": "jazz", "duration": 0.1, "seed": 1, "variant": "int8"}),
                            listeners=[lambda job, event: events.append(event)])
        assert job.wait(60) and job.state is JobState.FINISHED, job.message
        opened = {loaded.path.name for loaded in runner.runtime.cached_sessions()}
    finally:
        runner.shutdown()
    assert opened == {"text_encoder.onnx", "decoder_model_merged_int8.onnx", "encodec_decode.onnx"}
    assert any(isinstance(e, studio.Progress) and e.message == "Loading MusicGen (int8)…" for e in events)


def test_each_variant_runs_on_the_parity_device():
    """On the device STUDIO_TEST_DEVICE names (bench/gpu_check.py: CUDA), every variant makes
    audio with its sessions on that device. The goldens above are the CPU's: 8-bit and fp16
    kernels round differently on a GPU, so there only running is checked."""
    from parity_device import check_sessions_ran_on, parity_device

    device = parity_device()
    runner = JobRunner()
    try:
        generator = MusicGenLoader().load(VARIANTS_DIR)
        for variant in PRESENT:
            job = runner.submit(generator, generator.request({"prompt": "jazz", "duration": 0.2, "seed": 1, "variant": variant}), device)
            assert job.wait(120) and job.state is JobState.FINISHED, f"{variant}: {job.message}"
            assert job.result.info["variant"] == variant and job.result.info["device"] == device.id
            assert np.isfinite(job.result.value).all() and job.result.value.std() > 0
        check_sessions_ran_on(runner.runtime, device)
    finally:
        runner.shutdown()
