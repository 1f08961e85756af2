"""MusicGen's parts as torch modules with the inputs and outputs of the public ONNX exports, and
their export with torch's TorchScript-based exporter (``dynamo=False``: it traces EnCodec's
decoder, which the dynamo exporter does not, and it is what optimum's MusicGen export used).

The names are those ``plugins/musicgen`` reads (optimum's ``text-to-audio`` export):

- ``text_encoder``: ``input_ids``, ``attention_mask`` -> ``last_hidden_state`` (T5);
- ``decoder_model`` (the first step): ``encoder_attention_mask``, ``input_ids`` (batch*C, seq),
  ``encoder_hidden_states`` (the T5 states: the projection to the decoder's width is in the graph)
  -> ``logits``, ``present.N.decoder.key/value``, ``present.N.encoder.key/value``;
- ``decoder_with_past_model`` (every step after it): ``encoder_attention_mask``, ``input_ids``
  (batch*C, 1), ``past_key_values.N.{decoder,encoder}.{key,value}`` -> ``logits``,
  ``present.N.decoder.key/value`` (the cross-attention keys/values never change);
- ``encodec_decode``: ``audio_codes`` (1, batch, C, frames) -> ``audio_values``;
- ``encodec_encode``: ``input_values`` (batch, 1, samples) -> ``audio_codes`` (continuing audio);
- ``build_delay_pattern_mask``: ``input_ids``, ``pad_token_id``, ``max_length`` ->
  ``input_ids_edited``, ``delay_pattern_mask`` (shipped by the public exports; the plugin
  builds the pattern in numpy).

Every forward goes through transformers' own modules (``MusicgenForConditionalGeneration.forward``
with ``encoder_outputs`` given, its cache classes), so the graphs compute what ``generate`` does.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

OPSET = 18


class TextEncoder(torch.nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.text_encoder = model.text_encoder

    def forward(self, input_ids, attention_mask):
        return self.text_encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def cache_outputs(cache: EncoderDecoderCache, layers: int, encoder: bool) -> list[torch.Tensor]:
    """The cache's tensors in the exports' order: per layer decoder key, value (encoder key, value)."""
    tensors = []
    for index in range(layers):
        tensors += [cache.self_attention_cache.layers[index].keys, cache.self_attention_cache.layers[index].values]
        if encoder:
            tensors += [cache.cross_attention_cache.layers[index].keys, cache.cross_attention_cache.layers[index].values]
    return tensors


class FirstStep(torch.nn.Module):
    """The decoder's first step: the cross-attention keys/values are made from the T5 states."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model
        self.layers = model.config.decoder.num_hidden_layers

    def forward(self, encoder_attention_mask, input_ids, encoder_hidden_states):
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        out = self.model(attention_mask=encoder_attention_mask, encoder_outputs=(encoder_hidden_states,),
                         decoder_input_ids=input_ids, cache=cache, use_cache=True)
        return (out.logits, *cache_outputs(out.cache, self.layers, encoder=True))


class CachedStep(torch.nn.Module):
    """Every step after the first: the cached keys/values in, the new self-attention ones out.

    The T5 states are not an input: the cross-attention reads its cached keys/values only (the
    cache says so: its cross-attention layers are filled, so transformers reuses them)."""

    def __init__(self, model) -> None:
        super().__init__()
        self.decoder = model.decoder
        self.layers = model.config.decoder.num_hidden_layers
        self.width = model.config.decoder.hidden_size

    def forward(self, encoder_attention_mask, input_ids, *past):
        cache = EncoderDecoderCache(tuple(tuple(past[4 * i : 4 * i + 4]) for i in range(self.layers)))
        # Only the shape of the encoder's states is read (for the cross-attention mask): its
        # keys/values come from the cache. Zeros of the mask's shape, so no projection runs.
        shape = (encoder_attention_mask.shape[0], encoder_attention_mask.shape[1], self.width)
        states = torch.zeros(shape, dtype=past[0].dtype)
        out = self.decoder(input_ids=input_ids, encoder_hidden_states=states, encoder_attention_mask=encoder_attention_mask,
                           cache=cache, use_cache=True)
        return (out.logits, *cache_outputs(out.cache, self.layers, encoder=False))


