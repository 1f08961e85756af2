"""The decoder's two traced graphs made one, as the public MusicGen exports ship it:
``decoder_model_merged.onnx``, whose boolean ``use_cache_branch`` input picks the first step's
graph (false) or the cached steps' (true) in an ``If`` node.

Why merge: one session holds one copy of the decoder's weights (the two graphs share all but the
cross-attention key/value projections), where the split pair holds two, in memory and on disk.
This is what optimum's ``merge_decoders`` does (optimum-onnx pins an older transformers, so it
cannot run beside ours); done here with ``onnx``:

- the weights of both graphs are matched by value (dtype, shape and bytes: the exporter names
  transposed weights by node, so names differ between two traces) and kept once, in the outer
  graph, where both branches read them;
- every other name inside a branch gets the branch's prefix, so no branch value shadows an outer
  one (the outer graph's inputs, weights and outputs);
- the cached branch returns the cross-attention keys/values it was given (it never changes
  them), so both branches give the same outputs in the same order, as the plugin expects.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import onnx
from onnx import TensorProto, helper

USE_CACHE = "use_cache_branch"


def _digest(tensor: TensorProto) -> tuple:
    """What a weight holds: its type, shape and a hash of its bytes (the exporter's raw data)."""
    data = tensor.raw_data or onnx.numpy_helper.to_array(tensor).tobytes()
    return tensor.data_type, tuple(tensor.dims), hashlib.sha256(data).hexdigest()


def _branch(graph: onnx.GraphProto, prefix: str, outer: set[str], outputs: list[str], renamed: dict[str, str]) -> onnx.GraphProto:
    """``graph``'s nodes as a branch: outer names kept (or ``renamed`` to the shared weights'),
    every other value prefixed; its outputs in ``outputs``' order (an output the graph lacks is
    the outer input of the same role passed through: ``present.N.encoder.*`` <- ``past_key_values.N.encoder.*``)."""

    def name(value: str) -> str:
        if not value:
            return value  # an optional input left out
        if value in renamed:
            return renamed[value]
        return value if value in outer else f"{prefix}{value}"

    nodes = []
    for node in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.input[:] = [name(v) for v in node.input]
        copy.output[:] = [name(v) for v in node.output]
        if copy.name:
            copy.name = prefix + copy.name
        nodes.append(copy)
    types = {o.name: o.type for o in graph.output}
    branch_outputs = []
    for output in outputs:
        if output in types:
            inner = name(output)
            elem = types[output].tensor_type.elem_type
        else:
            inner = f"{prefix}{output}"
            nodes.append(helper.make_node("Identity", [output.replace("present", "past_key_values", 1)], [inner]))
            elem = TensorProto.FLOAT
        rank = len(types[output].tensor_type.shape.dim) if output in types else 4
        branch_outputs.append(helper.make_tensor_value_info(inner, elem, [None] * rank))
    return helper.make_graph(nodes, f"{prefix.strip('/')}_branch", [], branch_outputs)


def merge(first_path: Path, cached_path: Path) -> onnx.ModelProto:
    """The merged decoder of the first step's graph and the cached steps' (weights loaded).

    Built in place in the first step's model, so its weights (nearly all of them) are never
    copied: the cached graph's are dropped as they are matched, and the peak stays about one
    copy of each graph."""
    first = onnx.load(str(first_path))
    weights: dict[tuple, str] = {}
    for tensor in first.graph.initializer:
        weights.setdefault(_digest(tensor), tensor.name)
    names = {t.name for t in first.graph.initializer}
    cached = onnx.load(str(cached_path))
    renamed: dict[str, str] = {}
    extra = []  # the cached graph's own weights: few and small (no graph of the pair lacks the other's)
    for tensor in cached.graph.initializer:
        key = _digest(tensor)
        if key in weights:
            renamed[tensor.name] = weights[key]
            continue
        new = f"cached/{tensor.name}" if tensor.name in names else tensor.name
        renamed[tensor.name], weights[key] = new, new
        names.add(new)
        tensor.name = new
        extra.append(tensor)

    graph = first.graph
    seen = {i.name for i in graph.input}
    inputs = [i for i in cached.graph.input if i.name not in seen]
    inputs.append(helper.make_tensor_value_info(USE_CACHE, TensorProto.BOOL, [1]))
    outputs = [o.name for o in graph.output]
    outer = seen | {i.name for i in inputs} | names | set(outputs)
    then_branch = _branch(cached.graph, "cached/", outer, outputs, renamed)
    else_branch = _branch(graph, "first/", outer, outputs, {})
    graph.initializer.extend(extra)
    del cached, extra
    del graph.node[:]
    del graph.value_info[:]
    graph.node.append(helper.make_node("If", [USE_CACHE], outputs, then_branch=then_branch, else_branch=else_branch))
    graph.input.extend(inputs)
    for value in graph.output:
        if ".decoder." in value.name:  # the first step's names (decoder_sequence_length) say too little
            value.type.tensor_type.shape.dim[2].dim_param = "past_decoder_sequence_length + decoder_sequence_length"
    graph.name = "merged_decoder"
    first.producer_name = "studio.convert"
    return first


def save(model: onnx.ModelProto, path: Path, external: bool) -> None:
    """Write the merged graph, its weights beside it in ``<name>_data`` when ``external``."""
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + "_data", size_threshold=1024)
        _usual_mode(path.with_name(path.name + "_data"))
    else:
        onnx.save_model(model, str(path))
    onnx.checker.check_model(str(path))


def _usual_mode(path: Path) -> None:
    """onnx creates the data file readable by its owner only; the model's other files are not."""
    if path.is_file():
        umask = os.umask(0)
        os.umask(umask)
        path.chmod(0o666 & ~umask)
