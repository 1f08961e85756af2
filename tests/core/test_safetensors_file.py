"""Reading a safetensors header without torch, and refusing damaged or hostile files."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from studio.core.models.safetensors_file import read_safetensors
from studio.errors import ModelError


def write(path, tensors: dict[str, np.ndarray], metadata=None, header_patch=None, cut: int = 0):
    header, blobs, offset = {}, [], 0
    names = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int64): "I64"}
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": names[array.dtype], "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    if header_patch:
        header_patch(header)
    text = json.dumps(header).encode()
    body = struct.pack("<Q", len(text)) + text + b"".join(blobs)
    path.write_bytes(body[: len(body) - cut] if cut else body)
    return path


def test_reads_shapes_metadata_and_one_tensor(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.ones((4,), np.float16)
    f = read_safetensors(write(tmp_path / "m.safetensors", {"a": a, "b": b}, {"format": "pt"}))
    assert f.shape("a") == (2, 3) and f.shape("missing") is None
    assert f.metadata == {"format": "pt"} and f.parameters() == 10
    np.testing.assert_array_equal(f.load("a"), a)
    assert f.load("b").dtype == np.float32 and f.load("b").tolist() == [1.0] * 4


def test_bfloat16_is_read_as_float32(tmp_path):
    values = np.array([1.5, -2.25], np.float32)
    upper = (values.view(np.uint32) >> 16).astype(np.uint16)

    def as_bf16(header):
        header["x"]["dtype"] = "BF16"

    path = write(tmp_path / "bf.safetensors", {"x": upper.view(np.float16)}, header_patch=as_bf16)
    assert read_safetensors(path).load("x").tolist() == [1.5, -2.25]


def test_a_truncated_download_is_named_as_such(tmp_path):
    path = write(tmp_path / "cut.safetensors", {"w": np.zeros((64, 64), np.float32)}, cut=100)
    with pytest.raises(ModelError, match="cut short"):
        read_safetensors(path)


@pytest.mark.parametrize("body", [b"", b"\x01\x02", struct.pack("<Q", 1 << 60) + b"{}", struct.pack("<Q", 4) + b"nope",
                                  struct.pack("<Q", 2) + b"[]"])
def test_not_a_safetensors_file(tmp_path, body):
    path = tmp_path / "x.safetensors"
    path.write_bytes(body)
    with pytest.raises(ModelError, match="x.safetensors"):
        read_safetensors(path)


@pytest.mark.parametrize("patch, words", [
    (lambda h: h["w"].update(dtype="F99"), "data type"),
    (lambda h: h["w"].update(shape=[3, 3]), "bytes for shape"),
    (lambda h: h["w"].update(data_offsets=[8, 4]), "malformed"),
    (lambda h: h["v"].update(data_offsets=[0, 16]), "overlap"),
])
def test_hostile_headers_are_refused(tmp_path, patch, words):
    path = write(tmp_path / "h.safetensors", {"w": np.zeros(4, np.float32), "v": np.zeros(4, np.float32)},
                 header_patch=patch)
    with pytest.raises(ModelError, match=words):
        read_safetensors(path)
