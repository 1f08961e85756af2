"""Notes as data, and writing them as a standard MIDI file.

A symbolic generator (the chorale sketcher) returns its notes beside the audio, so a musician
can take the sketch into a notation program or a DAW. Times are in beats, not seconds: the
tempo is stored once in the file, and a DAW that changes it keeps the music in time.

The file is type 1: a conductor track holding the tempo and the 4/4 time signature, then one
track per voice (its own MIDI channel, so each can get its own instrument). Writing is atomic
(a temporary file beside the target, then a rename): a failure never leaves half a file where
the user's file was.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from studio.core.base.atomic_write import write_atomically
from studio.errors import OutputError

TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9  # General MIDI channel 10 plays percussion: never give it a voice


@dataclass(frozen=True)
class Note:
    """One note: MIDI pitch (60 = middle C), start and duration in beats, velocity 1..127."""

    pitch: int
    start: float
    duration: float
    velocity: int
    voice: int

    @property
    def end(self) -> float:
        return self.start + self.duration


def voice_channel(voice: int) -> int:
    """Voices 0, 1, 2... on channels 0, 1, 2..., skipping the drum channel."""
    channel = voice % 15
    return channel + 1 if channel >= DRUM_CHANNEL else channel


def write_midi(
    path: str | os.PathLike[str],
    notes: Iterable[Note],
    tempo: float,
    *,
    voice_names: Sequence[str] = (),
    program: int | None = None,
) -> Path:
    """Write ``notes`` at ``tempo`` beats per minute to the MIDI file ``path`` and return it.

    ``voice_names`` name the voice tracks (track ``i`` is voice ``i``); ``program`` is a
    General MIDI instrument (0-127) given to every voice. Raises ``OutputError`` (a
    ``StudioError``) when the file cannot be written.
    """
    import mido

    notes = list(notes)
    if not tempo > 0:
        raise OutputError(f"a MIDI file needs a positive tempo, not {tempo}")
    for note in notes:
        if not 0 <= note.pitch <= 127 or not 1 <= note.velocity <= 127 or note.voice < 0:
            raise OutputError(f"{note} cannot be written to MIDI (pitch 0-127, velocity 1-127, voice >= 0)")
        if note.start < 0 or note.duration <= 0:
            raise OutputError(f"{note} cannot be written to MIDI (it needs a start >= 0 and a length > 0)")

    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    conductor.append(mido.MetaMessage("end_of_track", time=0))
    midi.tracks.append(conductor)

    voices = max((n.voice for n in notes), default=-1) + 1
    voices = max(voices, len(voice_names))
    for voice in range(voices):
        name = voice_names[voice] if voice < len(voice_names) else f"Voice {voice + 1}"
        midi.tracks.append(_voice_track(mido, name, voice, [n for n in notes if n.voice == voice], program))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    write_atomically(Path(path), buffer.getvalue())
    return Path(path)


def _voice_track(mido, name: str, voice: int, notes: list[Note], program: int | None):
    channel = voice_channel(voice)
    events: list[tuple[int, int, str, int, int]] = []
    for note in notes:
        on, off = _ticks(note.start), _ticks(note.end)
        # Offs sort before ons at the same tick, so a repeated pitch is released before it
        # sounds again instead of the new note being cut off at once.
        events.append((on, 1, "note_on", note.pitch, note.velocity))
        events.append((max(off, on + 1), 0, "note_off", note.pitch, 0))
    events.sort()
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    if program is not None:
        track.append(mido.Message("program_change", channel=channel, program=int(program), time=0))
    now = 0
    for tick, _, kind, pitch, velocity in events:
        track.append(mido.Message(kind, channel=channel, note=pitch, velocity=velocity, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _ticks(beats: float) -> int:
    return int(round(beats * TICKS_PER_BEAT))


def write_score(path: str | os.PathLike[str], info: Mapping[str, Any]) -> Path:
    """Write the notes a symbolic generator put in its result's ``info`` (``score``, ``tempo``,
    ``voices``, ``midi_program``) as a MIDI file; ``OutputError`` when it made no notes."""
    if not info.get("score"):
        raise OutputError(f"cannot write {path}: only audio made from notes (like the chorale sketcher's) has a MIDI form")
    return write_midi(path, info["score"], float(info.get("tempo", 120.0)), voice_names=tuple(info.get("voices", ())), program=info.get("midi_program"))
