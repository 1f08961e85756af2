"""The piano roll driven as a musician would: a chorale generated on the built-in model in the
real window, opened by double-clicking its clip, a voice chosen and transposed with keys, the
instrument changed with its combo, Edit ▸ Undo and Redo from the menu; notes dragged with the
mouse; clips without (readable) notes refused with a plain message."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from studio.core.audio import note_takes as takes
from studio.core.audio.midi import Note
from studio.core.audio.timeline import Clip
from studio.ui.timeline.arrangement import TRACK_H
from studio.ui.timeline.piano_roll import ROW_H

from tests.ui.conftest import menu_action


def mouse(widget, kind, pos, modifiers=Qt.KeyboardModifier.NoModifier):
    button = Qt.MouseButton.LeftButton if kind != QMouseEvent.Type.MouseMove else Qt.MouseButton.NoButton
    buttons = Qt.MouseButton.NoButton if kind == QMouseEvent.Type.MouseButtonRelease else Qt.MouseButton.LeftButton
    pos = QPointF(pos)
    QApplication.sendEvent(widget, QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, modifiers))


def drag(widget, start, end, steps=5, modifiers=Qt.KeyboardModifier.NoModifier):
    mouse(widget, QMouseEvent.Type.MouseButtonPress, start, modifiers)
    for i in range(1, steps + 1):
        mouse(widget, QMouseEvent.Type.MouseMove, QPointF(start) + (QPointF(end) - QPointF(start)) * (i / steps), modifiers)
    mouse(widget, QMouseEvent.Type.MouseButtonRelease, end, modifiers)


def clip_point(audio, clip):
    view = audio.arrangement
    row = audio.timeline.track_index(audio.timeline.track_of(clip.id).id)
    return QPoint(int(view.x_of(clip.start + clip.length // 2)), int(view.row_top(row) + TRACK_H // 2 + 6))


def note_point(view, note, along=0.5):
    return QPointF(view.x_of(note.start + note.duration * along), view.y_of(note.pitch) + ROW_H / 2)


def choose_in_combo(qtbot, combo, text):
    """Step through the combo with the arrow keys, as a keyboard user does, until ``text``."""
    combo.setFocus()
    for _ in range(combo.count()):
        if combo.currentText() == text:
            return
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentText() == text


def generate_chorale(window, qtbot, seed=5):
    window.tabs.setCurrentWidget(window.audio)
    panel = window.generate_panel
    assert panel.select("chorale")
    panel.form.widgets["bars"].spin.setValue(2)
    panel.form.widgets["seed"].spin.setValue(seed) if hasattr(panel.form.widgets["seed"], "spin") else None
    with qtbot.waitSignal(window.bridge.result, timeout=60000):
        qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(c.generator == "chorale" for c in window.audio.timeline.clips), timeout=10000)
    return next(c for c in window.audio.timeline.clips if c.generator == "chorale")


def settled(audio, qtbot):
    qtbot.waitUntil(lambda: not audio.piano_roll.notes.pending(), timeout=30000)
    qtbot.wait(20)


@pytest.fixture
def window(open_window):
    return open_window()


def test_a_chorale_transposed_reinstrumented_undone_and_redone(window, qtbot, choose):
    audio = window.audio
    clip = generate_chorale(window, qtbot)
    original_notes, original_audio = tuple(clip.info["score"]), clip.audio

    qtbot.mouseDClick(audio.arrangement.viewport(), Qt.MouseButton.LeftButton, pos=clip_point(audio, clip))
    pane = audio.piano_roll
    assert pane.isVisible() and pane.clip_id == clip.id

    choose_in_combo(qtbot, pane.voice_combo, "Bass")
    bass = {i for i, n in enumerate(original_notes) if n.voice == 3}
    assert pane.view.selection == bass
    steps = window.undo_stack.count()
    qtbot.keyClick(pane.view, Qt.Key.Key_Down)  # a semitone down
    qtbot.keyClick(pane.view, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)  # and an octave
    assert window.undo_stack.count() == steps + 2
    notes = audio.timeline.clip(clip.id).info["score"]
    assert [n.pitch for n in notes] == [n.pitch - 13 if i in bass else n.pitch for i, n in enumerate(original_notes)]
    assert audio.timeline.clip(clip.id).audio is original_audio  # the notes land at once; the sound follows
    settled(audio, qtbot)
    transposed = audio.timeline.clip(clip.id)
    assert transposed.audio is not original_audio and not np.allclose(transposed.audio.samples, original_audio.samples)
    assert np.allclose(transposed.audio.samples, takes.render_take(takes.read_take(transposed.info), cache=None).samples)
    assert window.undo_stack.count() == steps + 2  # the render is no undo step

    choose_in_combo(qtbot, pane.instrument_combo, "strings")
    assert audio.timeline.clip(clip.id).info["instrument"] == "strings"
    assert audio.timeline.clip(clip.id).info["midi_program"] == 48
    settled(audio, qtbot)
    strings = audio.timeline.clip(clip.id)
    assert strings.info["score"] == notes and not np.allclose(strings.audio.samples, transposed.audio.samples)

    renders = takes.CACHE.renders
    choose(window, "Edit", "Undo Instrument: strings")
    back = audio.timeline.clip(clip.id)
    assert back.info["instrument"] == "organ" and pane.instrument_combo.currentText() == "organ"
    assert back.audio is transposed.audio
    choose(window, "Edit", "Undo Octave down")
    choose(window, "Edit", "Undo Transpose down")
    first = audio.timeline.clip(clip.id)
    assert tuple(first.info["score"]) == original_notes and first.audio is original_audio
    choose(window, "Edit", "Redo Transpose down")
    choose(window, "Edit", "Redo Octave down")
    choose(window, "Edit", "Redo Instrument: strings")
    again = audio.timeline.clip(clip.id)
    assert again.info["score"] == notes and again.info["instrument"] == "strings"
    assert again.audio is strings.audio  # from the cache at once: undo and redo never render twice
    settled(audio, qtbot)  # a render of the step passed on the way (the semitone alone) is dropped
    assert audio.timeline.clip(clip.id).audio is strings.audio and takes.CACHE.renders <= renders + 1

    qtbot.keyClick(pane.view, Qt.Key.Key_Escape)
    assert not pane.isVisible()


def test_notes_dragged_lengthened_drawn_and_deleted_are_one_step_each(window, qtbot):
    audio = window.audio
    clip = generate_chorale(window, qtbot, seed=9)
    audio.select_clip(clip.id)
    choose_action = menu_action(window, "Audio", "Edit notes…")
    assert choose_action.isEnabled()
    choose_action.trigger()
    pane, view = audio.piano_roll, audio.piano_roll.view
    assert pane.isVisible()
    view.pixels_per_beat = 60.0
    view.refresh()
    notes = tuple(clip.info["score"])
    index = min(range(len(notes)), key=lambda i: (notes[i].voice != 0, notes[i].start))  # the soprano's first
    note = notes[index]
    view.verticalScrollBar().setValue(int(view.y_of(note.pitch) + view.verticalScrollBar().value() - 120))
    steps = window.undo_stack.count()

    start = note_point(view, note, 0.3)
    drag(view.viewport(), start, start + QPointF(2 * 60, -3 * ROW_H))  # two beats later, three semitones up
    moved = audio.timeline.clip(clip.id).info["score"][index]
    assert (moved.start, moved.pitch) == (note.start + 2, note.pitch + 3) and window.undo_stack.count() == steps + 1
    assert all(a == b for i, (a, b) in enumerate(zip(notes, audio.timeline.clip(clip.id).info["score"])) if i != index)

    edge = QPointF(view.x_of(moved.end) - 2, view.y_of(moved.pitch) + ROW_H / 2)
    drag(view.viewport(), edge, edge + QPointF(60, 0))  # a beat longer
    assert audio.timeline.clip(clip.id).info["score"][index].duration == note.duration + 1
    assert window.undo_stack.count() == steps + 2

    empty = QPointF(view.x_of(7.0) + 5, view.y_of(40) + ROW_H / 2)
    view.verticalScrollBar().setValue(int(view.y_of(40) + view.verticalScrollBar().value() - 100))
    empty = QPointF(view.x_of(7.0) + 5, view.y_of(40) + ROW_H / 2)
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=empty.toPoint())
    drawn = audio.timeline.clip(clip.id).info["score"]
    assert len(drawn) == len(notes) + 1 and (drawn[-1].pitch, drawn[-1].start, drawn[-1].duration) == (40, 7.0, 1.0)

    qtbot.keyClick(view, Qt.Key.Key_Delete)  # the drawn note is selected: Delete removes it, not the clip
    assert len(audio.timeline.clip(clip.id).info["score"]) == len(notes)
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert view.selection == set(range(len(notes)))
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert [n.pitch for n in audio.timeline.clip(clip.id).info["score"]][index] == note.pitch + 4

    for _ in range(5):
        window.undo_stack.undo()
    assert tuple(audio.timeline.clip(clip.id).info["score"]) == notes and window.undo_stack.count() >= steps
    settled(audio, qtbot)
    assert audio.timeline.clip(clip.id).audio is clip.audio


def test_a_note_dragged_past_the_end_grows_the_take_to_the_bar(window, qtbot):
    audio = window.audio
    clip = generate_chorale(window, qtbot, seed=2)
    audio.piano_roll.open_clip(clip.id)
    view = audio.piano_roll.view
    view.pixels_per_beat = 40.0
    view.refresh()
    notes = tuple(clip.info["score"])
    last = max(range(len(notes)), key=lambda i: notes[i].end)
    note = notes[last]
    view.verticalScrollBar().setValue(int(view.y_of(note.pitch) + view.verticalScrollBar().value() - 100))
    view.horizontalScrollBar().setValue(0)
    start = note_point(view, note, 0.3)
    drag(view.viewport(), start, start + QPointF(40 * 2, 0))
    info = audio.timeline.clip(clip.id).info
    assert info["score"][last].end == note.end + 2 and info["beats"] == 12  # 2 bars grew to 3
    settled(audio, qtbot)
    assert audio.timeline.clip(clip.id).length == int(round(12 * 60 / info["tempo"] * 48000))


def test_clips_without_readable_notes_say_so_plainly(window, qtbot):
    audio = window.audio
    window.tabs.setCurrentWidget(audio)
    messages = []
    audio.message.connect(messages.append)
    silence = np.zeros((48000, 2), np.float32)
    plain = audio.add_clip(Clip.from_samples("Field recording", silence, 48000))
    edit_notes = menu_action(window, "Audio", "Edit notes…")
    assert not edit_notes.isEnabled() and "audio only" in edit_notes.toolTip()

    qtbot.mouseClick(audio.arrangement.viewport(), Qt.MouseButton.RightButton, pos=clip_point(audio, plain))
    menu = QApplication.activePopupWidget()
    entry = next(a for a in menu.actions() if a.text().startswith("Edit notes…"))
    assert not entry.isEnabled() and "no notes" in entry.toolTip()
    menu.close()

    garbage = audio.add_clip(Clip.from_samples("Garbled", silence, 48000, start=96000, info={"score": [[60, 0, 1, 90, 0], "x"], "tempo": 120}))
    assert edit_notes.isEnabled()
    edit_notes.trigger()
    assert not audio.piano_roll.isVisible() and "Cannot edit the notes of “Garbled”" in messages[-1] and "not a note" in messages[-1]
    huge = [Note(60, float(i), 1.0, 90, 0) for i in range(takes.MAX_NOTES + 5)]
    audio.piano_roll.open_clip(audio.add_clip(Clip.from_samples("Huge", silence, 48000, start=200000, info={"score": huge})).id)
    assert not audio.piano_roll.isVisible() and "the piano roll edits up to" in messages[-1]
    long = [Note(60, 1e7, 1.0, 90, 0)]
    audio.piano_roll.open_clip(audio.add_clip(Clip.from_samples("Long", silence, 48000, start=300000, info={"score": long})).id)
    assert "minutes" in messages[-1] and not audio.piano_roll.isVisible()
    assert garbage is not None


def test_a_project_saved_mid_render_plays_its_notes_when_opened(window, qtbot):
    """A take saved while its render was under way holds new notes and old audio: opening it
    renders the notes, and the transport plays what was rendered."""
    from studio.core.audio.timeline import Timeline, Track

    audio = window.audio
    notes = [Note(60 + 4 * v, float(b), 1.0, 90, v) for b in range(8) for v in range(3)]
    info = {"score": notes, "tempo": 120, "beats": 8, "instrument": "strings", "voices": ["Soprano", "Alto", "Tenor"]}
    old = takes.render_take(takes.read_take(info), cache=None)
    edited = takes.with_notes(info, [Note(n.pitch + 7, n.start, n.duration, n.velocity, n.voice) for n in notes])
    timeline = Timeline().add_track(Track("Sketch"))
    timeline = timeline.add_clip(timeline.tracks[0].id, Clip("Sketch", old, info=edited))
    audio.load_timeline(timeline)
    settled(audio, qtbot)
    clip = audio.timeline.clips[0]
    assert not takes.is_stale(clip.info) and not np.allclose(clip.audio.samples, old.samples)
    assert np.allclose(clip.audio.samples, takes.render_take(takes.read_take(edited), cache=None).samples)
    assert audio.transport._producer.timeline is audio.timeline  # playback hears the new audio


def test_the_clip_in_the_arrangement_shows_its_notes_at_once(window, qtbot):
    """An edit shows in the arrangement's clip (drawn as its notes) before its audio is rendered."""
    from studio.core.audio.timeline import Timeline, Track

    audio = window.audio
    window.tabs.setCurrentWidget(audio)
    notes = [Note(60 + (b % 5), float(b), 1.0, 90, 0) for b in range(8)]
    info = {"score": notes, "tempo": 120, "beats": 8, "instrument": "organ", "voices": ["Melody"]}
    timeline = Timeline().add_track(Track("Tune"))
    timeline = timeline.add_clip(timeline.tracks[0].id, Clip("Tune", takes.render_take(takes.read_take(info)), info=info))
    audio.load_timeline(timeline)
    clip = audio.timeline.clips[0]
    qtbot.wait(20)
    before = audio.arrangement.viewport().grab().toImage()
    qtbot.mouseDClick(audio.arrangement.viewport(), Qt.MouseButton.LeftButton, pos=clip_point(audio, clip))
    view = audio.piano_roll.view
    first = notes[0]
    view.verticalScrollBar().setValue(int(view.y_of(first.pitch) + view.verticalScrollBar().value() - 60))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=note_point(view, first).toPoint())
    assert view.selection == {0}
    for _ in range(3):
        qtbot.keyClick(view, Qt.Key.Key_Up)
    assert audio.timeline.clip(clip.id).info["score"][0].pitch == 63
    assert audio.timeline.clip(clip.id).audio is clip.audio  # not rendered yet
    audio.arrangement.viewport().repaint()
    after = audio.arrangement.viewport().grab().toImage()
    box = audio.arrangement.clip_rect(0, clip).toRect().adjusted(4, 18, -4, -4)
    assert before.copy(box) != after.copy(box)
    settled(audio, qtbot)


