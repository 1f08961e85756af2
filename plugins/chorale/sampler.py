"""Sampling four-part chorales from the step model, as notes (numpy + onnxruntime; no torch).

The model folder's ``config.json`` describes the representation (written by ``recipe.py``;
see ``data.py``): four tokens per eighth-note step, soprano first, each a pitch, ``hold`` or
``rest``, in C major or A minor. The sampler asks for ``bars`` bars in the mode of the key the
user wants, keeps every voice inside the compass it had in Bach's chorales, and transposes the
result to the key asked for.

``run`` is any callable ``feeds -> [logits, next_state]``: the generator passes one that goes
through ``JobContext.run`` (so cancel interrupts it), tests and the benchmark a bare session.
"""

from __future__ import annotations

import functools

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generator, Iterator, Mapping, Sequence

import numpy as np

from studio import Progress
from studio.core.audio.midi import Note
from studio.core.models.limits import bounded_int
from studio.core.models.loaders import read_json
from studio.errors import ModelError, ParamError

PITCH_CLASSES = {"C": 0, "Db": 1, "D": 2, "Eb": 3, "E": 4, "F": 5, "F#": 6, "Gb": 6, "G": 7, "Ab": 8, "A": 9, "Bb": 10, "B": 11}
KEYS = (
    "C major", "G major", "D major", "A major", "E major", "F major", "Bb major", "Eb major",
    "A minor", "E minor", "B minor", "F# minor", "D minor", "G minor", "C minor",
)
#: Soprano sings out a little over the inner voices, as a choir or an organist would voice it.
VELOCITIES = (92, 76, 76, 84)

Run = Callable[[Mapping[str, np.ndarray]], Sequence[np.ndarray]]


