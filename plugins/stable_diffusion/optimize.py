"""A fused copy of a Stable Diffusion UNet for the CPU, made once per model per machine.

Exported UNets compute attention as MatMul -> Softmax -> MatMul, which at 512 px
materialises a 4096 x 4096 score matrix per head and image: gigabytes of peak memory on the
CPU for an SD 1.5 UNet. onnxruntime's transformer optimizer (its UNet fusions) rewrites those
subgraphs into the ``MultiHeadAttention`` operator, whose CPU kernel works through the
scores in tiles. The result is cached on disk, keyed by the identity of the source files.

Three things differ from calling ``optimize_model(model_type="unet")`` as it is:
- Only fusions with CPU kernels are asked for. The optimizer's Stable Diffusion defaults also
  make GroupNorm, SkipGroupNorm, BiasSplitGelu, BiasAdd and NhwcConv (CUDA only) and packed
  QKV/KV layouts, which the CPU attention kernel refuses.
- Self-attention becomes ``MultiHeadAttention`` over the three projections, like
  cross-attention, instead of the optimizer's ``Attention`` operator: on the CPU that one
  computes the whole score matrix (measured at 4096 tokens, batch 2: 2.2 GB and 1.16 s
  against 0.15 GB and 0.49 s). The weights are left as they are, so the fusion reads none
  of the big ones: it takes seconds and little memory, and the fused graph points at a copy
  of the original weights file beside it. (onnxruntime refuses weights reached through a
  symbolic link or outside the model's folder, and a hard link would make the ``onnx``
  package refuse to read the user's own model: "a potential hardlink attack". Where the file
  system can clone a file, the copy is a clone and costs no disk.)
- Two exporter details the optimizer stumbles on are smoothed first: the float-to-float
  ``Cast`` nodes today's torch exporter puts inside attention, and a head count stored as a
  one-element array (numpy 2 refuses ``int()`` of it).

Weights stay fp32. Any failure raises ``studio.ModelError``: the caller then runs the original.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import studio
from studio.core.base import paths
from studio.core.engine.model_safety import check_model_file
from studio.core.engine.onnx_import import import_onnxruntime

log = logging.getLogger(__name__)

#: Bump when what this module makes changes, so copies made the old way are not reused.
RECIPE_VERSION = 1
# Small weights (norms, biases, shape constants) are read into the graph so the fusions can
# inspect them; the big matrices stay in the weights file.
INLINE_BELOW_BYTES = 64 * 1024
# The fused operators that onnxruntime's CPU provider runs; anything else would make the
# copy unloadable there.
CPU_FUSED_OPS = {"MultiHeadAttention", "LayerNormalization", "SkipLayerNormalization", "Gelu", "BiasGelu", "FastGelu"}
FICLONE = 0x40049409  # Linux ioctl: share a file's blocks copy-on-write
ABANDONED_AFTER_S = 24 * 3600  # where a process cannot be asked whether it still runs
TOTAL_STEPS = 3

ProgressCallback = Callable[[int, int, str], None]


class Unfusable(studio.ModelError):
    """The model itself cannot be fused (remembered, unlike a missing package or a full disk)."""


def optimized_unet(unet_path: Path, cache_dir: Path, on_progress: ProgressCallback | None = None) -> Path:
    """The path of the fused copy of ``unet_path`` in ``cache_dir``, made on first use.

    ``on_progress(step, total, message)`` is told what is happening while a copy is made
    (``JobContext.progress`` fits). Raises ``studio.ModelError`` when the UNet cannot be
    optimized, with a message that says why.
    """
    source = Path(unet_path).resolve()
    if not source.is_file():
        raise studio.ModelError(f"cannot optimize the UNet: {source} does not exist")
    cache_dir = Path(cache_dir)
    entry = cache_dir / f"unet-{source_identity(source)}"
    target = entry / "model.onnx"
    if target.is_file():
        return target
    failure = entry.with_suffix(".failed")
    if failure.is_file():  # a model that cannot be fused is not tried again on every load
        raise studio.ModelError(failure.read_text(encoding="utf-8").strip())
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise studio.ModelError(f"cannot optimize the UNet: the cache folder {cache_dir} cannot be created ({exc})") from None
    _remove_abandoned(cache_dir)
    _remove_stale(cache_dir)
    report = on_progress or (lambda step, total, message: None)
    # Built under a name that says whose it is, then renamed: the entry either holds a whole
    # model or does not exist, even if the process dies halfway through.
    scratch = Path(tempfile.mkdtemp(prefix=f".partial-{os.getpid()}-", dir=cache_dir))
    started = time.perf_counter()
    try:
        fused = _optimize_into(source, scratch, report)
        try:
            scratch.rename(entry)
        except OSError:
            if not target.is_file():  # not a twin process that finished first
                raise
            log.info("another process optimized %s first; using its copy", source)
    except Unfusable as exc:
        _write_failure(failure, str(exc))
        raise
    except studio.ModelError:
        raise
    except MemoryError:
        raise studio.ModelError(f"not enough memory to optimize the UNet {source}; running it as it is") from None
    except Exception as exc:
        log.exception("optimizing %s failed", source)
        raise studio.ModelError(f"the UNet {source} could not be optimized ({type(exc).__name__}: {exc}); running it as it is") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("optimized %s into %s in %.1f s: %s", source, target, time.perf_counter() - started, fused)
    return target


def source_identity(source: Path) -> str:
    """A short hash of what makes the optimized copy valid.

    The folder's files (the graph and its external weights) by path, size and modification
    time, and the recipe: this module's version and onnxruntime's, whose optimizer decides the
    graph. Stat only, so a cache hit reads nothing.
    """
    onnxruntime = import_onnxruntime()
    parts = [f"recipe={RECIPE_VERSION}", f"onnxruntime={onnxruntime.__version__}", f"model={source}"]
    for path in sorted(source.parent.iterdir()):
        if path.is_file():
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def cpu_fusion_options() -> Any:
    """The optimizer's UNet options with every fusion that lacks a CPU kernel turned off."""
    FusionOptions = import_onnxruntime("transformers.fusion_options").FusionOptions

    options = FusionOptions("unet")
    options.enable_attention = True  # self- and cross-attention -> MultiHeadAttention
    options.enable_packed_qkv = False  # "Packed QKV ... not implemented for CPU"
    options.enable_packed_kv = False  # "Packed KV not implemented for CPU"
    options.enable_group_norm = False  # GroupNorm, SkipGroupNorm: CUDA only
    options.enable_skip_group_norm = False
    options.enable_bias_splitgelu = False  # CUDA only
    options.enable_bias_add = False  # CUDA only
    options.enable_nhwc_conv = False  # NhwcConv: CUDA only
    options.enable_gelu_approximation = False  # keep the exact Gelu the model was trained with
    # Symbolic shape inference only serves to drop no-op Casts and Reshapes (done below, and
    # by onnxruntime at load); it needs sympy.
    options.enable_shape_inference = False
    return options


