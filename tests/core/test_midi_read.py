"""Reading MIDI files as notes (``read_midi``) and writing the whole arrangement's notes
(``write_arrangement_midi``): the real chorale model's notes through a file and back, files
made by hand with mido and byte by byte (type 0 and 1, drums, running status, overlaps), and
hostile files, each refused with a plain message naming the file, in bounded time."""

from __future__ import annotations

import struct
import time

import mido
import numpy as np
import pytest

from studio.core.audio import note_takes as takes
from studio.core.audio.arrangement_midi import arrangement_parts, write_arrangement_midi
from studio.core.audio.midi import Note, write_midi, write_score
from studio.core.audio.midi_read import MAX_FILE_BYTES, MIN_BEATS, MidiReadError, read_midi
from studio.core.audio.timeline import Clip, Timeline, Track
from studio.core.base.paths import builtin_models
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.engine.runtime import Runtime
from studio.errors import OutputError, StudioError
from studio_plugins.chorale.generator import ChoraleGenerator

KEY = lambda n: (n.voice, n.start, n.pitch)  # noqa: E731


def by_place(notes):
    return sorted(notes, key=KEY)


@pytest.fixture(scope="module")
def chorale():
    """The built-in chorale model's result: notes, tempo, voices (onnxruntime, the real job runner)."""
    runner = JobRunner(Runtime())
    try:
        generator = ChoraleGenerator(builtin_models() / "chorale")
        job = runner.submit(generator, generator.request({"bars": 3, "seed": 11, "tempo": 92, "instrument": "strings"}))
        assert job.wait(60) and job.state is JobState.FINISHED, job.message
        return job.result
    finally:
        runner.shutdown()


def save(path, tracks, midi_type=1, ticks=480):
    midi = mido.MidiFile(type=midi_type, ticks_per_beat=ticks)
    for messages in tracks:
        track = mido.MidiTrack()
        track.extend(messages)
        midi.tracks.append(track)
    midi.save(path)
    return path


def on(note, time=0, channel=0, velocity=90):
    return mido.Message("note_on", note=note, velocity=velocity, time=time, channel=channel)


def off(note, time=0, channel=0):
    return mido.Message("note_off", note=note, velocity=0, time=time, channel=channel)


# -- the round trip --------------------------------------------------------------------------


def test_chorale_notes_written_and_read_back_are_the_same(chorale, tmp_path):
    info = chorale.info
    path = write_score(tmp_path / "chorale.mid", info)
    piece = read_midi(path)
    assert by_place(piece.notes) == by_place(info["score"])  # pitch, start, length, velocity, voice
    assert piece.tempo == info["tempo"] == 92
    assert piece.voices == tuple(info["voices"]) == ("soprano", "alto", "tenor", "bass")
    assert piece.programs == (48,) * 4 and piece.instrument == "strings" and piece.program == 48
    assert piece.beats == info["beats"] == 12 and piece.time_signature == (4, 4)
    # and as a note take: the same notes play, at the same tempo, on the same sound
    take = takes.read_take(piece.take_info())
    assert take.notes == piece.notes and take.tempo == 92 and take.beats == 12 and take.instrument == "strings"


def test_an_imported_files_instruments_and_drums_export_again(tmp_path):
    source = save(tmp_path / "band.mid", [
        [mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100)), mido.MetaMessage("time_signature", numerator=3, denominator=4)],
        [mido.MetaMessage("track_name", name="Piano"), mido.Message("program_change", program=0), on(60), off(60, 480)],
        [mido.MetaMessage("track_name", name="Kit"), on(36, channel=9), off(36, 240, channel=9)],
        [mido.MetaMessage("track_name", name="Cello"), mido.Message("program_change", program=42, channel=1), on(48, channel=1), off(48, 960, channel=1)],
    ])
    piece = read_midi(source)
    assert piece.voices == ("Piano", "Kit", "Cello") and piece.programs == (0, None, 42)
    assert piece.drum_voices == {1} and piece.time_signature == (3, 4) and piece.beats == 3
    assert any("drum" in r for r in piece.remarks)
    again = read_midi(write_score(tmp_path / "again.mid", piece.take_info()))
    assert again.notes == piece.notes and again.programs == piece.programs and again.drum_voices == {1}
    assert again.time_signature == (3, 4)
    # a sound chosen in Studio afterwards gives every voice its program
    info = takes.with_instrument(piece.take_info(), "choir")
    assert set(read_midi(write_score(tmp_path / "choir.mid", info)).programs) - {None} == {52}


# -- what files hold -------------------------------------------------------------------------


