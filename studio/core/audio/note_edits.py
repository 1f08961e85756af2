"""Edits of a take's notes as pure functions: select, move, transpose, lengthen, delete, draw.

Notes are a tuple of ``studio.core.audio.midi.Note`` (times in beats); a selection is a
frozenset of indices into that tuple. Every edit returns a new tuple and keeps the notes it
does not touch at their index, so a selection stays valid across moves, transpositions and
length changes (only ``delete`` renumbers, and it returns the empty selection). The piano roll
calls these and pushes the result as one undo step; nothing here knows about Qt.

A group of notes moves as a block, as in a DAW: when one note of the group would leave the
MIDI range or cross the start of the take, the whole move is cut short there, so the chord
keeps its shape instead of being squashed against the edge.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Iterable, Sequence

from studio.core.audio.midi import Note

Notes = tuple[Note, ...]
Selection = frozenset[int]

LOWEST, HIGHEST = 0, 127  # the MIDI pitch range
MIN_DURATION = 1.0 / 32  # beats: the shortest note an edit leaves (a 128th note)
DEFAULT_VELOCITY = 90


def snap(beat: float, grid: float) -> float:
    """``beat`` rounded to the nearest multiple of ``grid`` beats (``grid`` <= 0: unchanged)."""
    if grid <= 0:
        return float(beat)
    return round(beat / grid) * grid


def snap_down(beat: float, grid: float) -> float:
    """The grid line at or before ``beat``: where a click inside a grid cell draws its note."""
    if grid <= 0:
        return float(beat)
    return math.floor(beat / grid + 1e-9) * grid


def clamp_pitch(pitch: int) -> int:
    return max(LOWEST, min(HIGHEST, int(pitch)))


# -- selecting --------------------------------------------------------------------------------


def select_voice(notes: Sequence[Note], voice: int) -> Selection:
    return frozenset(i for i, n in enumerate(notes) if n.voice == voice)


def select_all(notes: Sequence[Note], voices: Iterable[int] | None = None) -> Selection:
    """Every note, or every note of ``voices`` (the voices shown)."""
    shown = None if voices is None else set(voices)
    return frozenset(i for i, n in enumerate(notes) if shown is None or n.voice in shown)


def select_rect(
    notes: Sequence[Note], first_beat: float, last_beat: float, low_pitch: int, high_pitch: int, voices: Iterable[int] | None = None
) -> Selection:
    """The notes a rubber band from ``first_beat`` to ``last_beat`` over pitches ``low_pitch``
    .. ``high_pitch`` (inclusive) touches, among ``voices`` when given."""
    first, last = sorted((first_beat, last_beat))
    low, high = sorted((low_pitch, high_pitch))
    shown = None if voices is None else set(voices)
    return frozenset(
        i for i, n in enumerate(notes)
        if low <= n.pitch <= high and n.start < last and n.end > first and (shown is None or n.voice in shown)
    )


def note_at(notes: Sequence[Note], beat: float, pitch: int, voices: Iterable[int] | None = None) -> int | None:
    """The index of the note sounding at ``beat`` on ``pitch`` (the latest-starting when several)."""
    shown = None if voices is None else set(voices)
    hits = [i for i, n in enumerate(notes) if n.pitch == pitch and n.start <= beat < n.end and (shown is None or n.voice in shown)]
    return max(hits, key=lambda i: (notes[i].start, i)) if hits else None


# -- changing ---------------------------------------------------------------------------------


def move(notes: Sequence[Note], selected: Iterable[int], beats: float = 0.0, semitones: int = 0) -> Notes:
    """The selected notes moved by ``beats`` and ``semitones`` as a block (cut short at the
    start of the take and at the ends of the MIDI range)."""
    chosen = _valid(notes, selected)
    if not chosen:
        return tuple(notes)
    group = [notes[i] for i in chosen]
    beats = max(float(beats), -min(n.start for n in group))
    semitones = int(semitones)
    semitones = min(max(semitones, LOWEST - min(n.pitch for n in group)), HIGHEST - max(n.pitch for n in group))
    return tuple(
        replace(n, start=n.start + beats, pitch=n.pitch + semitones) if i in chosen else n for i, n in enumerate(notes)
    )


def transpose(notes: Sequence[Note], selected: Iterable[int], semitones: int) -> Notes:
    """Up or down by ``semitones`` (12: an octave), the chord kept whole at the range's ends."""
    return move(notes, selected, 0.0, semitones)


def transpose_voice(notes: Sequence[Note], voice: int, semitones: int) -> Notes:
    return transpose(notes, select_voice(notes, voice), semitones)


def resize(notes: Sequence[Note], selected: Iterable[int], beats: float, grid: float = 0.0) -> Notes:
    """The selected notes made ``beats`` longer (negative: shorter), their ends on the grid
    when ``grid`` > 0, never shorter than a grid step (or ``MIN_DURATION``)."""
    chosen = _valid(notes, selected)
    shortest = grid if grid > 0 else MIN_DURATION
    out = []
    for i, n in enumerate(notes):
        if i in chosen:
            end = snap(n.end + beats, grid) if grid > 0 else n.end + beats
            n = replace(n, duration=max(shortest, end - n.start))
        out.append(n)
    return tuple(out)


def delete(notes: Sequence[Note], selected: Iterable[int]) -> Notes:
    chosen = _valid(notes, selected)
    return tuple(n for i, n in enumerate(notes) if i not in chosen)


def add(
    notes: Sequence[Note], pitch: int, start: float, duration: float, voice: int, velocity: int = DEFAULT_VELOCITY
) -> tuple[Notes, int]:
    """A new note (pitch clamped to MIDI, start >= 0, a length >= ``MIN_DURATION``) appended;
    returns the notes and its index."""
    note = Note(clamp_pitch(pitch), max(0.0, float(start)), max(MIN_DURATION, float(duration)),
                max(1, min(127, int(velocity))), max(0, int(voice)))
    return tuple(notes) + (note,), len(notes)


def clamped(notes: Sequence[Note]) -> Notes:
    """Every note made valid: pitch in MIDI range, start >= 0, a positive length, velocity 1..127."""
    return tuple(
        Note(clamp_pitch(n.pitch), max(0.0, float(n.start)), max(MIN_DURATION, float(n.duration)),
             max(1, min(127, int(n.velocity))), max(0, int(n.voice)))
        for n in notes
    )


def end_beat(notes: Sequence[Note]) -> float:
    return max((n.end for n in notes), default=0.0)


def _valid(notes: Sequence[Note], selected: Iterable[int]) -> frozenset[int]:
    return frozenset(i for i in selected if 0 <= i < len(notes))
