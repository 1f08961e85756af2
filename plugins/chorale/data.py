"""The Bach chorales of music21's corpus, in the representation the chorale model learns.

Representation (written into the model folder's ``config.json`` by the recipe, which is all
the sampler reads):

- Four voices, soprano, alto, tenor, bass, on an eighth-note grid. Sixteenth-note passing
  notes fall between grid points; the note sounding at each grid point is kept, which leaves
  the harmony intact and keeps sequences short.
- Each grid step is four tokens, one per voice, in the order S A T B. A token is a pitch
  (a new note starting at this step), ``HOLD`` (the voice's note goes on) or ``REST``.
- Every chorale is transposed to C major or A minor (the same pitch classes, so the pitch
  vocabulary stays small) and tagged with its mode; the sampler transposes to the key asked
  for. Augmenting with all twelve transpositions would teach the model nothing a transposition
  after sampling cannot do, for twelve times the training time.
- Only 4/4 chorales with exactly four parts are used; a pickup is dropped so that step 0 is
  always a downbeat, which lets the model be told where in the bar each step falls.

Only the recipe imports this module (music21 is a recipe dependency, not a run-time one).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REST, HOLD, BOS = 0, 1, 2
SPECIAL_TOKENS = ("rest", "hold", "start")
LOWEST_PITCH = 28  # MIDI E1: below any transposed bass line in the corpus
HIGHEST_PITCH = 88  # MIDI E6: above any soprano
FIRST_PITCH_TOKEN = len(SPECIAL_TOKENS)
VOCAB_SIZE = FIRST_PITCH_TOKEN + HIGHEST_PITCH - LOWEST_PITCH + 1

VOICES = ("soprano", "alto", "tenor", "bass")
STEPS_PER_BEAT = 2  # eighth notes
BEATS_PER_BAR = 4
STEPS_PER_BAR = STEPS_PER_BEAT * BEATS_PER_BAR
MODES = ("major", "minor")
#: The reference tonic every chorale is transposed to, by mode: C major, A minor.
REFERENCE_TONIC = {"major": 0, "minor": 9}


def pitch_token(midi: int) -> int:
    return FIRST_PITCH_TOKEN + int(midi) - LOWEST_PITCH


def token_pitch(token: int) -> int:
    return int(token) - FIRST_PITCH_TOKEN + LOWEST_PITCH


@dataclass(frozen=True)
class Chorale:
    """One chorale: ``tokens`` int (steps, 4 voices), its mode and where it came from."""

    name: str
    mode: str
    tokens: np.ndarray


def representation() -> dict:
    """The description of the representation stored in the model folder's config.json."""
    return {
        "voices": list(VOICES),
        "steps_per_beat": STEPS_PER_BEAT,
        "beats_per_bar": BEATS_PER_BAR,
        "vocab_size": VOCAB_SIZE,
        "special_tokens": {name: index for index, name in enumerate(SPECIAL_TOKENS)},
        "first_pitch_token": FIRST_PITCH_TOKEN,
        "lowest_pitch": LOWEST_PITCH,
        "highest_pitch": HIGHEST_PITCH,
        "modes": list(MODES),
        "reference_tonic": dict(REFERENCE_TONIC),
        "token_order": "each eighth-note step holds one token per voice, soprano first",
    }


def transposition_to_reference(tonic_pitch_class: int, mode: str) -> int:
    """Semitones that move a chorale's tonic to C (major) or A (minor), the smaller way round."""
    shift = (REFERENCE_TONIC[mode] - tonic_pitch_class) % 12
    return shift - 12 if shift > 6 else shift


def chorale_tokens(score) -> tuple[np.ndarray, str] | None:
    """A music21 score -> (tokens (steps, 4), mode), or None when it does not fit the grid."""
    parts = list(score.parts)
    if len(parts) != 4:
        return None
    signatures = {ts.ratioString for ts in score.recurse().getElementsByClass("TimeSignature")}
    if signatures != {"4/4"}:
        return None
    key = score.analyze("key")
    mode = key.mode if key.mode in MODES else "major"
    shift = transposition_to_reference(key.tonic.pitchClass, mode)
    first_measure = parts[0].getElementsByClass("Measure").first()
    # A pickup measure is shorter than a bar (music21 marks it with paddingLeft); its notes
    # start at offset 0, so the first downbeat comes after it.
    first_downbeat = float(first_measure.duration.quarterLength) if first_measure.paddingLeft else 0.0
    end = max(float(part.highestTime) for part in parts)
    steps = int((end - first_downbeat) * STEPS_PER_BEAT)
    if steps < STEPS_PER_BAR * 2:
        return None
    tokens = np.full((steps, 4), REST, dtype=np.int64)
    for voice, part in enumerate(parts):
        notes = [n for n in part.stripTies().flatten().notes if n.isNote]
        if any(n.isChord for n in part.flatten().notes):
            return None
        starts = np.array([float(n.offset) for n in notes])
        ends = starts + np.array([float(n.quarterLength) for n in notes])
        previous = -1
        for step in range(steps):
            time = first_downbeat + step / STEPS_PER_BEAT
            sounding = np.nonzero((starts <= time + 1e-6) & (ends > time + 1e-6))[0]
            if len(sounding) == 0:
                tokens[step, voice] = REST
                previous = -1
                continue
            index = int(sounding[-1])
            if index == previous:
                tokens[step, voice] = HOLD
            else:
                midi = notes[index].pitch.midi + shift
                if not LOWEST_PITCH <= midi <= HIGHEST_PITCH:
                    return None
                tokens[step, voice] = pitch_token(midi)
            previous = index
    return tokens, mode


def extract(cache: Path) -> list[Chorale]:
    """Every usable chorale, parsed once and cached in ``cache`` (a .npz) for later runs."""
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        names = json.loads(str(stored["index"]))
        return [Chorale(name, mode, stored[f"c{i}"]) for i, (name, mode) in enumerate(names)]
    from music21 import corpus  # recipe-only dependency

    chorales: list[Chorale] = []
    for path in sorted(corpus.getComposer("bach"), key=lambda p: Path(p).name):
        try:
            score = corpus.parse(path)
        except Exception as exc:  # a handful of corpus files are not chorales or do not parse
            print(f"skipped {Path(path).name}: {exc}")
            continue
        result = chorale_tokens(score)
        if result is None:
            continue
        tokens, mode = result
        chorales.append(Chorale(Path(path).stem, mode, tokens))
    cache.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"c{i}": c.tokens for i, c in enumerate(chorales)}
    np.savez_compressed(cache, index=json.dumps([(c.name, c.mode) for c in chorales]), **arrays)
    return chorales


def split(chorales: list[Chorale], validation_fraction: float = 0.1) -> tuple[list[Chorale], list[Chorale]]:
    """A split that depends only on each chorale's name, so it never changes between runs."""
    train, validation = [], []
    for chorale in chorales:
        bucket = zlib.crc32(chorale.name.encode()) % 1000
        (validation if bucket < validation_fraction * 1000 else train).append(chorale)
    return train, validation


def voice_ranges(chorales: list[Chorale]) -> list[tuple[int, int]]:
    """The lowest and highest MIDI pitch each voice sings in ``chorales`` (in the reference keys)."""
    ranges = []
    for voice in range(4):
        pitches = np.concatenate([c.tokens[:, voice] for c in chorales])
        pitches = pitches[pitches >= FIRST_PITCH_TOKEN] - FIRST_PITCH_TOKEN + LOWEST_PITCH
        ranges.append((int(pitches.min()), int(pitches.max())))
    return ranges
