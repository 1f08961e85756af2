"""A graph's input and output names, read from the file without onnx or its weights."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from studio.core.models.graph_io import ELEMENT_TYPES, graph_io, graph_signature
from studio.errors import ModelError

SD = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models"


@pytest.mark.parametrize("graph", ["sd1/unet/model.onnx", "sd1_controlnet/controlnet/model.onnx", "sdxl/text_encoder_2/model.onnx"])
def test_names_are_the_graphs_own(graph):
    model = onnx.load(str(SD / graph), load_external_data=False)
    io = graph_io(SD / graph)
    assert io.inputs == tuple(i.name for i in model.graph.input) and io.outputs == tuple(o.name for o in model.graph.output)


@pytest.mark.parametrize("content", [b"", b"not a graph at all \xff\xfe", b"\x3a\xff\xff\xff\xff\x0f"])
def test_a_file_that_is_no_graph_is_a_plain_model_error(tmp_path, content):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    for read in (graph_io, graph_signature):
        with pytest.raises(ModelError, match="is not an ONNX graph Studio can read"):
            read(path)
        with pytest.raises(ModelError, match="cannot be read"):
            read(tmp_path / "missing.onnx")


def _dims(value_info) -> tuple:
    shape = value_info.type.tensor_type.shape
    return tuple(d.dim_value if d.HasField("dim_value") else d.dim_param if d.HasField("dim_param") else None for d in shape.dim)


@pytest.mark.parametrize("graph", ["sd1/unet/model.onnx", "sdxl/text_encoder_2/model.onnx"])
def test_types_and_shapes_are_the_graphs_own(graph):
    model = onnx.load(str(SD / graph), load_external_data=False)
    signature = graph_signature(SD / graph)
    weights = {w.name for w in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    assert [s.name for s in signature.inputs] == [i.name for i in inputs]
    assert [s.type for s in signature.inputs] == [ELEMENT_TYPES[i.type.tensor_type.elem_type] for i in inputs]
    assert [s.shape for s in signature.inputs] == [_dims(i) for i in inputs]
    assert [s.shape for s in signature.outputs] == [_dims(o) for o in model.graph.output]


def test_weights_an_old_export_lists_as_inputs_are_left_out(tmp_path):
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np

    weight = numpy_helper.from_array(np.ones((2, 2), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2]), helper.make_tensor_value_info("w", TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])], [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "old.onnx")
    signature = graph_signature(tmp_path / "old.onnx")
    assert [s.name for s in signature.inputs] == ["x"] and signature.inputs[0].shape == ("batch", 2)
    assert signature.inputs[0].described() == "'x' (float [batch, 2])"
    assert graph_io(tmp_path / "old.onnx").inputs == ("x", "w")
