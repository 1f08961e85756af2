"""A small ONNX graph writer: nodes with unique names, weights streamed to one external-data file.

Each weight is appended to ``<model>.onnx_data`` as soon as it is made (aligned, so onnxruntime
can map it) and the graph keeps only its place in the file: a model larger than protobuf's 2 GB
limit is written without ever being held whole in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

MS = "com.microsoft"
OPSET = 21
ALIGN = 4096  # external weights start at page boundaries (onnxruntime maps them)
INLINE = 1024  # smaller weights stay in the graph itself


class Graph:
    def __init__(self, data_path: Path) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self.data_path = data_path
        self._data = open(data_path, "wb")
        self._offset = 0
        self._names: set[str] = set()

    def close(self) -> None:
        self._data.close()

    def weight(self, name: str, array: np.ndarray) -> str:
        """An initializer holding ``array`` (kept in the data file unless tiny); its name."""
        from onnx import TensorProto, numpy_helper

        array = np.ascontiguousarray(array)
        if array.nbytes < INLINE:
            self.initializers.append(numpy_helper.from_array(array, name))
            return name
        tensor = TensorProto()
        tensor.name = name
        tensor.data_type = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64}[array.dtype]
        tensor.dims.extend(array.shape)
        padding = -self._offset % ALIGN
        self._data.write(b"\0" * padding)
        self._offset += padding
        self._data.write(array.tobytes())
        for key, value in (("location", self.data_path.name), ("offset", str(self._offset)), ("length", str(array.nbytes))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        tensor.data_location = TensorProto.EXTERNAL
        self._offset += array.nbytes
        self.initializers.append(tensor)
        return name

    def constant(self, name: str, values: list[int], scalar: bool = False) -> str:
        from onnx import TensorProto, helper

        self.initializers.append(helper.make_tensor(name, TensorProto.INT64, [] if scalar else [len(values)], values))
        return name

    def node(self, op: str, inputs: list[str], name: str, outputs: int | list[str] = 1, domain: str = "", **attributes) -> list[str]:
        """Add a node; its output names (``name/output_i`` unless given)."""
        from onnx import helper

        assert name not in self._names, name
        self._names.add(name)
        names = outputs if isinstance(outputs, list) else [f"{name}/output_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, names, name=name, domain=domain or None, **attributes))
        return names

    def input(self, name: str, elem_type: int, shape: list[Any]) -> str:
        from onnx import helper

        self.inputs.append(helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def output(self, name: str, elem_type: int, shape: list[Any]) -> None:
        from onnx import helper

        self.outputs.append(helper.make_tensor_value_info(name, elem_type, shape))

    def save(self, path: Path, producer: str) -> None:
        import onnx
        from onnx import helper

        self.close()
        graph = helper.make_graph(self.nodes, "main_graph", self.inputs, self.outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS, 1)],
                                  producer_name=producer)
        model.ir_version = 10
        onnx.save_model(model, str(path))