def _optimize_into(source: Path, folder: Path, report: ProgressCallback) -> dict[str, int]:
    try:
        import onnx
    except ImportError as exc:
        raise studio.ModelError(f"cannot optimize the UNet: the onnx package is missing ({exc}); pip install onnx") from None

    report(0, TOTAL_STEPS, "Optimizing the UNet for this machine (once per model): reading…")
    check_model_file(source)  # its small external weights are read below, before onnxruntime's own check
    try:
        model = onnx.load(str(source), load_external_data=False)
    except Exception as exc:
        raise studio.ModelError(f"cannot optimize the UNet: {source} is not a readable ONNX model ({exc})") from None
    if not model.graph.node or not any(opset.domain in ("", "ai.onnx") for opset in model.opset_import):
        raise studio.ModelError(f"cannot optimize the UNet: {source} is not a readable ONNX model (no graph in it)")
    inputs, outputs = _signature(model)
    weight_files = _external_files(model)
    _inline_small_weights(model, source.parent)
    removed = drop_noop_casts(model)

    report(1, TOTAL_STEPS, "Optimizing the UNet for this machine (once per model): fusing attention…")
    optimizer = _cpu_unet_model(model)
    run = getattr(optimizer, "_optimize", None)
    if run is not None:
        run(cpu_fusion_options(), None)  # the public optimize() draws a tqdm bar on stderr
    else:
        optimizer.optimize(cpu_fusion_options())
    optimizer.topological_sort()
    fused = {op: count for op, count in optimizer.get_fused_operator_statistics().items() if count}
    fused["no-op Cast removed"] = removed
    if not fused.get("MultiHeadAttention"):
        raise Unfusable(f"the UNet {source} has no attention that onnxruntime's optimizer recognises; running it as it is")
    made = {node.op_type for node in optimizer.model.graph.node if node.domain == "com.microsoft"}
    if made - CPU_FUSED_OPS:
        raise Unfusable(f"optimizing the UNet {source} made operators the CPU cannot run: {', '.join(sorted(made - CPU_FUSED_OPS))}")
    if _signature(optimizer.model) != (inputs, outputs):
        raise Unfusable(f"optimizing the UNet {source} changed its inputs or outputs; running it as it is")

    report(2, TOTAL_STEPS, "Optimizing the UNet for this machine (once per model): writing…")
    fused_model = optimizer.model
    if not any(opset.domain == "com.microsoft" for opset in fused_model.opset_import):
        fused_model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    # The graph alone: the weights it still points at are the source's, copied in beside it.
    onnx.save_model(fused_model, str(folder / "model.onnx"))
    needed = sorted(weight_files & _external_files(fused_model))
    _check_space(folder, [source.parent / name for name in needed])
    for name in needed:
        report(2, TOTAL_STEPS, f"Optimizing the UNet for this machine (once per model): copying {name}…")
        _clone_or_copy(source.parent / name, folder / name)
    (folder / "optimized.json").write_text(
        json.dumps({"source": str(source), "recipe": RECIPE_VERSION, "fused": fused}, indent=2) + "\n", encoding="utf-8"
    )
    (folder / paths.MADE_FROM).write_text(str(source.resolve()), encoding="utf-8")  # removing the model removes it
    report(TOTAL_STEPS, TOTAL_STEPS, "UNet optimized")
    return fused


