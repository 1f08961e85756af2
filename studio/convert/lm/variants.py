"""The smaller copies an import may add beside the fp32 graph, made with onnxruntime's quantizers.

- ``int4`` -> ``model_q4.onnx``: ``MatMulNBits`` (4-bit, blocks of 32, symmetric,
  ``accuracy_level=4``: int8 activations inside the kernel, 2-10x faster on the CPU than the
  float path), the token embedding as ``GatherBlockQuantized`` (a token reads one row of it, so
  no speed is lost) -- the same settings as the text plugin's int4 copies (plugins/text_lm/quantize.py).
- ``int8`` -> ``model_int8.onnx``: dynamic quantization (``MatMulInteger``), weights as int8.
"""

from __future__ import annotations

import logging
from pathlib import Path

from studio.core.engine.onnx_import import import_onnxruntime

INT4_BLOCK = 32
INT4_ACCURACY = 4
#: variant option -> (file written, the variant name the library lists it under)
VARIANTS = {"int4": ("model_q4.onnx", "q4"), "int8": ("model_int8.onnx", "int8")}


def _data_name(target: Path) -> str:
    return target.stem + ".onnx_data"


def write_int4(source: Path, target: Path) -> None:
    import onnx

    nbits = import_onnxruntime("quantization.matmul_nbits_quantizer")
    model = onnx.load(str(source))
    quantizer = nbits.MatMulNBitsQuantizer(model, block_size=INT4_BLOCK, is_symmetric=True, accuracy_level=INT4_ACCURACY,
                                           op_types_to_quantize=("MatMul", "Gather"), quant_axes=(("MatMul", 0), ("Gather", 1)))
    quantizer.process()
    onnx.save_model(quantizer.model.model, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=_data_name(target), size_threshold=1024)


def write_int8(source: Path, target: Path) -> None:
    import onnx

    quantization = import_onnxruntime("quantization")
    work = target.with_name(".int8-work.onnx")
    # contrib nodes (GroupQueryAttention, the norms) have no ONNX shape inference: say float
    quantization.quantize_dynamic(source, work, weight_type=quantization.QuantType.QInt8, use_external_data_format=True,
                                  extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    model = onnx.load(str(work))
    onnx.save_model(model, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=_data_name(target), size_threshold=1024)
    for leftover in target.parent.glob(".int8-work.onnx*"):
        leftover.unlink()


def write_variant(kind: str, source: Path) -> str:
    """Write the ``kind`` copy of ``source`` beside it; the variant name it is listed under."""
    file, name = VARIANTS[kind]
    root = logging.getLogger()
    level = root.level
    try:
        (write_int4 if kind == "int4" else write_int8)(source, source.with_name(file))
    finally:
        root.setLevel(level)  # onnxruntime's quantizers lower it for their own messages
    return name
