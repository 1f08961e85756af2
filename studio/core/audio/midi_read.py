"""Reading a standard MIDI file as notes: what Import MIDI… places on the timeline as a note take.

``read_midi(path)`` gives a ``MidiPiece``: the notes (``studio.core.audio.midi.Note``, times in
beats), the tempo, the time signature, a name and a General MIDI program per voice. A voice is
one (track, channel) pair: a type 1 file (a track per part) gives a voice per track, a type 0
file (one track, the parts on channels) a voice per channel, and a type 1 track that plays on
several channels a voice per channel within it.

Times are read in beats (ticks / ticks per beat), so the notes stay on their beats whatever
the tempo. Only the first tempo is kept: a note take plays at one tempo, so a file that
changes tempo later plays at its opening tempo (the notes are still on the right beats), and
the piece says so in ``remarks``.

Drums (General MIDI channel 10) are kept as a voice of their own, named "Drums", as every DAW
keeps a file's drum track: nothing of the file is lost, an export writes them back on channel
10, and a musician who does not want them deletes that voice in the piano roll. Studio's
synthesizer has no drum kit, so ``remarks`` says that they play as pitched notes.

A file is anything a user may drop: every failure is a ``MidiReadError`` (a ``StudioError``)
naming the file, and the limits below bound the memory and time a hostile file can take.
"""

from __future__ import annotations

import io
import os
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from studio.core.audio import synth
from studio.core.audio.midi import DRUM_CHANNEL, Note
from studio.core.audio.note_takes import MAX_NOTES, MAX_SECONDS, MIDI_PROGRAMS, grown
from studio.errors import StudioError

#: mido keeps every event of a file as a Python object: 2 MB of MIDI (about 600,000 events)
#: takes ~3 s and ~150 MB while it is read (measured on the development machine). A note take
#: holds at most ``MAX_NOTES`` notes (~400 KB of MIDI); real orchestral files, controllers
#: included, are well under 1 MB.
MAX_FILE_BYTES = 2 << 20
#: A note take holds at most 64 voices (``note_takes.read_take``); 16 channels x 4 tracks of
#: parts is already more than any score Studio's piano roll can show usefully.
MAX_VOICES = 64
#: A note released in the same tick it starts (common for drums) still sounds: a 32nd note.
MIN_BEATS = 0.125
DRUM_NAME = "Drums"

GM_NAMES = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano", "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics",
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass", "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)", "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal",
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring", "Helicopter", "Applause", "Gunshot",
)
#: General MIDI programs whose nearest sound among the synthesizer's is the choir or the
#: strings (everything else, keyboards, winds and synths, sits nearest the organ's sustained pipes).
CHOIR_PROGRAMS = frozenset({52, 53, 54, 85, 91})
STRING_PROGRAMS = frozenset(range(24, 52)) | {55, 88, 89, 90, 92, 94, 95, 104, 105, 106, 107, 110}


class MidiReadError(StudioError):
    """A file that is not a MIDI file Studio can import, with the reason and the file's name."""


@dataclass(frozen=True)
class MidiPiece:
    """The notes of a MIDI file and what a note take needs to play them."""

    notes: tuple[Note, ...]
    tempo: float
    beats: float  # the piece's length, grown to a whole bar
    time_signature: tuple[int, int]
    voices: tuple[str, ...]
    programs: tuple[int | None, ...]  # the General MIDI program of each voice (None: not set)
    drum_voices: frozenset[int] = frozenset()
    remarks: tuple[str, ...] = field(default=())  # what was not kept as it was, for the status bar

    @property
    def instrument(self) -> str:
        """The synthesizer's sound nearest the file's instruments (the most notes' family)."""
        return nearest_instrument(self.programs, self.notes, self.drum_voices)

    @property
    def program(self) -> int | None:
        """The program of the voice that plays the most notes, for a take's ``midi_program``."""
        counts = _notes_per_voice(self.notes)
        pitched = [v for v in range(len(self.voices)) if v not in self.drum_voices and self.programs[v] is not None]
        return self.programs[max(pitched, key=lambda v: counts[v])] if pitched else None

    def take_info(self, instrument: str | None = None) -> dict[str, Any]:
        """A note clip's ``info`` (as ``studio.core.audio.note_takes`` reads it) for these notes."""
        instrument = instrument or self.instrument
        return {
            "score": list(self.notes),
            "tempo": self.tempo,
            "beats": self.beats,
            "instrument": instrument,
            "voices": list(self.voices),
            "midi_program": self.program if self.program is not None else MIDI_PROGRAMS.get(instrument),
            # The file's own instrument per voice, exported again while the take plays the
            # sound it was imported with (choosing another sound in Studio sets one program).
            "midi_programs": list(self.programs),
            "midi_programs_for": instrument,
            "drum_voices": sorted(self.drum_voices),
            "time_signature": list(self.time_signature),
        }


