"""The names of an ONNX graph's inputs and outputs (and their types and shapes), read without
its weights or a session.

A model folder's layout sometimes says less than its graphs do: OnnxStack puts a UNet that takes
ControlNet residuals in ``controlnet/``, where Studio's own layout has the ControlNet itself.
Reading the names (the protobuf fields walked in the memory-mapped file, its weights skipped,
no ``onnx`` import) tells them apart when the folder is read, before any session is made. Answers are kept per file version.
"""

from __future__ import annotations

import functools
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from studio.core.engine.protobuf_wire import LENGTH_DELIMITED, VARINT, WireError, varint, wire_fields
from studio.errors import ModelError

MODEL_GRAPH, GRAPH_INPUT, GRAPH_OUTPUT, VALUE_NAME = 7, 11, 12, 1  # ModelProto.graph, GraphProto.input/output, ValueInfoProto.name
GRAPH_INITIALIZER, TENSOR_NAME = 5, 8  # GraphProto.initializer, TensorProto.name
VALUE_TYPE, TYPE_TENSOR, TENSOR_ELEM, TENSOR_SHAPE, SHAPE_DIM, DIM_VALUE, DIM_PARAM = 2, 1, 1, 2, 1, 1, 2
#: ONNX's element types by number, as onnxruntime names them.
ELEMENT_TYPES = {1: "float", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "double"}


@dataclass(frozen=True)
class GraphIO:
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: its name, element type (``float``, ``int64``...; ``""``
    when unknown) and shape, each dimension a number, a name (``"batch"``) or None."""

    name: str
    type: str
    shape: tuple[int | str | None, ...] | None

    def described(self) -> str:
        dims = "?" if self.shape is None else "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"
        return f"{self.name!r} ({self.type or 'unknown type'} {dims})"


@dataclass(frozen=True)
class GraphSignature:
    """A graph's real inputs (weights listed as inputs by old exports left out) and outputs."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


def graph_signature(path: str | os.PathLike[str]) -> GraphSignature:
    """The inputs and outputs of the graph at ``path`` with their types and shapes, weights never
    read; a ``ModelError`` naming the file when it is not an ONNX graph."""
    return _read(*_version(path), _signature)


def _signature(data: memoryview) -> GraphSignature:
    inputs: list[TensorSpec] = []
    outputs: list[TensorSpec] = []
    weights: set[str] = set()
    for number, wire, _, payload, end in wire_fields(data, 0, len(data)):
        if number != MODEL_GRAPH or wire != LENGTH_DELIMITED:
            continue
        for field, kind, _, start, stop in wire_fields(data, payload, end):
            if kind != LENGTH_DELIMITED:
                continue
            if field in (GRAPH_INPUT, GRAPH_OUTPUT):
                (inputs if field == GRAPH_INPUT else outputs).append(_tensor_spec(data, start, stop))
            elif field == GRAPH_INITIALIZER:
                weights.update(_text(data, a, b) for n, k, _, a, b in wire_fields(data, start, stop) if n == TENSOR_NAME and k == LENGTH_DELIMITED)
    if not inputs and not outputs:
        raise WireError("no graph inputs or outputs")
    return GraphSignature(tuple(spec for spec in inputs if spec.name not in weights), tuple(outputs))


def _tensor_spec(data: memoryview, start: int, stop: int) -> TensorSpec:
    name, element, shape = "", "", None
    for n, k, _, a, b in wire_fields(data, start, stop):
        if n == VALUE_NAME and k == LENGTH_DELIMITED:
            name = _text(data, a, b)
        elif n == VALUE_TYPE and k == LENGTH_DELIMITED:
            for tn, tk, _, ta, tb in wire_fields(data, a, b):
                if tn != TYPE_TENSOR or tk != LENGTH_DELIMITED:
                    continue
                for fn, fk, _, fa, fb in wire_fields(data, ta, tb):
                    if fn == TENSOR_ELEM and fk == VARINT:
                        element = ELEMENT_TYPES.get(varint(data, fa, fb)[0], "other")
                    elif fn == TENSOR_SHAPE and fk == LENGTH_DELIMITED:
                        shape = tuple(_dimension(data, da, db) for dn, dk, _, da, db in wire_fields(data, fa, fb) if dn == SHAPE_DIM and dk == LENGTH_DELIMITED)
    return TensorSpec(name, element, shape)


def _dimension(data: memoryview, start: int, stop: int) -> int | str | None:
    for n, k, _, a, b in wire_fields(data, start, stop):
        if n == DIM_VALUE and k == VARINT:
            return varint(data, a, b)[0]
        if n == DIM_PARAM and k == LENGTH_DELIMITED:
            return _text(data, a, b)
    return None


def _text(data: memoryview, start: int, stop: int) -> str:
    return bytes(data[start:stop]).decode("utf-8", "replace")


def graph_io(path: str | os.PathLike[str]) -> GraphIO:
    """The input names (an old export's may also name its weights) and output names of the
    graph at ``path``; a ``ModelError`` naming the file when it is not an ONNX graph."""
    return _read(*_version(path), _names)


def _version(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    """The file and its version (modification time, size): answers are kept per version."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ModelError(f"{path} cannot be read: {exc.strerror or exc}") from None
    return str(path), stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=128)
def _read(path: str, mtime_ns: int, size: int, parse: Callable[[memoryview], Any]) -> Any:
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            data = memoryview(mapped)
            try:
                return parse(data)
            finally:
                data.release()
    except (OSError, ValueError, WireError):  # ValueError: mmap of an empty file
        raise ModelError(f"{path} is not an ONNX graph Studio can read (damaged or another format)") from None


def _names(data: memoryview) -> GraphIO:
    """ModelProto.graph -> GraphProto.input / .output -> ValueInfoProto.name, weights never read."""
    inputs: list[str] = []
    outputs: list[str] = []
    for number, wire, _, payload, end in wire_fields(data, 0, len(data)):
        if number != MODEL_GRAPH or wire != LENGTH_DELIMITED:
            continue
        for field, kind, _, start, stop in wire_fields(data, payload, end):
            if field in (GRAPH_INPUT, GRAPH_OUTPUT) and kind == LENGTH_DELIMITED:
                name = next((bytes(data[a:b]) for n, k, _, a, b in wire_fields(data, start, stop) if n == VALUE_NAME and k == LENGTH_DELIMITED), b"")
                (inputs if field == GRAPH_INPUT else outputs).append(name.decode("utf-8", "replace"))
    if not inputs and not outputs:
        raise WireError("no graph inputs or outputs")
    return GraphIO(tuple(inputs), tuple(outputs))
