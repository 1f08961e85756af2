"""MIDI export: what is written reads back (with mido, independently) as the same music."""

from __future__ import annotations

import os

import mido
import pytest

from studio.core.audio.midi import TICKS_PER_BEAT, Note, voice_channel, write_midi
from studio.errors import StudioError

NOTES = [
    Note(72, 0.0, 1.0, 92, 0),
    Note(72, 1.0, 0.5, 92, 0),  # the same pitch again at once: must not be cut off
    Note(74, 1.5, 2.5, 92, 0),
    Note(64, 0.0, 2.0, 76, 1),
    Note(65, 2.0, 2.0, 76, 1),
    Note(55, 0.0, 4.0, 70, 2),
    Note(48, 0.0, 3.0, 84, 3),
    Note(43, 3.0, 1.0, 84, 3),
]


def read_back(path):
    """(tempo bpm, track names, notes) from a MIDI file, decoded here with mido alone."""
    midi = mido.MidiFile(path)
    tempos = [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"]
    names, notes = [], []
    for voice, track in enumerate(midi.tracks[1:]):
        names.append(next(m.name for m in track if m.type == "track_name"))
        now, sounding = 0, {}
        for message in track:
            now += message.time
            if message.type == "note_on" and message.velocity > 0:
                sounding[message.note] = (now, message.velocity, message.channel)
            elif message.type in ("note_off", "note_on"):
                start, velocity, channel = sounding.pop(message.note)
                assert channel == voice_channel(voice)
                notes.append(Note(message.note, start / midi.ticks_per_beat, (now - start) / midi.ticks_per_beat, velocity, voice))
    return midi, [mido.tempo2bpm(t) for t in tempos], names, notes


def test_notes_tempo_and_tracks_read_back_equal(tmp_path):
    path = write_midi(tmp_path / "sketch.mid", NOTES, 72, voice_names=("Soprano", "Alto", "Tenor", "Bass"), program=19)
    midi, tempos, names, notes = read_back(path)
    assert midi.type == 1 and midi.ticks_per_beat == TICKS_PER_BEAT
    assert tempos == [pytest.approx(72)]
    assert names == ["Soprano", "Alto", "Tenor", "Bass"]
    assert sorted(notes, key=lambda n: (n.voice, n.start)) == sorted(NOTES, key=lambda n: (n.voice, n.start))
    programs = {m.program for t in midi.tracks for m in t if m.type == "program_change"}
    assert programs == {19}


def test_fractional_tempo_and_unnamed_voices(tmp_path):
    notes = [Note(60, 0.25, 0.75, 100, 0), Note(67, 0.0, 1.0, 100, 2)]
    path = write_midi(tmp_path / "two.mid", notes, 97.5)
    _, tempos, names, back = read_back(path)
    assert tempos == [pytest.approx(97.5, abs=1e-3)]
    assert names == ["Voice 1", "Voice 2", "Voice 3"]  # voice 2's track is voice 2, even with voice 1 silent
    assert sorted(back, key=lambda n: n.voice) == notes


def test_voice_channels_skip_the_drum_channel():
    channels = [voice_channel(v) for v in range(15)]
    assert 9 not in channels and len(set(channels)) == 15


def test_an_unwritable_path_is_a_studio_error_and_leaves_nothing_behind(tmp_path):
    with pytest.raises(StudioError, match="does not exist"):
        write_midi(tmp_path / "missing" / "x.mid", NOTES, 80)
    target = tmp_path / "is-a-folder.mid"
    target.mkdir()
    with pytest.raises(StudioError, match="cannot write"):
        write_midi(target, NOTES, 80)
    assert sorted(os.listdir(tmp_path)) == ["is-a-folder.mid"]  # no temporary file left


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_a_studio_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(StudioError, match="cannot write"):
            write_midi(folder / "x.mid", NOTES, 80)
    finally:
        folder.chmod(0o700)


def test_an_existing_file_is_replaced_whole(tmp_path):
    path = tmp_path / "x.mid"
    path.write_bytes(b"old contents that are not MIDI" * 100)
    write_midi(path, NOTES[:1], 80)
    assert read_back(path)[3] == NOTES[:1]


@pytest.mark.parametrize(
    "note",
    [Note(128, 0, 1, 80, 0), Note(60, 0, 0, 80, 0), Note(60, -1, 1, 80, 0), Note(60, 0, 1, 0, 0), Note(60, 0, 1, 80, -1)],
)
def test_notes_midi_cannot_hold_are_refused_plainly(tmp_path, note):
    with pytest.raises(StudioError, match="cannot be written to MIDI"):
        write_midi(tmp_path / "x.mid", [note], 80)
    assert not (tmp_path / "x.mid").exists()


def test_a_zero_tempo_is_refused(tmp_path):
    with pytest.raises(StudioError, match="positive tempo"):
        write_midi(tmp_path / "x.mid", NOTES, 0)
