"""The Audio workspace driven as a musician would: real files, real mouse gestures, real undo,
a real generator through the job runner, real playback on ALSA's null device (tests/conftest.py
points ALSA_CONFIG_PATH at it), and a mix checked against one summed by hand here."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QToolButton

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.audio.midi import Note
from studio.core.media.sound import Audio
from studio.core.audio.timeline import Clip, Timeline, Track
from studio.ui.timeline.arrangement import RULER_H, TRACK_H

RATE = 48_000
BEAT = RATE // 2  # frames per beat at the default 120 BPM


class Chirp(studio.Generator):
    """A real audio generator at 24 kHz (so the workspace must resample it), stereo."""

    id = "test-chirp"
    title = "Test chirp"
    kind = "audio"
    params = (studio.Param("prompt", "text", "a rising chirp"), studio.Param("seed", "seed"), studio.Param("seconds", "float", 0.5, min=0.1, max=4.0))

    def generate(self, request, ctx):
        rate = 24_000
        t = np.arange(int(request["seconds"] * rate), dtype=np.float32) / rate
        left = 0.25 * np.sin(2 * np.pi * (300 + 400 * t) * t)
        yield studio.Progress(1, 1)
        yield studio.Result("audio", np.stack([left, 0.5 * left], axis=1), self.id, dict(request.params), sample_rate=rate)


@pytest.fixture
def ws(audio_workspace):
    return audio_workspace(520)


def wav(path, samples, rate=RATE):
    soundfile.write(str(path), samples, rate, subtype="FLOAT" if str(path).endswith(".wav") else None)
    return path


def noise(seconds, channels, seed):
    return (0.2 * np.random.default_rng(seed).standard_normal((int(seconds * RATE), channels))).astype(np.float32)


# -- gestures --------------------------------------------------------------------------------


def mouse(widget, kind, pos, buttons=Qt.MouseButton.LeftButton, modifiers=Qt.KeyboardModifier.NoModifier):
    button = Qt.MouseButton.LeftButton if kind != QMouseEvent.Type.MouseMove else Qt.MouseButton.NoButton
    pos = QPointF(pos)
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def drag(view, start, end, modifiers=Qt.KeyboardModifier.NoModifier, steps=4):
    """Press at ``start``, move in a few steps, release at ``end`` (viewport coordinates)."""
    viewport = view.viewport()
    mouse(viewport, QMouseEvent.Type.MouseButtonPress, start, modifiers=modifiers)
    for i in range(1, steps + 1):
        point = QPointF(start) + (QPointF(end) - QPointF(start)) * (i / steps)
        mouse(viewport, QMouseEvent.Type.MouseMove, point, modifiers=modifiers)
    mouse(viewport, QMouseEvent.Type.MouseButtonRelease, end, buttons=Qt.MouseButton.NoButton, modifiers=modifiers)


def at(view, frame, row, dy=TRACK_H // 2):
    """The viewport point over ``frame`` in track row ``row``."""
    return QPointF(view.x_of(frame), view.row_top(row) + dy)


# -- the "done when" -----------------------------------------------------------------


def test_tracks_import_move_trim_split_generate_undo_and_export_match_a_hand_mix(ws, qtbot, tmp_path):
    view, stack = ws.arrangement, ws.undo_stack
    qtbot.mouseClick(ws.headers.add_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(ws.headers.add_button, Qt.MouseButton.LeftButton)
    assert [t.name for t in ws.timeline.tracks] == ["Track 1", "Track 2"]

    # import a stereo WAV at the playhead (beat 1) on the first track
    drums = noise(2.0, 2, seed=1)
    ws.select_track(ws.timeline.tracks[0].id)
    ws.set_playhead(BEAT)
    clip = ws.import_file(wav(tmp_path / "drums.wav", drums))
    assert clip is not None and clip.start == BEAT and clip.length == drums.shape[0]
    np.testing.assert_array_equal(clip.samples, drums)

    # drag it one beat right and down onto track 2: snapped to the beat, one undo step
    steps = stack.count()
    view.zoom_by(1.0)  # 100 px per second: a beat is 50 px
    press = at(view, clip.start + RATE // 2, 0)
    drag(view, press, press + QPointF(BEAT / view.frames_per_pixel + 7, TRACK_H))  # 7 px off the beat: snapping
    moved = ws.timeline.tracks[1].clips[0]
    assert moved.id == clip.id and moved.start == 2 * BEAT and not ws.timeline.tracks[0].clips
    assert stack.count() == steps + 1

    # trim the right edge back by a beat (snapped) and the left edge in by 3/4 beat with Shift (free)
    drag(view, at(view, moved.end - 1, 1), at(view, moved.end - BEAT + 900, 1))
    trimmed = ws.timeline.clip(clip.id)
    assert trimmed.end == moved.end - BEAT and trimmed.start == moved.start and trimmed.offset == 0
    left_edge_to = moved.start + (3 * BEAT) // 4
    drag(view, at(view, moved.start + 1, 1), at(view, left_edge_to, 1), modifiers=Qt.KeyboardModifier.ShiftModifier)
    trimmed = ws.timeline.clip(clip.id)
    assert abs(trimmed.start - left_edge_to) <= view.frames_per_pixel  # off the grid, within a pixel
    assert trimmed.offset == trimmed.start - moved.start and trimmed.end == moved.end - BEAT
    assert stack.count() == steps + 3

    # split at the playhead with S
    ws.set_playhead(3 * BEAT)
    ws.select_clip(clip.id)
    qtbot.keyClick(view, Qt.Key.Key_S)
    left, right = ws.timeline.tracks[1].clips
    assert (left.end, right.start) == (3 * BEAT, 3 * BEAT) and right.offset == left.offset + left.length

    # generate onto track 1 at 0 through the real job runner; undo takes it away in one step
    runner = JobRunner()
    try:
        generator = Chirp()
        job = runner.submit(generator, generator.request({"seed": 7, "seconds": 0.5}))
        assert job.wait(20) and job.state is JobState.FINISHED
    finally:
        runner.shutdown()
    ws.select_track(ws.timeline.tracks[0].id)
    ws.set_playhead(0)
    before_generation = ws.timeline
    generated = ws.add_generated(job.result)
    assert generated is not None and generated.start == 0 and ws.timeline.track_of(generated.id) is ws.timeline.tracks[0]
    assert generated.sample_rate == RATE and generated.length == RATE // 2 and generated.channels == 2
    assert generated.name == "a rising chirp · 7" and generated.params["seed"] == 7  # named after its take
    stack.undo()
    assert ws.timeline is before_generation
    stack.redo()
    generated = ws.timeline.tracks[0].clips[0]

    # undo the split, then redo it: every edit is exactly one step
    stack.undo()
    stack.undo()
    assert len(ws.timeline.tracks[1].clips) == 1 and not ws.timeline.tracks[0].clips
    stack.redo()
    stack.redo()
    assert len(ws.timeline.tracks[1].clips) == 2 and ws.timeline.tracks[0].clips

    # export, and compare with a mix summed here from the source arrays
    out = ws.export_mix(tmp_path / "mix.wav")
    assert out is not None and out.exists()
    written, rate = soundfile.read(str(out), dtype="float32", always_2d=True)
    assert rate == RATE
    expected = np.zeros((ws.timeline.end, 2), dtype=np.float32)
    for piece in ws.timeline.tracks[1].clips:  # cut from the drums file: index the original array
        expected[piece.start : piece.end] += drums[piece.offset : piece.offset + piece.length]
    chirp = generated.audio.samples  # the generator's audio at the project rate (resampled)
    expected[: chirp.shape[0]] += chirp
    assert written.shape == expected.shape
    np.testing.assert_allclose(written, expected, atol=1e-6)
    # the resampled chirp is still the chirp: compare with the generator's 24 kHz output, every other frame
    np.testing.assert_allclose(chirp[::2][100:-100], np.asarray(job.result.value)[100:-100], atol=0.02)


# -- tracks ----------------------------------------------------------------------------------


def test_track_header_controls_edit_the_track_and_undo(ws, qtbot):
    first, second = ws.add_track("Drums"), ws.add_track("Bass")
    stack = ws.undo_stack
    header = ws.headers.rows[second.id]
    header.name.setFocus()
    header.name.selectAll()
    qtbot.keyClicks(header.name, "Sub bass")
    qtbot.keyClick(header.name, Qt.Key.Key_Return)
    assert ws.timeline.track(second.id).name == "Sub bass"

    qtbot.mouseClick(header.mute, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(ws.headers.rows[first.id].solo, Qt.MouseButton.LeftButton)
    assert ws.timeline.track(second.id).mute and ws.timeline.track(first.id).solo
    assert [t.id for t in ws.timeline.audible()] == [first.id]

    steps = stack.count()
    header.gain.setFocus()
    for _ in range(5):  # keyboard steps on one slider merge into one undo step
        qtbot.keyClick(header.gain, Qt.Key.Key_Left)
    assert ws.timeline.track(second.id).gain_db == pytest.approx(-0.5)
    assert header.gain_value.text() == "-0.5 dB"
    header.pan.setValue(-30)
    assert ws.timeline.track(second.id).pan == pytest.approx(-0.3) and header.pan_value.text() == "L30"
    assert stack.count() == steps + 2

    qtbot.mouseClick(header.findChild(QToolButton, "move_up"), Qt.MouseButton.LeftButton)
    assert [t.id for t in ws.timeline.tracks] == [second.id, first.id]
    ws.remove_track(first.id)
    assert [t.id for t in ws.timeline.tracks] == [second.id] and first.id not in ws.headers.rows
    for _ in range(4):
        stack.undo()
    track = ws.timeline.track(second.id)
    assert track.name == "Sub bass" and track.gain_db == 0 and track.pan == 0 and track.mute
    assert ws.headers.rows[second.id].gain_value.text() == "+0.0 dB" and ws.headers.rows[second.id].mute.isChecked()


def test_a_slider_drag_is_one_undo_step(ws, qtbot):
    track = ws.add_track()
    slider = ws.headers.rows[track.id].gain
    steps = ws.undo_stack.count()
    slider.sliderPressed.emit()
    slider.setSliderDown(True)
    for value in (-10, -40, -60):
        slider.setValue(value)
    slider.setSliderDown(False)
    slider.sliderReleased.emit()
    assert ws.timeline.track(track.id).gain_db == pytest.approx(-6.0)
    assert ws.undo_stack.count() == steps + 1
    ws.undo_stack.undo()
    assert ws.timeline.track(track.id).gain_db == 0.0 and slider.value() == 0


# -- clips -----------------------------------------------------------------------------------


def _one_clip(ws, tmp_path, seconds=2.0, channels=1):
    ws.add_track()
    ws.set_playhead(0)
    return ws.import_file(wav(tmp_path / "take.wav", noise(seconds, channels, seed=3)))


def test_fade_handles_duplicate_and_delete(ws, qtbot, tmp_path):
    view = ws.arrangement
    clip = _one_clip(ws, tmp_path)
    ws.transport_bar.division.setCurrentText("1/8")  # half-beat grid
    top = view.row_top(0) + 4  # the handles sit at the clip's top corners
    drag(view, QPointF(view.x_of(clip.start) + 2, top), QPointF(view.x_of(clip.start + BEAT) + 3, top))
    drag(view, QPointF(view.x_of(clip.end) - 2, top), QPointF(view.x_of(clip.end - BEAT // 2) - 4, top))
    faded = ws.timeline.clip(clip.id)
    assert (faded.fade_in, faded.fade_out) == (BEAT, BEAT // 2)
    assert ws.selected_audio().samples[0, 0] == 0.0  # what a generator gets: the clip as heard
    np.testing.assert_allclose(ws.selected_audio().samples, faded.rendered())

    qtbot.keyClick(view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    original, copy = ws.timeline.tracks[0].clips
    assert copy.start == original.end and copy.fade_in == BEAT and ws.selected_clip().id == copy.id
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert [c.id for c in ws.timeline.tracks[0].clips] == [clip.id] and ws.selected_clip() is None
    ws.undo_stack.undo()
    assert len(ws.timeline.tracks[0].clips) == 2


def test_trims_stop_at_the_audio_the_clip_has(ws, qtbot, tmp_path):
    view = ws.arrangement
    clip = _one_clip(ws, tmp_path, seconds=1.0)
    drag(view, at(view, clip.end - 1, 0), at(view, clip.end + 2 * RATE, 0))  # past the end of the audio
    assert ws.timeline.clip(clip.id).end == clip.end
    ws.set_snap(False)
    drag(view, at(view, clip.start + 1, 0), at(view, clip.start + RATE // 4, 0))
    assert ws.timeline.clip(clip.id).offset == pytest.approx(RATE // 4, abs=view.frames_per_pixel)


def test_escape_cancels_a_drag_without_an_undo_step(ws, qtbot, tmp_path):
    view = ws.arrangement
    clip = _one_clip(ws, tmp_path, seconds=1.0)
    before, steps = ws.timeline, ws.undo_stack.count()
    press = at(view, clip.start + RATE // 2, 0)
    mouse(view.viewport(), QMouseEvent.Type.MouseButtonPress, press)
    mouse(view.viewport(), QMouseEvent.Type.MouseMove, press + QPointF(300, 0))
    assert ws.timeline.clip(clip.id).start > 0  # shown moving
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    mouse(view.viewport(), QMouseEvent.Type.MouseButtonRelease, press + QPointF(300, 0), buttons=Qt.MouseButton.NoButton)
    assert ws.timeline is before and ws.undo_stack.count() == steps


def test_splitting_outside_a_clip_says_why(ws, qtbot, tmp_path):
    clip = _one_clip(ws, tmp_path, seconds=1.0)
    ws.set_playhead(clip.end + RATE)
    before = ws.timeline
    qtbot.keyClick(ws.arrangement, Qt.Key.Key_S)
    assert ws.timeline is before and "playhead inside a clip" in ws.messages[-1]


def test_a_generation_with_no_track_brings_its_own_in_one_step(ws):
    result = studio.Result("audio", np.zeros(4800, np.float32) + 0.1, "sketch", {"prompt": "", "seed": 1}, sample_rate=RATE, info={"score": [Note(60, 0, 1, 90, 0)], "tempo": 100})
    clip = ws.add_generated(result, title="Chorale")
    assert [t.name for t in ws.timeline.tracks] == ["Chorale"] and clip.info["tempo"] == 100
    assert ws.undo_stack.count() == 1
    ws.undo_stack.undo()
    assert ws.timeline.tracks == ()


def test_clip_notes_export_as_midi(ws, tmp_path):
    notes = [Note(60, 0.0, 1.0, 90, 0), Note(64, 1.0, 1.0, 80, 1)]
    ws.add_generated(studio.Result("audio", np.zeros((RATE, 1), np.float32), "sketch", {}, sample_rate=RATE, info={"score": notes, "tempo": 90}))
    path = ws.export_midi(tmp_path / "notes.mid")
    assert path is not None and path.read_bytes()[:4] == b"MThd"
    ws.add_generated(studio.Result("audio", np.zeros((RATE, 1), np.float32), "noise", {}, sample_rate=RATE))
    assert ws.export_midi(tmp_path / "none.mid") is None and "MIDI" in ws.messages[-1]
    assert not (tmp_path / "none.mid").exists()


# -- files -----------------------------------------------------------------------------------


def test_bad_files_and_paths_are_messages_and_nothing_is_lost(ws, tmp_path):
    clip = _one_clip(ws, tmp_path, seconds=0.5)
    before, steps = ws.timeline, ws.undo_stack.count()
    (tmp_path / "notes.wav").write_text("not audio at all")
    truncated = tmp_path / "cut.wav"
    truncated.write_bytes((tmp_path / "take.wav").read_bytes()[:30])
    six = wav(tmp_path / "six.wav", np.zeros((100, 6), np.float32))
    for path in (tmp_path / "notes.wav", truncated, six, tmp_path / "missing.flac"):
        assert ws.import_file(path) is None
        assert ws.messages[-1].startswith(f"Cannot import {path.name}") and "Traceback" not in ws.messages[-1]
    assert "6 channels" in ws.messages[-2]
    assert ws.export_mix(tmp_path / "no" / "such" / "folder" / "mix.wav") is None
    assert ws.messages[-1].startswith("Cannot export the mix")
    assert ws.timeline is before and ws.undo_stack.count() == steps and ws.timeline.clip(clip.id)


def test_imports_resample_to_the_project_rate_and_flac_exports(ws, tmp_path):
    ws.add_track()
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(22050) / 22050)).astype(np.float32)
    soundfile.write(str(tmp_path / "tone.ogg"), tone, 22050)
    clip = ws.import_file(tmp_path / "tone.ogg")
    assert clip.sample_rate == RATE and abs(clip.length - RATE) <= 2 and clip.channels == 1
    out = ws.export_mix(tmp_path / "mix.flac")
    data, rate = soundfile.read(str(out), always_2d=True)
    assert rate == RATE and data.shape == (clip.length, 2)
    assert soundfile.info(str(out)).subtype == "PCM_24"
    np.testing.assert_allclose(data[:, 0], data[:, 1])  # a centred mono clip is the same on both sides


def test_audio_files_dropped_on_a_track_land_there(ws, qtbot, tmp_path):
    first, second = ws.add_track(), ws.add_track()
    paths = [wav(tmp_path / "a.wav", noise(0.5, 1, 4)), wav(tmp_path / "b.flac", noise(0.25, 2, 5))]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths] + [QUrl.fromLocalFile(str(tmp_path / "x.txt"))])
    view = ws.arrangement
    point = at(view, 4 * BEAT + 300, 1)
    # Qt delivers a drop only to the widget that accepted the drag's enter and move
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(point.toPoint(), *args)
    QApplication.sendEvent(view.viewport(), enter)
    assert enter.isAccepted()
    QApplication.sendEvent(view.viewport(), QDragMoveEvent(point.toPoint(), *args))
    QApplication.sendEvent(view.viewport(), QDropEvent(point, *args))
    # Files decode off the GUI thread and land in order when ready.
    qtbot.waitUntil(lambda: len(ws.timeline.track(second.id).clips) == 2, timeout=10000)
    clips = ws.timeline.track(second.id).clips
    assert [c.name for c in clips] == ["a", "b"] and not ws.timeline.track(first.id).clips
    assert clips[0].start == 4 * BEAT and clips[1].start == clips[0].end  # snapped, then end to end


# -- view ------------------------------------------------------------------------------------


def test_ctrl_wheel_zooms_around_the_cursor_and_tempo_moves_the_grid(ws, qtbot):
    view = ws.arrangement
    x = 400.0
    frame = view.frame_of(x)
    wheel = QWheelEvent(QPointF(x, 100), QPointF(view.viewport().mapToGlobal(QPoint(400, 100))), QPoint(), QPoint(0, 240), Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False)
    fpp = view.frames_per_pixel
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.frames_per_pixel == pytest.approx(fpp / 1.44)
    assert view.frame_of(x) == pytest.approx(frame, abs=view.frames_per_pixel)
    assert view.horizontalScrollBar().value() > 0
    ws.transport_bar.tempo.setValue(90.0)
    assert ws.timeline.tempo == 90.0 and ws.grid.snap(RATE * 0.7) == RATE * 2 // 3
    ws.undo_stack.undo()
    assert ws.timeline.tempo == 120.0 and ws.transport_bar.tempo.value() == 120.0


def test_dragging_on_the_ruler_draws_a_loop_and_clicking_moves_the_playhead(ws, qtbot):
    view = ws.arrangement
    drag(view, QPointF(view.x_of(4 * BEAT) + 3, RULER_H / 2), QPointF(view.x_of(8 * BEAT) - 4, RULER_H / 2))
    assert ws.loop == (4 * BEAT, 8 * BEAT) and ws.loop_enabled and ws.transport.loop == (4 * BEAT, 8 * BEAT)
    assert ws.transport_bar.loop_button.isChecked()
    ws.transport_bar.loop_button.click()
    assert ws.transport.loop is None and ws.loop == (4 * BEAT, 8 * BEAT)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(int(view.x_of(2 * BEAT)) + 2, RULER_H // 2))
    assert ws.playhead == 2 * BEAT
    assert ws.transport_bar.position.text().split() == ["1.3.1", "0:01.000"]


def test_painting_reads_cached_peaks_of_many_tracks(ws, qtbot, tmp_path):
    audio = Audio(noise(3.0, 2, 6), RATE)
    timeline = Timeline()
    for i in range(12):
        timeline = timeline.add_track(Track(f"T{i}"))
        timeline = timeline.add_clip(timeline.tracks[-1].id, Clip(f"c{i}", audio, start=i * BEAT))
    ws.apply(timeline, "fill")
    ws.arrangement.viewport().repaint()
    peaks = audio.peaks
    ws.arrangement.zoom_by(3.0)
    ws.arrangement.verticalScrollBar().setValue(ws.arrangement.verticalScrollBar().maximum())
    ws.arrangement.viewport().repaint()
    assert audio.peaks is peaks and ws.arrangement.verticalScrollBar().maximum() > 0
    header = ws.headers.rows[timeline.tracks[-1].id]
    assert header.geometry().bottom() <= ws.headers.area.height() + TRACK_H // 2  # scrolled with the lanes


# -- playback --------------------------------------------------------------------------------


def test_playback_on_the_null_device_moves_the_playhead_and_space_toggles(ws, qtbot, tmp_path):
    _one_clip(ws, tmp_path, seconds=3.0)
    # The null device is not paced: without a loop the 3 s could be over before the test
    # looks. Looping from the start point keeps playback going and the playhead past BEAT.
    ws.set_loop(BEAT, ws.timeline.end)
    ws.set_playhead(BEAT)
    ws.arrangement.setFocus()
    qtbot.keyClick(ws.arrangement, Qt.Key.Key_Space)
    assert ws.playing, ws.playback_error
    assert ws.transport_bar.status_text() == ""
    qtbot.waitUntil(lambda: ws.playhead > BEAT + 1000, timeout=5000)
    qtbot.keyClick(ws.arrangement, Qt.Key.Key_Space)
    assert not ws.playing
    paused_at = ws.playhead
    assert paused_at > BEAT and ws.transport.position == paused_at
    ws.play()
    qtbot.waitUntil(lambda: ws.playhead > paused_at, timeout=5000)
    ws.stop()
    assert not ws.playing and ws.playhead == paused_at  # stop: back to where this playback started
    assert "underruns: " in ws.transport_bar.footer.summary.toolTip()  # a detail, not words on the bar

    view = ws.arrangement  # the view follows the playhead: zoomed in, it has to page on
    view.zoom_by(30.0)
    ws.set_playhead(0)
    view.horizontalScrollBar().setValue(0)
    ws.play()
    qtbot.waitUntil(lambda: view.horizontalScrollBar().value() > 0, timeout=5000)
    ws.pause()


def test_without_portaudio_the_workspace_works_and_says_playback_is_off(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        sys.modules["sounddevice"] = None  # as if the PortAudio library were missing
        import numpy as np
        from PySide6.QtGui import QUndoStack
        from PySide6.QtWidgets import QApplication, QToolButton
        app = QApplication([])
        from studio.ui.timeline import AudioWorkspace
        from studio.core.media.sound import Audio
        from studio.core.audio.timeline import Clip
        ws = AudioWorkspace(QUndoStack())
        messages = []
        ws.message.connect(messages.append)
        ws.show()
        app.processEvents()
        ws.add_track()
        ws.add_clip(Clip("c", Audio(np.zeros((4800, 1), np.float32), 48000)))
        assert ws.play() is False and not ws.playing
        print("LABEL", ws.transport_bar.status_text())
        print(*(["MESSAGE", messages[-1]] if messages else []))
        print("CLIPS", len(ws.timeline.clips))
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert lines["LABEL"] == "The sound library (PortAudio) is not installed — playback is off"
    assert "MESSAGE" not in lines and lines["CLIPS"] == "1"  # said once: in the footer, not again as a message
    assert "Traceback" not in done.stderr


def test_importing_several_files_decodes_off_the_gui_thread_and_names_the_bad_one(ws, qtbot, tmp_path):
    track = ws.add_track()
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    good = wav(tmp_path / "take.wav", noise(0.5, 2, 9))
    ws.import_files([str(bad), str(good)], track.id, 0)
    assert ws.timeline.track(track.id).clips == ()  # nothing decoded on the GUI thread
    qtbot.waitUntil(lambda: len(ws.timeline.track(track.id).clips) == 1, timeout=10000)
    assert any("Cannot import notes.wav" in m for m in ws.messages)
    (clip,) = ws.timeline.track(track.id).clips
    assert clip.name == "take" and clip.start == 0 and clip.audio.__dict__.get("peaks") is not None  # peaks made off-thread


def test_an_edit_that_lands_mid_drag_is_kept_and_undo_stays_in_order(ws, qtbot, tmp_path):
    view = ws.arrangement
    clip = _one_clip(ws, tmp_path, seconds=1.0)
    steps = ws.undo_stack.count()
    press = at(view, clip.start + RATE // 2, 0)
    mouse(view.viewport(), QMouseEvent.Type.MouseButtonPress, press)
    mouse(view.viewport(), QMouseEvent.Type.MouseMove, press + QPointF(300, 0))
    moved_to = ws.timeline.clip(clip.id).start
    assert moved_to > 0
    # a generation finishes while the mouse is still down
    made = ws.add_generated(studio.Result("audio", np.full(4800, 0.1, np.float32), "late", {}, sample_rate=RATE))
    mouse(view.viewport(), QMouseEvent.Type.MouseMove, press + QPointF(400, 0))  # the drag has ended: no effect
    mouse(view.viewport(), QMouseEvent.Type.MouseButtonRelease, press + QPointF(400, 0), buttons=Qt.MouseButton.NoButton)
    assert ws.timeline.clip(clip.id).start == moved_to and ws.timeline.clip(made.id) is not None
    assert [ws.undo_stack.text(i) for i in range(steps, ws.undo_stack.count())] == ["Move clip", "Generate “late”"]
    ws.undo_stack.undo()
    assert ws.timeline.clip(clip.id).start == moved_to and made.id not in {c.id for c in ws.timeline.clips}
    ws.undo_stack.undo()
    assert ws.timeline.clip(clip.id).start == clip.start


def test_releasing_another_button_does_not_end_the_drag(ws, qtbot, tmp_path):
    view = ws.arrangement
    clip = _one_clip(ws, tmp_path, seconds=1.0)
    steps = ws.undo_stack.count()
    press = at(view, clip.start + RATE // 2, 0)
    mouse(view.viewport(), QMouseEvent.Type.MouseButtonPress, press)
    mouse(view.viewport(), QMouseEvent.Type.MouseMove, press + QPointF(300, 0))
    point = press + QPointF(300, 0)
    right_up = QMouseEvent(QMouseEvent.Type.MouseButtonRelease, point, view.viewport().mapToGlobal(point), Qt.MouseButton.RightButton, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), right_up)
    assert view.drag is not None and ws.undo_stack.count() == steps  # the left-button drag goes on
    mouse(view.viewport(), QMouseEvent.Type.MouseButtonRelease, point, buttons=Qt.MouseButton.NoButton)
    assert view.drag is None and ws.undo_stack.count() == steps + 1 and ws.undo_stack.text(steps) == "Move clip"


def test_a_lost_release_ends_the_drag_at_the_next_move(ws, qtbot, tmp_path):
    view = ws.arrangement
    clip = _one_clip(ws, tmp_path, seconds=1.0)
    steps = ws.undo_stack.count()
    press = at(view, clip.start + RATE // 2, 0)
    mouse(view.viewport(), QMouseEvent.Type.MouseButtonPress, press)
    mouse(view.viewport(), QMouseEvent.Type.MouseMove, press + QPointF(300, 0))
    moved_to = ws.timeline.clip(clip.id).start
    mouse(view.viewport(), QMouseEvent.Type.MouseMove, press + QPointF(600, 0), buttons=Qt.MouseButton.NoButton)  # hovering
    assert view.drag is None and ws.timeline.clip(clip.id).start == moved_to
    assert ws.undo_stack.count() == steps + 1
