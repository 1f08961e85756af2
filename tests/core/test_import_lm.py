"""Importing transformers causal-LM folders (safetensors) as ONNX: the converter's graphs against
transformers on the same tiny weights, run by the real text plugin.

The folders and goldens come from transformers (tests/fixtures/convert/build_lm.py), never from
this code. Each folder is converted once, in a child process (``python -m studio.convert``, as
the import job runs it): torch never enters this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio_plugins.text_lm.generator import LMLoader
from studio_plugins.text_lm.pipeline import Decoder
from studio_plugins.text_lm.tokenizer import LMTokenizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "convert" / "lm"
MANIFEST = json.loads((FIXTURES / "goldens" / "manifest.json").read_text())
MODELS = MANIFEST["models"]
#: The variant each fixture is imported with (every architecture once with int4; one with int8 too).
VARIANT = {"mistral": "int8"}
BOUND = 1e-4
REPO = Path(__file__).resolve().parents[2]


def convert(source: Path, out: Path, options: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "studio.convert", "causal-lm", str(source), str(out), "--options", json.dumps(options or {})],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})


def finish(process: subprocess.Popen) -> tuple[int, list[dict], str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, [json.loads(line) for line in out.splitlines() if line.strip()], err


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """Every fixture folder converted (in parallel children): name -> (folder, protocol lines).
    Phi-3's weights are in shards with an index, Llama's in bf16, Mistral's and Qwen2's in fp16."""
    root = tmp_path_factory.mktemp("imported-lm")
    running = {name: convert(FIXTURES / name, root / name, {"variant": VARIANT.get(name, "int4")}) for name in MODELS}
    done = {}
    for name, process in running.items():
        code, lines, err = finish(process)
        assert code == 0, f"{name}: exit {code}: {lines[-1:]} {err[-2000:]}"
        done[name] = (root / name, lines)
    return done


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


def run(runner, generator, values=None):
    job = runner.submit(generator, generator.request(values or {}))
    assert job.wait(120), "no answer"
    assert job.state is JobState.FINISHED, job.message
    return job.result


class StepThrough(studio.Generator):
    """Feeds the prompt, then the golden greedy tokens through the KV cache, recording each logits row."""

    id, kind = "lm-import-parity", "text"

    def __init__(self, generator, file: Path, prompt: list[int], tokens: list[int]) -> None:
        self.generator, self.file, self.prompt, self.tokens = generator, file, prompt, tokens

    def generate(self, request, ctx):
        model = self.generator.model
        decoder = Decoder(model, ctx.session(self.file), ctx.device)
        rows = [decoder.step(ctx, list(self.prompt))]
        for token in self.tokens:
            rows.append(decoder.step(ctx, [token]))
        yield studio.Result("text", "", self.id, {}, info={"rows": np.stack(rows)})


def golden(name: str):
    return np.load(FIXTURES / "goldens" / f"{name}.npz")


def rows(runner, folder: Path, name: str, variant: str, file: Path | None = None) -> np.ndarray:
    g = golden(name)
    generator = LMLoader().load(folder)
    file = file or generator.model.variants[variant].files[0]
    return run(runner, StepThrough(generator, file, g["input_ids"].tolist(), g["steps"].tolist())).info["rows"]


@pytest.mark.parametrize("name", MODELS)
def test_the_folder_has_the_onnx_community_layout_and_the_child_reports_each_layer(name, imported):
    folder, lines = imported[name]
    extra = {"int4": "model_q4.onnx", "int8": "model_int8.onnx"}[VARIANT.get(name, "int4")]
    for file in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx",
                 "onnx/model.onnx_data", f"onnx/{extra}"):
        assert (folder / file).is_file(), file
    assert not (folder / "studio-model.json").exists()  # the parent writes the manifest, never the converter
    messages = [line["progress"]["message"] for line in lines if "progress" in line]
    assert "Layer 1 of 2" in messages and "Layer 2 of 2" in messages
    result = lines[-1]["done"]
    assert result["layout"] == "lm"
    assert result["variants"] == ["fp32", {"int4": "q4", "int8": "int8"}[VARIANT.get(name, "int4")]]
    assert result["description"].startswith(("GPT-2", "Llama", "Mistral", "Qwen2", "Phi-3"))


@pytest.mark.parametrize("name", MODELS)
def test_logits_match_transformers_for_the_prompt_and_through_the_kv_cache(name, imported, runner):
    got = rows(runner, imported[name][0], name, "fp32")
    difference = np.abs(got - golden(name)["logits"]).max()
    assert difference <= BOUND, f"{name}: max abs logits difference {difference:.2e} > {BOUND}"


@pytest.mark.parametrize("name", MODELS)
def test_greedy_generation_through_the_text_plugin_is_transformers_greedy(name, imported, runner):
    g = golden(name)
    generator = LMLoader().load(imported[name][0])
    tokenizer = LMTokenizer(generator.model)
    prompt = MANIFEST["prompt"]
    assert tokenizer.encode(prompt) == g["input_ids"].tolist()
    tokens = g["generated"].tolist()
    eos = generator.model.eos_ids(tokenizer.eos_id)
    expected = tokens[: next((i for i, t in enumerate(tokens) if t in eos), len(tokens))]
    result = run(runner, generator, {"prompt": prompt, "max_new_tokens": len(tokens), "temperature": 0.0,
                                     "repetition_penalty": 1.0, "variant": "fp32", "seed": 1})
    assert result.info["new_tokens"] == len(expected)
    assert result.value == tokenizer.decode(expected)


@pytest.mark.parametrize("name", [n for n in MODELS if VARIANT.get(n, "int4") == "int4"])
def test_the_int4_variant_is_transformers_on_int4_rounded_weights(name, imported, runner):
    """The reference: transformers with each weight rounded to 4 bits as onnxruntime's quantizer
    rounds it (build_lm.py). The graph at accuracy level 0 (float activations) must give its
    logits within the fp32 bound; as written (level 4: int8 activations in the kernel, the CPU's
    fast path) within 10 % of their scale (measured: at most 5 %). The tiny random models' logits
    move by up to 6 against the unrounded weights, so a wrongly wired graph cannot pass."""
    import onnx

    folder = imported[name][0]
    written = folder / "onnx" / "model_q4.onnx"
    model = onnx.load(str(written), load_external_data=False)
    quantized = [n for n in model.graph.node if n.op_type == "MatMulNBits"]
    assert quantized and not [n for n in model.graph.node if n.op_type == "MatMul"]  # every projection and the lm_head
    gather = next(n for n in model.graph.node if n.op_type == "GatherBlockQuantized")  # the token embedding too
    if name in ("gpt2", "qwen2"):  # tied: the embedding reads the lm_head's 4-bit table, as genai's builder writes it
        head = next(n for n in model.graph.node if "logits" in n.output)
        reshape = next(n for n in model.graph.node if gather.input[0] in n.output)
        assert reshape.op_type == "Reshape" and reshape.input[0] == head.input[1] and gather.input[2] == head.input[2]
    assert not [n for n in model.graph.node if n.op_type == "Add" and name != "gpt2"]  # Qwen2's q/k/v bias inside MatMulNBits
    for node in quantized:
        attributes = {a.name: a for a in node.attribute}
        assert attributes["accuracy_level"].i == 4 and attributes["block_size"].i == 32 and attributes["bits"].i == 4
        attributes["accuracy_level"].i = 0
    level0 = folder / "onnx" / "model_q4_level0.onnx"  # beside the original, so its weights file is found
    onnx.save(model, str(level0))
    expected = golden(name)["int4_logits"]
    try:
        exact = rows(runner, folder, name, "q4", level0)
    finally:
        level0.unlink()
    assert np.abs(exact - expected).max() <= BOUND, f"{name}: {np.abs(exact - expected).max():.2e}"
    fast = rows(runner, folder, name, "q4")
    assert np.abs(fast - expected).max() <= 0.1 * np.abs(expected).max()


@pytest.mark.parametrize("name", [n for n in MODELS if VARIANT.get(n, "int4") == "int4"])
def test_the_int4_variant_is_offered_and_generates_through_the_plugin(name, imported, runner):
    generator = LMLoader().load(imported[name][0])
    assert list(generator.model.variants) == ["fp32", "q4"]
    assert {"fp32", "q4"} <= set(generator.param("variant").choices)
    result = run(runner, generator, {"prompt": MANIFEST["prompt"], "max_new_tokens": 6, "temperature": 0.0, "variant": "q4"})
    assert result.info["variant"] == "q4" and result.info["new_tokens"] > 0


def test_the_int8_variant_runs_through_the_plugin(imported, runner):
    folder = imported["mistral"][0]
    generator = LMLoader().load(folder)
    assert list(generator.model.variants) == ["fp32", "int8"]
    got = rows(runner, folder, "mistral", "int8")
    for a, b in zip(got, golden("mistral")["logits"]):
        assert np.corrcoef(a, b)[0, 1] > 0.9
    result = run(runner, generator, {"prompt": MANIFEST["prompt"], "max_new_tokens": 4, "temperature": 0.0, "variant": "int8"})
    assert result.info["variant"] == "int8" and result.info["new_tokens"] > 0


def _folder(tmp_path: Path, config: dict, weights: str | None = "model.safetensors") -> Path:
    folder = tmp_path / "source"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    if weights:
        (folder / weights).write_bytes((FIXTURES / "llama" / "model.safetensors").read_bytes() if weights.endswith(".safetensors") else b"\x80\x02}q\x00.")
    return folder


def refused(tmp_path: Path, folder: Path) -> str:
    code, lines, err = finish(convert(folder, tmp_path / "out"))
    assert code == 2, f"exit {code}: {lines} {err[-2000:]}"
    return lines[-1]["error"]


def test_an_unknown_architecture_is_refused_by_name_with_the_supported_list(tmp_path):
    message = refused(tmp_path, _folder(tmp_path, {"model_type": "mamba", "architectures": ["MambaForCausalLM"]}))
    assert "'mamba'" in message
    for name in ("GPT-2", "Llama", "Mistral", "Qwen2", "Phi-3"):
        assert name in message


def test_pickled_weights_are_refused_and_safetensors_suggested(tmp_path):
    config = json.loads((FIXTURES / "llama" / "config.json").read_text())
    message = refused(tmp_path, _folder(tmp_path, config, "pytorch_model.bin"))
    assert "pytorch_model.bin" in message and "safetensors" in message


def test_weights_that_do_not_match_the_config_are_named(tmp_path):
    config = json.loads((FIXTURES / "llama" / "config.json").read_text())
    config["hidden_size"] = 96  # the weights are 64 wide
    message = refused(tmp_path, _folder(tmp_path, config))
    assert "model.embed_tokens.weight" in message and "(512, 64)" in message


def test_a_rotary_scaling_that_changes_with_the_length_is_refused(tmp_path):
    config = json.loads((FIXTURES / "phi3" / "config.json").read_text())
    config["rope_parameters"] = {"rope_type": "longrope", "short_factor": [1.0] * 8, "long_factor": [2.0] * 8, "rope_theta": 10000.0}
    message = refused(tmp_path, _folder(tmp_path, config))
    assert "LongRoPE" in message


def test_the_app_recognises_exactly_the_architectures_the_converter_writes():
    """import_source.py (the app, no torch) keeps its own list; the converter's is read in a child."""
    from studio.core.models.import_source import SUPPORTED_LM_TYPES

    child = subprocess.run([sys.executable, "-c", "import json; from studio.convert.lm import SUPPORTED_MODEL_TYPES as t; print(json.dumps(list(t)))"],
                           capture_output=True, text=True, cwd=REPO, timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    assert sorted(json.loads(child.stdout)) == sorted(SUPPORTED_LM_TYPES)


def test_sharded_weights_are_read_through_their_index():
    index = json.loads((FIXTURES / "phi3" / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1  # the Phi-3 fixture is sharded: its parity tests read every shard
