"""An lm_head tied to the token embedding, as optimum writes it when it deduplicates tied
weights (Qwen2.5, Llama 3.2...): ``MatMul(x, Transpose(model.embed_tokens.weight))``. The int4
and int8 copies Studio makes must quantize that MatMul like any other: it is the largest single
read of each token (0.55 GB in fp32 on a 0.5 B Qwen2), and a quantizer only touches a MatMul
whose weight is an initializer. Measured before the fix: Studio's int4 copy of such an export
read 777 MB a token against the genai builder's 317 MB.

Two folders are made from the tiny Llama fixture, computing the same function: in both the
token embedding becomes the lm_head's weight transposed (a tied model); "untied" keeps the
lm_head's own copy, "tied" reads the embedding through a Transpose node, as optimum's export
does. Their copies must write exactly the same text, and the tied one must keep no fp32 MatMul."""

from __future__ import annotations

import shutil
from pathlib import Path

import onnx
import pytest
from onnx import numpy_helper

from studio.core.base import paths
from studio.core.engine.jobs import JobRunner, JobState
from studio_plugins.text_lm.generator import LMLoader

LLAMA = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models" / "llama"


def tied_model(folder: Path, through_transpose: bool) -> None:
    """The embedding set to the lm_head's (hidden, vocab) weight transposed; with
    ``through_transpose`` the lm_head reads it through a Transpose node (optimum's tied export)."""
    path = folder / "onnx" / "model.onnx"
    model = onnx.load(str(path))
    head = next(n for n in model.graph.node if n.op_type == "MatMul" and "logits" in n.output)
    gather = next(n for n in model.graph.node if n.op_type == "Gather" and "embed_tokens" in n.name)
    weights = {i.name: i for i in model.graph.initializer}
    table = numpy_helper.to_array(weights[head.input[1]]).T.copy()
    weights[gather.input[0]].CopyFrom(numpy_helper.from_array(table, gather.input[0]))
    if through_transpose:
        model.graph.initializer.remove(weights[head.input[1]])
        model.graph.node.insert(list(model.graph.node).index(head), onnx.helper.make_node(
            "Transpose", [gather.input[0]], [gather.input[0] + "_transposed"], name="/lm_head/Transpose", perm=[1, 0]))
        head.input[1] = gather.input[0] + "_transposed"
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


def write(runner, generator, variant: str):
    values = {"prompt": "Shall I compare thee", "max_new_tokens": 12, "temperature": 0.0, "repetition_penalty": 1.0, "variant": variant}
    job = runner.submit(generator, generator.request(values))
    assert job.wait(120), "no answer"
    assert job.state is JobState.FINISHED, job.message
    return job.result


def made_copy(home: Path, kind: str, folder: Path) -> onnx.ModelProto:
    """The ``kind`` copy Studio made in its cache of ``folder``'s graph (made-from.txt says whose)."""
    source = str((folder / "onnx" / "model.onnx").resolve())
    (path,) = [p for p in (home / "cache" / kind).glob("*/model.onnx") if (p.parent / paths.MADE_FROM).read_text() == source]
    return onnx.load(str(path))


@pytest.mark.parametrize("kind, quantized_op", [("int4", "MatMulNBits"), ("int8", "MatMulInteger")])
def test_a_tied_lm_head_is_quantized_in_the_copies_made_here(kind, quantized_op, studio_home, tmp_path, runner):
    untied, tied = tmp_path / "llama-untied", tmp_path / "llama-tied"
    for folder in (untied, tied):
        shutil.copytree(LLAMA, folder)
        tied_model(folder, through_transpose=folder is tied)
    plain_text = write(runner, LMLoader().load(untied), kind).value
    result = write(runner, LMLoader().load(tied), kind)
    assert result.info["variant"] == kind
    assert result.value == plain_text, "the same weights, quantized the same way: the same text"
    graph = made_copy(studio_home, kind, tied).graph
    producers = {out: node for node in graph.node for out in node.output}
    float_weights = {i.name for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT and len(i.dims) == 2}
    left = [n.name for n in graph.node if n.op_type == "MatMul" and (n.input[1] in float_weights or n.input[1] in producers
                                                                      and producers[n.input[1]].op_type == "Transpose")]
    assert not left, f"MatMuls left in fp32 in the {kind} copy: {left}"
    assert not [n for n in graph.node if n.op_type == "Transpose" and "lm_head" in n.name]
    plain = made_copy(studio_home, kind, untied).graph
    count = lambda g: sum(n.op_type == quantized_op for n in g.node)  # noqa: E731
    assert count(graph) == count(plain), "the lm_head quantized as in the untied export"
