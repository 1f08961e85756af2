"""MIDI in and out of the real window, driven as a musician would: Audio ▸ Import MIDI… answered
in Qt's file dialog, a MIDI file dropped on the arrangement, the note track that lands played on
the null device and undone from the Edit menu; the MIDI exports greyed with their reason while
nothing has notes; and the whole round trip: a chorale from the built-in model, a voice
transposed in the piano roll with keys, Export clip as MIDI…, Import MIDI… gives the same
notes, and Export arrangement as MIDI… writes both takes where they play."""

from __future__ import annotations

import mido
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

from studio.core.audio import note_takes as takes
from studio.core.audio.midi_read import read_midi
from studio.core.audio.mixer import render

from qt_file_dialog import pick_in_file_dialog  # Qt's file dialog, typed into
from tests.ui.conftest import menu_action
from tests.ui.test_piano_roll import choose_in_combo, generate_chorale, settled

KEY = lambda n: (n.voice, n.start, n.pitch)  # noqa: E731


@pytest.fixture
def window(open_window):
    win = open_window()
    win.tabs.setCurrentWidget(win.audio)
    return win


def song(path, tempo=100):
    """Two parts, strings and cello, two bars at ``tempo``."""
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo))])
    upper = mido.MidiTrack([mido.MetaMessage("track_name", name="Violins"), mido.Message("program_change", program=48)])
    lower = mido.MidiTrack([mido.MetaMessage("track_name", name="Cello"), mido.Message("program_change", program=42, channel=1)])
    for beat in range(8):
        upper.extend([mido.Message("note_on", note=72 + beat % 5, velocity=90), mido.Message("note_off", note=72 + beat % 5, time=480)])
    lower.extend([mido.Message("note_on", note=48, velocity=80, channel=1), mido.Message("note_off", note=48, time=480 * 8, channel=1)])
    midi.tracks.extend([conductor, upper, lower])
    midi.save(path)
    return path


def import_through_the_menu(window, qtbot, choose, path):
    choose(window, "Audio", "Import MIDI…")
    pick_in_file_dialog(qtbot, path)
    qtbot.waitUntil(lambda: any(t.name == path.stem for t in window.audio.timeline.tracks if t.clips), timeout=30000)
    return next(t for t in window.audio.timeline.tracks if t.name == path.stem).clips[0]


def test_import_midi_places_a_note_track_that_plays_and_undoes(window, qtbot, choose, tmp_path):
    audio, path = window.audio, song(tmp_path / "Adagio.mid")
    messages: list[str] = []
    audio.message.connect(messages.append)
    assert not menu_action(window, "Audio", "Export arrangement as MIDI…").isEnabled()
    assert "No audible clip is made from notes" in menu_action(window, "Audio", "Export arrangement as MIDI…").toolTip()
    assert not menu_action(window, "Audio", "Export clip as MIDI…").isEnabled()
    steps = window.undo_stack.count()

    clip = import_through_the_menu(window, qtbot, choose, path)
    assert window.undo_stack.count() == steps + 1  # the track and its clip: one step
    assert [t.name for t in audio.timeline.tracks] == ["Adagio"]
    expected = read_midi(path)
    assert clip.info["score"] == list(expected.notes) and clip.info["voices"] == ["Violins", "Cello"]
    assert clip.info["instrument"] == "strings" and audio.timeline.tempo == 100  # the first clip sets the tempo
    assert clip.length == round(8 * 0.6 * audio.timeline.sample_rate)  # two bars at 100 bpm
    assert np.allclose(clip.audio.samples, takes.render_take(takes.read_take(clip.info), cache=None).samples)
    assert any("Adagio.mid: 9 notes in 2 voices at 100 bpm, played on the strings" in m for m in messages), messages
    assert menu_action(window, "Audio", "Export arrangement as MIDI…").isEnabled()
    assert menu_action(window, "Audio", "Edit notes…").isEnabled()  # a note take: it opens in the piano roll

    mix = render(audio.timeline)
    assert np.abs(mix).max() > 0.05  # the notes are heard in the mix
    audio.set_loop(0, audio.timeline.end)  # the null device is not paced: loop to keep it playing
    choose(window, "Audio", "Play / pause")
    assert audio.playing, audio.playback_error
    qtbot.waitUntil(lambda: audio.playhead > 1000, timeout=5000)
    choose(window, "Audio", "Stop")
    assert not audio.playing

    choose(window, "Edit", "Undo Import MIDI “Adagio.mid”")
    assert not audio.timeline.tracks and audio.timeline.tempo == 120
    assert not menu_action(window, "Audio", "Export arrangement as MIDI…").isEnabled()
    choose(window, "Edit", "Redo Import MIDI “Adagio.mid”")
    assert audio.timeline.clips[0].info["score"] == list(expected.notes)

    # a second file at another tempo keeps its own; the piece's tempo stays, and the status says so
    fast = import_through_the_menu(window, qtbot, choose, song(tmp_path / "Presto.mid", tempo=150))
    assert audio.timeline.tempo == 100 and fast.info["tempo"] == 150
    assert [t.name for t in audio.timeline.tracks] == ["Adagio", "Presto"]
    assert "plays at its own 150 bpm, off the piece's 100 bpm grid" in messages[-1]


