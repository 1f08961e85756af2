"""The whole arrangement's notes as one MIDI file: every note clip where it plays on the timeline.

Each note clip (a chorale sketch, an imported MIDI file) contributes the notes it plays: its
notes are placed from the clip's start, at the timeline's tempo, and cut to the clip's window,
so a clip trimmed or split exports only what is heard (a note the window cuts into exports the
part that sounds). A clip's own tempo may differ from the piece's: its notes are placed where
its audio plays them, in seconds, then counted in the piece's beats.

One MIDI track per (timeline track, voice), named "Track – Voice". What is exported is what the
mix plays (``Timeline.audible``): muted tracks are left out and, when tracks are soloed, only
those go, as the mix export does, so the MIDI file and the exported audio hold the same music.
Audio-only clips have no notes and are skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from studio.core.audio import note_takes as takes
from studio.core.audio.midi import TICKS_PER_BEAT, Note, write_midi
from studio.core.audio.timeline import Clip, Timeline
from studio.errors import OutputError

#: A fragment shorter than one MIDI tick (a note the window barely touches) is not written.
MIN_BEATS = 1.0 / TICKS_PER_BEAT


@dataclass(frozen=True)
class Part:
    """One MIDI track of the export: a voice of a timeline track, its notes in the piece's beats."""

    name: str
    notes: tuple[Note, ...]
    program: int | None
    drums: bool


def clip_notes(clip: Clip, take: takes.NoteTake, frames_per_beat: float) -> list[Note]:
    """The notes ``clip`` plays, in the timeline's beats (voices as in the take)."""
    rate = clip.audio.sample_rate
    frames_per_take_beat = rate * 60.0 / take.tempo
    first, last = clip.offset, clip.offset + clip.length  # the window of the take's audio it plays
    out = []
    for note in take.notes:
        begin = max(note.start * frames_per_take_beat, first)
        end = min(note.end * frames_per_take_beat, last)
        if end <= begin:
            continue
        start = (clip.start + begin - first) / frames_per_beat
        duration = (end - begin) / frames_per_beat
        if duration >= MIN_BEATS:
            out.append(Note(note.pitch, start, duration, note.velocity, note.voice))
    return out


def arrangement_parts(timeline: Timeline) -> list[Part]:
    """The notes of every audible note clip, one part per (track, voice), in track order."""
    parts: list[Part] = []
    for track in timeline.audible():
        voices: dict[int, list[Note]] = {}
        names: dict[int, str] = {}
        programs: dict[int, int | None] = {}
        drums: dict[int, bool] = {}
        for clip in track.clips:
            if not takes.has_notes(clip.info):
                continue
            try:
                take = takes.read_take(clip.info)
            except takes.TakeError:
                continue  # unreadable notes play as the audio they came with; they have no MIDI form
            own_programs = clip.info.get("midi_programs") if clip.info.get("midi_programs_for") == take.instrument else None
            drum_voices = clip.info.get("drum_voices") or ()
            for note in clip_notes(clip, take, timeline.frames_per_beat):
                voices.setdefault(note.voice, []).append(note)
                if note.voice not in names:
                    names[note.voice] = take.voice_name(note.voice)
                    program = clip.info.get("midi_program")
                    if isinstance(own_programs, list) and note.voice < len(own_programs):
                        program = own_programs[note.voice]
                    programs[note.voice] = program if isinstance(program, int) and 0 <= program <= 127 else None
                    drums[note.voice] = isinstance(drum_voices, (list, tuple)) and note.voice in drum_voices
        for voice in sorted(voices):
            notes = tuple(sorted(voices[voice], key=lambda n: (n.start, n.pitch)))
            parts.append(Part(f"{track.name} – {names[voice]}", notes, programs[voice], drums[voice]))
    return parts


def write_arrangement_midi(path: str | os.PathLike[str], timeline: Timeline) -> Path:
    """Every audible note clip's notes to the type 1 MIDI file ``path``, at the piece's tempo
    and time signature; ``OutputError`` when no clip has notes, or the file cannot be written."""
    parts = arrangement_parts(timeline)
    if not parts:
        raise OutputError(f"cannot write {Path(path).name}: no audible clip on the timeline is made from notes (a chorale sketch or an imported MIDI file)")
    notes = [Note(n.pitch, n.start, n.duration, n.velocity, index) for index, part in enumerate(parts) for n in part.notes]
    return write_midi(
        path, notes, timeline.tempo,
        voice_names=[p.name for p in parts],
        programs=[p.program for p in parts],
        drum_voices=[i for i, p in enumerate(parts) if p.drums],
        time_signature=(timeline.beats_per_bar, 4),
    )
