"""MusicGen in numpy + onnxruntime: text -> T5 states -> codes (decoder loop) -> EnCodec audio.

The loop is transformers' ``MusicgenForConditionalGeneration.generate``:
- the T5 states of the prompt; with guidance, a second "unconditional" row of zeros with an
  all-zero attention mask (batch 2: conditional first);
- the decoder starts from the start token in every codebook (or from the codes of an audio
  prompt), the delay pattern fixes the positions it must not choose, and each step feeds only
  the newest token of each codebook with the cached keys/values (decoder.py: a merged decoder
  or optimum's split pair);
- guidance, temperature and top-k pick the next code of every codebook;
- the delay pattern is undone and EnCodec decodes the codes to audio.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

import studio
from studio.core.base.memory import ensure_memory

from .decoder import Decoder
from .delay import apply_delay_pattern, build_delay_pattern, undo_delay_pattern
from .graphs import Graphs
from .layout import ENCODE_PART, MusicGenModel
from .sampling import choose, guide
from .tokenizer import MAX_PROMPT_TOKENS, T5Tokenizer

__all__ = ["AudioCodec", "Decoder", "Generation", "Settings", "TextEncoder", "decode_codes", "generate", "new_tokens_for"]


@dataclass(frozen=True)
class Settings:
    new_tokens: int
    guidance_scale: float = 3.0
    temperature: float = 1.0
    top_k: int = 250
    seed: int = 0

    @property
    def guided(self) -> bool:
        return self.guidance_scale > 1  # as transformers: a scale of 1 or less means no guidance


def new_tokens_for(model: MusicGenModel, seconds: float) -> int:
    """Decoder steps for ``seconds`` of new audio: one frame per step, plus the C-1 steps the
    delay pattern spends before the last codebook catches up."""
    frames = max(model.num_codebooks, round(seconds * model.frame_rate))
    return frames + model.num_codebooks - 1


def memory_needed(model: MusicGenModel, states_length: int, steps: int, guided: bool) -> int:
    """Bytes that grow with the length asked for, float32: the decoder's key/value caches
    (self- and cross-attention, every layer) after ``steps`` steps, and each step's logits."""
    batch = 2 if guided else 1
    caches = batch * 2 * model.num_layers * model.hidden_size * 4 * (steps + states_length)
    logits = batch * model.num_codebooks * model.codebook_size * 4 * 3  # the output, guided, sampled
    return caches + logits + model.num_codebooks * steps * 8 * 4  # the codes and their delay pattern


class TextEncoder:
    def __init__(self, model: MusicGenModel, tokenizer: T5Tokenizer, graphs: Graphs | None = None) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.path = (graphs or model.graphs_for()).text_encoder
        self.notes: list[str] = []  # what the user should know (a prompt cut to fit)

    def __call__(self, ctx: studio.JobContext, prompt: str) -> tuple[np.ndarray, np.ndarray]:
        """(1, tokens, hidden) float32 states and the (1, tokens) int64 mask of ``prompt``."""
        ids, note = self.tokenizer.encode_prompt(prompt)
        if note:
            self.notes.append(note)
        mask = np.ones_like(ids)
        session = ctx.session(self.path)
        (states,) = ctx.run(session, ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})
        return states.astype(np.float32), mask


class AudioCodec:
    """EnCodec: codes -> audio (``encodec_decode.onnx``), audio -> codes (``encodec_encode.onnx``)."""

    def __init__(self, model: MusicGenModel, graphs: Graphs | None = None) -> None:
        self.model = model
        self.decoder_path = (graphs or model.graphs_for()).encodec_decode

    def decode(self, ctx: studio.JobContext, codes: np.ndarray) -> np.ndarray:
        """(C, frames) codes -> (samples,) float32."""
        session = ctx.session(self.decoder_path)
        (audio,) = ctx.run(session, None, {"audio_codes": codes[None, None].astype(np.int64)})
        return np.asarray(audio, dtype=np.float32).reshape(-1)

    def encode(self, ctx: studio.JobContext, samples: np.ndarray) -> np.ndarray:
        """(samples,) mono float32 at the model's rate -> (C, frames) codes."""
        if not self.model.can_encode:
            raise studio.ModelError(f"{self.model.name} has no onnx/{ENCODE_PART}, so it cannot continue an audio prompt")
        session = ctx.session(self.model.onnx(ENCODE_PART))
        (codes,) = ctx.run(session, None, {"input_values": samples.astype(np.float32)[None, None]})
        codes = np.asarray(codes)
        return codes.reshape(codes.shape[-2], codes.shape[-1]).astype(np.int64)


