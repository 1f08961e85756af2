"""The arrangement as a musician reads it: tracks named after their takes, History naming a
chorale's key as a setting, and playback's problem said once in plain words."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import QModelIndex, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QFileDialog, QLineEdit

from studio.core.project.history import HistoryEntry
from studio.ui.timeline.arrangement_geometry import MIN_TRACK_H


@pytest.fixture
def window(open_window):
    return open_window()


def generate_chorale(window, qtbot, seed: int, key: str = "C major") -> None:
    """A one-bar chorale in ``key`` with ``seed``, generated with the Generate button."""
    form = window.generate_panel.form
    form.widgets["bars"].spin.setValue(1)
    form.widgets["key"].setCurrentText(key)
    field = form.widgets["seed"]
    if field.random_each.isChecked():
        qtbot.mouseClick(field.random_each, Qt.MouseButton.LeftButton)
    field.edit.clear()
    qtbot.keyClicks(field.edit, str(seed))
    assert form.values()["seed"] == seed and form.values()["key"] == key
    with qtbot.waitSignal(window.bridge.result, timeout=60000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)


def test_two_chorale_takes_are_named_after_their_key_and_seed(window, qtbot):
    window.tabs.setCurrentWidget(window.audio)
    assert window.generate_panel.select("chorale")
    generate_chorale(window, qtbot, 4821)
    generate_chorale(window, qtbot, 77, key="A minor")
    tracks = window.audio.timeline.tracks
    assert [t.name for t in tracks] == ["C major · 4821", "A minor · 77"]  # not the generator's title twice
    assert [t.clips[0].name for t in tracks] == ["C major · 4821", "A minor · 77"]
    shown = [edit.text() for edit in window.audio.headers.findChildren(QLineEdit, "track_name")]
    assert sorted(shown) == ["A minor · 77", "C major · 4821"]

    model = window.history_panel.model
    rows = [model.data(model.index(row), Qt.ItemDataRole.DisplayRole) for row in range(model.rowCount(QModelIndex()))]
    assert rows[:2] == ["A minor · seed 77", "C major · seed 4821"], rows  # a key is a setting: no quotes


def test_a_prompt_stays_quoted_in_history_and_names_its_take():
    entry = HistoryEntry("audio", "musicgen", "MusicGen", {"prompt": "lofi piano with rain", "seed": 3})
    assert entry.summary() == "“lofi piano with rain” · seed 3"
    from studio.core.project.results import result_name

    assert result_name("MusicGen", {"prompt": "lofi piano with rain on the window at night", "seed": 77}, prompt=True) == "lofi piano with rain on the… · 77"
    assert result_name("Test tone", {}, prompt=True) == "Test tone"  # no words: the title names it


def test_without_an_audio_device_playback_off_is_said_once_in_plain_words(tmp_path):
    """No PortAudio library: pressing Play says why in the footer, once, in a musician's
    words; the library's own words only in its tooltip, and no counters on the bar."""
    script = textwrap.dedent(
        """
        import sys
        sys.modules["sounddevice"] = None  # as if the PortAudio library were missing
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from studio.ui.app import create_window
        window = create_window()
        messages = []
        window.statusBar().messageChanged.connect(messages.append)
        window.show()
        for _ in range(3):
            app.processEvents()
        window.tabs.setCurrentWidget(window.audio)
        window.audio.actions_by_name["play"].trigger()
        window.audio.actions_by_name["play"].trigger()
        app.processEvents()
        footer = window.audio.transport_bar.footer
        print("SAID", sum("playback" in m.lower() for m in messages))
        print("FOOTER", window.audio.transport_bar.status.full_text)
        print("TIP", window.audio.transport_bar.status.toolTip().replace(chr(10), " "))
        print("TEXTS", " | ".join(w.text() for w in footer.findChildren(type(footer.summary)) if w.isVisible()))
        print("DETAILS", footer.summary.toolTip())
        window.probe_thread.join(20)
        window._closing = True
        window.close()
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STUDIO_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert lines["SAID"] == "0"  # not in the status bar as well as in the footer
    assert lines["FOOTER"] == "The sound library (PortAudio) is not installed — playback is off"
    assert "did not load" in lines["TIP"]  # the library's words: in the tooltip only
    assert "underrun" not in lines["TEXTS"].lower() and "did not load" not in lines["TEXTS"]
    assert "underruns: 0" in lines["DETAILS"]
    assert "Traceback" not in done.stderr


def test_with_no_output_device_the_footer_says_so_plainly():
    from studio.ui.timeline.transport_bar import plain_playback_reason

    raw = "audio playback is off: no audio output device (Error querying device -1)"
    assert plain_playback_reason(raw) == "No audio output device — playback is off"
    assert plain_playback_reason("") == ""


# -- markers --------------------------------------------------------------------------------


def mouse(widget, kind, pos, buttons=Qt.MouseButton.LeftButton):
    button = (buttons or Qt.MouseButton.LeftButton) if kind != QMouseEvent.Type.MouseMove else Qt.MouseButton.NoButton
    pos = QPointF(pos)
    QApplication.sendEvent(widget, QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier))


def drag(view, start, end, steps=4):
    viewport = view.viewport()
    mouse(viewport, QMouseEvent.Type.MouseButtonPress, start)
    for i in range(1, steps + 1):
        mouse(viewport, QMouseEvent.Type.MouseMove, QPointF(start) + (QPointF(end) - QPointF(start)) * (i / steps))
    mouse(viewport, QMouseEvent.Type.MouseButtonRelease, end, buttons=Qt.MouseButton.NoButton)


def answer_dialog(text: str) -> None:
    """Type ``text`` into the dialog about to open and press OK (as soon as it is up)."""

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, answer)
            return
        dialog.findChild(QLineEdit).setText(text)
        dialog.accept()

    QTimer.singleShot(20, answer)


def saved_and_reopened(window, qtbot, tmp_path, monkeypatch, choose):
    """The project saved with File ▸ Save project, a new one, and the file opened again."""
    path = tmp_path / "song"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Save project")
    qtbot.waitUntil(lambda: not window.project.saving, timeout=20000)
    qtbot.wait(50)
    choose(window, "File", "New project")
    assert not window.audio.timeline.tracks and not window.audio.timeline.markers
    assert window.project.open_file(path.with_name("song.studio"))
    return window.audio.timeline


def test_markers_are_added_with_m_moved_renamed_undone_and_saved(window, qtbot, tmp_path, monkeypatch, choose):
    window.tabs.setCurrentWidget(window.audio)
    ws, view = window.audio, window.audio.arrangement
    bar = int(ws.timeline.frames_per_bar)
    ws.set_playhead(bar)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_M)  # at the playhead: bar 2
    ws.set_playhead(3 * bar)
    qtbot.keyClick(view, Qt.Key.Key_M)
    assert [(m.frame, m.name) for m in ws.timeline.markers] == [(bar, "Marker 1"), (3 * bar, "Marker 2")]
    assert ws.undo_stack.count() == 2 and ws.undo_stack.undoText() == "Add marker “Marker 2”"

    first = ws.timeline.markers[0]
    flag = QPointF(view.x_of(first.frame) + 6, 6)
    assert view.hit(flag).marker is first
    drag(view, flag, flag + QPointF(view.x_of(2 * bar) - view.x_of(bar) + 7, 0))  # a bar and a bit: snapped
    assert ws.timeline.marker(first.id).frame == 2 * bar and ws.undo_stack.undoText() == "Move marker"

    answer_dialog("Chorus")
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPointF(view.x_of(2 * bar) + 6, 6).toPoint())
    assert ws.timeline.marker(first.id).name == "Chorus"
    ws.undo_stack.undo()
    assert ws.timeline.marker(first.id).name == "Marker 1"
    ws.undo_stack.redo()
    ws.undo_stack.undo()
    ws.undo_stack.undo()  # the move
    assert ws.timeline.marker(first.id).frame == bar
    ws.undo_stack.redo()
    ws.undo_stack.redo()
    assert (ws.timeline.marker(first.id).frame, ws.timeline.marker(first.id).name) == (2 * bar, "Chorus")

    ws.set_playhead(0)  # Alt+Right and Alt+Left step between them
    window.activateWindow()  # back from the rename dialog
    qtbot.waitUntil(window.isActiveWindow)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert ws.playhead == 2 * bar
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert ws.playhead == 3 * bar
    qtbot.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert ws.playhead == 2 * bar

    ws.add_track()  # something for the project to hold beside its markers
    timeline = saved_and_reopened(window, qtbot, tmp_path, monkeypatch, choose)
    assert [(m.frame, m.name) for m in timeline.markers] == [(2 * bar, "Chorus"), (3 * bar, "Marker 2")]

    second = timeline.markers[1]
    menu_point = QPointF(view.x_of(second.frame) + 6, 6)
    mouse(view.viewport(), QMouseEvent.Type.MouseButtonPress, menu_point, buttons=Qt.MouseButton.RightButton)
    actions = {a.text(): a for a in view.menu.actions()}
    view.menu.close()
    actions["Delete marker"].trigger()
    assert [m.name for m in window.audio.timeline.markers] == ["Chorus"]


# -- export range ---------------------------------------------------------------------------


def pick_in_list(label_start: str) -> None:
    """Choose the item starting with ``label_start`` in the list dialog about to open, and OK."""

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, answer)
            return
        box = dialog.findChild(QComboBox)
        index = next(i for i in range(box.count()) if box.itemText(i).startswith(label_start))
        box.setCurrentIndex(index)
        dialog.accept()

    QTimer.singleShot(20, answer)


def test_export_mix_writes_the_loop_region_only_when_asked(window, qtbot, tmp_path, monkeypatch, choose):
    window.tabs.setCurrentWidget(window.audio)
    assert window.generate_panel.select("chorale")
    generate_chorale(window, qtbot, 5)
    ws = window.audio
    rate, beat = ws.timeline.sample_rate, int(ws.timeline.frames_per_beat)
    whole = ws.timeline.end
    view = ws.arrangement
    ruler_y = view.row_top(0) - 8  # in the ruler, under the markers' lane
    drag(view, QPointF(view.x_of(beat), ruler_y), QPointF(view.x_of(3 * beat), ruler_y))  # a loop region drawn on the ruler
    assert ws.loop == (beat, 3 * beat)

    target = tmp_path / "loop.wav"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    pick_in_list("The loop region")
    choose(window, "Audio", "Export mix…")
    qtbot.waitUntil(target.exists, timeout=20000)
    samples, written_rate = soundfile.read(str(target))
    assert written_rate == rate and samples.shape[0] == 2 * beat  # the loop's length, not the piece's
    assert samples.shape[0] < whole

    everything = tmp_path / "all.wav"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(everything), ""))
    pick_in_list("The whole piece")
    choose(window, "Audio", "Export mix…")
    qtbot.waitUntil(everything.exists, timeout=20000)
    assert soundfile.info(str(everything)).frames == whole
    assert np.allclose(soundfile.read(str(everything))[0][beat : 3 * beat], samples, atol=1e-6)  # the same sound, cut


# -- track heights --------------------------------------------------------------------------


def grip_drag(grip, moves) -> None:
    """Press on a header's bottom edge and move the mouse down by each of ``moves`` pixels (the
    screen position the mouse has, while the edge follows it), then release."""
    local = QPointF(grip.width() / 2, 2)
    start = QPointF(grip.mapToGlobal(local.toPoint()))

    def send(kind, dy, button, buttons):
        QApplication.sendEvent(grip, QMouseEvent(kind, local, start + QPointF(0, dy), button, buttons, Qt.KeyboardModifier.NoModifier))

    send(QMouseEvent.Type.MouseButtonPress, 0, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
    for dy in moves:
        send(QMouseEvent.Type.MouseMove, dy, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
    send(QMouseEvent.Type.MouseButtonRelease, moves[-1], Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)


def test_a_track_is_resized_by_its_header_edge_and_the_project_keeps_it(window, qtbot, tmp_path, monkeypatch, choose):
    window.tabs.setCurrentWidget(window.audio)
    ws = window.audio
    first, second = ws.add_track(), ws.add_track()
    header = ws.headers.rows[first.id]
    default = header.height()
    grip = header.grip
    assert grip.y() + grip.height() == header.height()  # along the bottom edge
    steps = ws.undo_stack.count()
    grip_drag(grip, (20, 40, 60))
    assert ws.timeline.track(first.id).height == default + 60 and header.height() == default + 60
    assert ws.headers.rows[second.id].y() == header.y() + default + 60  # the next track moves down
    view = ws.arrangement
    assert view.row_top(1) - view.row_top(0) == default + 60 and view.row_at(view.row_top(0) + default + 30) == 0
    assert ws.undo_stack.count() == steps  # a view of the track, not an edit of the music

    ws.undo_stack.undo()  # the second track goes; the first keeps its height
    assert ws.timeline.track(first.id).height == default + 60

    grip_drag(grip, (-1000,))  # past the limits: held at them
    assert header.height() == MIN_TRACK_H
    grip_drag(grip, (100,))
    assert ws.timeline.track(first.id).height == MIN_TRACK_H + 100

    timeline = saved_and_reopened(window, qtbot, tmp_path, monkeypatch, choose)
    assert [t.height for t in timeline.tracks] == [MIN_TRACK_H + 100]
    assert window.audio.headers.rows[timeline.tracks[0].id].height() == MIN_TRACK_H + 100


def test_ctrl_wheel_over_the_headers_resizes_every_track(window, qtbot):
    window.tabs.setCurrentWidget(window.audio)
    ws = window.audio
    ws.add_track()
    ws.add_track()
    before = [ws.headers.rows[t.id].height() for t in ws.timeline.tracks]
    point = QPointF(40, ws.headers.height() - 20)  # over the headers' column
    event = QWheelEvent(point, ws.headers.mapToGlobal(point), QPoint(0, 0), QPoint(0, 240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(ws.headers, event)
    after = [ws.headers.rows[t.id].height() for t in ws.timeline.tracks]
    assert all(a > b for a, b in zip(after, before)) and after[0] == after[1], (before, after)
