"""Projects in the window: save and reopen all three workspaces, ask before losing work,
autosave, and recovery after a real crash (a window process killed with SIGKILL)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import soundfile
from PySide6.QtWidgets import QFileDialog, QMessageBox

from studio.core.engine.jobs import JobState
from studio.core.project.format import backup_path
from studio.core.project.load import load_project
from studio.host import Host
from studio.ui.app import create_window


def shown(window, name):
    """The message box ``name`` on screen now (a closed one may linger until Qt deletes it)."""
    boxes = [box for box in window.findChildren(QMessageBox, name) if box.isVisible()]
    return boxes[-1] if boxes else None


def written(window, qtbot):
    """Wait for the save under way (it runs on a worker thread) and its report."""
    qtbot.waitUntil(lambda: not window.project.saving, timeout=20000)
    qtbot.wait(50)  # the report is queued to the GUI thread


def run_job(window, qtbot, generator_id, values):
    job = window.generate(generator_id, values)
    assert job is not None
    qtbot.waitUntil(lambda: job.state.done, timeout=60000)
    assert job.state is JobState.FINISHED, job.message
    qtbot.waitUntil(lambda: any(e.generator == generator_id and e.params.get("seed") == values.get("seed") for e in window.history_panel.entries()), timeout=5000)
    return job


def edit_all_three(window, qtbot, tmp_path):
    """A canvas with a generated and a painted layer, a text partly generated, a timeline
    with an imported sound and a generated chorale on a track turned down."""
    run_job(window, qtbot, "cppn", {"width": 64, "height": 48, "seed": 7})
    canvas = window.canvas
    painted = canvas.new_layer()
    canvas.set_colour((200, 30, 60))
    canvas.select_all()
    canvas.fill_selection()
    canvas.deselect()
    canvas.rename_layer(painted, "Red wash · été")
    canvas.set_opacity(painted, 1.0, 0.5)

    editor = window.text.editor
    editor.insertPlainText("To be, or not to be:\r\nthat is the question — ça va?\n")
    window.tabs.setCurrentWidget(window.text)
    job = window.generate_text("shakespeare", {"max_new_tokens": 8, "seed": 3}, "continue")
    qtbot.waitUntil(lambda: job.state.done, timeout=60000)
    assert job.state is JobState.FINISHED

    wav = tmp_path / "hum.wav"
    t = np.arange(24000, dtype=np.float32) / 48000
    soundfile.write(wav, np.stack([np.sin(2 * np.pi * 220 * t), np.cos(2 * np.pi * 330 * t)], 1) * 0.25, 48000, subtype="FLOAT")
    audio = window.audio
    imported = audio.import_file(wav)
    assert imported is not None
    run_job(window, qtbot, "chorale", {"bars": 1, "seed": 5, "instrument": "strings"})
    track = audio.timeline.tracks[0]
    audio.update_track(track.id, "Gain", gain_db=-4.5, pan=0.25)


def test_all_three_workspaces_are_saved_and_reopened(window, qtbot, tmp_path, monkeypatch, choose):
    edit_all_three(window, qtbot, tmp_path)
    assert window.isWindowModified() and window.windowTitle() == "Untitled[*] — Studio"
    canvas_before = [(l.name, l.pixels.copy(), l.opacity, l.x, l.y, l.generator, dict(l.params)) for l in window.canvas.document.layers]
    text_before = window.text.editor.toPlainText()
    spans_before = [(s.start, s.end) for s in window.text.spans.spans]
    timeline_before = window.audio.timeline
    history_before = [(e.kind, e.generator, e.params) for e in window.history_panel.entries()]
    assert len(history_before) == 3 and spans_before

    path = tmp_path / "songs" / "My piece"
    path.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Save project")  # Save on an untitled project asks where: "Save as"
    written(window, qtbot)
    saved = path.with_name("My piece.studio")
    assert saved.is_file() and window.project.path == saved.resolve()
    assert not window.isWindowModified() and window.windowTitle() == "My piece[*] — Studio"

    choose(window, "File", "New project")  # saved: no question
    assert window.canvas.document.layers == [] and window.text.editor.toPlainText() == "" and not window.audio.timeline.tracks
    assert window.history_panel.entries() == [] and window.project.path is None

    assert window.project.open_file(saved)
    layers = window.canvas.document.layers
    assert [(l.name, l.opacity, l.x, l.y, l.generator) for l in layers] == [(n, o, x, y, g) for n, _, o, x, y, g, _ in canvas_before]
    for layer, before in zip(layers, canvas_before):
        assert np.array_equal(layer.pixels, before[1])
        assert layer.params == before[6]
    assert window.text.editor.toPlainText() == text_before
    assert [(s.start, s.end) for s in window.text.spans.spans] == spans_before
    timeline = window.audio.timeline
    assert (timeline.tempo, timeline.beats_per_bar) == (timeline_before.tempo, timeline_before.beats_per_bar)
    assert [(t.name, t.gain_db, t.pan) for t in timeline.tracks] == [(t.name, t.gain_db, t.pan) for t in timeline_before.tracks]
    for clip, old in zip(timeline.clips, timeline_before.clips):
        assert (clip.name, clip.start, clip.length, clip.generator) == (old.name, old.start, old.length, old.generator)
        assert np.array_equal(clip.audio.samples, old.audio.samples)
    chorale = next(c for c in timeline.clips if c.generator == "chorale")
    assert chorale.info["score"] and hasattr(chorale.info["score"][0], "pitch")  # still exports as MIDI
    assert [(e.kind, e.generator, e.params) for e in window.history_panel.entries()] == history_before
    # Each entry still points at what it made: a layer, the generated text, a clip.
    entries = window.history_panel.entries()
    assert all(window.history_target_exists(e) for e in entries)
    text_entry = next(e for e in entries if e.kind == "text")
    assert window.show_history_target(text_entry) and window.text.editor.textCursor().hasSelection()
    assert not window.isWindowModified() and window.windowTitle() == "My piece[*] — Studio"

    # A second save keeps the first as the backup.
    window.canvas.delete_layer(layers[0])
    assert window.isWindowModified()
    choose(window, "File", "Save project")
    written(window, qtbot)
    assert backup_path(saved).is_file() and len(load_project(backup_path(saved)).project.image.layers) == 2
    assert len(load_project(saved).project.image.layers) == 1


def test_the_title_and_the_unsaved_question(window, qtbot, tmp_path, choose):
    assert window.windowTitle() == "Untitled[*] — Studio" and not window.isWindowModified()
    window.canvas.new_layer()
    assert window.isWindowModified()
    window.undo_stack.undo()
    assert not window.isWindowModified()  # back to where it was saved
    window.text.editor.insertPlainText("draft")
    assert window.isWindowModified()

    assert not window.close()  # asks, without blocking
    box = shown(window, "unsaved_project")
    assert box is not None and box.isVisible() and "Untitled" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert window.isVisible() and window.text.editor.toPlainText() == "draft"

    choose(window, "File", "New project")
    box = shown(window, "unsaved_project")
    assert box is not None and "new project" in box.text()
    box.button(QMessageBox.StandardButton.Discard).click()
    assert window.text.editor.toPlainText() == "" and not window.isWindowModified()


def test_a_failed_save_says_so_and_keeps_the_work(window, qtbot, tmp_path):
    window.text.editor.insertPlainText("precious")
    assert window.project.save_to(tmp_path / "no such folder" / "p.studio")
    written(window, qtbot)
    box = shown(window, "warning")
    assert box is not None and "still open here, unsaved" in box.text()
    assert window.isWindowModified() and window.project.path is None
    assert window.text.editor.toPlainText() == "precious"


def test_a_damaged_project_opens_with_what_can_be_read(window, qtbot, tmp_path, monkeypatch, choose):
    import zipfile

    window.text.editor.insertPlainText("the words survive")
    window.canvas.new_layer()
    good = tmp_path / "good.studio"
    assert window.project.save_to(good)
    written(window, qtbot)
    damaged = tmp_path / "damaged.studio"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith(".png"):
                data = b"not a png at all"
            target.writestr(item, data)
    choose(window, "File", "New project")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(damaged), ""))
    choose(window, "File", "Open project…")
    assert window.text.editor.toPlainText() == "the words survive"
    assert window.project.path is None and window.windowTitle() == "damaged (recovered)[*] — Studio"
    box = shown(window, "warning")
    assert box is not None and "Not opened" in box.text()
    assert damaged.read_bytes() != b"" and window.isWindowModified()

    (tmp_path / "junk.studio").write_bytes(b"\x00" * 100)
    assert not window.project.open_file(tmp_path / "junk.studio")
    assert window.text.editor.toPlainText() == "the words survive"  # nothing lost


def test_history_follows_undo_and_regenerates_the_same_picture(window, qtbot):
    run_job(window, qtbot, "cppn", {"width": 40, "height": 30, "seed": 11})
    (entry,) = window.history_panel.entries()
    assert entry.kind == "image" and entry.params["seed"] == 11 and entry.model == "" and entry.seconds > 0
    first = window.canvas.document.layers[0].pixels.copy()
    assert window.history_target_exists(entry)
    window.undo_stack.undo()
    assert not window.history_target_exists(entry) and not window.show_history_target(entry)
    window.undo_stack.redo()
    assert window.show_history_target(entry) and window.canvas.active_layer.id == entry.target

    job = window.regenerate_history(entry)
    qtbot.waitUntil(lambda: job.state.done and len(window.history_panel.entries()) == 2, timeout=30000)
    assert np.array_equal(window.canvas.document.layers[-1].pixels, first)  # the same seed, the same picture
    assert window.reuse_history(entry) and window.generate_panel.current().id == "cppn"
    assert window.generate_panel.form.values()["seed"] == 11


CRASHING_SESSION = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    from PySide6.QtWidgets import QApplication
    from studio.ui.app import create_window
    from studio.core.audio.timeline import Clip

    window = create_window()
    window.show()
    window.canvas.new_layer()
    window.canvas.set_colour((10, 200, 90))
    window.canvas.select_all()
    window.canvas.fill_selection()
    window.text.editor.insertPlainText("Unsaved lines that must not be lost.")
    tone = (0.2 * np.sin(np.arange(4800) / 8)).astype(np.float32)
    window.audio.add_clip(Clip.from_samples("hum", tone, 48000), text="Add")
    assert window.project.autosave(wait=True)
    QApplication.processEvents()
    print("AUTOSAVED", window.project.recovery.path, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # a crash: no close, no cleanup
    """
)


