"""The MusicGen generator (one per model folder) and the loader that recognises such folders."""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

import studio
from studio.core.models import variant_defaults
from studio.core.models.variants import Variant

from .graphs import Graphs
from .layout import LAYOUT, MusicGenModel, is_musicgen_folder
from .long_piece import MIN_WINDOW_FRAMES, Plan, generate_long
from .pipeline import Settings, generate, new_tokens_for
from .tokenizer import T5Tokenizer

MAX_SECONDS = 30.0  # one window: what the released models were trained on
#: The longest piece: windows joined by continuation (long_piece.py). Ten minutes is a whole
#: song or a long cue; past it one job would hold the device for hours on a CPU.
LONGEST_SECONDS = 600.0


def window_frames(model: MusicGenModel) -> int:
    """Code frames one window of the decoder makes, from the model's own numbers.

    Each decoder step takes one of the decoder's positions, and the delay pattern spends
    ``num_codebooks - 1`` steps before the last codebook's first frame, so
    ``max_position_embeddings - num_codebooks + 1`` frames is the most one window holds (the
    tiny test model: 509 frames, 10.18 s); past that onnxruntime fails mid-generation. The
    released models were trained on 30 s: a window is never longer.
    """
    positions = model.decoder.get("max_position_embeddings", 2048)
    room = (positions if isinstance(positions, int) else 2048) - model.num_codebooks + 1
    if room < 1:
        raise studio.ModelError(f"config.json in {model.folder} gives the decoder {positions} positions: no room for any audio")
    return min(room, math.floor(MAX_SECONDS * model.frame_rate + 1e-9))


def duration_grid(model: MusicGenModel) -> tuple[float, float]:
    """(step, max) of the duration in seconds: whole code frames (one step each), up to
    ``LONGEST_SECONDS`` made window by window (or one window, if the decoder holds too few
    frames to continue from)."""
    frame = 1 / model.frame_rate
    window = window_frames(model)
    longest = math.floor(LONGEST_SECONDS * model.frame_rate + 1e-9) if window >= MIN_WINDOW_FRAMES else window
    return frame, longest / model.frame_rate


