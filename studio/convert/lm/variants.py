"""The smaller copies an import may add beside the fp32 graph, made with onnxruntime's quantizers.

- ``int4`` -> ``model_q4.onnx``: ``MatMulNBits`` (4-bit, blocks of 32, symmetric,
  ``accuracy_level=4``: int8 activations inside the kernel, 2-10x faster on the CPU than the
  float path), the token embedding as ``GatherBlockQuantized`` (a token reads one row of it, so
  no speed is lost) -- the same settings as the text plugin's int4 copies (plugins/text_lm/quantize.py).
  Then as onnxruntime-genai's builder writes it: a projection's bias goes into its
  ``MatMulNBits`` (one kernel, not a MatMul and an Add), and a model whose embedding is tied to
  its lm_head reads the lm_head's 4-bit table for both (a 0.5 B Qwen2's int4 file 85 MB smaller).
- ``int8`` -> ``model_int8.onnx``: dynamic quantization (``MatMulInteger``), weights as int8.
"""

from __future__ import annotations

import logging
from pathlib import Path

from studio.core.engine.onnx_import import import_onnxruntime

INT4_BLOCK = 32
INT4_ACCURACY = 4
#: variant option -> (file written, the variant name the library lists it under)
POSITIONS = "/model/embed_positions/Gather"  # decoder.py's name for GPT-2's position lookup
VARIANTS = {"int4": ("model_q4.onnx", "q4"), "int8": ("model_int8.onnx", "int8")}


def _data_name(target: Path) -> str:
    return target.stem + ".onnx_data"


def _fold_biases(graph) -> None:
    """``Add(MatMulNBits(x), b)`` -> ``MatMulNBits(x, bias=b)`` (input 5) where ``b`` is a
    constant vector and the Add is the product's only reader."""
    constants = {init.name: init for init in graph.initializer}
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    folded = []
    for node in graph.node:
        if node.op_type != "MatMulNBits" or len(node.input) > 3 or node.output[0] in outputs:
            continue
        add = readers.get(node.output[0], [])
        if len(add) != 1 or add[0].op_type != "Add":
            continue
        bias = [name for name in add[0].input if name != node.output[0]]
        n = {a.name: a.i for a in node.attribute}.get("N")
        if len(bias) != 1 or bias[0] not in constants or list(constants[bias[0]].dims) != [n]:
            continue
        node.input.extend(["", "", bias[0]])  # zero points and g_idx: none
        node.output[0] = add[0].output[0]
        folded.append(add[0])
    for add in folded:
        graph.node.remove(add)


def _share_tied_embedding(graph, embedding: str) -> bool:
    """The token embedding read from the lm_head's 4-bit table (Reshape + GatherBlockQuantized,
    as the builder writes it) instead of a copy of its own; False when the graph is not so."""
    from onnx import helper

    head = next((n for n in graph.node if n.op_type == "MatMulNBits" and "logits" in n.output), None)
    gather = next((n for n in graph.node if n.op_type == "Gather" and n.input[0] == embedding), None)
    if head is None or gather is None or len(head.input) > 3:
        return False
    attributes = {a.name: a.i for a in head.attribute}
    vocab, width = attributes["N"], attributes["K"]
    shape = graph.initializer.add()
    shape.CopyFrom(helper.make_tensor("/model/constants/INT64/embedding_shape", 7, [2], [vocab, width // 2]))
    table = "/model/embed_tokens/Reshape/output_0"
    at = list(graph.node).index(gather)
    graph.node.remove(gather)
    graph.node.insert(at, helper.make_node("GatherBlockQuantized", [table, gather.input[1], head.input[2]], list(gather.output),
                                           name="/model/embed_tokens/GatherBlockQuantized", domain="com.microsoft",
                                           bits=4, block_size=INT4_BLOCK, gather_axis=0, quantize_axis=1))
    graph.node.insert(at, helper.make_node("Reshape", [head.input[1], shape.name], [table], name="/model/embed_tokens/Reshape"))
    for index, init in enumerate(graph.initializer):
        if init.name == embedding:
            del graph.initializer[index]
            break
    return True


def write_int4(source: Path, target: Path, tied_embedding: str = "") -> None:
    """``tied_embedding``: the name of the embedding table the lm_head shares, if it does."""
    import onnx

    nbits = import_onnxruntime("quantization.matmul_nbits_quantizer")
    model = onnx.load(str(source))
    kinds = ("MatMul",) if tied_embedding else ("MatMul", "Gather")
    # GPT-2's learned positions stay fp32: a few MB, and each step reads one row of them anyway.
    quantizer = nbits.MatMulNBitsQuantizer(model, block_size=INT4_BLOCK, is_symmetric=True, accuracy_level=INT4_ACCURACY,
                                           op_types_to_quantize=kinds, quant_axes=(("MatMul", 0), ("Gather", 1)),
                                           nodes_to_exclude=[POSITIONS])
    quantizer.process()
    model = quantizer.model.model
    _fold_biases(model.graph)
    if tied_embedding and not _share_tied_embedding(model.graph, tied_embedding):
        raise RuntimeError("the int4 graph's lm_head and embedding are not as written: cannot share the table")
    onnx.save_model(model, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
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


def write_variant(kind: str, source: Path, tied_embedding: str = "") -> str:
    """Write the ``kind`` copy of ``source`` beside it; the variant name it is listed under."""
    file, name = VARIANTS[kind]
    root = logging.getLogger()
    level = root.level
    try:
        if kind == "int4":
            write_int4(source, source.with_name(file), tied_embedding)
        else:
            write_int8(source, source.with_name(file))
    finally:
        root.setLevel(level)  # onnxruntime's quantizers lower it for their own messages
    return name
