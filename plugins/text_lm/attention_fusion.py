"""Attention fused into onnxruntime's ``GroupQueryAttention``, in optimum's Llama-style exports.

After onnxruntime's optimizer (fusion.py) an exported layer still computes attention in some
forty nodes: the new key and value appended to the cache (``Concat``), the KV heads repeated for
each query group (``Unsqueeze``, ``Expand``, ``Reshape``), the causal mask built from the
sequence lengths (``Range``, ``Where``...), ``MatMul``, ``Softmax``, ``MatMul``. Measured on a
random 55 M-parameter Llama at one thread, those shape nodes took about 40 % of a token's time.
onnxruntime-genai's builder writes one ``GroupQueryAttention`` per layer instead (rotary
embedding included), which is why its int4 folder decodes twice as fast.

This rewrites each layer the same way, from what the graph itself shows: per layer ``N``,

    present.N.key   = Concat(past_key_values.N.key,   RotaryEmbedding(Transpose(Reshape(k_proj))))
    present.N.value = Concat(past_key_values.N.value, Transpose(Reshape(v_proj)))
    Softmax(... RotaryEmbedding(Transpose(Reshape(q_proj))) ...) -> MatMul -> Transpose -> Reshape = output

becomes ``GroupQueryAttention(q_proj, k_proj, v_proj, past key, past value, seqlens_k,
total_sequence_length, cos_cache, sin_cache)`` with ``do_rotary=1``. A layer that does not
show exactly this shape is left as it is, and the caller (fusion.py) checks the rewritten
graph's logits against the original's before using it: a graph this cannot read is slower,
never wrong.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from .genai_folder import GraphNames

MS = "com.microsoft"


def _producers(graph) -> dict[str, Any]:
    return {out: node for node in graph.node for out in node.output}


def _consumers(graph) -> dict[str, list]:
    found: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            found.setdefault(name, []).append(node)
    return found


def _projection(node, producers, rotary: bool):
    """``RotaryEmbedding(Transpose(Reshape(x)))`` (or without the rotary) -> (x, rotary node)."""
    rot = None
    if rotary:
        if node is None or node.op_type != "RotaryEmbedding" or node.domain != MS:
            return None
        attributes = {a.name: a.i for a in node.attribute}
        if attributes.get("interleaved", 0) != 0:
            return None
        rot, node = node, producers.get(node.input[0])
    if node is None or node.op_type != "Transpose":
        return None
    reshape = producers.get(node.input[0])
    if reshape is None or reshape.op_type != "Reshape":
        return None
    return reshape.input[0], rot


def _find_forward(start: str, consumers, op_type: str, limit: int = 500):
    """The first ``op_type`` node reached from tensor ``start`` following consumers."""
    queue, seen = deque([start]), {start}
    while queue and limit > 0:
        for node in consumers.get(queue.popleft(), []):
            limit -= 1
            if node.op_type == op_type:
                return node
            for out in node.output:
                if out not in seen:
                    seen.add(out)
                    queue.append(out)
    return None


def _find_backward(start: str, producers, op_type: str, limit: int = 12):
    queue, seen = deque([start]), {start}
    while queue and limit > 0:
        node = producers.get(queue.popleft())
        if node is None:
            continue
        limit -= 1
        if node.op_type == op_type:
            return node
        for name in node.input:
            if name and name not in seen:
                seen.add(name)
                queue.append(name)
    return None


def _layer(graph, names: GraphNames, layer: int, producers, consumers, initializers):
    """What one layer's rewrite needs, or ``None`` when the layer does not show the pattern."""
    concat_k = producers.get(names.present_key % layer)
    concat_v = producers.get(names.present_value % layer)
    if concat_k is None or concat_v is None or concat_k.op_type != "Concat" or concat_v.op_type != "Concat":
        return None
    if list(concat_k.input[:1]) != [names.past_key % layer] or list(concat_v.input[:1]) != [names.past_value % layer]:
        return None
    key = _projection(producers.get(concat_k.input[1]), producers, rotary=True)
    value = _projection(producers.get(concat_v.input[1]), producers, rotary=False)
    softmax = _find_forward(concat_k.output[0], consumers, "Softmax")
    if key is None or value is None or softmax is None:
        return None
    cos, sin = key[1].input[2], key[1].input[3]
    if cos not in initializers or sin not in initializers:
        return None
    rot_q = _find_backward(softmax.input[0], producers, "RotaryEmbedding")
    query = _projection(rot_q, producers, rotary=True) if rot_q is not None and rot_q is not key[1] else None
    if query is None or list(rot_q.input[2:4]) != [cos, sin]:
        return None
    # Softmax -> (NaN guard) -> MatMul with the values -> Transpose -> Reshape: the layer's output.
    matmul = _find_forward(softmax.output[0], consumers, "MatMul", limit=6)
    transpose = (consumers.get(matmul.output[0]) or [None])[0] if matmul is not None else None
    reshape = (consumers.get(transpose.output[0]) or [None])[0] if transpose is not None else None
    if transpose is None or reshape is None or transpose.op_type != "Transpose" or reshape.op_type != "Reshape":
        return None
    return {"q": query[0], "k": key[0], "v": value[0], "cos": cos, "sin": sin, "output": reshape.output[0],
            "remove": (concat_k, concat_v, reshape)}


