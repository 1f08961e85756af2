"""Every variant layout the public exports ship, as the real tools made it (tests/fixtures/lm,
build_variants.py): an onnx-community folder with eight variants and onnxruntime-genai builder
folders without config.json. Each loads the way ``studio models add`` loads it, lists its
variants, and decodes like its reference: transformers for fp32 and fp16 files, a plain
onnxruntime loop on the same file for quantized ones.

That loop (build_variants.onnx_rows: onnxruntime alone, no Studio code) runs here, on the
machine under test, not from a file: onnxruntime's 8-bit, 4-bit and fp16 kernels round
differently by instruction set (AVX2, AVX-512 VNNI...), by up to 1.2 in an int8 logit on the
tiny random model, so logits written on one CPU are not another's reference. The goldens
under goldens/variants/ give the prompts and the tokens fed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio.host import Host
from studio_plugins.text_lm.generator import LMLoader
from studio_plugins.text_lm.pipeline import Decoder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lm"
_spec = importlib.util.spec_from_file_location("lm_build_variants", FIXTURES / "build_variants.py")
build_variants = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_variants)  # the reference loop; torch is imported only by its other stages
MODELS = FIXTURES / "models"
COMMUNITY = MODELS / "llama-variants"
GENAI_INT4 = MODELS / "llama-genai-int4"
GENAI_FP32 = MODELS / "llama-genai-fp32"
MANIFEST = json.loads((FIXTURES / "goldens" / "manifest.json").read_text())
TRANSFORMERS = {c["name"]: c for c in MANIFEST["cases"] if c["model"] == "llama"}
OWN = json.loads((FIXTURES / "goldens" / "variants" / "manifest.json").read_text())["cases"]
ALL = ("fp32", "fp16", "q4", "q4f16", "int8", "uint8", "quantized", "bnb4")

# (folder, variant, golden npz, bound): fp32 files hold to transformers as the plain export
# does; fp16 rounds every activation (measured 6.6e-2 at worst); quantized files hold to
# onnxruntime's own loop on the same file, which differs from ours only in how it is fed.
CASES = (
    [(COMMUNITY, "fp32", f"llama-{case}.npz", 1e-4) for case in ("short", "verse")]
    + [(COMMUNITY, "fp16", f"llama-{case}.npz", 0.1) for case in ("short", "verse")]
    + [(GENAI_FP32, "fp32", f"llama-{case}.npz", 1e-4) for case in ("short", "verse")]
    + [(COMMUNITY, c["variant"], f"variants/{c['npz']}", 1e-4) for c in OWN if not c["variant"].startswith("genai")]
    + [(GENAI_INT4, "q4", f"variants/{c['npz']}", 1e-4) for c in OWN if c["variant"] == "genai-int4"]
)


class StepThrough(studio.Generator):
    """Feeds the prompt, then the golden tokens, recording every logits row."""

    id, kind = "lm-variant-parity", "text"

    def __init__(self, generator, variant: str, prompt: list[int], tokens: list[int]) -> None:
        self.generator, self.variant, self.prompt, self.tokens = generator, variant, prompt, tokens

    def generate(self, request, ctx):
        model = self.generator.model
        decoder = Decoder(model, ctx.session(model.variants[self.variant].files[0]), ctx.device)
        rows = [decoder.step(ctx, list(self.prompt))]
        for token in self.tokens:
            rows.append(decoder.step(ctx, [token]))
        yield studio.Result("text", "", self.id, {}, info={"rows": np.stack(rows)})


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


def test_every_variant_of_an_onnx_community_folder_is_listed_and_offered():
    generator = LMLoader().load(COMMUNITY)
    assert list(generator.model.variants) == list(ALL)
    assert generator.model_folder == COMMUNITY
    choices = generator.param("variant").choices
    assert choices[0] == "auto" and set(ALL) <= set(choices) and "int4" in choices
    # The plain export keeps its weights in model.onnx_data: its size counts them.
    fp32 = generator.model.variants["fp32"]
    assert fp32.size == sum((COMMUNITY / "onnx" / n).stat().st_size for n in ("model.onnx", "model.onnx_data"))


def test_a_genai_builder_folder_loads_without_config_json():
    assert not (GENAI_INT4 / "config.json").exists()
    generator = LMLoader().load(GENAI_INT4)
    model = generator.model
    assert list(model.variants) == ["q4"]
    assert model.variants["q4"].files[0].name == "llama-cpu-int4-rtn-block-32-acc-level-4.onnx"
    assert model.context_length == 128 and model.vocab_size == 512
    assert model.attention_shape() == (4, 2, 16)
    assert model.eos_ids(None) == {2}
    assert generator.param("top_k").default == 50  # the builder's search defaults
    assert model.chat_template and "[INST]" in model.chat_template  # chat_template.jinja, as transformers 5 writes it


@pytest.mark.parametrize("folder, variant, golden, bound", CASES, ids=lambda v: v.name if isinstance(v, Path) else str(v))
def test_each_variant_matches_its_reference(folder, variant, golden, bound, runner):
    data = np.load(FIXTURES / "goldens" / golden)
    generator = LMLoader().load(folder)
    prompt, tokens = data["input_ids"].tolist(), data["greedy_tokens"].tolist()
    rows = run(runner, StepThrough(generator, variant, prompt, tokens)).info["rows"]
    if golden.startswith("variants/"):  # a quantized file: onnxruntime's own loop on it, on this CPU
        reference, _ = build_variants.onnx_rows(generator.model.variants[variant].files[0], prompt, len(tokens), tokens)
        tokens = reference[:-1].argmax(axis=1).tolist()
    else:  # transformers' logits (float32 and fp16 files)
        reference = data["logits"]
    difference = np.abs(rows - reference).max()
    assert difference <= bound, f"{folder.name} {variant}: max abs logits difference {difference:.2e} > {bound}"
    assert rows[:-1].argmax(axis=1).tolist() == tokens


# uint8 runs from its fused copy (the fast path; no 4-bit accuracy level to raise): the same tokens.
@pytest.mark.parametrize("folder, variant, golden", [(COMMUNITY, "uint8", "variants/uint8-verse.npz"), (COMMUNITY, "fp16", "llama-verse.npz"),
                                                     (GENAI_INT4, "auto", "variants/genai-int4-verse.npz")])
def test_greedy_generation_on_a_variant_writes_its_reference_tokens_and_says_which_ran(folder, variant, golden, runner):
    data = np.load(FIXTURES / "goldens" / golden)
    generator = LMLoader().load(folder)
    result = run(runner, generator, {"prompt": TRANSFORMERS["llama-verse"]["prompt"], "max_new_tokens": 20,
                                     "temperature": 0.0, "repetition_penalty": 1.0, "seed": 1, "variant": variant})
    tokens = data["greedy_tokens"].tolist()
    if golden.startswith("variants/"):  # a quantized file: its own greedy chain, on this CPU
        ran = result.info["variant"]
        tokens = build_variants.onnx_rows(generator.model.variants[ran].files[0], data["input_ids"].tolist(), len(tokens))[1].tolist()
    expected = tokens[: next((i for i, t in enumerate(tokens) if t == 2), len(tokens))]
    assert result.value == generator.tokenizer().decode(expected)
    assert result.info["variant"] == ("q4" if variant == "auto" else variant)


def test_auto_takes_the_users_default_then_the_preferred_variant(runner, studio_home):
    from studio.core.models.variant_defaults import set_default_variant

    generator = LMLoader().load(COMMUNITY)
    values = {"prompt": "To be", "max_new_tokens": 3, "temperature": 0.0}
    assert run(runner, generator, values).info["variant"] == "q4"  # the CPU's first choice
    set_default_variant(COMMUNITY, "cpu", "uint8")
    assert run(runner, generator, values).info["variant"] == "uint8"


def test_a_folder_with_only_model_q4_loads(tmp_path, runner):
    folder = tmp_path / "q4-only"
    (folder / "onnx").mkdir(parents=True)
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((COMMUNITY / name).read_bytes())
    (folder / "onnx" / "model_q4.onnx").write_bytes((COMMUNITY / "onnx" / "model_q4.onnx").read_bytes())
    generator = LMLoader().load(folder)
    assert list(generator.model.variants) == ["q4"]
    assert "int4" not in generator.param("variant").choices  # nothing full-precision to make it from
    result = run(runner, generator, {"prompt": "To be", "max_new_tokens": 4, "temperature": 0.0})
    assert result.info["variant"] == "q4" and result.info["new_tokens"] > 0


def test_studio_models_add_takes_each_layout(studio_home):
    host = Host()
    try:
        for folder in (COMMUNITY, GENAI_INT4, GENAI_FP32):
            entry = host.add_model_folder(str(folder))
            assert entry.ok and entry.generator.kind == "text", entry.error
        assert list(host.generator("lm:llama-genai-fp32").model.variants) == ["fp32"]
    finally:
        host.shutdown()


def test_int4_made_here_runs_once_per_model_and_says_so(studio_home, runner):
    import onnx

    generator = LMLoader().load(MODELS / "llama")
    assert "int4" in generator.param("variant").choices and "int8" in generator.param("variant").choices
    values = {"prompt": "To be", "max_new_tokens": 8, "temperature": 0.0, "variant": "int4"}
    result = run(runner, generator, values)
    assert result.info["variant"] == "int4" and result.info["new_tokens"] > 0
    made = list((studio_home / "cache" / "int4").glob("*/model.onnx"))
    assert len(made) == 1
    graph = onnx.load(str(made[0])).graph
    nodes = [n for n in graph.node if n.op_type == "MatMulNBits"]
    assert nodes and all({a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}["accuracy_level"] == 4 for n in nodes)
    # As onnxruntime-genai's builder writes it: attention, rotary and norms fused, no shape plumbing left.
    ops = {n.op_type for n in graph.node}
    assert {"GroupQueryAttention", "SkipSimplifiedLayerNormalization"} <= ops and not ops & {"Softmax", "Expand", "Range"}
    assert len(nodes) == 2 * 5 + 1  # per layer: q, k and v packed into one, o, gate, up, down; and the head
    assert "GatherBlockQuantized" in ops  # the token embedding in 4 bits too
    assert made[0].stat().st_size < (MODELS / "llama" / "onnx" / "model.onnx").stat().st_size / 3
    stamp = made[0].stat().st_mtime_ns
    assert run(runner, generator, values).value == result.value
    assert made[0].stat().st_mtime_ns == stamp  # made once


def test_saved_weights_values_still_load():
    generator = LMLoader().load(MODELS / "llama")
    assert generator.request({"weights": "int8"})["variant"] == "int8"
    assert generator.request({"weights": "as exported"})["variant"] == "fp32"
    from studio.core.project.reuse import fit_parameters

    assert fit_parameters({"weights": "int8", "prompt": "x"}, generator.params)["variant"] == "int8"


def test_a_genai_config_naming_a_missing_file_is_explained(tmp_path):
    folder = tmp_path / "genai"
    folder.mkdir()
    for path in GENAI_INT4.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    config = json.loads((folder / "genai_config.json").read_text())
    config["model"]["decoder"]["filename"] = "missing.onnx"
    (folder / "genai_config.json").write_text(json.dumps(config))
    with pytest.raises(studio.ModelError, match="genai_config.json names missing.onnx"):
        LMLoader().load(folder)


def test_a_damaged_variant_file_fails_plainly_and_the_others_still_run(tmp_path, runner, studio_home):
    folder = tmp_path / "damaged"
    (folder / "onnx").mkdir(parents=True)
    for path in COMMUNITY.rglob("*"):
        if path.is_file():
            (folder / path.relative_to(COMMUNITY)).write_bytes(path.read_bytes())
    data = (folder / "onnx" / "model_q4.onnx").read_bytes()
    (folder / "onnx" / "model_q4.onnx").write_bytes(data[: len(data) // 3])
    generator = LMLoader().load(folder)
    job = runner.submit(generator, generator.request({"prompt": "To be", "variant": "q4", "max_new_tokens": 2}))
    assert job.wait(120) and job.state is JobState.FAILED
    assert "model_q4.onnx" in job.message and not job.internal_error
    assert run(runner, generator, {"prompt": "To be", "variant": "int8", "max_new_tokens": 2}).info["variant"] == "int8"
    host = Host()
    try:
        with pytest.raises(studio.StudioError, match="model_q4.onnx is damaged"):
            host.add_model_folder(str(folder))
    finally:
        host.shutdown()


def test_the_fused_graph_int4_is_made_from_still_matches_transformers(tmp_path, runner):
    """The rewrite (norms, rotary, GroupQueryAttention) before quantizing, held to transformers'
    goldens at the fp32 bound: fusing changes no logit beyond float noise."""
    from studio_plugins.text_lm.fusion import DecoderShape, fuse_decoder

    generator = LMLoader().load(MODELS / "llama")
    heads, kv_heads, head_dim = generator.model.attention_shape()
    fused, said = fuse_decoder(generator.model.model_file, tmp_path, DecoderShape(generator.model.names, heads, kv_heads, head_dim))
    assert said.endswith("attention fused (2 layers of GroupQueryAttention)"), said
    data = np.load(FIXTURES / "goldens" / "llama-verse.npz")

    class Fused(StepThrough):
        def generate(self, request, ctx):
            decoder = Decoder(self.generator.model, ctx.session(fused), ctx.device)
            rows = [decoder.step(ctx, list(self.prompt))] + [decoder.step(ctx, [t]) for t in self.tokens]
            yield studio.Result("text", "", self.id, {}, info={"rows": np.stack(rows)})

    rows = run(runner, Fused(generator, "fp32", data["input_ids"].tolist(), data["greedy_tokens"].tolist())).info["rows"]
    assert np.abs(rows - data["logits"]).max() <= 1e-4
    assert rows[:-1].argmax(axis=1).tolist() == data["greedy_tokens"].tolist()


@pytest.mark.parametrize("folder", [MODELS / "gpt2", GENAI_FP32], ids=["gpt2", "genai-fp32"])
def test_int4_of_a_graph_whose_attention_is_not_fused_still_runs(folder, studio_home, runner):
    generator = LMLoader().load(folder)
    result = run(runner, generator, {"prompt": "To be", "max_new_tokens": 6, "temperature": 0.0, "variant": "int4"})
    assert result.info["variant"] == "int4" and result.info["new_tokens"] > 0


def test_a_shipped_q4_runs_on_the_fast_path_on_the_cpu(studio_home, runner):
    """transformers.js's q4 leaves MatMulNBits' accuracy level unset (the float path): Studio runs
    it from a copy fused like int4 made here, at accuracy level 4, made once."""
    import onnx

    generator = LMLoader().load(COMMUNITY)
    values = {"prompt": TRANSFORMERS["llama-verse"]["prompt"], "max_new_tokens": 20, "temperature": 0.0, "variant": "q4"}
    result = run(runner, generator, values)
    assert result.info["variant"] == "q4" and result.info["copy_made_here"] and result.info["new_tokens"] > 0
    copies = list((studio_home / "cache" / "fast").glob("*/model.onnx"))
    assert len(copies) == 1
    graph = onnx.load(str(copies[0])).graph
    levels = [{a.name: a.i for a in n.attribute}.get("accuracy_level") for n in graph.node if n.op_type == "MatMulNBits"]
    assert levels and set(levels) == {4}
    assert "GroupQueryAttention" in {n.op_type for n in graph.node}
    # Its greedy text stays the file's own for as long as the float path's margins allow.
    tokens = np.load(FIXTURES / "goldens" / "variants" / "q4-verse.npz")["greedy_tokens"].tolist()
    assert generator.tokenizer().encode(result.value, special=False)[:3] == tokens[:3]
    assert run(runner, generator, values).value == result.value  # the copy is reused


def test_a_genai_int4_graph_runs_as_shipped():
    """Already fused, already at accuracy level 4: nothing to copy."""
    generator = LMLoader().load(GENAI_INT4)
    runner = JobRunner()
    try:
        result = run(runner, generator, {"prompt": "To be", "max_new_tokens": 3, "temperature": 0.0})
    finally:
        runner.shutdown()
    assert result.info["variant"] == "q4" and not result.info["copy_made_here"]


def _copy(source: Path, target: Path) -> Path:
    for path in source.rglob("*"):
        if path.is_file():
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (target / path.relative_to(source)).write_bytes(path.read_bytes())
    return target


@pytest.mark.parametrize("change, message", [
    (lambda config: "{not json", "genai_config.json is not readable JSON"),
    (lambda config: json.dumps({"search": {}}), "no 'model' section"),
    (lambda config: json.dumps({**config, "model": {**config["model"], "context_length": 10**15}}), "genai_config.json 'model': context_length must be a whole number"),
    (lambda config: json.dumps({**config, "model": {**config["model"], "decoder": {**config["model"]["decoder"], "filename": "../outside.onnx"}}}), "not a file in"),
], ids=["not-json", "no-model", "huge-context", "path-outside"])
def test_a_bad_genai_config_gets_a_plain_message(tmp_path, change, message):
    folder = _copy(GENAI_INT4, tmp_path / "genai")
    config = json.loads((folder / "genai_config.json").read_text())
    (folder / "genai_config.json").write_text(change(config))
    with pytest.raises(studio.ModelError, match=message):
        LMLoader().load(folder)


def test_a_variant_whose_external_data_is_missing_fails_plainly_and_the_others_run(tmp_path, runner, studio_home):
    folder = _copy(COMMUNITY, tmp_path / "no-fp16-data")
    (folder / "onnx" / "model_fp16.onnx_data").unlink()
    generator = LMLoader().load(folder)
    assert "fp16" in generator.model.variants  # listed: the graph is there
    job = runner.submit(generator, generator.request({"prompt": "To be", "variant": "fp16", "max_new_tokens": 2}))
    assert job.wait(120) and job.state is JobState.FAILED and not job.internal_error
    assert "model_fp16.onnx_data" in job.message and "missing" in job.message
    assert run(runner, generator, {"prompt": "To be", "variant": "fp32", "max_new_tokens": 2}).info["new_tokens"] > 0


def test_decoder_model_merged_variants_are_listed_and_run(tmp_path, runner, studio_home):
    """decoder_model_merged_int8.onnx made by onnxruntime's quantizer beside the merged file."""
    from studio.core.engine.onnx_import import import_onnxruntime

    quantization = import_onnxruntime("quantization")
    folder = _copy(MODELS / "gpt2-merged", tmp_path / "merged")
    quantization.quantize_dynamic(folder / "decoder_model_merged.onnx", folder / "decoder_model_merged_int8.onnx",
                                  weight_type=quantization.QuantType.QInt8)
    generator = LMLoader().load(folder)
    assert list(generator.model.variants) == ["fp32", "int8"]
    result = run(runner, generator, {"prompt": "To be", "variant": "int8", "max_new_tokens": 4, "temperature": 0.0})
    assert result.info["variant"] == "int8" and result.info["new_tokens"] > 0


