"""Fused decoder graphs: an exported LM rewritten the way onnxruntime-genai's builder writes it.

optimum's export of a Llama-style decoder spells every operation out: RMSNorm as Pow,
ReduceMean, Add, Sqrt, Div, Mul; rotary embeddings as Slice, Neg, Concat, Mul, Add; attention
as some forty nodes per layer. Decoding a token runs each of them, and on a small model that
overhead is a large share of the step. Two passes:

1. onnxruntime's transformer optimizer (``model_type="gpt2"``: the fusions it runs for decoder
   graphs) writes ``SkipSimplifiedLayerNormalization`` and ``RotaryEmbedding`` kernels;
2. ``attention_fusion`` replaces each layer's attention with one ``GroupQueryAttention``.

The fused graph is made before quantizing, on fp32, so the quantizer sees the same MatMuls, and
its logits are compared with the exported graph's on a short input before it is used: when a
pass fails or changes the logits, the graph of the pass before is used (slower, never wrong).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from studio.core.engine.onnx_import import import_onnxruntime

from .attention_fusion import fuse_attention, logits_rows
from .genai_folder import GraphNames

log = logging.getLogger(__name__)
LARGE = 1 << 30
#: Largest logits difference, relative to the largest logit, a rewrite may make (float
#: reassociation in the fused kernels is about 1e-6; a wrong rewrite is of order 1).
TOLERANCE = 1e-3


@dataclass(frozen=True)
class DecoderShape:
    """What the rewrite needs to know of the model (config.json or genai_config.json)."""

    names: GraphNames
    heads: int
    kv_heads: int
    head_dim: int
    #: False for a model that attends within a sliding window shorter than its context (Mistral
    #: 7B v0.1): the short check input cannot tell whether a rewrite keeps the window.
    attention: bool = True
    #: The longest sequence the model reads: the rotary tables are cut to it (onnxruntime's
    #: optimizer writes 131 072 rows, 34 MB for a 0.5 B model).
    context: int = 0


def fuse_decoder(source: Path, work: Path, shape: DecoderShape | None = None) -> tuple[Path, str]:
    """A fused copy of ``source`` in ``work``, or ``source`` itself when nothing could be fused;
    and a few words saying which fusions it holds. Without ``shape`` (the model's heads and graph
    names) nothing is fused: a rewrite that cannot be checked is not used."""
    if shape is None:
        return source, "unfused"
    import onnx

    if ("com.microsoft", "GroupQueryAttention") in _ops(onnx.load(str(source), load_external_data=False)):
        # Written fused (onnxruntime-genai's builder, Studio's own import): nothing left to fuse, and
        # onnxruntime's optimizer only fails its shape inference on such a graph.
        return source, "fused as written (GroupQueryAttention)"

    large = sum(p.stat().st_size for p in source.parent.iterdir() if p.is_file()) > LARGE
    base, said = source, "onnxruntime's fusions: none"
    try:
        expected = logits_rows(source, shape.names, shape.kv_heads, shape.head_dim)
    except Exception as exc:  # noqa: BLE001 - a graph the check cannot run is not rewritten
        log.warning("could not run %s to check a fusion (%s: %s); using it unfused", source, type(exc).__name__, exc)
        return source, "unfused"
    try:
        optimizer = import_onnxruntime("transformers.optimizer")
        # opt_level 0: only the Python fusions; onnxruntime's own graph passes run at load time
        # anyway, and a level-1 graph saved here would be tied to the provider it was made for.
        fused = optimizer.optimize_model(str(source), model_type="gpt2", opt_level=0, num_heads=shape.heads,
                                         hidden_size=shape.heads * shape.head_dim)
        changed = _ops(fused.model) != _ops(onnx.load(str(source), load_external_data=False))
        if changed:
            target = work / "fused.onnx"
            fused.save_model_to_file(str(target), use_external_data_format=large)
        del fused  # a whole model's weights: not held while the next copies are made
        if changed:
            difference = _difference(expected, logits_rows(target, shape.names, shape.kv_heads, shape.head_dim))
            if difference <= TOLERANCE:
                base, said = target, "onnxruntime's fusions applied (norms, rotary...)"
            else:
                log.warning("onnxruntime's fusions changed the logits of %s by %.2e: not used", source, difference)
    except Exception as exc:  # noqa: BLE001 - any optimizer failure leaves the graph as exported
        log.warning("onnxruntime's optimizer could not fuse %s (%s: %s)", source, type(exc).__name__, exc)
    if not shape.attention:
        return base, said + "; attention as exported (a sliding window)"
    try:
        model = onnx.load(str(base))  # saving with external data emptied the optimizer's copy
        layers = fuse_attention(model, shape.names, shape.heads, shape.kv_heads, shape.context)
        if not layers:
            return base, said + "; attention as exported (its pattern was not recognised)"
        attention = work / "attention.onnx"
        onnx.save_model(model, str(attention), save_as_external_data=large, location="attention.onnx.data")
        difference = _difference(expected, logits_rows(attention, shape.names, shape.kv_heads, shape.head_dim))
    except Exception as exc:  # noqa: BLE001 - a rewrite that fails to build or run is not used
        log.warning("could not fuse the attention of %s (%s: %s)", source, type(exc).__name__, exc)
        return base, said + "; attention as exported"
    if difference > TOLERANCE:
        log.warning("fused attention of %s changed the logits by %.2e: not used", source, difference)
        return base, said + "; attention as exported"
    log.info("fused %s: %d layers of GroupQueryAttention (logits within %.1e)", source, layers, difference)
    return attention, f"{said}; attention fused ({layers} layers of GroupQueryAttention)"


def _ops(model) -> Counter:
    return Counter((node.domain, node.op_type) for node in model.graph.node)


def _difference(expected, got) -> float:
    """The largest logits difference, relative to the logits' scale."""
    import numpy as np

    return float(np.abs(got - expected).max() / max(1e-6, float(np.abs(expected).max())))