def test_shift_drags_off_the_grid_and_ctrl_click_adds_to_the_selection(window, qtbot):
    from studio.core.audio.timeline import Timeline, Track

    audio = window.audio
    window.tabs.setCurrentWidget(audio)
    notes = [Note(60, 0.0, 1.0, 90, 0), Note(64, 1.0, 1.0, 90, 1)]
    info = {"score": notes, "tempo": 120, "beats": 4, "instrument": "organ", "voices": ["Upper", "Lower"]}
    timeline = Timeline().add_track(Track("Two"))
    timeline = timeline.add_clip(timeline.tracks[0].id, Clip("Two", takes.render_take(takes.read_take(info)), info=info))
    audio.load_timeline(timeline)
    assert audio.piano_roll.open_clip(audio.timeline.clips[0].id)
    view = audio.piano_roll.view
    view.pixels_per_beat = 100.0
    view.refresh()
    view.verticalScrollBar().setValue(int(view.y_of(64) + view.verticalScrollBar().value() - 60))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=note_point(view, notes[0]).toPoint())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, note_point(view, notes[1]).toPoint())
    assert view.selection == {0, 1}
    start = note_point(view, notes[1], 0.2)
    drag(view.viewport(), start, start + QPointF(37, 0), modifiers=Qt.KeyboardModifier.ShiftModifier)
    moved = audio.timeline.clips[0].info["score"]
    assert moved[0].start == pytest.approx(0.37, abs=0.011) and moved[1].start == pytest.approx(1.37, abs=0.011)
    assert [n.pitch for n in moved] == [60, 64]
    settled(audio, qtbot)