def _cpu_unet_model(model: Any) -> Any:
    """onnxruntime's UNet optimizer, with the attention fusion this module needs (see top)."""
    import numpy as np
    from onnx import helper
    FusionAttentionUnet = import_onnxruntime("transformers.fusion_attention_unet").FusionAttentionUnet
    UnetOnnxModel = import_onnxruntime("transformers.onnx_model_unet").UnetOnnxModel

    class CpuAttentionFusion(FusionAttentionUnet):
        def get_num_heads(self, reshape_q, is_torch2: bool = False) -> int:
            if is_torch2:  # Reshape(q, Concat(batch, length, heads, head_size))
                parent = self.model.get_parent(reshape_q, 1)
                if parent is None or parent.op_type != "Concat" or len(parent.input) != 4:
                    return 0
                value = self.model.get_constant_value(parent.input[2])
            else:  # Reshape(q, [0, 0, heads, head_size])
                shape = self.model.get_constant_value(reshape_q.input[1])
                value = shape[2:3] if isinstance(shape, np.ndarray) and shape.size == 4 else None
            if not isinstance(value, np.ndarray) or value.size != 1:
                return 0
            return max(0, int(value.reshape(-1)[0]))

        def get_hidden_size(self, layernorm_node) -> int:
            bias = self.model.get_initializer(layernorm_node.input[2])
            return int(bias.dims[0]) if bias is not None and len(bias.dims) == 1 else 0

        def create_attention_node(self, q_matmul, k_matmul, v_matmul, num_heads, hidden_size, input, output):
            if self.is_cross_attention:  # q from the image, k and v from the text
                if q_matmul.input[0] != input or k_matmul.input[0] != v_matmul.input[0] or k_matmul.input[0] == input:
                    return None
            elif not q_matmul.input[0] == k_matmul.input[0] == v_matmul.input[0] == input:
                return None
            if num_heads <= 0 or (hidden_size > 0 and hidden_size % num_heads):
                return None
            # The scale is left at its default, 1/sqrt(head size), which is what the matched
            # pattern computes (scaled_dot_product_attention's default, SD's attention scale).
            node = helper.make_node(
                "MultiHeadAttention",
                [q_matmul.output[0], k_matmul.output[0], v_matmul.output[0]],
                [output],
                name=self.model.create_node_name("MultiHeadAttention"),
                domain="com.microsoft",
                num_heads=num_heads,
            )
            self.increase_counter("MultiHeadAttention")
            return node

        def create_attention_node_lora(self, *args, **kwargs):
            return None  # LoRA-merged graphs keep their attention as it is

    class CpuUnetModel(UnetOnnxModel):
        def fuse_multi_head_attention(self, options=None) -> None:
            for cross in (False, True):
                CpuAttentionFusion(self, self.hidden_size, self.num_heads, is_cross_attention=cross,
                                   enable_packed_qkv=False, enable_packed_kv=False).apply()

    return CpuUnetModel(model)


def drop_noop_casts(model: Any) -> int:
    """Remove ``Cast`` nodes whose input already has the target type; return how many.

    torch's exporter writes ``Cast(to=float)`` of float values into attention (diffusers'
    ``.to(query.dtype)``), which breaks the optimizer's pattern matching. The types come from
    ONNX shape inference on the graph alone (the weights need not be loaded).
    """
    import onnx

    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(_without_weights(model)).graph
    types = {value.name: value.type.tensor_type.elem_type for value in [*inferred.value_info, *inferred.input, *inferred.output]}
    types.update({tensor.name: tensor.data_type for tensor in graph.initializer})
    graph_outputs = {value.name for value in graph.output}
    noop = [
        node for node in graph.node
        if node.op_type == "Cast" and node.output[0] not in graph_outputs
        and types.get(node.input[0], 0) != 0 and types[node.input[0]] == _attribute(node, "to")
    ]
    if not noop:
        return 0
    replaced = {node.output[0]: node.input[0] for node in noop}
    for node in noop:
        graph.node.remove(node)
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name in replaced:
                node.input[index] = replaced[name]
    return len(noop)