@dataclass(frozen=True)
class ChoraleConfig:
    """What the sampler needs from the model folder's config.json."""

    voices: tuple[str, ...]
    steps_per_beat: int
    beats_per_bar: int
    vocab_size: int
    rest: int
    hold: int
    start: int
    first_pitch_token: int
    lowest_pitch: int
    modes: tuple[str, ...]
    reference_tonic: Mapping[str, int]
    voice_ranges: tuple[tuple[int, int], ...]
    layers: int
    hidden: int
    max_bars_left: int
    title: str

    @property
    def steps_per_bar(self) -> int:
        return self.steps_per_beat * self.beats_per_bar

    @classmethod
    def read(cls, folder: Path) -> "ChoraleConfig":
        path = Path(folder) / "config.json"
        raw = read_json(path, "the chorale model's config.json")
        if raw.get("format") != "studio-chorale":
            raise ModelError(f"{path} does not describe a chorale model (format should be 'studio-chorale')")
        try:
            rep = raw["representation"]
            special = rep["special_tokens"]
            # The sizes are bounded before anything is made of them (arrays, loops per bar).
            size = functools.partial(bounded_int, raw, what=str(path))
            config = cls(
                voices=tuple(rep["voices"]),
                steps_per_beat=size("representation.steps_per_beat", 1, 96),
                beats_per_bar=size("representation.beats_per_bar", 1, 32),
                vocab_size=size("representation.vocab_size", 4, 1 << 16),
                rest=int(special["rest"]),
                hold=int(special["hold"]),
                start=int(special["start"]),
                first_pitch_token=int(rep["first_pitch_token"]),
                lowest_pitch=int(rep["lowest_pitch"]),
                modes=tuple(rep["modes"]),
                reference_tonic={str(k): int(v) for k, v in rep["reference_tonic"].items()},
                voice_ranges=tuple((int(low), int(high)) for low, high in raw["voice_ranges"]),
                layers=size("model.layers", 1, 64),
                hidden=size("model.hidden", 1, 1 << 14),
                max_bars_left=size("model.max_bars_left", 0, 1 << 16),
                title=str(raw.get("title", "Chorale")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path} is incomplete or malformed ({type(exc).__name__}: {exc})") from None
        if not 1 <= len(config.voices) <= 16:
            raise ModelError(f"{path}: representation.voices should name 1 to 16 voices")
        if len(config.voice_ranges) != len(config.voices) or set(config.reference_tonic) != set(config.modes):
            raise ModelError(f"{path} is inconsistent: one range per voice and one tonic per mode are needed")
        return config

    def pitch_of(self, token: int) -> int:
        return int(token) - self.first_pitch_token + self.lowest_pitch

    def token_of(self, pitch: int) -> int:
        return int(pitch) - self.lowest_pitch + self.first_pitch_token


def parse_key(key: str) -> tuple[int, str]:
    """"Bb major" -> (10, "major"); a ``ParamError`` for anything else."""
    parts = key.split()
    if len(parts) != 2 or parts[0] not in PITCH_CLASSES or parts[1] not in ("major", "minor"):
        raise ParamError(f"key: {key!r} is not a key like 'G major' or 'E minor'")
    return PITCH_CLASSES[parts[0]], parts[1]


def transposition(config: ChoraleConfig, key: str) -> tuple[int, str]:
    """(semitones from the model's reference key to ``key``, mode), moving as little as possible
    so every voice stays near the compass it was trained in."""
    tonic, mode = parse_key(key)
    shift = (tonic - config.reference_tonic[mode]) % 12
    return (shift - 12 if shift > 6 else shift), mode


def allowed_tokens(config: ChoraleConfig) -> np.ndarray:
    """bool (voices, vocab): what each voice may sing; never the start token, never out of range."""
    allowed = np.zeros((len(config.voices), config.vocab_size), dtype=bool)
    allowed[:, [config.rest, config.hold]] = True
    for voice, (low, high) in enumerate(config.voice_ranges):
        allowed[voice, config.token_of(low) : config.token_of(high) + 1] = True
    return allowed


def opening_tokens(config: ChoraleConfig) -> np.ndarray:
    """``allowed_tokens`` for the very first step: nothing is sounding yet to be held."""
    opening = allowed_tokens(config).copy()
    opening[:, config.hold] = False
    return opening


def sample_bars(
    run: Run, config: ChoraleConfig, bars: int, mode: str, temperature: float, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Yield each bar's tokens, int (steps_per_bar, voices), as it is sampled."""
    if bars < 1:
        raise ParamError("bars: at least one bar is needed")
    voices = len(config.voices)
    allowed, opening = allowed_tokens(config), opening_tokens(config)
    mode_index = np.array([config.modes.index(mode)], dtype=np.int64)
    state = np.zeros((config.layers, 1, config.hidden), dtype=np.float32)
    token = np.array([config.start], dtype=np.int64)
    for bar in range(bars):
        bars_left = np.array([min(bars - 1 - bar, config.max_bars_left)], dtype=np.int64)
        chosen = np.empty((config.steps_per_bar, voices), dtype=np.int64)
        for position in range(config.steps_per_bar):
            mask = opening if bar == 0 and position == 0 else allowed
            for voice in range(voices):
                feeds = {
                    "token": token,
                    "voice": np.array([voice], dtype=np.int64),
                    "position": np.array([position], dtype=np.int64),
                    "bars_left": bars_left,
                    "mode": mode_index,
                    "state": state,
                }
                logits, state = run(feeds)
                chosen[position, voice] = pick(logits[0], mask[voice], temperature, rng)
                token = chosen[position, voice : voice + 1].copy()
        yield chosen


def pick(logits: np.ndarray, allowed: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """One token from ``logits`` among ``allowed``: the likeliest at temperature 0, else sampled."""
    logits = np.where(allowed, logits.astype(np.float64), -np.inf)
    if temperature <= 0:
        return int(np.argmax(logits))
    scaled = (logits - logits.max()) / temperature
    weights = np.exp(scaled)
    cumulative = np.cumsum(weights)
    return int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))


def tokens_to_notes(tokens: np.ndarray, config: ChoraleConfig, shift: int = 0) -> list[Note]:
    """Tokens (steps, voices) -> notes, transposed by ``shift`` semitones; times in beats.

    A pitch starts a note, ``hold`` lengthens the one sounding, ``rest`` (or a ``hold`` with
    nothing to hold) is silence.
    """
    step_beats = 1.0 / config.steps_per_beat
    notes: list[Note] = []
    for voice in range(tokens.shape[1]):
        velocity = VELOCITIES[voice % len(VELOCITIES)]
        pitch, start = None, 0
        for step, token in enumerate([*tokens[:, voice].tolist(), config.rest]):
            if token == config.hold and pitch is not None:
                continue
            if pitch is not None:
                notes.append(Note(pitch + shift, start * step_beats, (step - start) * step_beats, velocity, voice))
                pitch = None
            if token >= config.first_pitch_token:
                pitch, start = config.pitch_of(token), step
    notes.sort(key=lambda n: (n.start, n.voice))
    return notes


def session_runner(session: Any) -> Run:
    """A ``Run`` over a bare onnxruntime session (tests, the benchmark)."""
    names = [o.name for o in session.get_outputs()]
    return lambda feeds: session.run(names, dict(feeds))


def compose(
    run: Run, config: ChoraleConfig, key: str, bars: int, temperature: float, seed: int, total: int | None = None
) -> Generator[Progress, None, list[Note]]:
    """``bars`` bars in ``key``: a ``Progress`` (of ``total`` steps) after each bar, then the notes.

    ``notes = yield from compose(...)`` inside a generator passes the progress on.
    """
    shift, mode = transposition(config, key)
    rng = np.random.default_rng(seed)
    sampled = []
    for bar, tokens in enumerate(sample_bars(run, config, bars, mode, temperature, rng), 1):
        sampled.append(tokens)
        yield Progress(bar, total or bars, f"Composed bar {bar} of {bars}")
    return tokens_to_notes(np.concatenate(sampled), config, shift)


def sample_notes(
    run: Run, config: ChoraleConfig, key: str, bars: int, temperature: float, seed: int
) -> list[Note]:
    """The whole sketch at once: ``bars`` bars in ``key`` as notes (the progress dropped)."""
    composing = compose(run, config, key, bars, temperature, seed)
    while True:
        try:
            next(composing)
        except StopIteration as done:
            return done.value
