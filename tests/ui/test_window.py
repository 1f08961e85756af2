"""The window driven as a person would: real Host, real plugins, real onnxruntime, offscreen Qt."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

import studio
from studio.core.engine.jobs import JobState
from studio.core.project.outputs import read_parameters
from studio.core.base.paths import builtin_models
from studio.host import Host
from studio.plugins import PluginInfo
from studio.ui.window.dialogs import PluginsDialog, SettingsDialog
from conftest import TEST_PLUGIN


class Tone(studio.Generator):
    """A real audio generator (numpy sine), registered as a plugin would be."""

    id = "test-tone"
    title = "Test tone"
    kind = "audio"
    params = (studio.Param("seed", "seed"), studio.Param("seconds", "float", 0.5, min=0.1, max=5.0))

    def generate(self, request, ctx):
        rate = 8000
        t = np.arange(int(request["seconds"] * rate), dtype=np.float32) / rate
        yield studio.Progress(1, 1)
        yield studio.Result("audio", 0.3 * np.sin(2 * np.pi * 440 * t), self.id, dict(request.params), sample_rate=rate)


class Words(studio.Generator):
    """A real text generator that streams its words as chunks, the way an LM does."""

    id = "test-words"
    title = "Test words"
    kind = "text"
    params = (studio.Param("prompt", "text", "Once"), studio.Param("seed", "seed"))

    def generate(self, request, ctx):
        words = [" upon", " a", " time"]
        for i, word in enumerate(words):
            yield studio.Progress(i + 1, len(words))
            yield studio.Preview("text", word)
        yield studio.Result("text", "".join(words), self.id, dict(request.params))


@pytest.fixture
def window(open_window):
    return open_window(Tone(), Words())


def record(win):
    """Every bridge signal as (name, detail), in the order the GUI thread received them."""
    seen = []
    win.bridge.state_changed.connect(lambda job, state, msg: seen.append(("state", state)))
    win.bridge.progress.connect(lambda job, p: seen.append(("progress", p.step)))
    win.bridge.preview.connect(lambda job, p: seen.append(("preview", p.kind)))
    win.bridge.result.connect(lambda job, r: seen.append(("result", r.kind)))
    return seen


def set_param(win, name, value):
    widget = win.generate_panel.form.widgets[name]
    if hasattr(widget, "spin"):
        widget.spin.setValue(value)
    else:
        widget.setCurrentText(value)


def test_generate_cppn_adds_a_canvas_layer(window, qtbot):
    panel = window.generate_panel
    assert panel.select("cppn")
    assert panel.current().id == "cppn"
    set_param(window, "width", 96)
    set_param(window, "height", 64)
    seen = record(window)

    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ("state", JobState.FINISHED) in seen, timeout=5000)

    names = [name for name, _ in seen]
    assert names.index("progress") < names.index("result") < len(names) - 1
    assert seen[0] == ("state", JobState.QUEUED) and ("state", JobState.RUNNING) in seen
    assert seen[-1] == ("state", JobState.FINISHED)
    layers = window.canvas.document.layers
    assert len(layers) == 1
    assert layers[0].pixels.shape == (64, 96, 4)
    assert layers[0].params["width"] == 96 and isinstance(layers[0].params["seed"], int)
    assert window.canvas.layers.count() == 1
    assert window.tabs.currentWidget() is window.canvas
    row = next(iter(window.jobs_panel.rows.values()))
    assert row.status.text().startswith("Done")


def test_cancel_a_running_job_ends_it_promptly(window, qtbot):
    window.generate_panel.select("cppn")
    set_param(window, "width", 4096)
    set_param(window, "height", 4096)
    progressed = []
    window.bridge.progress.connect(lambda job, p: progressed.append(p))
    qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    row = next(iter(window.jobs_panel.rows.values()))
    qtbot.waitUntil(lambda: any(p.total > 0 for p in progressed), timeout=20000)

    with qtbot.waitSignal(window.bridge.state_changed, timeout=2000, check_params_cb=lambda job, state, msg: state is JobState.CANCELLED):
        qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    assert row.job.state is JobState.CANCELLED
    assert row.job.ended - row.job.started < 60
    assert window.canvas.document.layers == []
    assert row.status.text() == "Cancelled"


def test_a_generation_is_one_undo_step(window, qtbot):
    window.generate_panel.select("cppn")
    set_param(window, "width", 32)
    set_param(window, "height", 32)
    for _ in range(2):
        with qtbot.waitSignal(window.bridge.result, timeout=20000):
            qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    assert len(window.canvas.document.layers) == 2
    window.undo_stack.undo()
    assert len(window.canvas.document.layers) == 1
    window.undo_stack.undo()
    assert window.canvas.document.layers == [] and window.canvas.layers.count() == 0
    window.undo_stack.redo()
    assert len(window.canvas.document.layers) == 1


def test_reusing_a_layer_restores_its_parameters(window, qtbot):
    window.generate_panel.select("cppn")
    set_param(window, "width", 40)
    set_param(window, "height", 24)
    set_param(window, "colour_mode", "hsv")
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    layer = window.canvas.document.layers[0]
    set_param(window, "width", 500)
    set_param(window, "colour_mode", "colour")
    window.reuse_layer(layer)
    values = window.generate_panel.form.values()
    assert values["width"] == 40 and values["colour_mode"] == "hsv" and values["seed"] == layer.params["seed"]


def test_text_streams_into_the_editor_and_undoes_in_one_step(window, qtbot):
    editor = window.text.editor
    editor.setPlainText("Once")
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    window.generate_panel.select("test-words")
    assert window.tabs.currentWidget() is window.text
    with qtbot.waitSignal(window.bridge.result, timeout=10000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    assert editor.toPlainText() == "Once upon a time"
    editor.undo()
    assert editor.toPlainText() == "Once"


def test_audio_result_becomes_a_clip(window, qtbot):
    window.generate_panel.select("test-tone")
    with qtbot.waitSignal(window.bridge.result, timeout=10000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    clips = window.audio.timeline.clips
    # resampled from the generator's 8 kHz to the project rate, on a track of its own (there was none)
    assert len(clips) == 1 and clips[0].sample_rate == 48000 and clips[0].seconds == pytest.approx(0.5)
    assert clips[0].generator == "test-tone" and clips[0].start == window.audio.playhead == 0
    assert [t.name for t in window.audio.timeline.tracks] == ["Test tone"]
    assert window.audio.selected_clip() is clips[0]
    window.undo_stack.undo()  # the clip and the track it brought: one step
    assert window.audio.timeline.clips == [] and window.audio.timeline.tracks == ()


def test_export_carries_the_parameters(window, qtbot, tmp_path, monkeypatch, choose):
    window.generate_panel.select("cppn")
    set_param(window, "width", 48)
    set_param(window, "height", 48)
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    written = tmp_path / "out.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(written), ""))
    choose(window, "File", "Export image…")
    assert written.exists()
    params = read_parameters(written)
    assert params["generator"] == "cppn"
    assert params["params"]["seed"] == window.canvas.document.layers[0].params["seed"]


def test_export_to_an_unwritable_place_warns_without_blocking(window, qtbot, tmp_path, monkeypatch, choose):
    window.generate_panel.select("cppn")
    set_param(window, "width", 16)
    set_param(window, "height", 16)
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "missing" / "out.png"), ""))
    choose(window, "File", "Export image…")
    assert not (tmp_path / "missing").exists()
    box = window.findChild(QMessageBox, "warning")
    assert box is not None and box.isVisible()
    assert "missing" in box.text() and "Traceback" not in box.text()
    assert window.canvas.document.layers  # nothing lost


def test_a_failing_generator_is_named_and_the_window_keeps_working(window, qtbot):
    class Broken(studio.Generator):
        id, title, kind = "test-broken", "Broken", "image"

        def generate(self, request, ctx):
            raise RuntimeError("boom")
            yield  # pragma: no cover

    class BrokenPlugin:
        @studio.hookimpl
        def register_generators(self, register):
            register(Broken())

    window.host.plugins.add_plugin(BrokenPlugin(), PluginInfo("broken-at-run", __name__))
    window.generate_panel.set_generators(window.host.generators)
    window.generate_panel.select("test-broken")
    with qtbot.waitSignal(window.bridge.state_changed, timeout=10000, check_params_cb=lambda j, s, m: s is JobState.FAILED):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    row = next(iter(window.jobs_panel.rows.values()))
    assert "internal error in test-broken" in row.status.text() and "boom" in row.status.text()
    window.generate_panel.select("cppn")
    set_param(window, "width", 16)
    set_param(window, "height", 16)
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    assert len(window.canvas.document.layers) == 1


def test_out_of_range_values_are_refused_with_a_message(window, qtbot):
    assert window.generate("cppn", {"width": 99999}) is None
    assert "width" in window.statusBar().currentMessage()
    assert window.generate("no-such-generator", {}) is None
    assert "unknown generator" in window.statusBar().currentMessage()


def test_plugins_window_lists_plugins(window, qtbot):
    dialog = PluginsDialog(window.host, window)
    qtbot.addWidget(dialog)
    cells = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}
    assert cells["cppn"] == "loaded" and cells[TEST_PLUGIN] == "loaded"


def test_settings_add_model_folder_and_device_persist(window, qtbot, tmp_path):
    folder = tmp_path / "sunset"
    shutil.copytree(builtin_models() / "cppn", folder)
    nonsense = tmp_path / "nonsense"
    nonsense.mkdir()
    (nonsense / "readme.txt").write_text("not a model")

    dialog = SettingsDialog(window.host, None, window)
    qtbot.addWidget(dialog)
    assert not dialog.add_folder(str(nonsense))
    assert "no installed plugin understands" in dialog.folder_error.text()
    assert dialog.add_folder(str(folder))
    assert dialog.folders.count() == 1 and "cppn:sunset" in dialog.folders.item(0).text()
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.accept()

    again = Host()  # a new start reads the same QSettings file
    assert again.settings.device == "cpu"
    assert "cppn:sunset" in again.generators
    again.shutdown()


def test_model_folder_added_from_the_window_generates(window, qtbot, tmp_path, monkeypatch, choose):
    folder = tmp_path / "ocean"
    shutil.copytree(builtin_models() / "cppn", folder)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    choose(window, "File", "Add model folder…")
    assert window.generate_panel.current_id() == "cppn:ocean"
    set_param(window, "width", 16)
    set_param(window, "height", 16)
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    assert window.canvas.document.layers[0].generator == "cppn:ocean"


def test_a_damaged_model_folder_is_not_added_and_the_warning_names_the_file(window, tmp_path, monkeypatch, choose):
    folder = tmp_path / "damaged"
    shutil.copytree(builtin_models() / "cppn", folder)
    (folder / "model.onnx").write_bytes(b"\x00garbage" * 100)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    choose(window, "File", "Add model folder…")
    box = next(b for b in window.findChildren(QMessageBox, "warning") if b.isVisible())
    assert str(folder / "model.onnx") in box.text() and "damaged" in box.text()
    box.close()
    assert "cppn:damaged" not in window.host.generators and window.host.settings.model_folders == []


def test_corrupt_model_fails_with_a_plain_message(window, qtbot, tmp_path):
    folder = tmp_path / "damaged"
    shutil.copytree(builtin_models() / "cppn", folder)
    assert window.add_model_folder_path(str(folder))
    (folder / "model.onnx").write_bytes(b"\x00garbage" * 100)  # damaged after it was added
    with qtbot.waitSignal(window.bridge.state_changed, timeout=10000, check_params_cb=lambda j, s, m: s is JobState.FAILED):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    row = next(iter(window.jobs_panel.rows.values()))
    assert "could not be loaded" in row.status.text() and "Traceback" not in row.status.text()


def test_status_bar_tells_the_truth_about_the_device(window, qtbot):
    qtbot.waitUntil(lambda: window.report is not None, timeout=20000)
    report = window.report
    text = window.device_label.text()
    assert report.best.got[0] in ("CPUExecutionProvider",) or "GPU not used" not in text
    if report.best.device.is_cpu and report.gpu_reason:
        assert "GPU not used" in text and report.gpu_reason in window.device_label.toolTip()


def test_seed_field_keeps_seeds_above_two_to_the_31(window):
    window.generate_panel.select("cppn")
    form = window.generate_panel.form
    form.set_values({"seed": 4_000_000_000})
    assert form.values()["seed"] == 4_000_000_000
    form.widgets["seed"].random_each.setChecked(True)
    assert form.values()["seed"] is None


def test_a_long_sd_prompt_is_generated_and_the_cut_is_shown(window, qtbot):
    folder = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models" / "sd1"
    assert window.add_model_folder_path(str(folder))
    prompt = " ".join(["a quiet harbour with fishing boats at dawn"] * 12)
    job = window.generate("sd:sd1", {"prompt": prompt, "width": 64, "height": 64, "steps": 2, "seed": 3})
    assert job is not None
    row = window.jobs_panel.row(job)
    qtbot.waitUntil(lambda: job.state.done and not row.cancel_button.isVisible(), timeout=60000)  # the GUI saw the end
    assert job.state is JobState.FINISHED, job.message
    assert "left out" in row.status.text()
    assert "left out" in window.statusBar().currentMessage()


def test_musicgen_continues_the_selected_clip_after_it_on_its_track(window, qtbot):
    """The real MusicGen plugin (tiny fixture with an EnCodec encoder) fed the selected clip."""
    folder = Path(__file__).resolve().parents[1] / "fixtures" / "musicgen" / "model"
    assert window.add_model_folder_path(str(folder))
    window.generate_panel.select("test-tone")
    with qtbot.waitSignal(window.bridge.result, timeout=10000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    tone = window.audio.selected_clip()
    with qtbot.waitSignal(window.bridge.result, timeout=60000) as blocker:
        job = window.generate("musicgen:model", {"prompt": "a chorale", "duration": 0.3, "seed": 1})
    assert job is not None and blocker.args[1].params["audio_prompt"] is not None
    clips = window.audio.timeline.clips
    assert len(clips) == 2
    made = next(c for c in clips if c.id != tone.id)
    assert made.start == tone.end and window.audio.timeline.track_of(made.id).id == window.audio.timeline.track_of(tone.id).id
    assert made.generator == "musicgen:model" and made.sample_rate == 48000

    # With continuation off the same generator starts from silence, at the playhead.
    window.continue_clip_action.setChecked(False)
    with qtbot.waitSignal(window.bridge.result, timeout=60000) as blocker:
        window.generate("musicgen:model", {"prompt": "a chorale", "duration": 0.3, "seed": 1})
    assert blocker.args[1].params["audio_prompt"] is None
    assert len(window.audio.timeline.clips) == 3


def test_first_launch_audio_tab_generates_a_chorale_that_sits_on_the_grid(window, qtbot, tmp_path):
    """The built-in sketcher from the Audio tab: four bars at its tempo, which the empty piece
    takes on, so the clip ends exactly on bar 5; one undo removes clip, track and tempo."""
    window.tabs.setCurrentWidget(window.audio)
    assert window.generate_panel.current_id() == "chorale"  # the Audio tab offers an audio generator
    set_param(window, "bars", 4)
    set_param(window, "tempo", 90)
    with qtbot.waitSignal(window.bridge.result, timeout=30000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    timeline = window.audio.timeline
    (clip,) = timeline.clips
    assert timeline.tempo == 90.0
    assert clip.end == round(4 * 4 * timeline.frames_per_beat)
    assert np.abs(clip.samples).max() > 0.05  # heard, not silence
    assert window.audio.export_midi(tmp_path / "sketch.mid") is not None
    window.undo_stack.undo()
    assert window.audio.timeline.clips == [] and window.audio.timeline.tempo == 120.0


def test_the_app_starts_and_sketches_music_without_portaudio(tmp_path):
    """No PortAudio library: the window opens, the chorale lands on the timeline, and the
    timeline says why playback is off instead of failing."""
    script = textwrap.dedent(
        """
        import sys, time
        sys.modules["sounddevice"] = None  # as if libportaudio2 were not installed
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from studio.ui.app import create_window
        window = create_window()
        window.show()
        job = window.generate("chorale", {"bars": 1, "seed": 2})
        deadline = time.monotonic() + 60
        while not window.audio.timeline.clips and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        print("CLIPS", len(window.audio.timeline.clips))
        print("PLAYED", window.audio.play())
        print("LABEL", window.audio.transport_bar.status_text())
        window.close()
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STUDIO_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert lines["CLIPS"] == "1" and lines["PLAYED"] == "False"
    assert lines["LABEL"].endswith("playback is off") and "PortAudio" in lines["LABEL"]
    assert "Traceback" not in done.stderr


def test_generating_again_at_the_same_place_puts_the_take_on_a_track_below(window, qtbot):
    window.tabs.setCurrentWidget(window.audio)
    set_param(window, "bars", 1)
    for _ in range(2):
        with qtbot.waitSignal(window.bridge.result, timeout=30000):
            qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    timeline = window.audio.timeline
    assert [len(t.clips) for t in timeline.tracks] == [1, 1]  # not hidden under the first take
    first, second = (t.clips[0] for t in timeline.tracks)
    assert first.start == second.start == 0 and first.params["seed"] != second.params["seed"]
    window.undo_stack.undo()  # the take and the track it needed: one step
    assert [len(t.clips) for t in window.audio.timeline.tracks] == [1]