def _without_weights(model: Any) -> Any:
    """A copy of ``model`` whose initializers keep their type and shape but no data."""
    import onnx

    light = onnx.ModelProto()
    light.CopyFrom(model)
    for tensor in light.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL and tensor.ByteSize() > INLINE_BELOW_BYTES:
            tensor.ClearField("raw_data")
            tensor.data_location = onnx.TensorProto.EXTERNAL
            entry = tensor.external_data.add()
            entry.key, entry.value = "location", "unused"
    return light


def _attribute(node: Any, name: str) -> Any:
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return None


def _signature(model: Any) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(name, element type) of the graph's real inputs and of its outputs."""
    constant = {tensor.name for tensor in model.graph.initializer}
    inputs = [(v.name, v.type.tensor_type.elem_type) for v in model.graph.input if v.name not in constant]
    outputs = [(v.name, v.type.tensor_type.elem_type) for v in model.graph.output]
    return inputs, outputs


def _external_files(model: Any) -> set[str]:
    """The weight files the graph's initializers point at, checked to lie beside it."""
    import onnx

    names = set()
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            location = next((entry.value for entry in tensor.external_data if entry.key == "location"), "")
            if not location or os.path.isabs(location) or Path(location).name != location:
                raise studio.ModelError(f"cannot optimize the UNet: its weights file {location!r} is not beside model.onnx")
            names.add(location)
    return names


def _inline_small_weights(model: Any, folder: Path) -> None:
    """Read the small external tensors into the graph: fusions look at biases and constants."""
    import onnx
    from onnx.external_data_helper import load_external_data_for_tensor

    for tensor in model.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        length = next((int(entry.value) for entry in tensor.external_data if entry.key == "length"), None)
        if length is not None and length < INLINE_BELOW_BYTES:
            load_external_data_for_tensor(tensor, str(folder))
            tensor.data_location = onnx.TensorProto.DEFAULT
            del tensor.external_data[:]


def _check_space(folder: Path, files: list[Path]) -> None:
    for path in files:
        if not path.is_file():
            raise studio.ModelError(f"cannot optimize the UNet: its weights file {path} is missing")
    needed = sum(path.stat().st_size for path in files)
    free = shutil.disk_usage(folder).free
    if needed and free < needed + 2**30:  # leave the disk a GB to breathe
        raise studio.ModelError(
            f"not enough disk space to optimize the UNet: its copy needs {needed / 1e9:.1f} GB "
            f"and {folder.parent} has {free / 1e9:.1f} GB free; running it as it is"
        )


def _clone_or_copy(source: Path, target: Path) -> None:
    """A copy-on-write clone where the file system offers one (Btrfs, XFS: no disk used), else a copy."""
    if sys.platform.startswith("linux"):
        import fcntl

        try:
            with open(source, "rb") as src, open(target, "wb") as dst:
                fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
            return
        except OSError:
            target.unlink(missing_ok=True)
    shutil.copyfile(source, target)


def _write_failure(failure: Path, message: str) -> None:
    try:
        failure.write_text(message + "\n", encoding="utf-8")
    except OSError:
        pass  # the cache is a convenience: failing to remember a failure is no failure


def _remove_abandoned(cache_dir: Path) -> None:
    """Delete half-written copies whose process is gone (a weights copy can be gigabytes)."""
    for partial in cache_dir.glob(".partial-*"):
        try:
            pid = int(partial.name.split("-")[1])
            age = time.time() - partial.stat().st_mtime
        except (IndexError, ValueError, OSError):
            continue
        if pid != os.getpid() and _abandoned(pid, age):
            shutil.rmtree(partial, ignore_errors=True)


def _remove_stale(cache_dir: Path) -> None:
    """Delete copies whose source is gone or changed: each holds a copy of its weights."""
    for entry in cache_dir.glob("unet-*"):
        try:
            source = Path(json.loads((entry / "optimized.json").read_text(encoding="utf-8"))["source"])
            stale = not source.is_file() or entry.name != f"unet-{source_identity(source)}"
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not ours to judge: leave it
        if stale:
            log.info("removing the optimized copy of %s: its source changed or is gone", source)
            shutil.rmtree(entry, ignore_errors=True)
    for failure in cache_dir.glob("unet-*.failed"):
        if time.time() - failure.stat().st_mtime > ABANDONED_AFTER_S * 30:
            failure.unlink(missing_ok=True)


def _abandoned(pid: int, age: float) -> bool:
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process there
        return age > ABANDONED_AFTER_S
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
