"""MusicGen in numpy + onnxruntime: text -> T5 states -> codes (decoder loop) -> EnCodec audio.

The loop is transformers' ``MusicgenForConditionalGeneration.generate``:
- the T5 states of the prompt; with guidance, a second "unconditional" row of zeros with an
  all-zero attention mask (batch 2: conditional first);
- the decoder starts from the start token in every codebook (or from the codes of an audio
  prompt), the delay pattern fixes the positions it must not choose, and each step feeds only
  the newest token of each codebook with the cached keys/values (``decoder_model_merged``:
  ``use_cache_branch`` false on the first step, true after);
- guidance, temperature and top-k pick the next code of every codebook;
- the delay pattern is undone and EnCodec decodes the codes to audio.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

import studio
from studio.core.base.memory import ensure_memory

from .delay import apply_delay_pattern, build_delay_pattern, undo_delay_pattern
from .layout import ENCODE_PART, MusicGenModel
from .sampling import choose, guide
from .tokenizer import MAX_PROMPT_TOKENS, T5Tokenizer

PAST = re.compile(r"^past_key_values\.(\d+)\.(decoder|encoder)\.(key|value)$")


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
    def __init__(self, model: MusicGenModel, tokenizer: T5Tokenizer) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.notes: list[str] = []  # what the user should know (a prompt cut to fit)

    def __call__(self, ctx: studio.JobContext, prompt: str) -> tuple[np.ndarray, np.ndarray]:
        """(1, tokens, hidden) float32 states and the (1, tokens) int64 mask of ``prompt``."""
        ids, note = self.tokenizer.encode_prompt(prompt)
        if note:
            self.notes.append(note)
        mask = np.ones_like(ids)
        session = ctx.session(self.model.onnx("text_encoder.onnx"))
        (states,) = ctx.run(session, ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})
        return states.astype(np.float32), mask


TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


class Decoder:
    """``decoder_model_merged.onnx`` with its key/value cache, one step at a time.

    The cache stays in onnxruntime's own buffers between steps (IOBinding: ``present.*`` bound
    back as ``past_key_values.*``), on the GPU when the job runs on one; only the logits come
    back to numpy. The cross-attention keys/values are made on the first step and kept: the
    cache branch of a merged export does not recompute them."""

    def __init__(self, model: MusicGenModel, ctx: studio.JobContext) -> None:
        self.model = model
        self.loaded = ctx.session(model.onnx("decoder_model_merged.onnx"))
        self.session = self.loaded.session
        self.device_type = "cuda" if ctx.device.id.startswith(("cuda", "tensorrt")) else "cpu"
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        needed = {"input_ids", "encoder_hidden_states", "encoder_attention_mask", "use_cache_branch"}
        if not needed <= set(inputs) or "logits" not in outputs:
            raise studio.ModelError(
                f"{self.loaded.path} is not a merged MusicGen decoder: it needs inputs {', '.join(sorted(needed))} "
                f"and a logits output (it has {', '.join(inputs)})"
            )
        self.inputs = inputs
        self.past_names = sorted((n for n in inputs if PAST.match(n)), key=lambda n: (int(PAST.match(n).group(1)), n))
        self.present_names = [n.replace("past_key_values", "present", 1) for n in self.past_names]
        missing = [n for n in self.present_names if n not in outputs]
        if not self.past_names or missing:
            raise studio.ModelError(f"{self.loaded.path} does not return its key/value cache ({', '.join(missing) or 'no past_key_values inputs'})")
        decoder = model.decoder
        heads = int(decoder.get("num_attention_heads", 1))
        first = inputs[self.past_names[0]]
        self.heads = first.shape[1] if isinstance(first.shape[1], int) else heads
        self.head_dim = first.shape[3] if isinstance(first.shape[3], int) else int(decoder.get("hidden_size", heads)) // self.heads
        self.kv_dtype = TYPES.get(first.type, np.float32)
        self.states_dtype = TYPES.get(inputs["encoder_hidden_states"].type, np.float32)
        self.past: dict[str, Any] | None = None

    def reset(self) -> None:
        self.past = None

    def step(self, ctx: studio.JobContext, ids: np.ndarray, states: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Feed ``ids`` (batch*C, n) after what was fed so far; the logits of the last position (batch*C, V)."""
        batch = states.shape[0]
        binding = self.session.io_binding()
        binding.bind_cpu_input("input_ids", np.ascontiguousarray(ids, dtype=TYPES.get(self.inputs["input_ids"].type, np.int64)))
        binding.bind_cpu_input("encoder_hidden_states", np.ascontiguousarray(states, dtype=self.states_dtype))
        binding.bind_cpu_input("encoder_attention_mask", np.ascontiguousarray(mask, dtype=TYPES.get(self.inputs["encoder_attention_mask"].type, np.int64)))
        binding.bind_cpu_input("use_cache_branch", np.array([self.past is not None]))
        for name in self.past_names:
            if self.past is None:  # the no-cache branch ignores these; they only need valid shapes
                length = states.shape[1] if ".encoder." in name else 1
                binding.bind_cpu_input(name, np.zeros((batch, self.heads, length, self.head_dim), dtype=self.kv_dtype))
            else:
                binding.bind_ortvalue_input(name, self.past[name])
        binding.bind_output("logits", "cpu")
        for name in self.present_names:
            binding.bind_output(name, self.device_type)
        with ctx.cancellable() as options:
            self.session.run_with_iobinding(binding, options)
        values = binding.get_outputs()
        presents = dict(zip(self.past_names, values[1:]))
        if self.past is not None:
            for name in self.past_names:
                if ".encoder." in name:
                    presents[name] = self.past[name]
        self.past = presents
        return np.asarray(values[0].numpy()[:, -1, :], dtype=np.float32)


class AudioCodec:
    """EnCodec: codes -> audio (``encodec_decode.onnx``), audio -> codes (``encodec_encode.onnx``)."""

    def __init__(self, model: MusicGenModel) -> None:
        self.model = model

    def decode(self, ctx: studio.JobContext, codes: np.ndarray) -> np.ndarray:
        """(C, frames) codes -> (samples,) float32."""
        session = ctx.session(self.model.onnx("encodec_decode.onnx"))
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


def generate(
    ctx: studio.JobContext,
    model: MusicGenModel,
    tokenizer: T5Tokenizer,
    prompt: str,
    settings: Settings,
    audio_prompt: np.ndarray | None = None,
) -> Iterator[studio.Progress]:
    """Text (and optionally mono audio at the model's rate to continue) -> ``Generation``."""
    started = time.perf_counter()
    ensure_memory(memory_needed(model, states_length=MAX_PROMPT_TOKENS, steps=settings.new_tokens, guided=settings.guided),
                  f"{settings.new_tokens} steps of {model.name}")
    encoder = TextEncoder(model, tokenizer)
    states, mask = encoder(ctx, prompt)
    codec = AudioCodec(model)
    prompt_codes = None
    if audio_prompt is not None:
        yield studio.Progress(0, settings.new_tokens, "Listening to the audio prompt…")
        prompt_codes = codec.encode(ctx, audio_prompt)
    decoder = Decoder(model, ctx)
    codes = yield from decode_codes(ctx, model, decoder, states, mask, settings, prompt_codes)
    yield studio.Progress(settings.new_tokens, settings.new_tokens, "Decoding audio…")
    audio = codec.decode(ctx, codes)
    if prompt_codes is not None:  # the prompt's own audio is already on the timeline
        audio = audio[prompt_codes.shape[1] * model.hop_length :]
    return Generation(audio, time.perf_counter() - started, encoder.notes)