def nearest_instrument(programs: Sequence[int | None], notes: Sequence[Note], drum_voices=frozenset()) -> str:
    weight: dict[str, int] = defaultdict(int)
    counts = _notes_per_voice(notes)
    for voice, program in enumerate(programs):
        if program is not None and voice not in drum_voices:
            family = "choir" if program in CHOIR_PROGRAMS else "strings" if program in STRING_PROGRAMS else "organ"
            weight[family] += counts[voice]
    best = max(weight.items(), key=lambda item: (item[1], item[0] == "organ"), default=("organ", 0))[0]
    return best if best in synth.INSTRUMENTS else "organ"


def read_midi(path: str | os.PathLike[str]) -> MidiPiece:
    """The notes of the MIDI file ``path``; ``MidiReadError`` saying what is wrong otherwise."""
    path = Path(path)
    data = _read_bytes(path)
    import mido

    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except EOFError:
        raise MidiReadError(f"{path.name} is cut short: the MIDI file ends in the middle of its data") from None
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise MidiReadError(f"{path.name} is not a MIDI file Studio can read ({_reason(exc)})") from None
    finally:
        del data
    if midi.ticks_per_beat <= 0:
        raise MidiReadError(f"{path.name} counts time in SMPTE frames, not beats; Studio imports MIDI files timed in beats")
    if midi.type == 2:
        raise MidiReadError(f"{path.name} is a type 2 MIDI file (independent patterns); Studio imports type 0 and type 1 files")
    if not midi.tracks:
        raise MidiReadError(f"{path.name} holds no tracks, so no notes")
    return _piece(path.name, midi)


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise MidiReadError(f"{path.name} is not a file")
        if size > MAX_FILE_BYTES:
            raise MidiReadError(f"{path.name} is {size / 2**20:,.1f} MB; Studio imports MIDI files up to {MAX_FILE_BYTES >> 20} MB (a long orchestral score is under 1 MB)")
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)  # the file may have grown since stat
    except OSError as exc:
        raise MidiReadError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise MidiReadError(f"{path.name} is over {MAX_FILE_BYTES >> 20} MB; Studio imports MIDI files up to that size")
    if not data:
        raise MidiReadError(f"{path.name} is empty")
    return data