def decode_codes(
    ctx: studio.JobContext,
    model: MusicGenModel,
    decoder: Decoder,
    states: np.ndarray,
    mask: np.ndarray,
    settings: Settings,
    prompt_codes: np.ndarray | None = None,
) -> Iterator[studio.Progress]:
    """The decoder loop; yields progress each step and returns the (C, frames) codes (prompt
    codes included, as transformers returns them)."""
    codebooks = model.num_codebooks
    start = np.full((codebooks, 1), model.start_token_id, dtype=np.int64)
    ids = start if prompt_codes is None else np.concatenate([start, prompt_codes.astype(np.int64)], axis=1)
    ids, pattern = build_delay_pattern(ids, model.start_token_id, ids.shape[1] + settings.new_tokens)
    if settings.guided:
        states = np.concatenate([states, np.zeros_like(states)])
        mask = np.concatenate([mask, np.zeros_like(mask)])
    rng = np.random.default_rng(settings.seed)
    decoder.reset()
    fed = 0
    for step in range(settings.new_tokens):
        ctx.check_cancelled()
        ids = apply_delay_pattern(ids, pattern)
        feed = ids[:, fed:]
        fed = ids.shape[1]
        if settings.guided:
            feed = np.concatenate([feed, feed])
        logits = decoder.step(ctx, feed, states, mask)
        scores = guide(logits, codebooks, settings.guidance_scale) if settings.guided else logits[:codebooks]
        chosen = choose(scores, settings.temperature, settings.top_k, rng)
        ids = np.concatenate([ids, chosen[:, None]], axis=1)
        yield studio.Progress(step + 1, settings.new_tokens, "Composing…")
    ids = apply_delay_pattern(ids, pattern)
    return undo_delay_pattern(ids, model.pad_token_id)


@dataclass
class Generation:
    audio: np.ndarray  # (samples,) float32 at the model's rate: the new audio only
    seconds: float  # compute time
    notes: list[str] = field(default_factory=list)  # what the user should know
    codes: np.ndarray | None = None  # (C, frames) the codes of a long piece, its prompt's first


def generate(
    ctx: studio.JobContext,
    model: MusicGenModel,
    tokenizer: T5Tokenizer,
    prompt: str,
    settings: Settings,
    audio_prompt: np.ndarray | None = None,
    graphs: Graphs | None = None,
) -> Iterator[studio.Progress]:
    """Text (and optionally mono audio at the model's rate to continue) -> ``Generation``, with
    the files of one variant (``graphs``; fp32 without)."""
    started = time.perf_counter()
    ensure_memory(memory_needed(model, states_length=MAX_PROMPT_TOKENS, steps=settings.new_tokens, guided=settings.guided),
                  f"{settings.new_tokens} steps of {model.name}")
    encoder = TextEncoder(model, tokenizer, graphs)
    states, mask = encoder(ctx, prompt)
    codec = AudioCodec(model, graphs)
    prompt_codes = None
    if audio_prompt is not None:
        yield studio.Progress(0, settings.new_tokens, "Listening to the audio prompt…")
        prompt_codes = codec.encode(ctx, audio_prompt)
    decoder = Decoder(model, ctx, graphs)
    codes = yield from decode_codes(ctx, model, decoder, states, mask, settings, prompt_codes)
    yield studio.Progress(settings.new_tokens, settings.new_tokens, "Decoding audio…")
    audio = codec.decode(ctx, codes)
    if prompt_codes is not None:  # the prompt's own audio is already on the timeline
        audio = audio[prompt_codes.shape[1] * model.hop_length :]
    return Generation(audio, time.perf_counter() - started, encoder.notes)
