"""Levels in the Audio workspace, driven as a musician would: Space plays on ALSA's null device
(tests/conftest.py) and the meters move; the master fader turned with the mouse and the keys
changes the exported mix and is one undo step; a clipping mix lights the clip LED and says so
once; the clip menu's Normalise and Clip gain."""

from __future__ import annotations

import re

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import QPoint, Qt

from studio.core.audio.levels import FLOOR_DB
from studio.core.audio.timeline import Clip

RATE = 48_000


@pytest.fixture
def ws(audio_workspace):
    return audio_workspace(560)


def sine(seconds: float, amplitude: float, channels: int = 2) -> np.ndarray:
    wave = amplitude * np.sin(2 * np.pi * 440 * np.arange(int(seconds * RATE)) / RATE)
    return np.repeat(wave[:, None], channels, axis=1).astype(np.float32)


def two_tracks(ws, amplitude: float = 0.4) -> None:
    """Two tracks of a sine, added through the workspace (one undo step each)."""
    for name in ("strings", "bass"):
        ws.add_track()
        track_id = ws.timeline.tracks[-1].id
        ws.add_clip(Clip.from_samples(name, sine(2.0, amplitude), RATE), track_id, f"Add {name}")
    ws.undo_stack.clear()


def play_looped(ws, qtbot) -> None:
    # The null device is not paced: a loop keeps playback going while the test looks.
    ws.set_loop(0, ws.timeline.end)
    ws.arrangement.setFocus()
    qtbot.keyClick(ws.arrangement, Qt.Key.Key_Space)
    assert ws.playing, ws.playback_error


def test_meters_move_during_playback_and_fall_when_it_stops(ws, qtbot):
    two_tracks(ws)
    meters = [ws.headers.rows[t.id].meter for t in ws.timeline.tracks] + [ws.master_strip.meter]
    assert not any(m.lit for m in meters)
    play_looped(ws, qtbot)
    qtbot.waitUntil(lambda: all(max(m.peak) > -12 for m in meters), timeout=5000)
    # A 0.4 sine is -8 dBFS peak, -11 dB RMS; the master sums two: about -2 dBFS.
    track = meters[0]
    assert -9.0 < max(track.peak) < -7.0 and -12.0 < max(track.rms) < -9.5
    assert -3.0 < max(meters[-1].peak) < -1.0
    assert not meters[-1].clipped
    qtbot.keyClick(ws.arrangement, Qt.Key.Key_Space)  # pause
    assert not ws.playing
    qtbot.waitUntil(lambda: not any(m.lit for m in meters), timeout=6000)
    assert all(m.rms == [FLOOR_DB, FLOOR_DB] for m in meters)
    qtbot.waitUntil(lambda: not ws.metering.timer.isActive(), timeout=1000)  # no timer while silent


def test_a_muted_track_meter_stays_dark_while_the_other_plays(ws, qtbot):
    two_tracks(ws)
    muted, playing = ws.timeline.tracks
    qtbot.mouseClick(ws.headers.rows[muted.id].mute, Qt.MouseButton.LeftButton)
    play_looped(ws, qtbot)
    qtbot.waitUntil(lambda: max(ws.headers.rows[playing.id].meter.peak) > -12, timeout=5000)
    assert not ws.headers.rows[muted.id].meter.lit
    ws.stop()


def exported_peak(ws, path) -> float:
    assert ws.export_mix(path) is not None
    samples, _ = soundfile.read(str(path), dtype="float32")
    return float(np.abs(samples).max())


