"""Transformers causal-LM folders (safetensors weights) -> the onnx-community ONNX layout.

The graph is written node by node (no tracing), the way onnxruntime-genai's model builder writes
its own: one ``GroupQueryAttention`` per layer with the rotary embedding inside it, RMSNorm as
``SimplifiedLayerNormalization`` / ``SkipSimplifiedLayerNormalization`` (GPT-2: ``LayerNormalization``
/ ``SkipLayerNormalization``), q, k and v projected by one MatMul. That graph decodes about as
fast as the builder's, which an exported-then-rewritten graph does not reach.

    config.py   what config.json says, checked: sizes, norms, activation, which architecture
    weights.py  the safetensors tensors (one file or shards; fp32, fp16, bf16) as float32 arrays
    rope.py     the rotary cos/sin tables, computed by transformers' own rotary embedding
    graph.py    a small ONNX graph writer whose weights stream into one external-data file
    decoder.py  the Llama-style decoder (Llama, Mistral, Qwen2, Phi-3) and GPT-2, layer by layer
    variants.py the int4 (MatMulNBits) and int8 (MatMulInteger) copies
    export.py   ``convert()``: the whole folder (graphs, config, tokenizer files)

``python -m studio.convert causal-lm SOURCE OUT [--options '{"variant": "int4"}']`` runs it.
"""

from __future__ import annotations

from .config import SUPPORTED_MODEL_TYPES
from .export import convert

__all__ = ["SUPPORTED_MODEL_TYPES", "convert"]