def test_type_0_gives_a_voice_per_channel_named_by_instrument(tmp_path):
    path = save(tmp_path / "zero.mid", [[
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(75)),
        mido.Message("program_change", channel=0, program=19),
        mido.Message("program_change", channel=3, program=52),
        on(72, channel=0), on(48, channel=3), on(38, channel=9),
        off(72, 480, channel=0), off(48, 0, channel=3), off(38, 0, channel=9),
        on(74, 0, channel=5), off(74, 240, channel=5),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(140), time=10),
    ]], midi_type=0)
    piece = read_midi(path)
    assert piece.voices == ("Church Organ", "Choir Aahs", "Drums", "Voice 4")
    assert piece.programs == (19, 52, None, None) and piece.drum_voices == {2}
    assert piece.tempo == 75 and any("first tempo, 75 bpm" in r for r in piece.remarks)
    assert [(n.voice, n.pitch, n.start, n.duration) for n in piece.notes] == [(0, 72, 0, 1), (1, 48, 0, 1), (2, 38, 0, 1), (3, 74, 1, 0.5)]
    assert piece.instrument in ("organ", "choir")  # one note each: a tie, the organ wins


def test_a_type_1_track_on_two_channels_is_two_voices(tmp_path):
    path = save(tmp_path / "split.mid", [
        [],
        [mido.MetaMessage("track_name", name="Piano"), mido.Message("program_change", channel=0, program=0),
         mido.Message("program_change", channel=1, program=48), on(60), on(40, channel=1), off(60, 480), off(40, 0, channel=1)],
        [mido.MetaMessage("track_name", name="Piano"), on(67), off(67, 480)],
    ])
    piece = read_midi(path)
    assert piece.voices == ("Acoustic Grand Piano", "String Ensemble 1", "Piano")  # the same names kept apart
    assert piece.tempo == 120 and piece.time_signature == (4, 4)


def track_chunk(data: bytes) -> bytes:
    return b"MTrk" + struct.pack(">L", len(data)) + data


def header(tracks=1, midi_type=0, division=480) -> bytes:
    return b"MThd" + struct.pack(">Lhhh", 6, midi_type, tracks, division)


def test_running_status_velocity_zero_overlaps_and_notes_never_released(tmp_path):
    # byte by byte: one status byte, then running status for the rest (note_on at velocity 0 releases)
    events = bytes([
        0x00, 0x90, 60, 100,       # C on
        0x00, 62, 90,              # D on (running status)
        0x83, 0x60, 60, 0,         # 480 ticks later: C off (velocity 0)
        0x00, 62, 80,              # D struck again while it sounds
        0x83, 0x60, 62, 0,         # the first D ends (struck first, released first)
        0x83, 0x60, 62, 0,         # the second D ends
        0x00, 64, 70,              # E struck, never released
        0x87, 0x40, 0xFF, 0x2F, 0x00,  # the track ends 960 ticks later
    ])
    path = tmp_path / "running.mid"
    path.write_bytes(header() + track_chunk(events))
    piece = read_midi(path)
    assert [(n.pitch, n.start, n.duration, n.velocity) for n in piece.notes] == [
        (60, 0.0, 1.0, 100), (62, 0.0, 2.0, 90), (62, 1.0, 2.0, 80), (64, 3.0, 2.0, 70),
    ]
    assert piece.beats == 8  # grown to the bar


def test_a_note_released_as_it_starts_still_sounds(tmp_path):
    piece = read_midi(save(tmp_path / "blip.mid", [[on(42, channel=9), off(42, 0, channel=9)]], midi_type=0))
    assert piece.notes[0].duration == MIN_BEATS and piece.voices == ("Drums",)


@pytest.mark.parametrize("programs,instrument", [((48, 49, 40), "strings"), ((52, 53), "choir"), ((0, 19), "organ"), ((None,), "organ"), ((56, 71), "organ")])
def test_the_nearest_sound_is_chosen_from_the_programs(tmp_path, programs, instrument):
    tracks = [[mido.Message("program_change", program=p, channel=i)] if p is not None else [] for i, p in enumerate(programs)]
    tracks = [t + [on(60, channel=i), off(60, 480, channel=i)] for i, t in enumerate(tracks)]
    assert read_midi(save(tmp_path / "p.mid", tracks)).instrument == instrument


# -- hostile files ---------------------------------------------------------------------------


def refused(path, *words):
    started = time.perf_counter()
    with pytest.raises(MidiReadError) as caught:
        read_midi(path)
    assert time.perf_counter() - started < 10
    message = str(caught.value)
    assert isinstance(caught.value, StudioError) and path.name in message, message
    for word in words:
        assert word in message, message
    return message