def test_master_fader_by_keys_and_by_mouse_changes_the_export_and_is_one_undo_step(ws, qtbot, tmp_path):
    two_tracks(ws, amplitude=0.2)
    before = exported_peak(ws, tmp_path / "before.wav")
    fader = ws.master_strip.fader
    fader.setFocus()
    for _ in range(12):  # half a dB a press: -6 dB
        qtbot.keyClick(fader, Qt.Key.Key_Left)
    assert ws.timeline.master_gain_db == pytest.approx(-6.0)
    assert ws.undo_stack.count() == 1 and ws.undo_stack.undoText() == "Change master volume"
    assert ws.master_strip.value.text() == "-6.0 dB"
    quieter = exported_peak(ws, tmp_path / "quieter.wav")
    assert quieter == pytest.approx(before * 10 ** (-6 / 20), rel=1e-3)
    ws.undo_stack.undo()
    assert ws.timeline.master_gain_db == 0.0 and fader.value() == 0

    # A mouse drag on the handle: previews while moving, one step at release.
    handle = _handle_centre(fader)
    qtbot.mousePress(fader, Qt.MouseButton.LeftButton, pos=handle)
    for dx in (10, 20, 40):
        qtbot.mouseMove(fader, handle + QPoint(-dx, 0))
    qtbot.mouseRelease(fader, Qt.MouseButton.LeftButton, pos=handle + QPoint(-40, 0))
    dragged = ws.timeline.master_gain_db
    assert dragged < -3.0
    assert ws.undo_stack.count() == 1 and ws.undo_stack.undoText() == "Change master volume"
    assert exported_peak(ws, tmp_path / "dragged.wav") == pytest.approx(before * 10 ** (dragged / 20), rel=1e-3)
    ws.undo_stack.undo()
    assert ws.timeline.master_gain_db == 0.0


def _handle_centre(slider) -> QPoint:
    from PySide6.QtWidgets import QStyle, QStyleOptionSlider

    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    rect = slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, slider)
    return rect.center()


def test_a_clipping_mix_lights_the_clip_led_and_says_so_once(ws, qtbot):
    two_tracks(ws, amplitude=0.7)  # two 0.7 sines in phase: 1.4, over 0 dBFS
    play_looped(ws, qtbot)
    led = ws.master_strip.meter
    qtbot.waitUntil(lambda: led.clipped, timeout=5000)
    qtbot.wait(300)  # it keeps clipping, the loop goes round: still one message
    warnings = [m for m in ws.messages if m.startswith("The mix clips at ")]
    # Where: in the first stretch read (the null device is not paced, so it may be a little in).
    assert len(warnings) == 1 and re.fullmatch(r"The mix clips at 0:0[0-2]\.\d — lower the master fader or a track", warnings[0])
    assert not ws.headers.rows[ws.timeline.tracks[0].id].meter.clipped  # each track alone is 0.7
    ws.stop()
    qtbot.waitUntil(lambda: not led.lit, timeout=6000)
    assert led.clipped  # it stays lit after the sound stopped, until clicked
    qtbot.mouseClick(led, Qt.MouseButton.LeftButton)
    assert not led.clipped


# -- clip gain and normalise through the clip menu ---------------------------------------------


