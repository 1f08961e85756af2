"""An ONNX file's graph without its weights, read from the protobuf wire format.

``onnx.load(path, load_external_data=False)`` still parses the weights a graph holds inside the
file: a text encoder exported with its 0.5 GB of weights inline raised the app's memory by 0.9 GB
just to learn its node types. The weights are the graph's ``initializer`` and
``sparse_initializer`` fields; this module walks the file's fields (memory-mapped, so skipping a
field reads none of its bytes) and gives ``onnx`` a copy of the model without them. Nodes,
functions, opsets and nested graphs (If/Loop branches) stay as they are.
"""

from __future__ import annotations

import mmap
from pathlib import Path

from studio.core.engine.protobuf_wire import LENGTH_DELIMITED, WireError, encode_varint, wire_fields

MODEL_GRAPH = 7  # ModelProto.graph
GRAPH_WEIGHTS = (5, 15)  # GraphProto.initializer, GraphProto.sparse_initializer


def _without(data: memoryview, dropped: tuple[int, ...]) -> bytes:
    return b"".join(bytes(data[start:end]) for number, _, start, _, end in wire_fields(data, 0, len(data)) if number not in dropped)


def model_without_weights(path: str | Path) -> bytes:
    """The bytes of the ONNX model at ``path`` with its graph's initializers left out."""
    with open(path, "rb") as handle:
        if Path(path).stat().st_size == 0:
            raise WireError("the file is empty")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            data = memoryview(mapped)
            try:
                parts = []
                for number, wire, start, payload, end in wire_fields(data, 0, len(data)):
                    if number == MODEL_GRAPH and wire == LENGTH_DELIMITED:
                        graph = _without(data[payload:end], GRAPH_WEIGHTS)
                        parts.append(bytes(data[start:start + 1]) + encode_varint(len(graph)) + graph)
                    else:
                        parts.append(bytes(data[start:end]))
                return b"".join(parts)
            finally:
                data.release()
