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

MODEL_GRAPH = 7  # ModelProto.graph
GRAPH_WEIGHTS = (5, 15)  # GraphProto.initializer, GraphProto.sparse_initializer
LENGTH_DELIMITED, VARINT, FIXED64, FIXED32 = 2, 0, 1, 5


class WireError(ValueError):
    """The bytes are not a protobuf message."""


def _varint(data: memoryview, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise WireError("a number runs past the end")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _fields(data: memoryview):
    """(field number, wire type, start of the field's tag, end of the whole field, payload start)."""
    at = 0
    while at < len(data):
        start = at
        tag, at = _varint(data, at)
        number, wire = tag >> 3, tag & 7
        payload = at
        if wire == VARINT:
            _, at = _varint(data, at)
        elif wire == FIXED64:
            at += 8
        elif wire == FIXED32:
            at += 4
        elif wire == LENGTH_DELIMITED:
            length, payload = _varint(data, at)
            at = payload + length
        else:
            raise WireError(f"wire type {wire} is not one ONNX writes")
        if at > len(data):
            raise WireError("a field runs past the end")
        yield number, wire, start, at, payload


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _without(data: memoryview, dropped: tuple[int, ...]) -> bytes:
    return b"".join(bytes(data[start:end]) for number, _, start, end, _ in _fields(data) if number not in dropped)


def model_without_weights(path: str | Path) -> bytes:
    """The bytes of the ONNX model at ``path`` with its graph's initializers left out."""
    with open(path, "rb") as handle:
        if Path(path).stat().st_size == 0:
            raise WireError("the file is empty")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            data = memoryview(mapped)
            try:
                parts = []
                for number, wire, start, end, payload in _fields(data):
                    if number == MODEL_GRAPH and wire == LENGTH_DELIMITED:
                        graph = _without(data[payload:end], GRAPH_WEIGHTS)
                        parts.append(bytes(data[start:start + 1]) + _encode_varint(len(graph)) + graph)
                    else:
                        parts.append(bytes(data[start:end]))
                return b"".join(parts)
            finally:
                data.release()
