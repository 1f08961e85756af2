"""Graphs that only run on one kind of device, recognised from their node types.

Olive / onnxruntime-optimized exports (``onnxruntime/sd-turbo``, ``sdxl-turbo`` and the SD
graphs onnxruntime's transformers optimizer writes for CUDA) replace plain ONNX operators with
fused ``com.microsoft`` ones — ``NhwcConv``, ``GroupNorm``, ``SkipGroupNorm``, ``BiasSplitGelu``,
``BiasAdd`` — for which onnxruntime has a CUDA (some also a DirectML) kernel and no CPU kernel.
On the CPU such a graph fails when its session is created ("Could not find an implementation
for GroupNorm(1)"): after a model folder was accepted and a job started. Reading the node types
first lets Studio say what the model needs when the folder is added, and refuse a CPU job with
one sentence instead.

``DEVICE_ONLY_OPS`` comes from onnxruntime's docs/OperatorKernels.md (the kernels each execution
provider registers, generated from its registries; read for onnxruntime 1.31): every
``com.microsoft`` operator with a CUDA or DirectML kernel and none on the CPU. A test creates a
real CPU session for the operators SD exports use, so the table cannot drift from the installed
onnxruntime unnoticed.

Reading node types parses the graph without its weights (``graph_skeleton``: a text encoder with
0.5 GB of weights inside its file cost the app 0.9 GB of memory through ``onnx.load``), and each
verdict is remembered in the cache folder by (path, size, modification time): listing models
stays quick.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from studio.core.base import paths
from studio.core.models.check import onnx_files

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
DML = "DmlExecutionProvider"
MS_DOMAIN = "com.microsoft"

#: com.microsoft operator -> the execution providers with a kernel for it (none has a CPU one).
DEVICE_ONLY_OPS: dict[str, tuple[str, ...]] = {
    # The fused Stable Diffusion operators of onnxruntime's SD optimizer.
    "NhwcConv": (CUDA, DML),
    "GroupNorm": (CUDA, DML),
    "BiasSplitGelu": (CUDA, DML),
    "BiasAdd": (CUDA, DML),
    "SkipGroupNorm": (CUDA,),
    # Attention variants the CUDA kernels of the transformer optimizer use.
    "PackedAttention": (CUDA,),
    "PackedMultiHeadAttention": (CUDA,),
    "PagedAttention": (CUDA,),
    "DecoderAttention": (CUDA,),
    "DecoderMaskedSelfAttention": (CUDA,),
    "LongformerAttention": (CUDA,),
    "GemmaRotaryEmbedding": (CUDA,),
    "RelativePositionBias": (CUDA,),
    "GatedRelativePositionBias": (CUDA,),
    "RemovePadding": (CUDA,),
    "RestorePadding": (CUDA,),
    "BiasSoftmax": (CUDA,),
    "BiasDropout": (CUDA,),
    "BitmaskDropout": (CUDA,),
    "BitmaskBiasDropout": (CUDA,),
    "ComplexMul": (CUDA,),
    "ComplexMulConj": (CUDA,),
    "Rfft": (CUDA,),
    "Irfft": (CUDA,),
    "GemmFloat8": (CUDA,),
    "QuantizeWithOrder": (CUDA,),
    "DequantizeWithOrder": (CUDA,),
    "QOrderedAttention": (CUDA,),
    "QOrderedGelu": (CUDA,),
    "QOrderedLayerNormalization": (CUDA,),
    "QOrderedLongformerAttention": (CUDA,),
    "QOrderedMatMul": (CUDA,),
    "FusedMatMulActivation": (DML,),
}

#: How each provider's device is named to a person.
DEVICE_NAMES = {CUDA: "an NVIDIA GPU (CUDA)", DML: "a GPU through DirectML (Windows)"}

CACHE_FILE = "graph_devices.json"
MAX_CACHE_ENTRIES = 512  # one per graph ever checked; older ones are dropped first


@dataclass(frozen=True)
class DeviceNeed:
    """What a graph (or a model folder's graphs) needs beyond the CPU."""

    providers: tuple[str, ...]  # the execution providers with a kernel for every such node
    ops: tuple[str, ...]  # the node types no CPU kernel runs, in the order first met

    @property
    def device(self) -> str:
        names = [DEVICE_NAMES.get(p, p) for p in self.providers]
        return " or ".join(names) if names else "a device onnxruntime has no single provider for"

    @property
    def sentence(self) -> str:
        """``needs an NVIDIA GPU (CUDA): it uses NhwcConv, GroupNorm``"""
        return f"needs {self.device}: it uses {', '.join(self.ops)}, which onnxruntime cannot run on the CPU"

    def runs_on(self, providers: Iterable[str]) -> bool:
        """Whether a session asking for ``providers`` (really getting them) can run it."""
        return any(p in self.providers for p in providers)


def device_only_ops(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The node types of the graph at ``path`` that no CPU kernel runs (remembered per file)."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except OSError:
        return ()
    key = str(path)
    stamp = [stat.st_size, stat.st_mtime_ns]
    with _LOCK:
        cache = _read_cache()
        entry = cache.get(key)
        if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("ops"), list):
            return tuple(str(op) for op in entry["ops"])
    ops = _scan(path)
    if ops is None:  # not a readable graph: the file check and the runtime say so, not this
        return ()
    with _LOCK:
        cache = _read_cache()
        cache.pop(key, None)
        cache[key] = {"stamp": stamp, "ops": list(ops)}
        while len(cache) > MAX_CACHE_ENTRIES:
            cache.pop(next(iter(cache)))
        _write_cache(cache)
    return ops


def graph_need(path: str | os.PathLike[str]) -> DeviceNeed | None:
    """What the graph at ``path`` needs beyond the CPU, or None when the CPU runs it."""
    return _need(device_only_ops(path))


def required_device(path: str | os.PathLike[str]) -> str | None:
    """``"needs an NVIDIA GPU (CUDA): it uses NhwcConv, GroupNorm, …"`` for a graph that does not
    run on the CPU; None for one that does (or that is not a readable graph)."""
    need = graph_need(path)
    return need.sentence if need else None


def folder_need(folder: str | os.PathLike[str]) -> DeviceNeed | None:
    """What a model folder's graphs need together: every provider must run all of them."""
    ops: list[str] = []
    for path in onnx_files(Path(folder)):
        ops += [op for op in device_only_ops(path) if op not in ops]
    return _need(tuple(ops))


def folder_required_device(folder: str | os.PathLike[str]) -> str | None:
    """``required_device`` for a whole model folder (every ``.onnx`` in it, as the file check finds them)."""
    need = folder_need(folder)
    return need.sentence if need else None


def _need(ops: tuple[str, ...]) -> DeviceNeed | None:
    if not ops:
        return None
    providers = [p for p in (CUDA, DML) if all(p in DEVICE_ONLY_OPS[op] for op in ops)]
    return DeviceNeed(tuple(providers), ops)


def _scan(path: Path) -> tuple[str, ...] | None:
    """Parse the graph (never its weights, inside the file or outside) and list its device-only
    node types, nested graphs (If/Loop branches: a merged decoder's) and local functions included."""
    import onnx

    from studio.core.models.graph_skeleton import model_without_weights

    try:
        model = onnx.ModelProto.FromString(model_without_weights(path))
    except Exception as exc:  # noqa: BLE001 - protobuf says "damaged" with several exception types
        log.debug("not reading node types of %s: %s", path, exc)
        return None
    found: list[str] = []

    def visit(nodes) -> None:
        for node in nodes:
            if node.domain == MS_DOMAIN and node.op_type in DEVICE_ONLY_OPS and node.op_type not in found:
                found.append(node.op_type)
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    visit(attribute.g.node)
                for graph in attribute.graphs:
                    visit(graph.node)

    visit(model.graph.node)
    for function in model.functions:
        visit(function.node)
    return tuple(found)


_LOCK = threading.Lock()


def _cache_path() -> Path:
    return paths.cache() / CACHE_FILE


def _read_cache() -> dict:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(cache: dict) -> None:
    """Atomically (a reader never sees half a file); a lost race only loses a remembered verdict."""
    target = _cache_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(json.dumps(cache), encoding="utf-8")
        os.replace(temporary, target)
    except OSError as exc:
        log.debug("could not remember graph devices in %s: %s", target, exc)