def test_after_a_crash_the_next_start_offers_the_autosave_and_recovers_it(qtbot, tmp_path, studio_home):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STUDIO_HOME=str(studio_home))
    done = subprocess.run([sys.executable, "-c", CRASHING_SESSION], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == -9, done.stderr
    assert "AUTOSAVED" in done.stdout

    window = create_window(host=Host())
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: shown(window, "recovery") is not None, timeout=5000)
        box = shown(window, "recovery")
        assert "did not close properly" in box.text() and "Untitled" in box.text()
        recover = next(b for b in box.buttons() if b.text() == "Recover")
        recover.click()
        qtbot.waitUntil(lambda: window.text.editor.toPlainText() == "Unsaved lines that must not be lost.", timeout=5000)
        (layer,) = window.canvas.document.layers
        assert tuple(layer.pixels[0, 0]) == (10, 200, 90, 255)
        (clip,) = window.audio.timeline.clips
        assert clip.name == "hum" and clip.audio.frames == 4800
        assert window.isWindowModified()  # recovered work is unsaved until saved
        # The dead session's autosave is gone; ours replaced it, and a third start offers nothing.
        files = sorted(p.name for p in (studio_home / "recovery").iterdir())
        assert files == sorted([window.project.recovery.path.name, window.project.recovery.path.with_suffix(".json").name])
        assert window.project.recovery.orphans() == []
    finally:
        window._closing = True
        window.close()
        window.probe_thread.join(20)
    assert not (studio_home / "recovery" / window.project.recovery.path.name).exists()  # a clean exit clears it


