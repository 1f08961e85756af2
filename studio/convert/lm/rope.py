"""The rotary embedding's cos/sin tables, as ``GroupQueryAttention`` reads them: one row per
position, ``head_dim / 2`` columns.

They come from transformers' own rotary module for the architecture, so every fixed scaling it
knows (linear, llama3's frequency bands, yarn with its attention factor) is right by
construction rather than re-derived here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.convert.protocol import ConvertError

from .config import LMConfig


def _rotary_class(model_type: str):
    # Named one by one: an import of a computed module name could load anything.
    if model_type == "llama":
        from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding as found
    elif model_type == "mistral":
        from transformers.models.mistral.modeling_mistral import MistralRotaryEmbedding as found
    elif model_type == "qwen2":
        from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding as found
    elif model_type == "phi3":
        from transformers.models.phi3.modeling_phi3 import Phi3RotaryEmbedding as found
    else:
        raise ConvertError(f"{model_type} models have no rotary embedding")
    return found


def rotary_tables(folder: Path, config: LMConfig) -> tuple[np.ndarray, np.ndarray]:
    import torch
    from transformers import AutoConfig

    try:
        hf_config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
        rotary = _rotary_class(config.model_type)(config=hf_config)
    except ConvertError:
        raise
    except Exception as exc:  # noqa: BLE001 - transformers' own words about a config it refuses
        raise ConvertError(f"transformers cannot read this model's rotary settings ({type(exc).__name__}: {exc})") from None
    positions = torch.arange(config.context, dtype=torch.int64)[None]
    with torch.no_grad():
        cos, sin = rotary(torch.zeros(1, dtype=torch.float32), positions)
    cos, sin = cos[0].float().numpy(), sin[0].float().numpy()
    if cos.shape != (config.context, config.head_dim):
        raise ConvertError(f"this model's rotary tables are {cos.shape[1]} wide for heads of {config.head_dim}: partial rotary embeddings are not converted yet")
    half = config.head_dim // 2  # transformers repeats the frequencies; the kernel reads each once
    if not np.array_equal(cos[:, :half], cos[:, half:]):
        raise ConvertError("this model's rotary tables are not the rotate-half kind GroupQueryAttention computes")
    return np.ascontiguousarray(cos[:, :half]), np.ascontiguousarray(sin[:, :half])
