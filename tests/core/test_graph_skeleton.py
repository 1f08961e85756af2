"""Reading a graph's nodes without its weights: the app's memory does not pay for a model's size."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from studio.core.models.graph_device import device_only_ops
from studio.core.models.graph_skeleton import model_without_weights


def graph_with_inline_weights(path, with_branch=False):
    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"]),
             helper.make_node("GroupNorm", ["y", "w", "w"], ["z"], domain="com.microsoft", activation=0,
                              epsilon=1e-5, groups=1)]
    if with_branch:
        branch = helper.make_graph([helper.make_node("BiasSplitGelu", ["z", "w"], ["b"], domain="com.microsoft")],
                                   "branch", [], [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)])
        nodes.append(helper.make_node("If", ["cond"], ["out"], then_branch=branch, else_branch=branch))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 512])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], initializer=[weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_the_skeleton_keeps_every_node_and_drops_the_weights(tmp_path):
    path = graph_with_inline_weights(tmp_path / "model.onnx", with_branch=True)
    skeleton = model_without_weights(path)
    assert path.stat().st_size > 1_000_000 and len(skeleton) < 2_000  # 1 MB of weights not copied
    model, full = onnx.ModelProto.FromString(skeleton), onnx.load(str(path))
    assert [n.op_type for n in model.graph.node] == [n.op_type for n in full.graph.node]
    assert len(model.graph.initializer) == 0 and model.opset_import == full.opset_import
    assert model.graph.node[2].attribute[0].g.node[0].op_type == "BiasSplitGelu"


def test_device_only_ops_are_read_from_the_skeleton(tmp_path):
    path = graph_with_inline_weights(tmp_path / "model.onnx", with_branch=True)
    assert set(device_only_ops(path)) == {"GroupNorm", "BiasSplitGelu"}


def test_a_damaged_file_is_not_a_graph(tmp_path):
    path = graph_with_inline_weights(tmp_path / "model.onnx")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert device_only_ops(path) == ()
    (tmp_path / "empty.onnx").write_bytes(b"")
    assert device_only_ops(tmp_path / "empty.onnx") == ()
