"""The names of an ONNX graph's inputs and outputs, read without its weights or a session.

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

from studio.core.engine.protobuf_wire import LENGTH_DELIMITED, WireError, wire_fields
from studio.errors import ModelError

MODEL_GRAPH, GRAPH_INPUT, GRAPH_OUTPUT, VALUE_NAME = 7, 11, 12, 1  # ModelProto.graph, GraphProto.input/output, ValueInfoProto.name


@dataclass(frozen=True)
class GraphIO:
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def graph_io(path: str | os.PathLike[str]) -> GraphIO:
    """The input names (an old export's may also name its weights) and output names of the
    graph at ``path``; a ``ModelError`` naming the file when it is not an ONNX graph."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ModelError(f"{path} cannot be read: {exc.strerror or exc}") from None
    return _read(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _read(path: str, mtime_ns: int, size: int) -> GraphIO:
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            data = memoryview(mapped)
            try:
                return _names(data)
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
