"""A graph's input and output names, read from the file without onnx or its weights."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from studio.core.models.graph_io import graph_io
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
    with pytest.raises(ModelError, match="is not an ONNX graph Studio can read"):
        graph_io(path)
    with pytest.raises(ModelError, match="cannot be read"):
        graph_io(tmp_path / "missing.onnx")