def clip_menu(ws, qtbot, clip):
    """Right-click the clip in the arrangement: its context menu, as it pops up."""
    from PySide6.QtWidgets import QApplication

    from studio.ui.timeline.arrangement import TRACK_H

    view = ws.arrangement
    row = ws.timeline.track_index(ws.timeline.track_of(clip.id).id)
    point = QPoint(int(view.x_of(clip.start + clip.length // 2)), int(view.row_top(row) + TRACK_H // 2))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.RightButton, pos=point)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is not None, timeout=2000)
    menu = QApplication.activePopupWidget()
    return menu, {action.text().split("\t")[0]: action for action in menu.actions()}


def test_normalise_through_the_clip_menu_brings_the_peak_to_minus_1_dbfs(ws, qtbot):
    from studio.core.audio.levels import clip_peak, to_db

    ws.add_track()
    track_id = ws.timeline.tracks[-1].id
    quiet = sine(1.0, 0.05)
    quiet[1000] = 0.125  # one louder sample: the peak is a sample's, not the sine's
    clip = ws.add_clip(Clip.from_samples("take", quiet, RATE, fade_out=RATE // 4), track_id, "Add take")
    steps = ws.undo_stack.count()
    menu, actions = clip_menu(ws, qtbot, clip)
    actions["Normalise"].trigger()
    menu.close()
    normalised = ws.timeline.clip(clip.id)
    assert to_db(clip_peak(normalised) * 10 ** (normalised.gain_db / 20)) == pytest.approx(-1.0, abs=0.02)
    assert normalised.gain_db == pytest.approx(-1.0 - to_db(0.125), abs=0.02)
    assert ws.undo_stack.count() == steps + 1 and ws.undo_stack.undoText() == "Normalise clip"
    from studio.ui.timeline.clip_gain import clip_title

    assert clip_title(normalised) == f"take  {normalised.gain_db:+.1f} dB"  # the clip shows its gain
    ws.undo_stack.undo()
    assert ws.timeline.clip(clip.id).gain_db == 0.0 and clip_title(ws.timeline.clip(clip.id)) == "take"


def test_normalise_of_a_silent_clip_says_so_and_changes_nothing(ws, qtbot):
    ws.add_track()
    clip = ws.add_clip(Clip.from_samples("silence", np.zeros((RATE, 2), np.float32), RATE), ws.timeline.tracks[-1].id, "Add")
    before, steps = ws.timeline, ws.undo_stack.count()
    menu, actions = clip_menu(ws, qtbot, clip)
    actions["Normalise"].trigger()
    menu.close()
    assert ws.timeline is before and ws.undo_stack.count() == steps
    assert ws.messages[-1] == "“silence” is silent: there is nothing to normalise"


def test_clip_gain_typed_in_its_dialog_is_one_undo_step_and_heard_in_the_export(ws, qtbot, tmp_path):
    from PySide6.QtWidgets import QApplication, QInputDialog
    from PySide6.QtCore import QTimer

    ws.add_track()
    clip = ws.add_clip(Clip.from_samples("take", sine(1.0, 0.5), RATE), ws.timeline.tracks[-1].id, "Add")
    before = exported_peak(ws, tmp_path / "before.wav")
    menu, actions = clip_menu(ws, qtbot, clip)

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, QInputDialog)
        dialog.setDoubleValue(-6.0)
        dialog.accept()

    QTimer.singleShot(100, answer)
    actions["Clip gain…"].trigger()
    menu.close()
    assert ws.timeline.clip(clip.id).gain_db == -6.0
    assert ws.undo_stack.undoText() == "Clip gain -6.0 dB"
    assert exported_peak(ws, tmp_path / "after.wav") == pytest.approx(before * 10 ** (-6 / 20), rel=1e-3)


# -- exporting -------------------------------------------------------------------------------


def test_export_of_a_clipping_mix_says_where_in_its_message_and_lights_the_master_meter(ws, qtbot, tmp_path):
    two_tracks(ws, amplitude=0.7)
    path = ws.export_mix(tmp_path / "loud.wav")
    assert path is not None and path.exists()
    assert ws.messages[-1] == f"Exported the mix to {path} — it clips at 0:00.0: lower the master fader or a track"
    assert any(m.startswith("Exporting the mix… ") and m.endswith("%") for m in ws.messages)  # progress as it rendered
    assert ws.master_strip.meter.clipped and ws.master_strip.meter.lit  # the meter showed the render
    qtbot.waitUntil(lambda: not ws.master_strip.meter.lit, timeout=6000)  # then falls to silence
    samples, _ = soundfile.read(str(path), dtype="float32")
    assert samples.shape == (2 * RATE, 2) and float(np.abs(samples).max()) == pytest.approx(1.4, rel=1e-3)

    fader = ws.master_strip.fader
    fader.setFocus()
    for _ in range(8):
        qtbot.keyClick(fader, Qt.Key.Key_PageDown)  # 3 dB a page: -24 dB
    ws.export_mix(tmp_path / "fine.wav")
    assert ws.messages[-1] == f"Exported the mix to {tmp_path / 'fine.wav'}"


def test_the_lanes_end_where_the_headers_do_above_the_master_strip(ws, qtbot):
    """On a short workspace with more tracks than fit, the last track scrolled into view has its
    header beside it: no lane goes on under the master strip, where its header would be hidden."""
    for _ in range(6):
        ws.add_track()
    ws.resize(1200, 300)
    qtbot.waitUntil(lambda: ws.arrangement.verticalScrollBar().maximum() > 0)
    bar = ws.arrangement.verticalScrollBar()
    bar.setValue(bar.maximum())
    lanes = ws.arrangement.viewport()
    lanes_bottom = lanes.mapTo(ws, lanes.rect().bottomLeft()).y()
    headers_bottom = ws.headers.area.mapTo(ws, ws.headers.area.rect().bottomLeft()).y()
    strip_top = ws.master_strip.mapTo(ws, ws.master_strip.rect().topLeft()).y()
    assert abs(lanes_bottom - headers_bottom) <= 2 and lanes_bottom < strip_top
    last = ws.headers.rows[ws.timeline.tracks[-1].id]
    assert last.mapTo(ws, last.rect().bottomLeft()).y() <= strip_top  # the last header shows whole
