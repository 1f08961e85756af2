"""What Studio and its cluster gateway say to each other, and how it travels: plain data, never
pickle (Studio's run-time code never unpickles what a file or another process hands it:
``tests/core/test_model_safety.py``).

A message is a tuple of plain values: None, bool, int, float, str, bytes, lists, tuples, dicts,
paths, numpy arrays of plain dtypes, and the dataclasses named in ``_kinds``. On the wire it is a
JSON header followed by each array's raw bytes, read straight into a fresh array.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from pathlib import Path, PurePath
from typing import Any, BinaryIO

import numpy as np

from studio.errors import StudioError

MAX_HEADER = 256 * 1024 * 1024  # a prompt or a report, never near this: a broken stream is refused
MAX_ARRAYS = 4096
_PREFIX = struct.Struct("<QI")
_LENGTH = struct.Struct("<Q")


@dataclasses.dataclass(frozen=True)
class GeneratorRef:
    """What the gateway needs of a generator: its id, plugin and model folder."""

    id: str
    plugin_name: str = ""
    model_folder: str | None = None


@dataclasses.dataclass
class JobSpec:
    """One job as the gateway gets it."""

    id: str
    generator: GeneratorRef
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    internal_error: bool = False


def _kinds() -> dict[str, type]:
    from studio.cluster.address import ClusterAddress
    from studio.core.audio.midi import Note  # a note take's notes ride in its result's info
    from studio.core.engine.generators import Preview, Progress, Result
    from studio.core.media.sound import Audio

    return {cls.__name__: cls for cls in (Progress, Preview, Result, Audio, Note, ClusterAddress, GeneratorRef, JobSpec)}


def write_message(stream: BinaryIO, message: Any) -> None:
    arrays: list[np.ndarray] = []
    kinds = _kinds()

    def plain(value: Any) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.generic):
            return plain(value.item())
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise TypeError("an array of Python objects")
            arrays.append(np.ascontiguousarray(value))
            return {"$": "array", "dtype": value.dtype.str, "shape": list(value.shape)}
        if isinstance(value, (bytes, bytearray)):
            arrays.append(np.frombuffer(bytes(value), np.uint8))
            return {"$": "bytes"}
        if isinstance(value, tuple):
            return {"$": "tuple", "v": [plain(v) for v in value]}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {"$": "dict", "v": [[plain(k), plain(v)] for k, v in value.items()]}
        if isinstance(value, PurePath):
            return {"$": "path", "v": str(value)}
        kind = kinds.get(type(value).__name__)
        if kind is type(value):
            return {"$": kind.__name__, "v": {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}}
        raise TypeError(f"a {type(value).__name__}")

    try:
        header = json.dumps(plain(message)).encode("utf-8")
    except TypeError as exc:  # said as a job's failure, naming what could not travel
        raise StudioError(f"cannot pass {exc} between Studio and its cluster gateway (plain values, arrays, sounds and notes only)") from None
    stream.write(_PREFIX.pack(len(header), len(arrays)) + header)
    for array in arrays:
        data = memoryview(array).cast("B") if array.size else b""
        stream.write(_LENGTH.pack(len(data)))
        stream.write(data)
    stream.flush()


def read_message(stream: BinaryIO) -> Any:
    """The next message; ``EOFError`` at the end of the stream, ``ValueError`` for a broken one."""
    prefix = stream.read(_PREFIX.size)
    if not prefix:
        raise EOFError
    if len(prefix) < _PREFIX.size:
        raise ValueError("a message cut short")
    size, count = _PREFIX.unpack(prefix)
    if size > MAX_HEADER or count > MAX_ARRAYS:
        raise ValueError("not a message of Studio's cluster gateway")
    tree = json.loads(_read_exactly(stream, size))
    arrays = iter(range(count))
    kinds = _kinds()

    def value(node: Any) -> Any:
        if isinstance(node, list):
            return [value(v) for v in node]
        if not isinstance(node, dict):
            return node
        tag = node.get("$")
        if tag == "array" or tag == "bytes":
            next(arrays, None)
            return _read_array(stream, np.dtype(node["dtype"]) if tag == "array" else np.dtype(np.uint8),
                               node.get("shape"), as_bytes=tag == "bytes")
        if tag == "tuple":
            return tuple(value(v) for v in node["v"])
        if tag == "dict":
            return {_key(value(k)): value(v) for k, v in node["v"]}
        if tag == "path":
            return Path(node["v"])  # the gateway runs on this machine: its paths are ours
        if tag in kinds:
            return kinds[tag](**{k: value(v) for k, v in node["v"].items()})
        raise ValueError(f"an unknown kind of value in a gateway message: {tag!r}")

    return value(tree)


def _key(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _read_array(stream: BinaryIO, dtype: np.dtype, shape: list[int] | None, as_bytes: bool) -> Any:
    if dtype.hasobject:
        raise ValueError("an array of Python objects in a gateway message")
    (length,) = _LENGTH.unpack(_read_exactly(stream, _LENGTH.size))
    if as_bytes:
        return _read_exactly(stream, length)
    shape = [int(n) for n in shape or []]
    if any(n < 0 for n in shape) or int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != length:
        raise ValueError("an array whose size does not match its shape in a gateway message")
    array = np.empty(shape, dtype)
    view = memoryview(array).cast("B") if array.size else memoryview(bytearray())
    done = 0
    while done < length:
        got = stream.readinto(view[done:])
        if not got:
            raise ValueError("a message cut short")
        done += got
    return array


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise ValueError("a message cut short")
    return data