class MusicGenGenerator(studio.Generator):
    kind = "audio"

    def __init__(self, model: MusicGenModel, generator_id: str, title: str = "") -> None:
        self.model = model
        self.model_folder = model.folder  # ties the generator to its folder in the model library
        self.id = generator_id
        self.title = title or f"MusicGen ({model.name})"
        self.description = (
            f"Music from a text description, {model.sampling_rate // 1000} kHz mono"
            + (", or a continuation of the selected clip." if model.can_encode else ".")
        )
        top_k = min(model.default("top_k", 250, int), model.codebook_size)
        frame, longest = duration_grid(model)
        window = window_frames(model) / model.frame_rate
        params = [
            studio.Param("prompt", "text", "", multiline=True, help="Describe the music: genre, instruments, mood, tempo."),
            studio.Param("duration", "float", min(8.0, longest), min=frame, max=longest, step=frame, label="Duration (s)",
                         help=f"Seconds of new audio, in steps of one code frame ({frame:g} s), up to {longest:g} s. Past {window:g} s (the model's "
                              f"window) the piece is made window by window, each continuing the last seconds of the one before."),
            # A generation_config.json may suggest a value between two steps: start from the nearest.
            _suggested(studio.Param("guidance_scale", "float", model.default("guidance_scale", 3.0, float), min=0.0, max=20.0, step=0.5, label="Guidance", help="How closely to follow the prompt; 1 or less: no guidance (twice as fast).")),
            studio.Param("top_k", "int", top_k, min=0, max=model.codebook_size, label="Top-k", help="Choose among the k likeliest codes; 0: all."),
            _suggested(studio.Param("temperature", "float", model.default("temperature", 1.0, float), min=0.0, max=2.0, step=0.05, help="0 always picks the likeliest code.")),
            studio.Param("seed", "seed", None),
        ]
        if len(model.graphs) > 1:  # one copy of the weights leaves nothing to choose
            params.append(studio.Param(
                "variant", "choice", "auto", choices=("auto", *model.graphs), label="Variant",
                help="Which copy of the weights runs. auto: the default chosen for this model in Models, else the one that suits "
                     "the device (4- or 8-bit on the CPU, fp16 on a GPU). Smaller weights are faster; the music differs slightly."))
        if model.can_encode:
            params.append(studio.Param("audio_prompt", "audio", None, optional=True, label="Continue audio", help="Audio to continue (the selected clip); empty: start from silence."))
        self.params = tuple(params)
        self._tokenizer: T5Tokenizer | None = None
        self._opened: set[tuple[str, str]] = set()  # (device id, variant) whose sessions are open

    def tokenizer(self) -> T5Tokenizer:
        if self._tokenizer is None:
            vocab = self.model.config["text_encoder"].get("vocab_size")
            self._tokenizer = T5Tokenizer(self.model.folder / "tokenizer.json", vocab if isinstance(vocab, int) else None)
        return self._tokenizer

    def request(self, values: Mapping[str, Any] | None = None, rng: random.Random | None = None) -> studio.Request:
        """As every generator's; a folder with one variant has no ``variant`` parameter, yet a
        project or a command that names that variant (or ``auto``) still runs: it is what runs."""
        values = dict(values or {})
        if "variant" in values and len(self.model.graphs) == 1 and values["variant"] in ("auto", *self.model.graphs):
            del values["variant"]
        return super().request(values, rng)

    @property
    def variants(self) -> dict[str, Variant]:
        """The variants in the folder, with their files and size on disk."""
        return self.model.variants

    def graphs(self, asked: str | None, ctx: studio.JobContext) -> Graphs:
        """The files to run: the variant asked for, or for ``auto`` the user's default for this
        kind of device, else the one that suits it."""
        kind = "cpu" if ctx.device.is_cpu else "gpu"
        return self.model.graphs_for(variant_defaults.choose_variant(self.model_folder, asked, tuple(self.model.graphs), kind))

    def load(self, ctx: studio.JobContext) -> None:
        # The sessions open in generate, for the variant the request asks for: a job that
        # chose fp32 never loads the q4 copy that auto would have picked.
        ctx.progress(0, 1, "Loading MusicGen…")
        self.tokenizer()
        ctx.progress(1, 1, "Loading MusicGen…")

    def open_sessions(self, ctx: studio.JobContext, graphs: Graphs) -> Iterator[studio.Progress]:
        """Open (once per device and variant) every session ``graphs`` runs, saying so."""
        if (ctx.device.id, graphs.variant) in self._opened:
            return
        paths = (graphs.text_encoder, *graphs.decoder, graphs.encodec_decode)
        for step, path in enumerate(paths, 1):
            ctx.session(path)
            yield studio.Progress(step, len(paths), f"Loading MusicGen ({graphs.variant})…")
        self._opened.add((ctx.device.id, graphs.variant))

    def generate(self, request: studio.Request, ctx: studio.JobContext) -> Iterator[studio.Event]:
        model = self.model
        notes: list[str] = []
        new_tokens = new_tokens_for(model, request["duration"])
        frames = new_tokens - model.num_codebooks + 1
        window = window_frames(model)
        long = frames > window
        if long:  # the prompt is cut to what a continuation window starts from
            positions = int(model.decoder.get("max_position_embeddings", 2048))
            new_tokens = positions - 1 - Plan.of(frames, window).context
        prompt_audio = self._prompt_audio(request.params.get("audio_prompt"), request["duration"], new_tokens, notes)
        settings = Settings(new_tokens, request["guidance_scale"], request["temperature"], request["top_k"], request.seed)
        graphs = self.graphs(request.params.get("variant", "auto"), ctx)
        yield from self.open_sessions(ctx, graphs)
        if long:
            output = yield from generate_long(ctx, model, self.tokenizer(), request["prompt"], settings, frames, window, prompt_audio, graphs)
            new_tokens = frames
        else:
            output = yield from generate(ctx, model, self.tokenizer(), request["prompt"], settings, prompt_audio, graphs)
        audio_seconds = output.audio.size / model.sampling_rate
        info = {
            "real_time_factor": round(audio_seconds / output.seconds, 3) if output.seconds > 0 else None,
            "compute_s": round(output.seconds, 3),
            "audio_s": round(audio_seconds, 3),
            "decoder_steps": new_tokens,
            "variant": graphs.variant,
            "provider": ctx.session(graphs.decoder[-1]).providers[0],
            "device": ctx.device.id,
            "notes": notes + output.notes,
        }
        yield studio.Result("audio", output.audio[:, None], self.id, dict(request.params), sample_rate=model.sampling_rate, info=info)

    def _prompt_audio(self, audio, seconds: float, new_tokens: int, notes: list[str]) -> np.ndarray | None:
        """The audio prompt as mono at the model's rate, cut to what the decoder's positions
        hold and to whole EnCodec frames, so the continuation starts where the prompt ends."""
        if audio is None:
            return None
        from studio.core.media.sound_files import resample

        rate, hop = self.model.sampling_rate, self.model.hop_length
        positions = self.model.decoder.get("max_position_embeddings", 2048)
        room = int(positions) - 1 - new_tokens
        keep = room * hop if room > 0 else 0
        if keep <= 0:
            raise studio.ParamError(f"audio_prompt: no room to continue audio for {seconds:g} s; ask for a shorter duration")
        # Cut at the source rate first (with a little margin for the resampler): a long clip
        # is not resampled only to be thrown away.
        source_keep = int(keep * audio.sample_rate / rate) + audio.sample_rate // 10
        samples = np.asarray(audio.samples[-source_keep:], dtype=np.float32).mean(axis=1, keepdims=True)
        mono = resample(samples, audio.sample_rate, rate)[:, 0]
        if audio.frames > source_keep or mono.size > keep:
            notes.append(f"continued the last {keep / rate:.1f} s of the audio prompt (the model's context limit)")
            mono = mono[-keep:]
        # EnCodec pads a part frame at the end with silence, and the new audio would start
        # after that padding: drop the part frame from the start instead.
        mono = mono[mono.size % hop :]
        if mono.size < hop:
            raise studio.ParamError("audio_prompt: the audio is too short to continue")
        return mono


def _suggested(param: studio.Param) -> studio.Param:
    """``param`` starting from the model's suggested value put on the form's grid and range."""
    return dataclasses.replace(param, default=param.snap(param.default))


class MusicGenLoader(studio.ModelLoader):
    id = "musicgen"
    title = "MusicGen"
    layout = LAYOUT

    def detect(self, folder: Path) -> bool:
        return is_musicgen_folder(folder)

    def load(self, folder: Path) -> MusicGenGenerator:
        return MusicGenGenerator(MusicGenModel.read(folder), f"musicgen:{folder.name}")