class EncodecDecode(torch.nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.codec = model.audio_encoder

    def forward(self, audio_codes):
        return self.codec.decode(audio_codes, [None]).audio_values


class EncodecEncode(torch.nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.codec = model.audio_encoder

    def forward(self, input_values):
        return self.codec.encode(input_values).audio_codes


class DelayPattern(torch.nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.decoder = model.decoder

    def forward(self, input_ids, pad_token_id, max_length):
        return self.decoder.build_delay_pattern_mask(input_ids, pad_token_id=pad_token_id, max_length=max_length)


def past_names(layers: int, prefix: str, encoder: bool = True) -> list[str]:
    names = []
    for index in range(layers):
        for part in ("decoder", "encoder") if encoder else ("decoder",):
            names += [f"{prefix}.{index}.{part}.key", f"{prefix}.{index}.{part}.value"]
    return names


def export(module: torch.nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], axes: dict) -> None:
    with torch.no_grad():
        torch.onnx.export(module.eval(), args, str(path), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False, do_constant_folding=True)


def export_text_encoder(model, path: Path) -> None:
    ids = torch.tensor([[5, 6, 7, 1], [5, 8, 1, 0]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.long)
    axes = {"input_ids": {0: "batch_size", 1: "encoder_sequence_length"},
            "attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
            "last_hidden_state": {0: "batch_size", 1: "encoder_sequence_length"}}
    export(TextEncoder(model), (ids, mask), path, ["input_ids", "attention_mask"], ["last_hidden_state"], axes)


def decoder_examples(model, past_length: int = 0):
    """Guided-generation-shaped inputs: batch 2, the second row the unconditional one (a zero
    attention mask), and 3 tokens: no axis of size 1 that the tracer could take for a constant,
    and masks that a shortcut for an all-ones mask or a single token would not compute."""
    codebooks = model.config.decoder.num_codebooks
    width = model.config.text_encoder.hidden_size
    start = model.config.decoder.decoder_start_token_id or 0
    mask = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.long)
    states = torch.randn(2, 5, width) * torch.tensor([1.0, 0.0])[:, None, None]
    ids = torch.full((2 * codebooks, 3 if past_length == 0 else 1), start, dtype=torch.long)
    return mask, ids, states


def export_first_step(model, path: Path) -> None:
    layers = model.config.decoder.num_hidden_layers
    mask, ids, states = decoder_examples(model)
    presents = past_names(layers, "present")
    axes = {"encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
            "input_ids": {0: "total_batch_size_x_num_codebooks", 1: "decoder_sequence_length"},
            "encoder_hidden_states": {0: "total_batch_size", 1: "encoder_sequence_length"},
            "logits": {0: "batch_size", 1: "decoder_sequence_length"}}
    for name in presents:
        axes[name] = {0: "batch_size", 2: "encoder_sequence_length" if ".encoder." in name else "decoder_sequence_length"}
    export(FirstStep(model), (mask, ids, states), path, ["encoder_attention_mask", "input_ids", "encoder_hidden_states"],
           ["logits", *presents], axes)


def export_cached_step(model, path: Path) -> None:
    """Traced from a real first step's cache (3 positions), so every past has its true shape."""
    layers = model.config.decoder.num_hidden_layers
    mask, ids, states = decoder_examples(model)
    with torch.no_grad():
        first = FirstStep(model).eval()(mask, ids, states)
    past = tuple(first[1:])
    step = ids[:, :1].clone()
    pasts, presents = past_names(layers, "past_key_values"), past_names(layers, "present", encoder=False)
    axes = {"encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
            "input_ids": {0: "total_batch_size_x_num_codebooks"},
            "logits": {0: "batch_size"}}
    for name in pasts:
        axes[name] = {0: "batch_size", 2: "encoder_sequence_length" if ".encoder." in name else "past_decoder_sequence_length"}
    for name in presents:
        axes[name] = {0: "batch_size", 2: "past_decoder_sequence_length + 1"}
    export(CachedStep(model), (mask, step, *past), path, ["encoder_attention_mask", "input_ids", *pasts],
           ["logits", *presents], axes)


def export_encodec_decode(model, path: Path) -> None:
    codebooks = model.config.decoder.num_codebooks
    codes = torch.randint(0, model.config.audio_encoder.codebook_size, (1, 2, codebooks, 7))
    axes = {"audio_codes": {1: "batch_size", 3: "chunk_length"}, "audio_values": {0: "batch_size", 2: "audio_length"}}
    export(EncodecDecode(model), (codes,), path, ["audio_codes"], ["audio_values"], axes)


def export_encodec_encode(model, path: Path) -> None:
    hop = 1
    for ratio in model.config.audio_encoder.upsampling_ratios:
        hop *= ratio
    audio = torch.randn(1, model.config.audio_encoder.audio_channels, hop * 9)
    axes = {"input_values": {0: "batch_size", 2: "num_samples"}, "audio_codes": {1: "batch_size", 3: "frames"}}
    export(EncodecEncode(model), (audio,), path, ["input_values"], ["audio_codes"], axes)


def export_delay_pattern(model, path: Path) -> None:
    codebooks = model.config.decoder.num_codebooks
    start = model.config.decoder.decoder_start_token_id or 0
    ids = torch.full((2 * codebooks, 16), start, dtype=torch.long)
    pad, length = torch.tensor([start]), torch.tensor([40])
    axes = {"input_ids": {0: "batch_size_x_num_codebooks"}, "input_ids_edited": {0: "total_batch_size_x_num_codebooks"},
            "delay_pattern_mask": {0: "total_batch_size_x_num_codebooks", 1: "max_length"}}
    export(DelayPattern(model), (ids, pad, length), path, ["input_ids", "pad_token_id", "max_length"],
           ["input_ids_edited", "delay_pattern_mask"], axes)