def test_bad_files_are_refused_plainly(tmp_path):
    (tmp_path / "song.mid").write_bytes(b"RIFF....WAVEfmt not a midi file at all")
    refused(tmp_path / "song.mid", "not a MIDI file")
    (tmp_path / "empty.mid").write_bytes(b"")
    refused(tmp_path / "empty.mid", "empty")
    refused(tmp_path / "missing.mid", "cannot read")
    (tmp_path / "folder.mid").mkdir()
    refused(tmp_path / "folder.mid")
    good = save(tmp_path / "good.mid", [[on(60), off(60, 480)] * 50]).read_bytes()
    (tmp_path / "cut.mid").write_bytes(good[: len(good) // 2])
    refused(tmp_path / "cut.mid", "cut short")
    (tmp_path / "cut_header.mid").write_bytes(good[:10])
    refused(tmp_path / "cut_header.mid")
    (tmp_path / "none.mid").write_bytes(header(tracks=0, midi_type=1))
    refused(tmp_path / "none.mid", "no tracks")
    save(tmp_path / "silent.mid", [[mido.MetaMessage("track_name", name="x"), mido.Message("control_change", control=7, value=100)]])
    refused(tmp_path / "silent.mid", "no notes")
    (tmp_path / "zero.mid").write_bytes(header(division=0) + track_chunk(bytes([0, 0x90, 60, 100, 10, 60, 0, 0, 0xFF, 0x2F, 0])))
    refused(tmp_path / "zero.mid", "not beats")
    (tmp_path / "smpte.mid").write_bytes(b"MThd" + struct.pack(">LhhBB", 6, 0, 1, 0xE7, 40) + track_chunk(bytes([0, 0x90, 60, 100, 10, 60, 0, 0, 0xFF, 0x2F, 0])))
    refused(tmp_path / "smpte.mid", "SMPTE")
    (tmp_path / "bytes.mid").write_bytes(header() + track_chunk(bytes([0, 0x90, 200, 100, 0, 0xFF, 0x2F, 0])))
    refused(tmp_path / "bytes.mid", "not a MIDI file")


def test_absurd_sizes_are_refused_within_the_limits(tmp_path):
    # a million notes: ~7 MB, past the size limit, refused before mido reads it
    events = bytes([0, 0x90, 60, 100]) + bytes([1, 60, 0, 0, 60, 100]) * 1_000_000
    (tmp_path / "million.mid").write_bytes(header() + track_chunk(events))
    assert (tmp_path / "million.mid").stat().st_size > MAX_FILE_BYTES
    refused(tmp_path / "million.mid", "MB")
    # past a note take's notes, yet small enough to read: counted, then refused
    many = [on(60 + i % 12, 1) if k == 0 else off(60 + i % 12, 1) for i in range(takes.MAX_NOTES + 10) for k in (0, 1)]
    refused(save(tmp_path / "many.mid", [many]), f"{takes.MAX_NOTES:,}")
    # three hours of music in a few bytes
    hours = save(tmp_path / "hours.mid", [[on(60), off(60, 480 * 120 * 60 * 3)]])
    refused(hours, "minutes")
    # a gigabyte, sparse on disk: refused by its size, never read
    with open(tmp_path / "huge.mid", "wb") as file:
        file.write(header() + track_chunk(b""))
        file.truncate(1 << 30)
    refused(tmp_path / "huge.mid", "1,024.0 MB")
    # more parts than a take holds
    parts = [[on(60, channel=c), off(60, 480, channel=c)] for _ in range(5) for c in range(16)]
    refused(save(tmp_path / "parts.mid", parts), "64 parts")


def test_a_tempo_midi_cannot_mean_is_kept_in_a_takes_range(tmp_path):
    piece = read_midi(save(tmp_path / "slow.mid", [[mido.MetaMessage("set_tempo", tempo=16_000_000), on(60), off(60, 48)]]))
    assert piece.tempo == 3.75 and takes.read_take(piece.take_info()).tempo == 3.75


# -- the whole arrangement -------------------------------------------------------------------


def note_clip(name, notes, tempo, beats, start_beat, timeline, **fields):
    info = {"score": list(notes), "tempo": tempo, "beats": beats, "instrument": "organ", "voices": ["Up", "Down"], "midi_program": 19}
    audio = takes.render_take(takes.read_take(info), timeline.sample_rate, cache=None)
    return Clip(name, audio, start=int(round(start_beat * timeline.frames_per_beat)), info=info, **fields)


def test_an_arrangement_of_trimmed_and_moved_clips_exports_what_plays(tmp_path):
    timeline = Timeline(tempo=120)
    riff = [Note(60 + i, i, 1.0, 100, i % 2) for i in range(8)]  # C, C#, ... one a beat, two voices
    # a clip at 120 bpm moved to beat 4 and trimmed to beats 2 .. 5.5 of its notes
    first = note_clip("Riff", riff, 120, 8, 4, timeline)
    fpb = timeline.frames_per_beat
    first = Clip(first.name, first.audio, start=first.start, offset=int(2 * fpb), length=int(3.5 * fpb), info=first.info)
    # the same notes at 60 bpm (each beat of the take is two of the piece), at beat 16, whole
    slow = note_clip("Slow", riff[:2], 60, 4, 16, timeline)
    keys = Track("Keys", clips=(first,))
    bass = Track("Bass", clips=(slow,))
    muted = Track("Muted", clips=(note_clip("Quiet", riff, 120, 8, 0, timeline),), mute=True)
    audio_only = Track("Voice", clips=(Clip("Vox", first.audio, start=0),))
    timeline = Timeline(tracks=(keys, bass, muted, audio_only), tempo=120)

    path = write_arrangement_midi(tmp_path / "song.mid", timeline)
    piece = read_midi(path)
    assert piece.voices == ("Keys – Up", "Keys – Down", "Bass – Up", "Bass – Down")
    assert piece.tempo == 120 and piece.programs == (19, 19, 19, 19)
    heard = [(n.voice, n.pitch, n.start, n.duration) for n in by_place(piece.notes)]
    assert heard == [
        (0, 62, 4.0, 1.0), (0, 64, 6.0, 1.0),           # the window plays the notes of beats 2..5,
        (1, 63, 5.0, 1.0), (1, 65, 7.0, 0.5),           # the last cut to the half that sounds
        (2, 60, 16.0, 2.0), (3, 61, 18.0, 2.0),         # 60 bpm: twice as long in the piece's beats
    ]
    # muted tracks stay out, as the mix export leaves them out; soloing one exports it alone
    soloed = timeline.update_track(bass.id, solo=True)
    assert [p.name for p in arrangement_parts(soloed)] == ["Bass – Up", "Bass – Down"]


def test_a_clip_split_in_two_exports_each_half_once(tmp_path):
    timeline = Timeline(tempo=100)
    clip = note_clip("Line", [Note(60, 0, 4.0, 90, 0), Note(62, 4, 4.0, 90, 0)], 100, 8, 0, timeline)
    timeline = timeline.add_track(Track("Lead", clips=(clip,)))
    timeline, left, right = timeline.split_clip(clip.id, int(round(2 * timeline.frames_per_beat)))
    timeline = timeline.move_clip(right.id, timeline.tracks[0].id, right.start + int(round(8 * timeline.frames_per_beat)))
    piece = read_midi(write_arrangement_midi(tmp_path / "split.mid", timeline))
    assert [(n.pitch, n.start, n.duration) for n in piece.notes] == [(60, 0, 2), (60, 10, 2), (62, 12, 4)]


def test_an_arrangement_without_notes_is_refused_plainly(tmp_path):
    timeline = Timeline().add_track(Track("Vox", clips=(Clip("Vox", takes.render_take(takes.read_take({"score": [], "beats": 4}), cache=None)),)))
    with pytest.raises(OutputError, match="made from notes"):
        write_arrangement_midi(tmp_path / "none.mid", timeline)
    assert not (tmp_path / "none.mid").exists()


def test_write_midi_keeps_programs_per_voice_and_the_drum_channel(tmp_path):
    notes = [Note(60, 0, 1, 90, 0), Note(36, 0, 1, 90, 1), Note(48, 0, 1, 90, 2)]
    path = write_midi(tmp_path / "x.mid", notes, 120, programs=(5, None), program=19, drum_voices=(1,), time_signature=(6, 8))
    midi = mido.MidiFile(path)
    channels = [{m.channel for m in t if m.type == "note_on"} for t in midi.tracks[1:]]
    assert channels == [{0}, {9}, {2}]
    assert [[m.program for m in t if m.type == "program_change"] for t in midi.tracks[1:]] == [[5], [], [19]]
    assert np.array([m.numerator for m in midi.tracks[0] if m.type == "time_signature"]).tolist() == [6]


def test_an_imported_take_saved_in_a_project_exports_the_same_file(tmp_path):
    from studio.core.project.format import Project
    from studio.core.project.load import load_project
    from studio.core.project.save import save_project

    source = save(tmp_path / "band.mid", [
        [mido.MetaMessage("track_name", name="Órgano"), mido.Message("program_change", program=19), on(60), off(60, 480)],
        [on(38, channel=9), off(38, 240, channel=9)],
    ])
    piece = read_midi(source)
    assert piece.voices == ("Órgano", "Drums")  # a Latin-1 name (mido writes them so); Studio writes UTF-8 back
    info = piece.take_info()
    timeline = Timeline(tracks=(Track("band", clips=(Clip("band", takes.render_take(takes.read_take(info), cache=None), info=info),)),))
    back = load_project(save_project(Project(timeline=timeline), tmp_path / "p.studio")).project
    again = read_midi(write_score(tmp_path / "again.mid", back.timeline.clips[0].info))
    assert (again.notes, again.voices, again.programs, again.drum_voices) == (piece.notes, piece.voices, piece.programs, piece.drum_voices)