def test_the_open_piano_roll_follows_the_note_clip_clicked_in_the_arrangement(window, qtbot):
    from studio.core.audio.timeline import Timeline, Track

    audio = window.audio
    window.tabs.setCurrentWidget(audio)
    timeline = Timeline().add_track(Track("Takes"))
    for n, start in enumerate((0, 4 * 48000)):
        info = {"score": [Note(60 + n, 0.0, 1.0, 90, 0)], "tempo": 120, "beats": 4}
        timeline = timeline.add_clip(timeline.tracks[0].id, Clip(f"Take {n + 1}", takes.render_take(takes.read_take(info)), start=start, info=info))
    audio.load_timeline(timeline)
    first, second = audio.timeline.clips
    qtbot.mouseDClick(audio.arrangement.viewport(), Qt.MouseButton.LeftButton, pos=clip_point(audio, first))
    assert audio.piano_roll.clip_id == first.id
    qtbot.mouseClick(audio.arrangement.viewport(), Qt.MouseButton.LeftButton, pos=clip_point(audio, second))
    assert audio.piano_roll.clip_id == second.id and audio.piano_roll.isVisible()
    assert "Take 2" in audio.piano_roll.title.text()


def test_the_other_voices_can_be_hidden_while_one_is_edited(window, qtbot):
    from studio.core.audio.timeline import Timeline, Track

    audio = window.audio
    window.tabs.setCurrentWidget(audio)
    info = {"score": [Note(60, 0.0, 2.0, 90, 0), Note(60, 2.0, 2.0, 90, 1)], "tempo": 120, "beats": 4, "voices": ["Upper", "Lower"]}
    timeline = Timeline().add_track(Track("Two"))
    timeline = timeline.add_clip(timeline.tracks[0].id, Clip("Two", takes.render_take(takes.read_take(info)), info=info))
    audio.load_timeline(timeline)
    pane = audio.piano_roll
    assert pane.open_clip(audio.timeline.clips[0].id)
    choose_in_combo(qtbot, pane.voice_combo, "Upper")
    view = pane.view
    lower = view.note_rect(info["score"][1]).toRect().adjusted(3, 3, -3, -3)
    shown = view.viewport().grab().toImage().copy(lower)
    qtbot.mouseClick(pane.others_button, Qt.MouseButton.LeftButton)
    assert not pane.others_button.isChecked()
    hidden = view.viewport().grab().toImage().copy(lower)
    assert shown != hidden  # the lower voice's note is gone from view
    qtbot.mouseClick(pane.others_button, Qt.MouseButton.LeftButton)
    assert view.viewport().grab().toImage().copy(lower) == shown