def fuse_attention(model, names: GraphNames, heads: int, kv_heads: int, context: int = 0) -> int:
    """Rewrite ``model`` (an ``onnx.ModelProto``, fused by fusion.py) in place; the number of
    layers rewritten (0: the model is untouched). ``context``: rows of the rotary tables kept."""
    from onnx import TensorProto, helper

    graph = model.graph
    inputs = {i.name for i in graph.input}
    if names.attention_mask not in inputs:
        return 0
    producers, consumers = _producers(graph), _consumers(graph)
    initializers = {i.name for i in graph.initializer}
    layers = []
    while names.past_key % len(layers) in inputs:
        found = _layer(graph, names, len(layers), producers, consumers, initializers)
        if found is None:
            return 0  # all or nothing: a half-rewritten model is harder to reason about
        layers.append(found)
    if not layers:
        return 0
    mask = names.attention_mask
    prefix = "studio_gqa"
    graph.initializer.extend([helper.make_tensor(f"{prefix}_one", TensorProto.INT64, [1], [1]),
                              helper.make_tensor(f"{prefix}_axis1", TensorProto.INT64, [1], [1]),
                              helper.make_tensor(f"{prefix}_index1", TensorProto.INT64, [], [1])])
    shared = [  # what genai's builder computes once for every layer: lengths from the mask
        helper.make_node("ReduceSum", [mask, f"{prefix}_axis1"], [f"{prefix}_sums"], name=f"{prefix}_ReduceSum", keepdims=0),
        helper.make_node("Sub", [f"{prefix}_sums", f"{prefix}_one"], [f"{prefix}_sums_m1"], name=f"{prefix}_Sub"),
        helper.make_node("Cast", [f"{prefix}_sums_m1"], [f"{prefix}_seqlens_k"], name=f"{prefix}_Cast_seqlens", to=TensorProto.INT32),
        helper.make_node("Shape", [mask], [f"{prefix}_mask_shape"], name=f"{prefix}_Shape"),
        helper.make_node("Gather", [f"{prefix}_mask_shape", f"{prefix}_index1"], [f"{prefix}_total64"], name=f"{prefix}_Gather", axis=0),
        helper.make_node("Cast", [f"{prefix}_total64"], [f"{prefix}_total"], name=f"{prefix}_Cast_total", to=TensorProto.INT32),
    ]
    removed = {id(node) for layer in layers for node in layer["remove"]}
    kept = [node for node in graph.node if id(node) not in removed]
    weights = {init.name: init for init in graph.initializer}
    for index, layer in enumerate(layers):
        qkv = _pack(producers, weights, layer, f"{prefix}_{index}_qkv")
        if qkv is not None:  # one projection for q, k and v, as genai's builder writes it
            kept += qkv[1]
            graph.initializer.extend(qkv[2])
        q, k, v = (qkv[0], "", "") if qkv is not None else (layer["q"], layer["k"], layer["v"])
        kept.append(helper.make_node(
            "GroupQueryAttention",
            [q, k, v, names.past_key % index, names.past_value % index,
             f"{prefix}_seqlens_k", f"{prefix}_total", layer["cos"], layer["sin"]],
            [layer["output"], names.present_key % index, names.present_value % index],
            name=f"{prefix}_{index}", domain=MS, num_heads=heads, kv_num_heads=kv_heads, do_rotary=1,
            rotary_interleaved=0, local_window_size=-1,
        ))
    del graph.node[:]
    graph.node.extend(shared + kept)
    _prune(graph)
    if context > 0:
        _cut_tables(graph, {name for layer in layers for name in (layer["cos"], layer["sin"])}, context)
    if not any(op.domain == MS for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS, 1))
    return len(layers)


