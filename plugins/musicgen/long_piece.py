"""MusicGen past its window: windows of codes joined by continuation, audio streamed as it is made.

The decoder holds at most ``window`` code frames (30 s on the released models). A longer piece
is made as audiocraft's ``generate`` extends one: the first window from the prompt alone, then
each next window continues the last ``context`` frames of codes made so far, with the same text,
until the piece is as long as asked. The codes are already there, so nothing is re-encoded, and
the decoder's key/value cache is one window's, whatever the length.

Audio is decoded segment by segment as the windows land: EnCodec's decoder has LSTMs and
non-causal convolutions, so each segment is decoded with ``DECODE_CONTEXT`` seconds of codes
before it (the LSTM's memory, warmed up on what it would have heard) and ``LOOKAHEAD`` seconds
after it (what the convolutions look ahead at); both are cut from the audio kept. The segments
then meet without a seam: they match a decode of all the codes at once to within float error
(tests/core/test_musicgen_long.py). Each segment is sent as an audio ``Preview``; the previews
add up to the result, so a cancelled piece keeps exactly what was sent.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

import studio
from studio.core.base.memory import ensure_memory

from .decoder import Decoder
from .layout import MusicGenModel
from .pipeline import AudioCodec, Generation, Settings, TextEncoder, decode_codes, memory_needed
from .tokenizer import MAX_PROMPT_TOKENS, T5Tokenizer

#: Of each window, the share that continues the codes before it (audiocraft: 12 s of a 30 s window).
CONTEXT_SHARE = 0.4
DECODE_CONTEXT = 2.0  # seconds of codes decoded before a segment and thrown away: the LSTM's warm-up
LOOKAHEAD = 0.2  # seconds of codes decoded after a segment (the convolutions reach a few frames ahead)
#: A decoder that holds fewer frames has too little room to both continue and make something new.
MIN_WINDOW_FRAMES = 20


@dataclass(frozen=True)
class Plan:
    """How a piece of ``frames`` new code frames is cut into windows."""

    frames: int  # new frames in all
    window: int  # frames the decoder can hold in one window (prompt + new)
    context: int  # frames each continuation window starts from
    windows: tuple[int, ...]  # new frames made by each window

    @classmethod
    def of(cls, frames: int, window: int, prompt_frames: int = 0) -> "Plan":
        """``frames`` new frames with a decoder that holds ``window`` frames, after a prompt of
        ``prompt_frames`` frames of codes (an audio prompt; 0: from the text alone)."""
        if window < MIN_WINDOW_FRAMES:
            raise studio.ModelError(f"the decoder holds only {window} code frames: too few to continue from")
        context = max(1, min(int(window * CONTEXT_SHARE), window // 2))
        made, windows = 0, []
        while made < frames:
            # A window from the text alone holds ``window`` new frames; one that continues codes
            # holds what its context leaves (as the audio prompt's room in generator.py).
            keep = context if windows else min(prompt_frames, context)
            room = window - 1 - keep if keep else window
            windows.append(min(room, frames - made))
            made += windows[-1]
        return cls(frames, window, context, tuple(windows))


def clock(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def generate_long(
    ctx: studio.JobContext,
    model: MusicGenModel,
    tokenizer: T5Tokenizer,
    prompt: str,
    settings: Settings,
    frames: int,
    window: int,
    audio_prompt: np.ndarray | None = None,
    graphs=None,
) -> Iterator[studio.Event]:
    """``frames`` new code frames of music, window after window; yields ``Progress`` over the
    whole piece and an audio ``Preview`` per decoded segment, and returns a ``Generation``."""
    started = time.perf_counter()
    codebooks, rate = model.num_codebooks, model.sampling_rate
    encoder = TextEncoder(model, tokenizer, graphs)
    states, mask = encoder(ctx, prompt)
    codec = AudioCodec(model, graphs)
    codes = np.zeros((codebooks, 0), dtype=np.int64)
    if audio_prompt is not None:
        yield studio.Progress(0, 0, "Listening to the audio prompt…")
        codes = codec.encode(ctx, audio_prompt)
    prompt_frames = codes.shape[1]
    plan = Plan.of(frames, window, prompt_frames)
    total_steps = sum(n + codebooks - 1 for n in plan.windows)
    total_seconds = frames / model.frame_rate
    decoder = Decoder(model, ctx, graphs)
    emitted = prompt_frames  # code frames whose audio has been sent
    chunks: list[np.ndarray] = []
    done_steps = 0
    for index, new in enumerate(plan.windows):
        keep = plan.context if index else min(prompt_frames, plan.context)
        context = codes[:, codes.shape[1] - keep:]
        steps = new + codebooks - 1
        ensure_memory(memory_needed(model, MAX_PROMPT_TOKENS, steps + context.shape[1], settings.guided), f"a window of {model.name}")
        # Window 0 samples exactly as a one-window generation with the same seed; later windows
        # draw from their own stream, so the piece is the same whatever the windows before cost.
        seed = settings.seed if index == 0 else [settings.seed, index]
        window_settings = replace(settings, new_tokens=steps, seed=seed)
        label = f"Window {index + 1} of {len(plan.windows)}" if len(plan.windows) > 1 else "Composing"
        made = yield from _steps(decode_codes(ctx, model, decoder, states, mask, window_settings, context if context.shape[1] else None),
                                 done_steps, total_steps, label, codes.shape[1] - prompt_frames, model.frame_rate, total_seconds)
        done_steps += steps
        codes = np.concatenate([codes, made[:, context.shape[1]:]], axis=1)
        last = index == len(plan.windows) - 1
        upto = codes.shape[1] if last else codes.shape[1] - _frames(LOOKAHEAD, model)
        if upto > emitted:
            chunk = _decode_segment(ctx, codec, codes, emitted, upto, model)
            chunks.append(chunk)
            emitted = upto
            yield studio.Preview("audio", chunk[:, None], sample_rate=rate)
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    notes = list(encoder.notes)
    if len(plan.windows) > 1:
        notes.append(f"made in {len(plan.windows)} windows of up to {window / model.frame_rate:.0f} s, each continuing the last "
                     f"{plan.context / model.frame_rate:.1f} s of the one before")
    return Generation(audio, time.perf_counter() - started, notes, codes)


def _steps(loop, done: int, total: int, label: str, made_frames: int, frame_rate: int, total_seconds: float):
    """The window's decoder loop, its progress restated over the whole piece; returns its codes."""
    while True:
        try:
            progress = next(loop)
        except StopIteration as end:
            return end.value
        seconds = min(total_seconds, (made_frames + progress.step) / frame_rate)
        yield studio.Progress(done + progress.step, total, f"{label} · {clock(seconds)} of {clock(total_seconds)}")


def _frames(seconds: float, model: MusicGenModel) -> int:
    return max(1, math.ceil(seconds * model.frame_rate))


def _decode_segment(ctx: studio.JobContext, codec: AudioCodec, codes: np.ndarray, start: int, end: int, model: MusicGenModel) -> np.ndarray:
    """The audio of code frames ``start .. end``, decoded with context on both sides and cut."""
    first = max(0, start - _frames(DECODE_CONTEXT, model))
    last = min(codes.shape[1], end + _frames(LOOKAHEAD, model))
    audio = codec.decode(ctx, codes[:, first:last])
    hop = model.hop_length
    # A copy, not a view: the decode buffer around it (its context on both sides) is let go.
    return np.array(audio[(start - first) * hop : (end - first) * hop], dtype=np.float32, copy=True)
