"""The protobuf wire format, walked field by field without parsing: what an ONNX file holds can
be found, skipped or copied without reading its weights (``model_safety`` searches only the
fields that can name an external file; ``models.graph_skeleton`` copies a model without its
initializers). ``data`` is anything indexable by byte: bytes, a memoryview, an mmap."""

from __future__ import annotations

from typing import Any, Iterator

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not the protobuf wire format ONNX writes."""


def wire_fields(data: Any, start: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """``(field number, wire type, field start, payload start, field end)`` of each field of the
    message in ``data[start:end]``; the field start is its tag's, so ``data[field start:field
    end]`` is the whole field as written. Groups and unknown wire types raise ``WireError``."""
    position = start
    while position < end:
        field_start = position
        key, position = varint(data, position, end)
        wire = key & 7
        payload = position
        if wire == VARINT:
            _, position = varint(data, position, end)
        elif wire == FIXED64:
            position += 8
        elif wire == FIXED32:
            position += 4
        elif wire == LENGTH_DELIMITED:
            length, payload = varint(data, position, end)
            position = payload + length
        else:  # groups (deprecated) or invalid wire types
            raise WireError(f"wire type {wire} is not one ONNX writes")
        if position > end:
            raise WireError("a field runs past the end of its message")
        yield key >> 3, wire, field_start, payload, position


def varint(data: Any, position: int, end: int) -> tuple[int, int]:
    """The base-128 number at ``position`` and the position after it."""
    value = shift = 0
    while True:
        if position >= end or shift > 63:
            raise WireError("a number runs past the end")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