def test_a_dropped_midi_file_lands_on_a_track_of_its_own_and_a_bad_one_is_refused(window, qtbot, tmp_path):
    audio = window.audio
    vocals = audio.add_track("Vocals")
    good, bad = song(tmp_path / "Motet.mid", tempo=90), tmp_path / "broken.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02")  # cut short in its header
    messages: list[str] = []
    audio.message.connect(messages.append)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(good)), QUrl.fromLocalFile(str(bad))])
    view = audio.arrangement
    point = QPointF(view.x_of(0) + 2, view.row_top(0) + 20)
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(point.toPoint(), *args)
    QApplication.sendEvent(view.viewport(), enter)
    assert enter.isAccepted()
    QApplication.sendEvent(view.viewport(), QDragMoveEvent(point.toPoint(), *args))
    QApplication.sendEvent(view.viewport(), QDropEvent(point, *args))
    qtbot.waitUntil(lambda: any(m.startswith("Cannot import") for m in messages) and len(audio.timeline.tracks) == 2, timeout=30000)
    assert [t.name for t in audio.timeline.tracks] == ["Vocals", "Motet"]  # below the track it was dropped on
    assert not audio.timeline.track(vocals.id).clips
    assert audio.timeline.tempo == 90
    assert any(m.startswith("Cannot import MIDI: broken.mid") for m in messages), messages
    assert "Traceback" not in " ".join(messages)


def test_chorale_edited_exported_and_imported_gives_the_same_notes(window, qtbot, choose, monkeypatch, tmp_path):
    """Chorale -> piano roll (Tenor up an octave with Shift+Up) -> Export clip as MIDI… ->
    Import MIDI… gives the edited notes, voices and tempo; Export arrangement as MIDI… then
    writes both takes where they play."""
    audio = window.audio
    clip = generate_chorale(window, qtbot, seed=33)
    audio.select_clip(clip.id)
    choose(window, "Audio", "Edit notes…")
    pane = audio.piano_roll
    choose_in_combo(qtbot, pane.voice_combo, "Tenor")
    qtbot.keyClick(pane.view, Qt.Key.Key_Up, Qt.KeyboardModifier.ShiftModifier)
    edited = audio.timeline.clip(clip.id)
    assert edited.info["score"] != clip.info["score"]
    settled(audio, qtbot)

    exported = tmp_path / "edited.mid"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(exported), ""))
    choose(window, "Audio", "Export clip as MIDI…")
    audio.set_playhead(audio.timeline.end)  # the import lands after the chorale
    imported = import_through_the_menu(window, qtbot, choose, exported)
    assert sorted(imported.info["score"], key=KEY) == sorted(edited.info["score"], key=KEY)
    assert imported.info["voices"] == list(edited.info["voices"]) and imported.info["tempo"] == edited.info["tempo"]
    assert imported.info["instrument"] == edited.info["instrument"] == "organ"
    settled(audio, qtbot)

    whole = tmp_path / "arrangement.mid"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(whole), ""))
    choose(window, "Audio", "Export arrangement as MIDI…")
    piece = read_midi(whole)
    beats = audio.timeline.frames_per_beat
    offset = imported.start / beats
    voices = len(edited.info["voices"])
    expected = sorted(
        [(n.voice, n.pitch, n.start, n.duration) for n in edited.info["score"]]
        + [(n.voice + voices, n.pitch, round(n.start + offset, 3), n.duration) for n in edited.info["score"]]
    )
    heard = sorted((n.voice, n.pitch, round(n.start, 3), n.duration) for n in piece.notes)
    assert heard == expected
    assert piece.voices[0] == f"{audio.timeline.tracks[0].name} – Soprano"
