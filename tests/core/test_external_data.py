"""Models whose weights live in a separate file (as every large UNet export does)."""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from studio.core.engine.runtime import Runtime
from studio.errors import ModelError


def write_model(folder, location="weights.bin"):
    folder.mkdir(parents=True, exist_ok=True)
    weight = numpy_helper.from_array(np.full((64, 64), 0.5, np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save_model(model, folder / "model.onnx", save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    if location != "weights.bin":  # point it elsewhere, as a hostile or broken export might
        proto = onnx.load(folder / "model.onnx", load_external_data=False)
        for tensor in proto.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = location
        (folder / "model.onnx").write_bytes(proto.SerializeToString())
    return folder / "model.onnx"


def test_external_weights_beside_the_model_load(tmp_path):
    loaded = Runtime().session(write_model(tmp_path / "m"))
    (y,) = loaded.session.run(None, {"x": np.ones((1, 64), np.float32)})
    assert np.allclose(y, 32.0)


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd"])
def test_weights_outside_the_folder_are_refused(tmp_path, location):
    path = write_model(tmp_path / "m", location)
    shutil.copy(tmp_path / "m" / "weights.bin", tmp_path / "outside.bin")
    # Studio's own check, before onnxruntime sees the file (model_safety; more in test_model_safety).
    with pytest.raises(ModelError, match="points at weights outside its folder.*refused this model before loading it"):
        Runtime().session(path)


def test_missing_and_truncated_weights_are_named(tmp_path):
    path = write_model(tmp_path / "m")
    data = (tmp_path / "m" / "weights.bin").read_bytes()
    (tmp_path / "m" / "weights.bin").write_bytes(data[:100])
    with pytest.raises(ModelError, match="truncated .*the file has 100"):
        Runtime().session(path)
    (tmp_path / "m" / "weights.bin").unlink()
    with pytest.raises(ModelError, match="weights.bin that model.onnx needs is missing from"):
        Runtime().session(path)
