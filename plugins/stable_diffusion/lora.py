"""LoRAs applied to an exported Stable Diffusion model without exporting it again.

Each changed weight becomes ``W + weight · (up @ down) · alpha / rank``, computed here in
numpy and handed to the session in place of the graph's own initializer; the session is cached
by the runtime under the LoRA set's key (files, their dates, the weights), so a second image
with the same set reuses it and a changed weight costs one pass over the changed weights,
seconds, never a conversion. The graph names its initializers as the exporter pleased:
``weights_map.json`` beside each part (written by ``studio models import``) says which
initializer holds which diffusers parameter, and whether it is stored transposed (a Linear's
weight as a MatMul's right-hand side).

Why not ``SessionOptions.add_initializer``: onnxruntime's graph optimizers (constant folding,
the CPU's NCHWc convolution layout) read the weights from the graph before that replacement
applies, so a Conv's or a transposed weight's LoRA would silently vanish. Replaced weights
are written into the graph itself instead (small inline tensors) or swapped for the external
ones at load (``add_external_initializers``), both before any optimizer runs.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import studio
from studio.core.base.memory import ensure_memory
from studio.core.engine.onnx_import import import_onnxruntime
from studio.core.models.loaders import read_json
from studio.core.models.lora_file import LoraFile, ShapeMismatch, read_lora

from .layout import SDModel

log = logging.getLogger(__name__)

WEIGHTS_MAP = "weights_map.json"
PARTS = ("text_encoder", "text_encoder_2", "unet")
MAX_NAMED = 6  # unmatched keys named in a note; the rest counted


@dataclass
class Change:
    """One initializer and the LoRA layers added to it."""

    initializer: str
    transposed: bool
    layers: list[tuple[LoraFile, tuple[str, str], float]] = field(default_factory=list)


@dataclass
class LoraPatch:
    """A graph's replaced initializers, computed when the runtime makes the session
    (``Runtime.session``'s ``patch``: ``key`` and ``prepare``)."""

    key: str
    part: str
    changes: dict[str, Change]
    model_title: str

    def prepare(self, path: Path, options: Any) -> tuple[bytes, list[Any]]:
        """The graph with the new weights, as bytes, and what must outlive the session."""
        import onnx
        from onnx import numpy_helper

        ort = import_onnxruntime()
        graph = onnx.load(str(path), load_external_data=False)
        tensors = {tensor.name: tensor for tensor in graph.graph.initializer}
        # Each changed weight is held twice (the new value, and onnxruntime's) plus one product.
        changed = sum(4 * int(np.prod(tensors[name].dims)) for name in self.changes if name in tensors)
        ensure_memory(2 * changed, f"applying the LoRAs to the {self.part.replace('_', ' ')}")
        external_names, external_values, kept = [], [], []
        for name, change in self.changes.items():
            tensor = tensors.get(name)
            if tensor is None:
                raise studio.ModelError(f"{path} has no initializer {name}, which weights_map.json names; import the model again")
            base = _read_tensor(tensor, path.parent)
            value = base.astype(np.float32, copy=False)  # _read_tensor's own copy: added to in place
            shape = value.T.shape if change.transposed else value.shape
            for lora, key, weight in change.layers:
                try:
                    value += lora.delta(key, shape, weight, transposed=change.transposed)
                except ShapeMismatch as exc:
                    raise studio.ModelError(wrong_base(lora, self.model_title, str(exc))) from None
            value = np.ascontiguousarray(value.astype(base.dtype, copy=False))
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                external_names.append(name)
                external_values.append(ort.OrtValue.ortvalue_from_numpy(value))
                kept.append(value)
            else:
                tensor.CopyFrom(numpy_helper.from_array(value, name))
        # The graph is read from bytes: its external weights are found beside the file.
        options.add_session_config_entry("session.model_external_initializers_file_folder_path", str(path.parent))
        if external_names:
            options.add_external_initializers(external_names, external_values)
        return graph.SerializeToString(), kept + external_values


@dataclass
class AppliedLoras:
    """The patched sessions of a LoRA set and what the user should know about it."""

    patches: dict[Path, LoraPatch]
    notes: list[str]
    ctx: Any

    def session(self, path: Path) -> Any:
        """``ctx.session`` for ``path``, with the LoRAs when they change that graph."""
        patch = self.patches.get(Path(path).resolve())
        return self.ctx.session(path, patch) if patch is not None else self.ctx.session(path)


def apply_loras(model: SDModel, loras: tuple[tuple[str, float], ...], graphs: dict[str, Path], ctx: Any) -> AppliedLoras:
    """The LoRA set ``loras`` matched to ``model``, for the graphs a job runs (part -> path).

    Raises ``ModelError`` for a model without ``weights_map.json``, a LoRA made for another
    base model, or one that changes nothing in this model; keys that match nothing are named
    in the notes."""
    layers = model.unet_config.get("layers_per_block", 2)
    layers_per_block = layers if isinstance(layers, int) and 1 <= layers <= 16 else 2  # every released SD UNet: 2
    files = [(read_lora(path, layers_per_block), float(weight)) for path, weight in loras]
    touched = {part for lora, _ in files for part, _ in lora.layers}
    maps = {part: _weights_map(model, part) for part in PARTS if part in touched and (model.folder / part / "model.onnx").is_file()}
    changes: dict[str, dict[str, Change]] = {}
    notes: list[str] = []
    for lora, weight in files:
        matched, unmatched = 0, []
        for key in sorted(lora.layers):
            part, parameter = key
            entry = maps.get(part, {}).get(parameter)
            if entry is None:
                unmatched.append(f"{part}.{parameter.removesuffix('.weight')}")
                continue
            change = changes.setdefault(part, {}).setdefault(entry["initializer"], Change(entry["initializer"], entry["transposed"]))
            change.layers.append((lora, key, weight))
            matched += 1
        if not matched:
            raise studio.ModelError(wrong_base(lora, model.title, f"none of its {len(lora.layers)} layers is in this model, e.g. {unmatched[0]}"))
        if unmatched or lora.unknown:
            notes.append(_unmatched_note(lora, unmatched, matched))
    patches: dict[Path, LoraPatch] = {}
    for part, part_changes in changes.items():
        graph = Path(graphs.get(part, model.path(part)))
        patches[graph.resolve()] = LoraPatch(_set_key(graph, part, loras), part, part_changes, model.title)
    return AppliedLoras(patches, notes, ctx)


def wrong_base(lora: LoraFile, model_title: str, detail: str) -> str:
    made_for = lora.base_hint()
    return (
        f"the LoRA {lora.path.name} {'is for ' + made_for if made_for else 'was made for another base model'} "
        f"and does not fit {model_title} ({detail}); use a LoRA trained for this model's base"
    )


def _weights_map(model: SDModel, part: str) -> dict[str, dict[str, Any]]:
    path = model.folder / part / WEIGHTS_MAP
    if not path.is_file():
        raise studio.ModelError(
            f"LoRAs need a model Studio imported (studio models import PATH): {model.folder.name} has no "
            f"{part}/{WEIGHTS_MAP}, which says where each weight is in the exported graph"
        )
    document = read_json(path, f"{part}/{WEIGHTS_MAP}")
    weights = document.get("weights")
    if document.get("format") != 1 or not isinstance(weights, dict):
        raise studio.ModelError(f"{path} is not a weights map Studio can read (format {document.get('format')!r}); import the model again")
    checked = {}
    for name, entry in weights.items():
        if isinstance(entry, dict) and isinstance(entry.get("initializer"), str) and isinstance(entry.get("transposed"), bool):
            name = str(name)
            if part != "unet" and name.startswith(("encoder.", "embeddings.", "final_layer_norm.")):
                name = "text_model." + name  # CLIP as the SD repositories name it (transformers 5 drops the prefix)
            checked[name] = {"initializer": entry["initializer"], "transposed": entry["transposed"]}
    return checked


def _unmatched_note(lora: LoraFile, unmatched: list[str], matched: int) -> str:
    names = unmatched + lora.unknown
    shown = ", ".join(names[:MAX_NAMED]) + (f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")
    return f"LoRA {lora.name}: {matched} layers applied; {len(names)} keys match nothing in this model and were left out: {shown}"


def _set_key(graph: Path, part: str, loras: tuple[tuple[str, float], ...]) -> str:
    """What makes a patched graph: the graph, and each LoRA file (by path, size, date) and weight."""
    words = [f"{graph.resolve()}", part]
    for path, weight in loras:
        stat = os.stat(path)
        words.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}:{weight!r}")
    return "lora-" + hashlib.sha256("\n".join(words).encode()).hexdigest()[:16]


def _read_tensor(tensor: Any, folder: Path) -> np.ndarray:
    """An initializer's value as a writable array, its external bytes read straight from the file
    beside the graph (``check_model_file`` has held their place to the graph's folder before the
    runtime calls ``prepare``; the length is checked against the tensor's shape here)."""
    import onnx
    from onnx import numpy_helper

    if tensor.data_location != onnx.TensorProto.EXTERNAL:
        return numpy_helper.to_array(tensor).copy()
    entries = {entry.key: entry.value for entry in tensor.external_data}
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).newbyteorder("<")
    count = int(np.prod(tensor.dims))
    offset = int(entries.get("offset", 0) or 0)
    with open(folder / entries["location"], "rb") as handle:
        value = np.fromfile(handle, dtype=dtype, count=count, offset=offset)
    if value.size != count:
        raise studio.ModelError(f"the weights file {folder / entries['location']} is cut short ({tensor.name} is not all there)")
    return value.astype(dtype.newbyteorder("="), copy=False).reshape(tuple(tensor.dims))
