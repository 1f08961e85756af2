"""What a ``.safetensors`` file holds, read without torch and without trusting the file.

The format is an 8-byte little-endian header length, a JSON header (each tensor's dtype,
shape and byte range in the data that follows, plus optional ``__metadata__`` strings), then
the raw bytes. Studio reads checkpoints and LoRAs the user downloaded from anywhere, so every
number in the header is checked against the file before anything is allocated: a header that
claims more than the file holds, overlapping or misshapen ranges, an unknown dtype, a truncated
download. Each of those is a ``ModelError`` naming the file; nothing else is ever raised.

A tensor is read as a read-only numpy view of a memory map, so reading the one tensor that
tells SD 2's v-prediction from epsilon costs its bytes, not the file's.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.errors import ModelError

#: The header is JSON text; real ones are well under 10 MB (an SDXL checkpoint's is ~0.3 MB).
MAX_HEADER = 100 * 1024 * 1024
#: safetensors' dtype names -> numpy's (bfloat16 has no numpy type: read as uint16, see `load`).
DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
    "U16": np.uint16, "U32": np.uint32, "U64": np.uint64,
}
ITEM_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
              "BOOL": 1, "U16": 2, "U32": 4, "U64": 8}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's entry in the header: its dtype, shape and byte range in the data."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def size(self) -> int:
        """The number of elements."""
        return math.prod(self.shape)


@dataclass
class SafetensorsFile:
    """The checked header of one file; ``load(name)`` reads one tensor."""

    path: Path
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str] = field(default_factory=dict)
    data_start: int = 0

    def shape(self, name: str) -> tuple[int, ...] | None:
        """The shape of ``name``, or None when the file has no such tensor."""
        info = self.tensors.get(name)
        return info.shape if info is not None else None

    def parameters(self) -> int:
        """How many numbers the file holds."""
        return sum(info.size for info in self.tensors.values())

    def load(self, name: str) -> np.ndarray:
        """Tensor ``name`` as float32 (floats) or its own integer type: a copy, never a view of the file."""
        info = self.tensors[name]
        raw = np.memmap(self.path, dtype=np.uint8, mode="r", offset=self.data_start + info.begin,
                        shape=(info.end - info.begin,)) if info.end > info.begin else np.zeros(0, np.uint8)
        values = np.frombuffer(raw, dtype=np.dtype(DTYPES[info.dtype]).newbyteorder("<")).reshape(info.shape)
        if info.dtype == "BF16":  # bfloat16 is float32's upper half
            return (values.astype(np.uint32) << 16).view(np.float32)
        if info.dtype in ("F16", "F64"):
            return values.astype(np.float32)
        return np.array(values)


def read_safetensors(path: str | Path) -> SafetensorsFile:
    """The checked header of ``path``; ``ModelError`` when it is not a whole safetensors file."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            size = path.stat().st_size
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise ModelError(f"{path.name} is not a safetensors file: it is only {size} bytes long")
            (length,) = struct.unpack("<Q", prefix)
            if length > MAX_HEADER or 8 + length > size:
                raise ModelError(f"{path.name} is not a safetensors file, or it is cut short: its header "
                                 f"claims {length} bytes in a file of {size}")
            text = handle.read(length)
    except OSError as exc:
        raise ModelError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{path.name} is not a safetensors file: its header is not JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise ModelError(f"{path.name} is not a safetensors file: its header is not a table of tensors")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise ModelError(f"{path.name}: its metadata is not a table of strings")
    data_size = size - 8 - length
    tensors = {name: _entry(path, name, entry, data_size) for name, entry in header.items()}
    _check_ranges(path, tensors, data_size)
    return SafetensorsFile(path, tensors, {str(k): str(v) for k, v in metadata.items()}, 8 + length)


def _entry(path: Path, name: str, entry: object, data_size: int) -> TensorInfo:
    bad = f"{path.name}: the entry of tensor {name!r} is malformed"
    if not isinstance(entry, dict):
        raise ModelError(bad)
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in ITEM_SIZES:
        raise ModelError(f"{path.name}: tensor {name!r} has a data type Studio does not read ({dtype!r})")
    if (not isinstance(shape, list) or not all(isinstance(d, int) and 0 <= d < 1 << 40 for d in shape)
            or not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and 0 <= o for o in offsets) or offsets[0] > offsets[1]):
        raise ModelError(bad)
    begin, end = offsets
    if end > data_size:
        raise ModelError(f"{path.name} is cut short: tensor {name!r} ends at byte {end} of the data, "
                         f"which holds {data_size} bytes (an interrupted download?)")
    if math.prod(shape) * ITEM_SIZES[dtype] != end - begin:
        raise ModelError(f"{path.name}: tensor {name!r} has {end - begin} bytes for shape {shape} of {dtype}")
    return TensorInfo(name, dtype, tuple(shape), begin, end)


def _check_ranges(path: Path, tensors: dict[str, TensorInfo], data_size: int) -> None:
    """Tensors may not overlap: a header that reuses bytes is made, not saved by a library."""
    spans = sorted((info.begin, info.end, info.name) for info in tensors.values() if info.end > info.begin)
    for (_, end, name), (begin, _, other) in zip(spans, spans[1:]):
        if begin < end:
            raise ModelError(f"{path.name}: tensors {name!r} and {other!r} overlap: the file is damaged")
