"""Smaller and faster weights: an int8 or int4 copy of a model, or a hub variant's graph fused
for the CPU; each made once and cached.

Decoding one token reads every weight once, so at batch 1 the CPU's memory bandwidth caps
tokens/s; fp32 weights are the most there is to read.

- int8: onnxruntime's dynamic quantization stores the MatMul weights as int8 (a quarter of the
  bytes) and quantizes activations on the fly (``MatMulInteger``).
- int4: ``MatMulNBits`` as onnxruntime-genai's builder writes it (4-bit weights in blocks of 32,
  symmetric, ``accuracy_level=4``: int8 activations inside the kernel, which makes it 2-10x
  faster on the CPU than the float path), an eighth of the bytes.

- fast: a variant the folder ships (q4, int8...) rewritten the same way, so that it decodes on
  the same fused path as int4 made here.

Text differs slightly from the fp32 model's. Each copy lives in the cache folder, keyed by the
source file's identity, and is written atomically: a crash leaves no half-made copy behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import studio
from studio.core.base import paths
from studio.core.engine.model_safety import check_model_file
from studio.core.engine.onnx_import import import_onnxruntime

from .fusion import DecoderShape, fuse_decoder

log = logging.getLogger(__name__)
LARGE = 1 << 30  # above this, the copy keeps its weights in an external-data file (protobuf's 2 GB limit)
INT4_BLOCK = 32
INT4_ACCURACY = 4

#: The kinds of weights made here, in the order the ``variant`` parameter offers them.
MADE_HERE = ("int8", "int4")
#: The shipped variants that run from a fast copy on the CPU (fp32 would double the disk it
#: takes; fp16, q4f16 and bnb4 are not the CPU's fast paths anyway).
FAST_VARIANTS = ("q4", "int8", "uint8", "quantized")


def _key(source: Path, kind: str) -> str:
    onnxruntime = import_onnxruntime()
    stat = source.stat()
    identity = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{onnxruntime.__version__}|{kind}-v6"
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def _large(source: Path) -> bool:
    return sum(p.stat().st_size for p in source.parent.iterdir() if p.is_file()) > LARGE


def _drop_fused(work: Path) -> None:
    """The fused full-precision graphs a copy was made from: only the copy stays."""
    for leftover in work.iterdir():
        if leftover.name.startswith(("fused.onnx", "attention.onnx", "untied.onnx")):
            leftover.unlink()


def untie_transposed_weights(model) -> int:
    """``MatMul(x, Transpose(W))`` with ``W`` an initializer -> ``MatMul(x, Wᵀ)``, Wᵀ stored.

    An export that ties the lm_head to the token embedding writes it so (optimum deduplicates
    tied weights: Qwen2.5, Llama 3.2, Gemma...). The quantizers only touch a MatMul whose
    weight is an initializer, so the lm_head, the largest single read of each token (0.55 GB of
    fp32 in a 0.5 B Qwen2), stayed fp32 in int4 and int8 copies: measured, the int4 copy read
    777 MB a token instead of about 300. Returns how many MatMuls were changed."""
    from onnx import numpy_helper

    initializers = {init.name: init for init in model.graph.initializer}
    readers: dict[str, int] = {}
    for node in model.graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    made: dict[str, str] = {}
    changed = 0
    for node in list(model.graph.node):
        if node.op_type != "Transpose" or node.input[0] not in initializers or len(initializers[node.input[0]].dims) != 2:
            continue
        perm = [list(a.ints) for a in node.attribute if a.name == "perm"]
        if perm and perm[0] != [1, 0]:
            continue
        users = [n for n in model.graph.node if node.output[0] in n.input]
        if not users or any(n.op_type != "MatMul" or n.input[1] != node.output[0] for n in users):
            continue
        name = made.get(node.input[0])
        if name is None:
            value = numpy_helper.to_array(initializers[node.input[0]]).T.copy()  # onnx.load read its data
            name = made[node.input[0]] = node.output[0]
            model.graph.initializer.append(numpy_helper.from_array(value, name))
        model.graph.node.remove(node)
        changed += len(users)
        readers[node.input[0]] -= 1
    for source, count in readers.items():  # the tied table read by nothing else any more
        if source in made and count == 0:
            model.graph.initializer.remove(initializers[source])
    return changed


def _load_untied(path: Path):
    """The graph at ``path`` with its weights, transposed tied weights stored as such."""
    import onnx

    model = onnx.load(str(path))
    changed = untie_transposed_weights(model)
    if changed:
        log.info("%s: %d MatMul(s) on a transposed weight given the weight itself", path, changed)
    return model, changed


def _int8(source: Path, target: Path, shape: DecoderShape | None) -> None:
    import onnx

    quantization = import_onnxruntime("quantization")
    fused, said = fuse_decoder(source, target.parent, shape)
    log.info("int8 weights for %s: %s", source, said)
    model, changed = _load_untied(fused)
    if changed:  # quantize_dynamic reads a file: the untied graph is written beside the fused one
        untied = target.parent / "untied.onnx"
        onnx.save_model(model, str(untied), save_as_external_data=_large(source), location="untied.onnx.data")
        fused = untied
    del model
    options = {"weight_type": quantization.QuantType.QInt8, "use_external_data_format": _large(source),
               # contrib nodes (Attention, GroupQueryAttention) have no ONNX shape inference: say float
               "extra_options": {"DefaultTensorType": onnx.TensorProto.FLOAT}}
    try:
        quantization.quantize_dynamic(fused, target, **options)
    except Exception as exc:  # noqa: BLE001 - a fused graph the quantizer cannot read: the export
        if fused == source:
            raise
        log.warning("int8 of the fused %s failed (%s: %s); quantizing it as exported", source, type(exc).__name__, exc)
        for partial in target.parent.glob("model.onnx*"):
            partial.unlink()
        quantization.quantize_dynamic(source, target, **options)
    _drop_fused(target.parent)


def _int4(source: Path, target: Path, shape: DecoderShape | None) -> None:
    nbits = import_onnxruntime("quantization.matmul_nbits_quantizer")
    fused, said = fuse_decoder(source, target.parent, shape)  # norms, rotary, attention fused first, on fp32
    log.info("int4 weights for %s: %s", source, said)
    model, _ = _load_untied(fused)
    # The token embedding too (GatherBlockQuantized, as transformers.js's q4): a token reads one
    # row of it, so it costs no speed, but in fp32 it was over half of a 0.5 B model's int4 file.
    quantizer = nbits.MatMulNBitsQuantizer(model, block_size=INT4_BLOCK, is_symmetric=True, accuracy_level=INT4_ACCURACY,
                                           op_types_to_quantize=("MatMul", "Gather"), quant_axes=(("MatMul", 0), ("Gather", 1)))
    quantizer.process()
    quantizer.model.save_model_to_file(str(target), use_external_data_format=_large(source))
    _drop_fused(target.parent)


def _fast(source: Path, target: Path, shape: DecoderShape | None) -> None:
    """A hub variant on the fast path: fused like int4 made here, and its 4-bit MatMuls at
    accuracy level 4 (transformers.js exports leave it unset: the float path, about half as
    fast on the CPU, measured). Nothing to change: an ``as-is`` note instead of a copy."""
    import onnx

    fused, said = fuse_decoder(source, target.parent, shape)
    model = onnx.load(str(fused))
    raised = 0
    for node in model.graph.node:
        if node.op_type == "MatMulNBits" and node.domain == "com.microsoft":
            levels = [a for a in node.attribute if a.name == "accuracy_level"]
            if not levels or levels[0].i < INT4_ACCURACY:
                for attribute in levels:
                    node.attribute.remove(attribute)
                node.attribute.append(onnx.helper.make_attribute("accuracy_level", INT4_ACCURACY))
                raised += 1
    log.info("fast copy of %s: %s; %d MatMulNBits at accuracy level 4", source, said, raised)
    if fused == source and not raised:
        (target.parent / AS_IS).write_text("nothing to fuse or raise: the file runs as it is\n")
    else:
        large = _large(source)
        onnx.save_model(model, str(target), save_as_external_data=large, location="model.onnx.data")
    _drop_fused(target.parent)


AS_IS = "as-is"
MAKERS: dict[str, Callable[[Path, Path, DecoderShape | None], None]] = {"int8": _int8, "int4": _int4, "fast": _fast}


def made_model(source: Path, cache_dir: Path, kind: str, shape: DecoderShape | None = None) -> Path:
    """The ``kind`` ("int8", "int4" or "fast") copy of ``source`` (made on first use, in
    ``cache_dir/<kind>/``), or ``source`` itself when a fast copy would change nothing;
    ``studio.ModelError`` if it cannot be made. ``shape``: the model's heads and graph names,
    without which nothing is fused."""
    source = Path(source)
    folder = cache_dir / kind
    target_dir = folder / f"{source.parent.name}-{_key(source, kind)}"
    target = target_dir / "model.onnx"
    if target.is_file():
        return target
    if (target_dir / AS_IS).is_file():
        return source
    check_model_file(source)  # quantizing reads the external weights, before onnxruntime's own check
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=folder))
    quiet = logging.NullHandler()  # the quantizer's advice goes to the root logger: not the user's terminal
    root = logging.getLogger()
    level = root.level
    try:
        root.addHandler(quiet)
        try:
            MAKERS[kind](source, work / "model.onnx", shape)
        finally:
            root.removeHandler(quiet)
            root.setLevel(level)  # onnxruntime's quantizers lower it for their own messages
        (work / paths.MADE_FROM).write_text(str(source.resolve()), encoding="utf-8")  # removing the model removes it
        os.replace(work, target_dir)
    except ImportError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise studio.ModelError(f"{kind} weights need onnxruntime's quantization tools and the onnx package ({exc})") from None
    except Exception as exc:
        shutil.rmtree(work, ignore_errors=True)
        if target.is_file() or (target_dir / AS_IS).is_file():  # another job made it meanwhile
            return target if target.is_file() else source
        raise studio.ModelError(f"could not make {kind} weights for {source}: {type(exc).__name__}: {exc}") from None
    log.info("made %s weights for %s in %s", kind, source, target_dir)
    return target if target.is_file() else source


def int8_model(source: Path, cache_dir: Path) -> Path:
    """The int8 copy of ``source`` in ``cache_dir`` (kept for callers of the first version)."""
    return made_model(source, cache_dir.parent, "int8") if cache_dir.name == "int8" else made_model(source, cache_dir, "int8")
