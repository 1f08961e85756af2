"""ONNX files are untrusted input: what Studio checks before onnxruntime is given one.

**External data stays inside the folder.** An ``.onnx`` file may keep its weights in other
files ("external data"), named by a ``location`` string inside the model. A hostile model can
name ``/etc/shadow``, ``../../secret``, a symbolic link out of the folder, a named pipe (the
read would hang) or onnxruntime's internal marker for "weights already in memory" (the offset
is then taken as a memory address). ``check_model_file`` refuses all of these *before*
onnxruntime is given the model, whatever version of onnxruntime is installed. It lives in the
engine because the runtime calls it for every session it creates; the other rule about model
folders, that pickled weights are never loaded, is ``studio.core.models.unusable_weights``.

Reading the locations means parsing the model's protobuf (with ``onnx``, never loading the
external data). A model with inline weights can be gigabytes, so that parse happens only when
the file can hold a location at all: a skim of the memory-mapped bytes for the key
``location`` (stepping over the weights) comes first, and a model without it is passed on
untouched.
"""

from __future__ import annotations

import mmap
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Iterator

from studio.core.engine.protobuf_wire import LENGTH_DELIMITED, WireError, wire_fields
from studio.errors import ModelError

#: onnxruntime's marker for "this tensor's data is already in memory at address <offset>"
#: (``kTensorProtoMemoryAddressTag``). Only onnxruntime itself may write it, never a file.
MEMORY_ADDRESS_TAG = "*/_ORT_MEM_ADDR_/*"
#: The key an external-data entry names its file with. A protobuf string is stored as its
#: raw bytes, so a model holding this key anywhere holds these bytes.
LOCATION_KEY = b"location"

HF_CACHE_HINT = (
    " (a Hugging Face cache snapshot links to files elsewhere: copy it with `cp -rL`, "
    "or download with `--local-dir`, to get a folder with the real files)"
)


@dataclass(frozen=True)
class ExternalReference:
    """One tensor's pointer into a file outside the .onnx."""

    tensor: str
    location: str
    offset: str = ""
    length: str = ""


# -- external data ---------------------------------------------------------------------


def check_model_file(path: str | os.PathLike[str]) -> Path:
    """Refuse ``path`` unless the model and every weights file it names lie inside its folder.

    ``path`` is the file as the loader named it (symbolic links not yet followed: a link out of
    the folder is itself a reason to refuse). Returns the resolved path, which is what
    onnxruntime should be given. Raises ``ModelError`` with a plain sentence otherwise.
    """
    given = Path(path)
    folder = given.parent.resolve()
    resolved = given.resolve()
    if not _inside(resolved, folder):
        raise ModelError(
            f"the model file {given} is a symbolic link to {resolved}, outside its folder {folder}; "
            f"Studio only loads model files that are inside the model's folder{HF_CACHE_HINT}"
        )
    if not resolved.is_file():
        return resolved  # the caller says "not found" in its own words
    references = external_references(resolved)
    base = resolved.parent  # where onnxruntime looks for external data: beside the real file
    seen: set[str] = set()
    for reference in references:
        if reference.location in seen:
            continue
        seen.add(reference.location)
        _check_reference(resolved, base, reference)
    return resolved


def external_references(path: str | os.PathLike[str]) -> list[ExternalReference]:
    """Every tensor in the model that keeps its data in another file, with that file's name.

    Only reads the model's own bytes; ``[]`` without parsing when the file cannot hold one.
    """
    path = Path(path)
    if not may_reference_external_data(path):
        return []
    model = _parse(path)
    references = []
    for tensor in _tensors(model):
        if tensor.data_location != 1 and not len(tensor.external_data):  # 1 = TensorProto.EXTERNAL
            continue
        entries = {entry.key: entry.value for entry in tensor.external_data}
        references.append(
            ExternalReference(tensor.name, entries.get("location", ""), entries.get("offset", ""), entries.get("length", ""))
        )
    return references


def may_reference_external_data(path: str | os.PathLike[str]) -> bool:
    """Whether the file can hold an external-data ``location`` at all (cheap; reads no weights).

    Every byte that protobuf could parse into a tensor's external-data entry is searched for the
    key ``location``; the only bytes skipped are the payloads of the graph's initializers other
    than their ``external_data`` field (raw weights: nearly all of a big model), found by walking
    the wire format of the model and its graph. Anything the walk does not recognise is searched
    as it is, and a file whose wire format is irregular is searched whole, so the skim can only
    ever say "maybe" too often, never "no" wrongly.
    """
    with open(path, "rb") as file:
        if os.fstat(file.fileno()).st_size == 0:
            return False
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            try:
                regions = _regions_to_search(data)
            except WireError:
                regions = [(0, len(data))]
            return any(_holds_key(data, start, end) for start, end in _merged(regions))


# Field numbers from onnx.proto (stable since ONNX 1.0): the path from a model to its initializers.
_MODEL_GRAPH = 7
_GRAPH_INITIALIZER, _GRAPH_SPARSE_INITIALIZER = 5, 15
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_TENSOR_EXTERNAL_DATA = 13


def _regions_to_search(data: Any) -> list[tuple[int, int]]:
    regions: list[tuple[int, int]] = []

    def tensor(start: int, end: int) -> None:
        # Only external_data can name a file; raw_data and the typed value lists are skipped.
        regions.extend((s, e) for number, s, e in _fields(data, start, end) if number == _TENSOR_EXTERNAL_DATA)

    for number, start, end in _fields(data, 0, len(data)):
        if number != _MODEL_GRAPH:
            regions.append((start, end))
            continue
        for field, s, e in _fields(data, start, end):
            if field == _GRAPH_INITIALIZER:
                tensor(s, e)
            elif field == _GRAPH_SPARSE_INITIALIZER:
                for part, ps, pe in _fields(data, s, e):
                    if part in (_SPARSE_VALUES, _SPARSE_INDICES):
                        tensor(ps, pe)
                    else:
                        regions.append((ps, pe))
            else:  # nodes (Constant tensors, If/Loop bodies), names, value infos: searched whole
                regions.append((s, e))
    return regions