def _piece(name: str, midi) -> MidiPiece:
    tpb = midi.ticks_per_beat
    tempo, time_signature, tempo_changes = None, None, 0
    voice_of: dict[tuple[int, int], int] = {}
    voice_keys: list[tuple[int, int]] = []
    programs: dict[tuple[int, int], int] = {}
    track_names: dict[int, str] = {}
    raw: list[tuple[int, int, int, int, int]] = []  # (voice, pitch, start tick, end tick, velocity)
    for index, track in enumerate(midi.tracks):
        now = 0
        sounding: dict[tuple[int, int], deque[tuple[int, int]]] = defaultdict(deque)
        for message in track:
            now += message.time
            kind = message.type
            if kind == "note_on" and message.velocity > 0:
                key = (index, message.channel)
                if key not in voice_of:
                    if len(voice_keys) >= MAX_VOICES:
                        raise MidiReadError(f"{name} plays more than {MAX_VOICES} parts (tracks x channels); a note take holds up to {MAX_VOICES}")
                    voice_of[key] = len(voice_keys)
                    voice_keys.append(key)
                sounding[(message.channel, message.note)].append((now, message.velocity))
            elif kind in ("note_off", "note_on"):  # note_on at velocity 0 is a note_off
                started = sounding.get((message.channel, message.note))
                if started:  # a release of a note never struck is ignored
                    start, velocity = started.popleft()  # overlapping strikes end in the order they began
                    raw.append((voice_of[(index, message.channel)], message.note, start, now, velocity))
            elif kind == "set_tempo":
                if tempo is None:
                    tempo = message.tempo
                elif message.tempo != tempo:
                    tempo_changes += 1
            elif kind == "time_signature" and time_signature is None:
                time_signature = (message.numerator, message.denominator)
            elif kind == "program_change":
                programs.setdefault((index, message.channel), message.program)
            elif kind == "track_name" and index not in track_names and message.name.strip():
                track_names[index] = _text(message.name).strip()[:40]
            if len(raw) > MAX_NOTES:
                raise MidiReadError(f"{name} holds over {MAX_NOTES:,} notes; a note take holds up to {MAX_NOTES:,}")
        for (channel, pitch), strikes in sounding.items():  # never released: they end with the track
            for start, velocity in strikes:
                raw.append((voice_of[(index, channel)], pitch, start, now, velocity))
        if len(raw) > MAX_NOTES:
            raise MidiReadError(f"{name} holds over {MAX_NOTES:,} notes; a note take holds up to {MAX_NOTES:,}")
    if not raw:
        raise MidiReadError(f"{name} holds no notes")

    bpm = 60_000_000 / tempo if tempo else 120.0
    bpm = round(min(max(bpm, 1.0), 1000.0), 3)  # the file holds microseconds a beat: 90 bpm reads 89.99995  # what a note take plays (a tempo of 0.001 bpm is garbage)
    notes = tuple(sorted(
        (Note(pitch, start / tpb, (end - start) / tpb if end > start else MIN_BEATS, velocity, voice) for voice, pitch, start, end, velocity in raw),
        key=lambda n: (n.start, n.voice, n.pitch),
    ))
    numerator, denominator = time_signature or (4, 4)
    bar = max(1, round(numerator * 4 / max(denominator, 1))) if numerator > 0 else 4
    end = max(n.end for n in notes)
    beats = grown(0.0, end, bar)
    if beats * 60.0 / bpm > MAX_SECONDS:
        raise MidiReadError(f"{name} lasts {beats * 60.0 / bpm / 60:,.0f} minutes; a note take plays up to {MAX_SECONDS / 60:.0f} minutes")

    drum_voices = frozenset(v for v, (_, channel) in enumerate(voice_keys) if channel == DRUM_CHANNEL)
    per_track = defaultdict(int)
    for track, _ in voice_keys:
        per_track[track] += 1
    names = []
    for voice, (track, channel) in enumerate(voice_keys):
        program = programs.get((track, channel))
        own = track_names.get(track) if per_track[track] == 1 else None
        if voice in drum_voices:
            names.append(own or DRUM_NAME)
        elif own:
            names.append(own)
        elif program is not None:
            names.append(GM_NAMES[program])
        else:
            names.append(f"Voice {voice + 1}")
    names = _distinct(names)
    remarks = []
    if tempo_changes:
        remarks.append(f"the file changes tempo {tempo_changes} time{'s' if tempo_changes > 1 else ''}; the take plays at its first tempo, {bpm:g} bpm (the notes stay on their beats)")
    if drum_voices:
        remarks.append("drums kept as their own voice; Studio's synthesizer has no drum kit, so they play as pitched notes")
    return MidiPiece(
        notes=notes,
        tempo=bpm,
        beats=beats,
        time_signature=(int(numerator), int(denominator)),
        voices=tuple(names),
        programs=tuple(None if v in drum_voices else programs.get(key) for v, key in enumerate(voice_keys)),
        drum_voices=drum_voices,
        remarks=tuple(remarks),
    )


def _text(name: str) -> str:
    """A track name as written: mido reads bytes as Latin-1, most programs now write UTF-8."""
    try:
        return name.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return name  # a Latin-1 name from an older program


def _distinct(names: list[str]) -> list[str]:
    """Two tracks both named "Piano" become "Piano" and "Piano 2", so voices can be told apart."""
    seen: dict[str, int] = defaultdict(int)
    out = []
    for name in names:
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name} {seen[name]}")
    return out


def _notes_per_voice(notes: Sequence[Note]) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for note in notes:
        counts[note.voice] += 1
    return counts


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 80 else text[:79] + "…"