def test_autosave_runs_on_its_timer_only_when_something_changed(window, qtbot):
    window.host.settings.autosave_minutes = 0.002  # 120 ms: the real timer, made quick
    window.project.apply_settings()
    autosave = window.project.recovery.path
    qtbot.wait(400)
    assert not autosave.exists()  # nothing unsaved: nothing written
    window.text.editor.insertPlainText("first thoughts")
    qtbot.waitUntil(autosave.exists, timeout=5000)
    qtbot.waitUntil(lambda: load_project(autosave).project.text == "first thoughts", timeout=5000)
    written = autosave.stat().st_mtime_ns
    qtbot.wait(400)
    assert autosave.stat().st_mtime_ns == written  # no change since: not written again
    window.text.editor.insertPlainText(", second")
    qtbot.waitUntil(lambda: load_project(autosave).project.text == "first thoughts, second", timeout=5000)
    window.host.settings.autosave_minutes = 0
    window.project.apply_settings()
    assert not window.project.timer.isActive()


def test_saving_clears_the_autosave_and_recent_projects_are_listed(window, qtbot, tmp_path):
    window.text.editor.insertPlainText("kept")
    assert window.project.autosave(wait=True) and window.project.recovery.path.exists()
    first, second = tmp_path / "first.studio", tmp_path / "second.studio"
    assert window.project.save_to(first)
    written(window, qtbot)
    assert not window.project.recovery.path.exists()  # the saved file is the newest copy now
    assert window.project.save_to(second)
    written(window, qtbot)
    menu = window.recent_menu
    window.project.fill_recent_menu(menu)
    assert [a.text() for a in menu.actions()[:2]] == ["second.studio", "first.studio"]
    first.unlink()
    window.project._open_recent(str(first))
    assert "no longer there" in shown(window, "warning").text()
    assert str(first.resolve()) not in window.project.recent()


def test_save_from_the_close_question_writes_then_closes(window, qtbot, tmp_path):
    path = tmp_path / "letter.studio"
    window.text.editor.insertPlainText("Dear")
    assert window.project.save_to(path)
    window.text.editor.insertPlainText(" friend")  # typed while it is written: unsaved again
    written(window, qtbot)
    assert window.isWindowModified() and load_project(path).project.text == "Dear"
    assert not window.close()
    shown(window, "unsaved_project").button(QMessageBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20000)
    assert load_project(path).project.text == "Dear friend"
