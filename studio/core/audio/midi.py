"""Notes as data, and writing them as a standard MIDI file.

A symbolic generator (the chorale sketcher) returns its notes beside the audio, so a musician
can take the sketch into a notation program or a DAW. Times are in beats, not seconds: the
tempo is stored once in the file, and a DAW that changes it keeps the music in time.

The file is type 1: a conductor track holding the tempo and the time signature, then one
track per voice (its own MIDI channel, so each can get its own instrument). Writing is atomic
(a temporary file beside the target, then a rename): a failure never leaves half a file where
the user's file was.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection, Iterable, Mapping, Sequence

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
    programs: Sequence[int | None] = (),
    drum_voices: Collection[int] = (),
    time_signature: tuple[int, int] = (4, 4),
) -> Path:
    """Write ``notes`` at ``tempo`` beats per minute to the MIDI file ``path`` and return it.

    ``voice_names`` name the voice tracks (track ``i`` is voice ``i``); ``program`` is a
    General MIDI instrument (0-127) given to every voice, ``programs`` one per voice (where
    it names one, it wins); ``drum_voices`` play on the drum channel (10). Raises
    ``OutputError`` (a ``StudioError``) when the file cannot be written.
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
    numerator, denominator = _time_signature(time_signature)
    conductor.append(mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0))
    conductor.append(mido.MetaMessage("end_of_track", time=0))
    midi.tracks.append(conductor)

    voices = max((n.voice for n in notes), default=-1) + 1
    voices = max(voices, len(voice_names))
    for voice in range(voices):
        name = voice_names[voice] if voice < len(voice_names) else f"Voice {voice + 1}"
        own = programs[voice] if voice < len(programs) and _program(programs[voice]) else None
        drums = voice in set(drum_voices)
        channel = DRUM_CHANNEL if drums else voice_channel(voice)
        midi.tracks.append(_voice_track(mido, name, channel, [n for n in notes if n.voice == voice], None if drums else own if own is not None else program))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    write_atomically(Path(path), buffer.getvalue())
    return Path(path)


def _program(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 127


def _time_signature(value: Any) -> tuple[int, int]:
    """A time signature MIDI can hold (a power-of-two denominator), else 4/4."""
    try:
        numerator, denominator = (int(v) for v in value)
    except (TypeError, ValueError):
        return 4, 4
    if 1 <= numerator <= 64 and denominator in (1, 2, 4, 8, 16, 32):
        return numerator, denominator
    return 4, 4


def _voice_track(mido, name: str, channel: int, notes: list[Note], program: int | None):
    events: list[tuple[int, int, str, int, int]] = []
    for note in notes:
        on, off = _ticks(note.start), _ticks(note.end)
        # Offs sort before ons at the same tick, so a repeated pitch is released before it
        # sounds again instead of the new note being cut off at once.
        events.append((on, 1, "note_on", note.pitch, note.velocity))
        events.append((max(off, on + 1), 0, "note_off", note.pitch, 0))
    events.sort()
    track = mido.MidiTrack()
    # mido writes names as Latin-1 bytes; a name is written as UTF-8 (as DAWs write them now),
    # so "Sopran – Ä" survives the trip instead of failing the export
    track.append(mido.MetaMessage("track_name", name=name.encode("utf-8").decode("latin-1"), time=0))
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
    ``voices``, ``midi_program``; an imported file's ``midi_programs``, ``drum_voices`` and
    ``time_signature``) as a MIDI file; ``OutputError`` when it made no notes.

    The per-voice programs of an imported file are written while the take still plays the
    sound it was imported with: choosing another sound in Studio gives every voice its program."""
    if not info.get("score"):
        raise OutputError(f"cannot write {path}: only audio made from notes (like the chorale sketcher's) has a MIDI form")
    programs = info.get("midi_programs") if info.get("midi_programs_for") == info.get("instrument") else None
    drums = info.get("drum_voices")
    return write_midi(
        path, info["score"], float(info.get("tempo", 120.0)),
        voice_names=tuple(str(v) for v in info.get("voices", ())),
        program=info.get("midi_program") if _program(info.get("midi_program")) else None,
        programs=tuple(programs) if isinstance(programs, (list, tuple)) else (),
        drum_voices=tuple(v for v in drums if isinstance(v, int)) if isinstance(drums, (list, tuple)) else (),
        time_signature=info.get("time_signature", (4, 4)),
    )