def _pack(producers, weights, layer, name):
    """q, k and v projected by one MatMul (and one bias Add) when each is ``MatMul(x, W)`` (``+ b``)
    of the same ``x`` with constant weights: (its output, its nodes, its initializers); else None."""
    from onnx import helper, numpy_helper

    parts = []
    for output in (layer["q"], layer["k"], layer["v"]):
        node, bias = producers.get(output), None
        if node is not None and node.op_type == "Add":
            constant = [i for i in node.input if i in weights]
            if len(constant) != 1:
                return None
            bias = constant[0]
            node = producers.get(next(i for i in node.input if i != bias))
        if node is None or node.op_type != "MatMul" or node.input[1] not in weights:
            return None
        parts.append((node.input[0], numpy_helper.to_array(weights[node.input[1]]), bias))
    if len({x for x, _, _ in parts}) != 1 or len({b is None for _, _, b in parts}) != 1:
        return None
    matrices = [w for _, w, _ in parts]
    if any(w.ndim != 2 or w.shape[0] != matrices[0].shape[0] or w.dtype != matrices[0].dtype for w in matrices):
        return None
    initializers = [numpy_helper.from_array(np.concatenate(matrices, axis=1), f"{name}_weight")]
    nodes = [helper.make_node("MatMul", [parts[0][0], f"{name}_weight"], [f"{name}_out"], name=f"{name}_MatMul")]
    if parts[0][2] is None:
        return f"{name}_out", nodes, initializers
    biases = [numpy_helper.to_array(weights[b]) for _, _, b in parts]
    initializers.append(numpy_helper.from_array(np.concatenate(biases), f"{name}_bias"))
    nodes.append(helper.make_node("Add", [f"{name}_out", f"{name}_bias"], [f"{name}_biased"], name=f"{name}_Add"))
    return f"{name}_biased", nodes, initializers


def _cut_tables(graph, names: set[str], rows: int) -> None:
    """The rotary cos/sin tables cut to their first ``rows`` rows (positions past the context
    are never read)."""
    from onnx import numpy_helper

    for index, init in enumerate(graph.initializer):
        if init.name in names and init.dims and init.dims[0] > rows:
            graph.initializer[index].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init)[:rows].copy(), init.name))


def _prune(graph) -> None:
    """Drop the nodes no graph output depends on any more (the old attention), in order."""
    producers = _producers(graph)
    needed, stack = set(), [o.name for o in graph.output]
    while stack:
        node = producers.get(stack.pop())
        if node is None or id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(name for name in node.input if name)
    kept = _in_order([node for node in graph.node if id(node) in needed], graph)
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for node in kept for name in node.input}
    live = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live)


def logits_rows(path: Path, names: GraphNames, kv_heads: int, head_dim: int, steps: int = 3) -> np.ndarray:
    """Logits for a short prompt then ``steps`` cached tokens: what fusion.py compares."""
    from studio.core.engine.onnx_import import import_onnxruntime

    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    pairs = []  # (past input, present output)
    while names.past_key % len(pairs) in inputs:
        layer = len(pairs)
        pairs.append((names.past_key % layer, names.present_key % layer, names.past_value % layer, names.present_value % layer))
    past = {name: np.zeros((1, kv_heads, 0, head_dim), np.float32) for pair in pairs for name in pair[0::2]}
    feed, seen, rows = [3, 7, 11, 5, 9], 0, []
    for _ in range(steps + 1):
        total = seen + len(feed)
        feeds = {names.input_ids: np.array([feed], np.int64), names.attention_mask: np.ones((1, total), np.int64), **past}
        if names.position_ids in inputs:
            feeds[names.position_ids] = np.arange(seen, total, dtype=np.int64)[None]
        result = dict(zip(outputs, session.run(None, feeds)))
        rows.append(result[names.logits][0, -1].astype(np.float32))
        for past_key, present_key, past_value, present_value in pairs:
            past[past_key], past[past_value] = result[present_key], result[present_value]
        seen, feed = total, [3 + total % 5]  # the same tokens for both graphs, whatever they predict
    return np.stack(rows)


def _in_order(nodes: list, graph) -> list:
    """``nodes`` sorted so that each comes after the nodes whose outputs it reads (ONNX's rule;
    the new attention nodes were appended last)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    waiting = {id(node): node for node in nodes}
    ordered = []
    while waiting:
        ready = [node for node in waiting.values() if all(name in available for name in node.input)]
        if not ready:  # a cycle or an input from nowhere: leave the rest as it was
            ordered += list(waiting.values())
            break
        for node in ready:
            ordered.append(node)
            available.update(node.output)
            del waiting[id(node)]
    return ordered