def test_a_rubber_band_selects_the_notes_it_touches_and_ctrl_z_undoes_their_deletion(window, qtbot):
    from studio.core.audio.timeline import Timeline, Track

    audio = window.audio
    window.tabs.setCurrentWidget(audio)
    notes = [Note(60, 0.0, 1.0, 90, 0), Note(62, 1.0, 1.0, 90, 0), Note(64, 2.0, 1.0, 90, 0), Note(72, 1.0, 1.0, 90, 0)]
    info = {"score": notes, "tempo": 120, "beats": 4}
    timeline = Timeline().add_track(Track("Band"))
    timeline = timeline.add_clip(timeline.tracks[0].id, Clip("Band", takes.render_take(takes.read_take(info)), info=info))
    audio.load_timeline(timeline)
    assert audio.piano_roll.open_clip(audio.timeline.clips[0].id)
    view = audio.piano_roll.view
    view.pixels_per_beat = 80.0
    view.refresh()
    view.verticalScrollBar().setValue(int(view.y_of(74) + view.verticalScrollBar().value()))
    corner = QPointF(view.x_of(0.5), view.y_of(63) + 2)
    drag(view.viewport(), corner, QPointF(view.x_of(1.5), view.y_of(59) + 2))  # over the first two, not 64 or 72
    assert view.selection == {0, 1}
    qtbot.keyClick(view, Qt.Key.Key_Backspace)
    assert audio.timeline.clips[0].info["score"] == notes[2:]
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert audio.timeline.clips[0].info["score"] == notes and audio.timeline.clips


