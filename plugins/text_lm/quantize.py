"""Smaller weights, when the writer asks: an int8 copy of a model, made once and cached.

Decoding one token reads every weight once, so at batch 1 the CPU's memory bandwidth caps
tokens/s; fp32 weights are the most there is to read. onnxruntime's dynamic quantization
stores the MatMul weights as int8 (a quarter of the bytes) and quantizes activations on the
fly: faster, with text that differs slightly from the fp32 model's. The copy lives in the
cache folder, keyed by the source file's identity, and is written atomically.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

import studio
from studio.core.engine.model_safety import check_model_file
from studio.core.engine.onnx_import import import_onnxruntime

log = logging.getLogger(__name__)
LARGE = 1 << 30  # above this, the copy keeps its weights in an external-data file (protobuf's 2 GB limit)


def _key(source: Path) -> str:
    onnxruntime = import_onnxruntime()
    stat = source.stat()
    identity = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{onnxruntime.__version__}|int8-v1"
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def int8_model(source: Path, cache_dir: Path) -> Path:
    """The int8 copy of ``source`` (made on first use); ``studio.ModelError`` if it cannot be made."""
    source = Path(source)
    target_dir = cache_dir / f"{source.parent.name}-{_key(source)}"
    target = target_dir / "model.onnx"
    if target.is_file():
        return target
    check_model_file(source)  # quantizing reads the external weights, before onnxruntime's own check
    try:
        quantization = import_onnxruntime("quantization")
        QuantType, quantize_dynamic = quantization.QuantType, quantization.quantize_dynamic
    except ImportError as exc:
        raise studio.ModelError(f"int8 weights need onnxruntime's quantization tools and the onnx package ({exc})") from None
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".int8-", dir=cache_dir))
    try:
        large = sum(p.stat().st_size for p in source.parent.iterdir() if p.is_file()) > LARGE
        quiet = logging.NullHandler()  # the quantizer's advice goes to the root logger: not the user's terminal
        logging.getLogger().addHandler(quiet)
        try:
            quantize_dynamic(source, work / "model.onnx", weight_type=QuantType.QInt8, use_external_data_format=large)
        finally:
            logging.getLogger().removeHandler(quiet)
        os.replace(work, target_dir)
    except Exception as exc:
        shutil.rmtree(work, ignore_errors=True)
        if target.is_file():  # another job made it meanwhile
            return target
        raise studio.ModelError(f"could not make int8 weights for {source}: {type(exc).__name__}: {exc}") from None
    log.info("made int8 weights for %s in %s", source, target)
    return target
