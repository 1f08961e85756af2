"""A MusicGen piece longer than the model's window, in the window: typed into the Generate panel,
it grows on the timeline while it works and lands as one clip; stopped, it keeps what was made.
The real MusicGen plugin on the tiny fixture model (a window of 10.18 s)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox

from studio.core.engine.jobs import JobState

from conftest import menu_action

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "musicgen" / "model"
RATE = 48_000


def ask_for(window, qtbot, seconds: int, prompt: str = "a slow jazz ballad") -> None:
    """Choose the test model and type the prompt, the duration and a seed as a user does."""
    assert window.add_model_folder_path(str(MODEL))
    assert window.generate_panel.select("musicgen:model")
    form = window.generate_panel.form
    window.continue_clip_action.setChecked(False)
    box = form.widgets["prompt"]
    box.setFocus()
    qtbot.keyClicks(box, prompt)
    duration = form.widgets["duration"]
    spin = duration if isinstance(duration, QDoubleSpinBox) else duration.findChild(QDoubleSpinBox)
    spin.selectAll()
    qtbot.keyClicks(spin, str(seconds))
    qtbot.keyClick(spin, Qt.Key.Key_Tab)
    form.set_values({"guidance_scale": 1.0, "seed": 7})


def test_a_45_second_piece_grows_while_it_works_and_lands_as_one_clip(open_window, qtbot):
    window = open_window()
    ask_for(window, qtbot, 45)
    seen: list[float] = []  # the growing take's length each time a segment streams in
    window.bridge.preview.connect(lambda *_: seen.append(sum(t.made for t in window.audio.growing.takes.values())))
    with qtbot.waitSignal(window.bridge.result, timeout=120000) as blocker:
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    result = blocker.args[1]
    assert result.params["duration"] == 45
    clips = window.audio.timeline.clips
    assert len(clips) == 1 and clips[0].length == 45 * RATE  # one clip, the whole piece
    assert clips[0].generator == "musicgen:model"
    assert len(seen) == 7 and seen == sorted(seen) and 0 < seen[0] < 45, seen  # it grew window by window
    assert not window.audio.growing.takes  # the finished take replaced the one that grew


def test_a_stopped_piece_keeps_what_was_made_and_undo_removes_it(open_window, qtbot):
    window = open_window()
    ask_for(window, qtbot, 300)
    qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    (row,) = window.jobs_panel.rows.values()
    growing = window.audio.growing.takes
    qtbot.waitUntil(lambda: bool(growing) and next(iter(growing.values())).made > 5, timeout=60000)
    job = row.job
    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)  # the Jobs panel's Cancel
    qtbot.waitUntil(lambda: job.state is JobState.CANCELLED and bool(window.audio.timeline.clips), timeout=60000)
    (clip,) = window.audio.timeline.clips
    assert "(stopped at 0:" in clip.name
    assert 5 * RATE < clip.length < 300 * RATE
    assert clip.params["duration"] == 300 and clip.info["stopped_at_s"] > 5
    assert "keeps what was made" in window.statusBar().currentMessage()
    assert not window.audio.growing.takes
    (entry,) = window.history_panel.model.entries()  # History lists the stopped take, linked to its clip
    assert entry.target == clip.id and "(stopped at 0:" in entry.title and entry.params["seed"] == 7
    menu_action(window, "Edit", f"Undo Generate “{clip.name}”").trigger()
    assert not window.audio.timeline.clips