def test_a_sliding_window_model_keeps_its_attention_as_exported(tmp_path, runner, studio_home):
    """A window shorter than the context cannot be checked on a short input: not rewritten."""
    import onnx

    folder = _copy(MODELS / "llama", tmp_path / "windowed")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "sliding_window": 16}))
    generator = LMLoader().load(folder)
    assert run(runner, generator, {"prompt": "To be", "max_new_tokens": 3, "variant": "int4"}).info["new_tokens"] > 0
    made = next((studio_home / "cache" / "int4").glob("*/model.onnx"))
    ops = {n.op_type for n in onnx.load(str(made)).graph.node}
    assert "GroupQueryAttention" not in ops and "MatMulNBits" in ops


def test_a_genai_int4_graph_under_the_builders_default_name_is_q4(tmp_path):
    """The builder names its output model.onnx whatever the precision: the graph says int4."""
    folder = _copy(GENAI_INT4, tmp_path / "default-name")
    (folder / "llama-cpu-int4-rtn-block-32-acc-level-4.onnx").rename(folder / "model.onnx")  # its data file keeps its name
    config = json.loads((folder / "genai_config.json").read_text())
    config["model"]["decoder"]["filename"] = "model.onnx"
    (folder / "genai_config.json").write_text(json.dumps(config))
    assert list(LMLoader().load(folder).model.variants) == ["q4"]
    assert list(LMLoader().load(GENAI_FP32).model.variants) == ["fp32"]


def test_a_graph_written_fused_is_used_as_it_is(tmp_path, caplog):
    """The genai builder's graph (and Studio's import, which writes the same): nothing to fuse, and no
    optimizer pass that only fails its shape inference on it."""
    from studio_plugins.text_lm.fusion import DecoderShape, fuse_decoder

    generator = LMLoader().load(GENAI_FP32)
    heads, kv_heads, head_dim = generator.model.attention_shape()
    with caplog.at_level("WARNING"):
        fused, said = fuse_decoder(generator.model.model_file, tmp_path,
                                   DecoderShape(generator.model.names, heads, kv_heads, head_dim))
    assert fused == generator.model.model_file and said == "fused as written (GroupQueryAttention)"
    assert list(tmp_path.iterdir()) == [] and not caplog.records
