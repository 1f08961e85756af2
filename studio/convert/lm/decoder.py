"""The decoder graph, layer by layer, as onnxruntime-genai's builder writes it.

Per layer (Llama, Mistral, Qwen2, Phi-3):

    SkipSimplifiedLayerNormalization(previous sublayer, residual)     RMSNorm and the residual add, one kernel
    MatMul(x, [Wq | Wk | Wv]) (+ bias, Qwen2)                        q, k and v in one projection
    GroupQueryAttention(qkv, past key, past value, seqlens_k, total, cos, sin; do_rotary=1)
    MatMul(attention, Wo)
    SkipSimplifiedLayerNormalization(..., residual)
    MatMul(x, Wgate), MatMul(x, Wup), Sigmoid, Mul, Mul, MatMul(., Wdown)

GPT-2 the same with ``LayerNormalization`` / ``SkipLayerNormalization`` (the sublayers' output
biases folded into them), learned positions added to the token embedding, ``FastGelu`` and no
rotary embedding. ``seqlens_k`` and the total length come from the attention mask once
(``ReduceSum - 1``, ``Shape[1]``), as the builder computes them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .config import LMConfig
from .graph import MS, Graph
from .weights import Weights

Report = Callable[[str, int, int, str], None]


def _inputs(graph: Graph, config: LMConfig, positions: bool) -> None:
    from onnx import TensorProto

    graph.input("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
    graph.input("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"])
    if positions:
        graph.input("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
    for layer in range(config.layers):
        for kind in ("key", "value"):
            graph.input(f"past_key_values.{layer}.{kind}", TensorProto.FLOAT,
                        ["batch_size", config.kv_heads, "past_sequence_length", config.head_dim])
    graph.output("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", config.vocab])
    for layer in range(config.layers):
        for kind in ("key", "value"):
            graph.output(f"present.{layer}.{kind}", TensorProto.FLOAT,
                         ["batch_size", config.kv_heads, "total_sequence_length", config.head_dim])


def _lengths(graph: Graph) -> tuple[str, str]:
    """``seqlens_k`` (tokens seen - 1, int32 per row) and the total length (int32), from the mask."""
    from onnx import TensorProto

    one = graph.constant("/model/constants/INT64/[1]", [1])
    index = graph.constant("/model/constants/INT64/1", [1], scalar=True)
    base = "/model/attn_mask_reformat"
    sums = graph.node("ReduceSum", ["attention_mask", one], f"{base}/ReduceSum", keepdims=0)[0]
    less = graph.node("Sub", [sums, one], f"{base}/Sub")[0]
    seqlens = graph.node("Cast", [less], f"{base}/Sub/Cast", to=TensorProto.INT32)[0]
    shape = graph.node("Shape", ["attention_mask"], f"{base}/Shape")[0]
    total = graph.node("Gather", [shape, index], f"{base}/Gather", axis=0)[0]
    return seqlens, graph.node("Cast", [total], f"{base}/Gather/Cast", to=TensorProto.INT32)[0]


def _attention(graph: Graph, config: LMConfig, layer: int, qkv: str, lengths: tuple[str, str], rotary: tuple[str, str] | None) -> str:
    inputs = [qkv, "", "", f"past_key_values.{layer}.key", f"past_key_values.{layer}.value", *lengths]
    if rotary:
        inputs += list(rotary)
    return graph.node("GroupQueryAttention", inputs, f"/model/layers.{layer}/attn/GroupQueryAttention",
                      outputs=[f"/model/layers.{layer}/attn/output_0", f"present.{layer}.key", f"present.{layer}.value"],
                      domain=MS, num_heads=config.heads, kv_num_heads=config.kv_heads, do_rotary=int(rotary is not None),
                      rotary_interleaved=0, local_window_size=config.window)[0]


class _Residual:
    """The residual stream: each norm after the first adds the previous sublayer (and its bias) in."""

    def __init__(self, graph: Graph, config: LMConfig, simple: bool) -> None:
        self.graph, self.config, self.simple = graph, config, simple
        self.stream: str | None = None
        self.pending: tuple[str, str] | None = None  # (sublayer output, its bias or "")

    def norm(self, name: str, gamma: np.ndarray, beta: np.ndarray | None, last: bool = False) -> str:
        graph, eps = self.graph, self.config.epsilon
        weights = [graph.weight(f"{name}.weight", gamma)]
        if not self.simple:
            weights.append(graph.weight(f"{name}.bias", beta))
        if self.pending is None:  # the first norm: nothing to add yet
            op = "SimplifiedLayerNormalization" if self.simple else "LayerNormalization"
            return graph.node(op, [self.stream, *weights], f"{name}/LayerNorm", axis=-1, epsilon=eps, stash_type=1)[0]
        op = "SkipSimplifiedLayerNormalization" if self.simple else "SkipLayerNormalization"
        sublayer, bias = self.pending
        inputs = [sublayer, self.stream, *weights] + ([bias] if bias else [])
        outputs = [f"{name}/output_0"] if last else [f"{name}/output_0", "", "", f"{name}/output_3"]
        outputs = graph.node(op, inputs, f"{name}/SkipLayerNorm", outputs=outputs, domain=MS, epsilon=eps)
        if not last:
            self.stream = outputs[3]
        self.pending = None
        return outputs[0]


def _matmul(graph: Graph, x: str, weight: np.ndarray, name: str, bias: np.ndarray | None = None) -> str:
    out = graph.node("MatMul", [x, graph.weight(f"{name}.weight", weight)], f"{name}/MatMul")[0]
    if bias is not None:
        out = graph.node("Add", [out, graph.weight(f"{name}.bias", bias)], f"{name}/Add")[0]
    return out


def build_llama(graph: Graph, config: LMConfig, weights: Weights, rotary: tuple[np.ndarray, np.ndarray], report: Report) -> None:
    """Llama, Mistral, Qwen2 and Phi-3 (fused ``qkv_proj`` and ``gate_up_proj``)."""
    c = config
    _inputs(graph, c, positions=False)
    lengths = _lengths(graph)
    tables = (graph.weight("cos_cache", rotary[0]), graph.weight("sin_cache", rotary[1]))
    q_size, kv_size = c.heads * c.head_dim, c.kv_heads * c.head_dim
    embedding = weights.get("model.embed_tokens.weight", (c.vocab, c.hidden))
    residual = _Residual(graph, c, simple=True)
    residual.stream = graph.node("Gather", [graph.weight("model.embed_tokens.weight", embedding), "input_ids"], "/model/embed_tokens/Gather")[0]
    for layer in range(c.layers):
        report("model", layer, c.layers, f"Layer {layer + 1} of {c.layers}")
        p = f"model.layers.{layer}"
        x = residual.norm(f"/model/layers.{layer}/input_layernorm", weights.get(f"{p}.input_layernorm.weight", (c.hidden,)), None)
        attn = f"{p}.self_attn"
        if weights.has(f"{attn}.qkv_proj.weight"):  # Phi-3: already one projection, q then k then v
            qkv = weights.get(f"{attn}.qkv_proj.weight", (q_size + 2 * kv_size, c.hidden)).T
            bias = weights.get(f"{attn}.qkv_proj.bias") if weights.has(f"{attn}.qkv_proj.bias") else None
        else:
            parts = [(f"{attn}.{n}_proj", size) for n, size in (("q", q_size), ("k", kv_size), ("v", kv_size))]
            qkv = np.concatenate([weights.get(f"{n}.weight", (size, c.hidden)).T for n, size in parts], axis=1)
            bias = np.concatenate([weights.get(f"{n}.bias", (size,)) for n, size in parts]) if weights.has(f"{attn}.q_proj.bias") else None
        projected = _matmul(graph, x, qkv, f"/model/layers.{layer}/attn/qkv_proj", bias)
        out = _attention(graph, c, layer, projected, lengths, tables)
        o_bias = graph.weight(f"{attn}.o_proj.bias", weights.get(f"{attn}.o_proj.bias")) if weights.has(f"{attn}.o_proj.bias") else ""
        residual.pending = (_matmul(graph, out, weights.get(f"{attn}.o_proj.weight", (c.hidden, q_size)).T, f"/model/layers.{layer}/attn/o_proj"), o_bias)
        x = residual.norm(f"/model/layers.{layer}/post_attention_layernorm", weights.get(f"{p}.post_attention_layernorm.weight", (c.hidden,)), None)
        mlp = f"{p}.mlp"
        if weights.has(f"{mlp}.gate_up_proj.weight"):  # Phi-3: gate rows first, then up
            both = weights.get(f"{mlp}.gate_up_proj.weight", (2 * c.intermediate, c.hidden))
            gate_w, up_w = both[: c.intermediate].T, both[c.intermediate :].T
        else:
            gate_w = weights.get(f"{mlp}.gate_proj.weight", (c.intermediate, c.hidden)).T
            up_w = weights.get(f"{mlp}.up_proj.weight", (c.intermediate, c.hidden)).T
        bias_of = lambda n: weights.get(f"{mlp}.{n}.bias") if weights.has(f"{mlp}.{n}.bias") else None  # noqa: E731 - Llama's mlp_bias
        name = f"/model/layers.{layer}/mlp"
        gate = _matmul(graph, x, gate_w, f"{name}/gate_proj", bias_of("gate_proj"))
        up = _matmul(graph, x, up_w, f"{name}/up_proj", bias_of("up_proj"))
        sigmoid = graph.node("Sigmoid", [gate], f"{name}/act_fn/Sigmoid")[0]
        silu = graph.node("Mul", [gate, sigmoid], f"{name}/act_fn/Mul")[0]
        gated = graph.node("Mul", [silu, up], f"{name}/Mul")[0]
        down_bias = bias_of("down_proj")
        residual.pending = (_matmul(graph, gated, weights.get(f"{mlp}.down_proj.weight", (c.hidden, c.intermediate)).T, f"{name}/down_proj"),
                            graph.weight(f"{mlp}.down_proj.bias", down_bias) if down_bias is not None else "")
    report("model", c.layers, c.layers, "The output layer")
    x = residual.norm("/model/layers.final_norm", weights.get("model.norm.weight", (c.hidden,)), None, last=True)
    if c.tied:  # transformers ties them at load, whatever the file holds
        head = embedding
    elif weights.has("lm_head.weight"):
        head = weights.get("lm_head.weight", (c.vocab, c.hidden))
    else:
        from studio.convert.protocol import ConvertError

        raise ConvertError("the weights have no lm_head.weight and config.json does not tie it to the token embedding")
    graph.node("MatMul", [x, graph.weight("lm_head.weight", head.T)], "/lm_head/MatMul", outputs=["logits"])


def build_gpt2(graph: Graph, config: LMConfig, weights: Weights, report: Report) -> None:
    c = config
    _inputs(graph, c, positions=True)
    lengths = _lengths(graph)
    root = "transformer." if weights.has("transformer.wte.weight") else ""
    get = lambda name, shape=None: weights.get(root + name, shape)  # noqa: E731
    wte = get("wte.weight", (c.vocab, c.hidden))
    tokens = graph.node("Gather", [graph.weight("transformer.wte.weight", wte), "input_ids"], "/model/embed_tokens/Gather")[0]
    positions = graph.node("Gather", [graph.weight("transformer.wpe.weight", get("wpe.weight", (c.context, c.hidden))), "position_ids"], "/model/embed_positions/Gather")[0]
    residual = _Residual(graph, c, simple=False)
    residual.stream = graph.node("Add", [tokens, positions], "/model/embed/Add")[0]
    for layer in range(c.layers):
        report("model", layer, c.layers, f"Layer {layer + 1} of {c.layers}")
        p, name = f"h.{layer}", f"/model/layers.{layer}"
        x = residual.norm(f"{name}/input_layernorm", get(f"{p}.ln_1.weight", (c.hidden,)), get(f"{p}.ln_1.bias", (c.hidden,)))
        qkv = _matmul(graph, x, get(f"{p}.attn.c_attn.weight", (c.hidden, 3 * c.hidden)), f"{name}/attn/qkv_proj", get(f"{p}.attn.c_attn.bias", (3 * c.hidden,)))
        out = _attention(graph, c, layer, qkv, lengths, None)
        residual.pending = (_matmul(graph, out, get(f"{p}.attn.c_proj.weight", (c.hidden, c.hidden)), f"{name}/attn/o_proj"),
                            graph.weight(f"{name}/attn/o_proj.bias", get(f"{p}.attn.c_proj.bias", (c.hidden,))))
        x = residual.norm(f"{name}/post_attention_layernorm", get(f"{p}.ln_2.weight", (c.hidden,)), get(f"{p}.ln_2.bias", (c.hidden,)))
        hidden = _matmul(graph, x, get(f"{p}.mlp.c_fc.weight", (c.hidden, c.intermediate)), f"{name}/mlp/fc")
        fc_bias = graph.weight(f"{name}/mlp/fc.bias", get(f"{p}.mlp.c_fc.bias", (c.intermediate,)))
        if c.activation == "gelu_tanh":
            hidden = graph.node("FastGelu", [hidden, fc_bias], f"{name}/mlp/FastGelu", domain=MS)[0]
        else:
            biased = graph.node("Add", [hidden, fc_bias], f"{name}/mlp/fc/Add")[0]
            hidden = graph.node("Gelu", [biased], f"{name}/mlp/Gelu", domain=MS)[0]
        residual.pending = (_matmul(graph, hidden, get(f"{p}.mlp.c_proj.weight", (c.intermediate, c.hidden)), f"{name}/mlp/down_proj"),
                            graph.weight(f"{name}/mlp/down_proj.bias", get(f"{p}.mlp.c_proj.bias", (c.hidden,))))
    report("model", c.layers, c.layers, "The output layer")
    x = residual.norm("/model/layers.final_norm", get("ln_f.weight", (c.hidden,)), get("ln_f.bias", (c.hidden,)), last=True)
    head = wte if c.tied or not weights.has("lm_head.weight") else weights.get("lm_head.weight", (c.vocab, c.hidden))
    graph.node("MatMul", [x, graph.weight("lm_head.weight", head.T)], "/lm_head/MatMul", outputs=["logits"])
