"""Fused decoder graphs: what onnxruntime's transformer optimizer can fuse in an exported LM.

optimum's export of a Llama-style decoder spells every operation out: RMSNorm as Pow,
ReduceMean, Add, Sqrt, Div, Mul; rotary embeddings as Slice, Neg, Concat, Mul, Add. Decoding a
token runs each of them per layer, and on a small model that overhead is a large share of the
step. onnxruntime's optimizer (``model_type="gpt2"``: the fusions it runs for decoder graphs)
replaces them with ``SkipSimplifiedLayerNormalization`` and ``RotaryEmbedding`` kernels, as
onnxruntime-genai's builder writes them. Attention itself stays unfused on these exports (the
optimizer does not match their grouped-query attention).

The fused graph is made before quantizing, on fp32, so the quantizer sees the same MatMuls.
When the optimizer fails on a graph, the unfused one is used: slower, never wrong.
"""

from __future__ import annotations

import logging
from pathlib import Path

from studio.core.engine.onnx_import import import_onnxruntime

log = logging.getLogger(__name__)
LARGE = 1 << 30


def fuse_decoder(source: Path, work: Path) -> Path:
    """A fused copy of ``source`` in ``work`` (``fused.onnx``), or ``source`` itself when the
    optimizer cannot fuse it."""
    try:
        optimizer = import_onnxruntime("transformers.optimizer")
        # opt_level 0: only the Python fusions; onnxruntime's own graph passes run at load time
        # anyway, and a level-1 graph saved here would be tied to the provider it was made for.
        fused = optimizer.optimize_model(str(source), model_type="gpt2", opt_level=0)
        counts = fused.get_fused_operator_statistics()
        target = work / "fused.onnx"
        large = sum(p.stat().st_size for p in source.parent.iterdir() if p.is_file()) > LARGE
        fused.save_model_to_file(str(target), use_external_data_format=large)
    except Exception as exc:  # noqa: BLE001 - any optimizer failure leaves the graph as exported
        log.warning("could not fuse %s (%s: %s); using it unfused", source, type(exc).__name__, exc)
        return source
    log.info("fused %s: %s", source, {k: v for k, v in counts.items() if v})
    return target