def test_edited_notes_and_instrument_export_as_midi(window, qtbot, choose, monkeypatch, tmp_path):
    """Chorale -> piano-roll edit -> Audio ▸ Export clip as MIDI…: the file holds the edited
    notes and the new instrument's General MIDI program (read back here with mido alone)."""
    import mido
    from PySide6.QtWidgets import QFileDialog

    audio = window.audio
    clip = generate_chorale(window, qtbot, seed=21)
    audio.select_clip(clip.id)
    choose(window, "Audio", "Edit notes…")
    pane = audio.piano_roll
    choose_in_combo(qtbot, pane.voice_combo, "Tenor")
    qtbot.keyClick(pane.view, Qt.Key.Key_Up, Qt.KeyboardModifier.ShiftModifier)
    choose_in_combo(qtbot, pane.instrument_combo, "choir")
    edited = audio.timeline.clip(clip.id).info["score"]
    path = tmp_path / "edited.mid"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    choose(window, "Audio", "Export clip as MIDI…")
    midi = mido.MidiFile(path)
    heard = []
    for voice, track in enumerate(midi.tracks[1:]):
        now, sounding = 0, {}
        for message in track:
            now += message.time
            if message.type == "program_change":
                assert message.program == takes.MIDI_PROGRAMS["choir"]
            if message.type == "note_on" and message.velocity > 0:
                sounding[message.note] = (now, message.velocity)
            elif message.type in ("note_off", "note_on"):
                start, velocity = sounding.pop(message.note)
                heard.append(Note(message.note, start / midi.ticks_per_beat, (now - start) / midi.ticks_per_beat, velocity, voice))
    key = lambda n: (n.voice, n.start, n.pitch)  # noqa: E731
    assert sorted(heard, key=key) == sorted(edited, key=key)
    assert any(n.voice == 2 for n in edited) and edited != clip.info["score"]
    settled(audio, qtbot)