def _fields(data: Any, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(field number, payload start, payload end) of each length-delimited field in a message;
    numbers (varint and fixed-width fields) are stepped over: they cannot hold a string."""
    for number, wire, _, payload, field_end in wire_fields(data, start, end):
        if wire == LENGTH_DELIMITED:
            yield number, payload, field_end


def _merged(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent regions as one: one search over a run of nodes instead of one per node."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(regions):
        if merged and start <= merged[-1][1] + 16:  # a few bytes of field headers between them
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _holds_key(data: Any, start: int, end: int) -> bool:
    """Whether ``location`` occurs in ``data[start:end]`` as a whole protobuf string.

    A string's bytes follow its length; 8 is the varint ``08`` (or, padded, one ending in
    ``00``), so a hit after any other byte is part of a longer string (a node named
    ``/model/location_embed``) and does not count.
    """
    while True:
        hit = data.find(LOCATION_KEY, start, end)
        if hit < 0:
            return False
        if hit == 0 or data[hit - 1] in (0x08, 0x00):
            return True
        start = hit + 1


def _parse(path: Path) -> Any:
    try:
        import onnx
    except ImportError as exc:  # a run-time dependency; say so if it is missing
        raise ModelError(f"cannot check {path}: the onnx package is missing ({exc}); pip install onnx") from None
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"the model file {path} is damaged or not an ONNX model ({type(exc).__name__}: {exc})") from None


def _tensors(model: Any) -> Iterator[Any]:
    """Every TensorProto in ``model``: initializers, sparse initializers, tensors in node
    attributes (``Constant``), in subgraphs (``If``/``Loop``/``Scan`` bodies, at any depth), in
    model-local functions and in training graphs. onnxruntime loads external data for each."""
    graphs = [model.graph]
    nodes: list[Any] = []
    for function in model.functions:
        nodes.extend(function.node)
    for info in model.training_info:
        graphs += [info.initialization, info.algorithm]
    while graphs or nodes:
        if graphs:
            graph = graphs.pop()
            yield from graph.initializer
            for sparse in graph.sparse_initializer:
                yield sparse.values
                yield sparse.indices
            nodes.extend(graph.node)
            continue
        for attribute in nodes.pop().attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            sparse_tensors = list(attribute.sparse_tensors)
            if attribute.HasField("sparse_tensor"):
                sparse_tensors.append(attribute.sparse_tensor)
            for sparse in sparse_tensors:
                yield sparse.values
                yield sparse.indices
            if attribute.HasField("g"):
                graphs.append(attribute.g)
            graphs.extend(attribute.graphs)


def _check_reference(model: Path, base: Path, reference: ExternalReference) -> None:
    location = reference.location
    outside = f"the model file {model} points at weights outside its folder: {location!r}"
    refused = "Studio only reads weights inside the model's folder, and refused this model before loading it"
    if not location:
        raise ModelError(f"the model file {model} is damaged: tensor {reference.tensor!r} keeps its data in another file but does not say which")
    if location == MEMORY_ADDRESS_TAG or "_ORT_MEM_ADDR_" in location:
        raise ModelError(
            f"the model file {model} is refused: its weights location {location!r} is onnxruntime's internal "
            "marker for data already in memory, which no model file may contain (it would make onnxruntime read "
            "whatever memory the file names)"
        )
    if "\x00" in location:
        raise ModelError(f"{outside} has a NUL character in it; {refused}")
    windows = PureWindowsPath(location)
    if PurePosixPath(location).is_absolute() or windows.is_absolute() or windows.drive or windows.root:
        raise ModelError(f"{outside} is an absolute path; {refused}")
    if ".." in re.split(r"[\\/]", location):
        raise ModelError(f"{outside} climbs out of the folder with '..'; {refused}")
    target = base / location
    real = target.resolve()
    if not _inside(real, base):
        raise ModelError(f"{outside} is a symbolic link (or lies in a linked folder) that leads to {real}; {refused}{HF_CACHE_HINT}")
    try:
        info = os.stat(real)
    except FileNotFoundError:
        raise ModelError(f"the weights file {location} that {model.name} needs is missing from {base} (copy the whole model folder)") from None
    except OSError as exc:
        raise ModelError(f"the weights file {location} that {model.name} needs cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ModelError(
            f"the weights file {location} of {model} is not a regular file (a folder, pipe or device); "
            "Studio refused to read it"
        )
    offset = _count(reference.offset, 0, model, "offset")
    length = _count(reference.length, info.st_size - offset, model, "length")
    if offset + length > info.st_size:
        raise ModelError(
            f"the weights file {location} next to {model} is truncated (an interrupted download or copy?): "
            f"tensor {reference.tensor!r} needs bytes {offset} to {offset + length}, the file has {info.st_size}"
        )


def _count(text: str, default: int, model: Path, what: str) -> int:
    if text == "":
        return max(0, default)
    if not text.strip().isdigit():
        raise ModelError(f"the model file {model} is damaged: an external-data {what} of {text!r} is not a byte count")
    return int(text)


def _inside(path: Path, folder: Path) -> bool:
    """Whether the resolved ``path`` is ``folder`` or below it (both resolved)."""
    return path == folder or folder in path.parents
