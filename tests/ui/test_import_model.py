"""Importing a model through the window, as a person does: File ▸ Import model…, Choose file… and
a path typed into Qt's file dialog, Import, the Jobs panel, the Models window; then the imported
Stable Diffusion model generates with a LoRA added in the form, and the picture is diffusers' own
(tests/fixtures/convert/build_ui_import.py made it from the same checkpoint, LoRA and seed).

The conversion runs for real, in the converter's child process (torch never enters this one)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from studio.core.base import paths
from studio.core.engine.jobs import JobState

from qt_file_dialog import pick_in_file_dialog  # Qt's file dialog, typed into

CONVERT = Path(__file__).resolve().parents[1] / "fixtures" / "convert"
CHECKPOINT = CONVERT / "sd" / "sd1.safetensors"
UI = CONVERT / "ui"
MANIFEST = json.loads((UI / "manifest.json").read_text())
GOLDENS = np.load(UI / "goldens.npz")
HALF_LEVEL = 0.5 / 255  # the window's picture is 8-bit, rounded as diffusers rounds its own


def open_import_dialog(window, choose, *menu):
    choose(window, *(menu or ("File", "Import model…")))
    dialog = window.menus.models.import_dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def type_path(dialog, qtbot, path: Path) -> None:
    """The path typed into the dialog's own box, then Enter: what was recognised shows."""
    dialog.path_box.clear()
    qtbot.keyClicks(dialog.path_box, str(path))
    qtbot.keyClick(dialog.path_box, Qt.Key.Key_Return)


def model_jobs(window) -> list:
    return [row.job for row in window.jobs_panel.rows.values() if row.job.generator.kind == "model"]


def choose_in_combo(combo, qtbot, text: str) -> None:
    """Open the combo box's list and click the entry ``text``, as a person does."""
    index = combo.findText(text)
    assert index >= 0, f"{text} is not offered: {[combo.itemText(i) for i in range(combo.count())]}"
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=2000)
    rect = view.visualRect(view.model().index(index, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=2000)
    assert combo.currentIndex() == index


def retype(qtbot, widget, text: str) -> None:
    """Select what a box holds and type ``text`` over it."""
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClicks(widget, text)


def drag_and_drop(target, path: Path) -> bool:
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    where = target.rect().center()
    enter = QDragEnterEvent(where, Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    drop = QDropEvent(where.toPointF(), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, drop)
    return enter.isAccepted()


def test_import_a_checkpoint_from_the_file_menu_then_generate_with_a_lora_as_diffusers_does(window, qtbot, choose, tmp_path):
    # The golden pair itself says the LoRA matters: without it diffusers paints another picture.
    assert np.abs(GOLDENS["lora"] - GOLDENS["base"]).max() > 0.1

    dialog = open_import_dialog(window, choose)
    assert not dialog.import_button.isEnabled(), "nothing to import before a file is chosen"
    qtbot.mouseClick(dialog.file_button, Qt.MouseButton.LeftButton)
    pick_in_file_dialog(qtbot, CHECKPOINT)
    assert dialog.path_box.text() == str(CHECKPOINT)
    assert dialog.details.isVisible() and not dialog.why_not.isVisible()
    assert "Stable Diffusion 1" in dialog.headline.text()
    assert dialog.architecture.text() == "SD 1.x"
    assert dialog.facts["weights"].text() and dialog.facts["disk"].text() and dialog.facts["memory"].text()
    assert set(dialog.variant_buttons) == {"", "fp16"} and dialog.variant_buttons[""].isChecked()
    assert dialog.name_box.text() == "sd1"
    retype(qtbot, dialog.name_box, "Ink lighthouse")

    before = set(window.generate_panel.generators)
    progress = []
    window.bridge.progress.connect(lambda job, event: progress.append(event.message) if job.generator.kind == "model" else None)
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    [job] = model_jobs(window)
    row = window.jobs_panel.row(job)
    assert row.title.text() == "Import sd1.safetensors" and not row.cancel_button.isHidden()
    assert "Importing Ink lighthouse" in dialog.status.text()
    assert not dialog.import_button.isEnabled(), "one import of it at a time"
    dialog.close()  # the import goes on without the dialog
    qtbot.waitUntil(lambda: job.state.done, timeout=240000)
    assert job.state is JobState.FINISHED, job.message
    assert any("UNet" in message or "unet" in message for message in progress), progress
    qtbot.waitUntil(lambda: "Installed" in window.statusBar().currentMessage(), timeout=5000)
    qtbot.waitUntil(lambda: row.status.text().startswith("Installed"), timeout=5000)
    assert "Imported Ink lighthouse" in dialog.status.text()

    # The Models window lists it, imported, from the checkpoint; the Generate panel offers it.
    choose(window, "Models", "Models…")
    models = window.menus.models.library_window
    record = next(r for r in models.records if r.name == "Ink lighthouse")
    assert record.origin == "imported" and not record.error and record.kind == "image"
    assert Path(record.folder).parent.resolve() == paths.models().resolve()
    [new_id] = set(window.generate_panel.generators) - before
    assert new_id == record.generator_id
    models.close()
    # Imported again under the same name, it would go beside the first, never over it: said first.
    dialog = open_import_dialog(window, choose)
    assert dialog.name_note.isVisible() and "Ink lighthouse-2" in dialog.name_note.text()
    retype(qtbot, dialog.name_box, "Ink lighthouse 2")
    assert not dialog.name_note.isVisible()
    dialog.close()

    # Generate with it: the golden's settings typed into the form, a LoRA added at 0.8.
    panel = window.generate_panel
    choose_in_combo(panel.combo, qtbot, panel.combo.itemText(panel.combo.findData(new_id)))
    form = panel.form
    qtbot.keyClicks(form.widgets["prompt"], MANIFEST["prompt"])
    qtbot.keyClicks(form.widgets["negative_prompt"], MANIFEST["negative_prompt"])
    retype(qtbot, form.widgets["steps"].spin, str(MANIFEST["steps"]))
    retype(qtbot, form.widgets["guidance"].spin, str(MANIFEST["guidance"]))
    retype(qtbot, form.widgets["width"].spin, str(MANIFEST["width"]))
    retype(qtbot, form.widgets["height"].spin, str(MANIFEST["height"]))
    choose_in_combo(form.widgets["scheduler"], qtbot, MANIFEST["scheduler"])
    seed = form.widgets["seed"]
    if seed.random_each.isChecked():
        qtbot.mouseClick(seed.random_each, Qt.MouseButton.LeftButton)
    retype(qtbot, seed.edit, str(MANIFEST["seed"]))
    loras = form.widgets["loras"]
    lora = UI / MANIFEST["lora"]
    qtbot.mouseClick(loras.add_button, Qt.MouseButton.LeftButton)
    pick_in_file_dialog(qtbot, lora)
    [lora_row] = loras.rows
    qtbot.waitUntil(lambda: form.focusWidget() is lora_row.weight, timeout=3000)
    qtbot.keyClicks(lora_row.weight, str(MANIFEST["weight"]))  # its text is selected: typed over
    assert form.values()["loras"] == ((str(lora), MANIFEST["weight"]),)

    with qtbot.waitSignal(window.bridge.result, timeout=120000, check_params_cb=lambda j, r: j.generator.id == new_id) as got:
        qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
    image_job, result = got.args
    qtbot.waitUntil(lambda: image_job.state.done, timeout=30000)
    assert image_job.state is JobState.FINISHED, image_job.message
    assert [tuple(entry) for entry in result.params["loras"]] == [(str(lora), MANIFEST["weight"])], "recorded with the picture"
    typed = {key: result.params[key] for key in ("prompt", "negative_prompt", "steps", "guidance", "width", "height", "scheduler", "seed")}
    assert typed == {key: MANIFEST[key] for key in typed}, "the form gave what was typed into it"
    ours = result.value[..., :3].astype(np.float32) / 255
    assert ours.shape == GOLDENS["lora"].shape
    worst = float(np.abs(ours - GOLDENS["lora"]).max())
    assert worst <= HALF_LEVEL + 1e-3, f"the picture is {worst:.4f} from diffusers' (8-bit rounding allows {HALF_LEVEL:.4f})"
    layer = window.canvas.document.layers[-1]
    assert layer.generator == new_id and np.array_equal(layer.pixels[..., :3], result.value[..., :3])

    # Removed from the form, the LoRA comes back with its weight when the picture is reused.
    qtbot.mouseClick(lora_row.remove, Qt.MouseButton.LeftButton)
    assert form.values()["loras"] == ()
    history = window.history_panel
    view = history.view
    qtbot.waitUntil(lambda: view.model().rowCount() > 0, timeout=5000)
    newest = view.visualRect(view.model().index(0, 0))  # the newest generation is on top
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=newest.center())
    assert history.reuse_button.isEnabled()
    qtbot.mouseClick(history.reuse_button, Qt.MouseButton.LeftButton)
    assert window.generate_panel.form is form and form.values()["loras"] == ((str(lora), MANIFEST["weight"]),)
    assert [row.name.text() for row in loras.rows] == [lora.stem]

    # A LoRA made for another base (SDXL's, on this SD 1.x model) fails the job in plain words.
    qtbot.mouseClick(loras.rows[0].remove, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(loras.add_button, Qt.MouseButton.LeftButton)
    pick_in_file_dialog(qtbot, CONVERT / "lora" / "sdxl.safetensors")
    layers = len(window.canvas.document.layers)
    qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
    wrong = max((row.job for row in window.jobs_panel.rows.values() if row.job.generator.id == new_id), key=lambda j: j.id)
    qtbot.waitUntil(lambda: wrong.state.done, timeout=60000)
    assert wrong.state is JobState.FAILED and "sdxl.safetensors" in wrong.message and "Traceback" not in wrong.message
    qtbot.waitUntil(lambda: window.jobs_panel.row(wrong).status.text().startswith("Failed"), timeout=5000)
    assert len(window.canvas.document.layers) == layers, "nothing lands on the canvas"


@pytest.fixture
def truncated(tmp_path) -> Path:
    cut = tmp_path / "cut short.safetensors"
    cut.write_bytes(CHECKPOINT.read_bytes()[: CHECKPOINT.stat().st_size // 2])
    return cut


def test_what_cannot_be_imported_is_said_in_plain_words(window, qtbot, choose, tmp_path, truncated):
    dialog = open_import_dialog(window, choose, "Models", "Import model…")
    pickled = tmp_path / "model.ckpt"
    pickled.write_bytes(b"PK\x03\x04 not opened")
    cases = {
        pickled: "safetensors",  # refused unread: a pickle can run code
        truncated: "cut short",
        UI / MANIFEST["lora"]: "LoRA",  # a LoRA is not a checkpoint: the form takes it
        tmp_path / "nowhere.safetensors": "does not exist",
    }
    for path, words in cases.items():
        type_path(dialog, qtbot, path)
        assert dialog.why_not.isVisible() and words in dialog.why_not.text(), (path.name, dialog.why_not.text())
        assert "Traceback" not in dialog.why_not.text()
        assert not dialog.details.isVisible() and not dialog.import_button.isEnabled()
    # A good path after them: recognised, Import offered; editing the path takes it back.
    type_path(dialog, qtbot, CHECKPOINT)
    assert dialog.import_button.isEnabled() and not dialog.why_not.isVisible()
    qtbot.keyClick(dialog.path_box, Qt.Key.Key_Backspace)
    assert not dialog.import_button.isEnabled(), "what was recognised was another path"
    assert model_jobs(window) == []


def test_a_checkpoint_dropped_on_the_models_window_opens_the_import_dialog(window, qtbot, tmp_path):
    qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    models = window.menus.models.library_window
    assert models.import_button.isVisible()
    assert drag_and_drop(models, CHECKPOINT)
    dialog = window.menus.models.import_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.path_box.text() == str(CHECKPOINT) and "Stable Diffusion 1" in dialog.headline.text()
    dialog.close()
    # A folder of safetensors weights in no layout the plugins read is imported too, not added.
    folder = tmp_path / "musicgen-small"
    shutil.copytree(CONVERT / "musicgen" / "source", folder)
    before = set(window.host.generators)
    assert drag_and_drop(models, folder)
    assert dialog.isVisible() and dialog.path_box.text() == str(folder)
    assert "MusicGen" in dialog.headline.text() or "MusicGen" in dialog.kind.text()
    assert set(window.host.generators) == before, "nothing was added as a model folder"
    # The Models window's own button opens the same dialog.
    dialog.close()
    qtbot.mouseClick(models.import_button, Qt.MouseButton.LeftButton)
    assert window.menus.models.import_dialog is dialog and dialog.isVisible()


def test_without_the_convert_extra_the_dialog_gives_the_command(window, qtbot, choose, monkeypatch):
    # A Python where diffusers cannot be imported (what `None` in sys.modules means to import).
    monkeypatch.setitem(sys.modules, "diffusers", None)
    dialog = open_import_dialog(window, choose)
    assert dialog.extra_note.isVisible()
    note = dialog.extra_note.text()
    assert "diffusers" in note and "pip install" in note and sys.executable in note and "[convert]" in note
    type_path(dialog, qtbot, CHECKPOINT)
    assert dialog.details.isVisible(), "what the file is can still be told"
    assert not dialog.import_button.isEnabled(), "but it cannot be converted here"


def test_cancel_in_the_jobs_panel_stops_the_conversion_and_installs_nothing(window, qtbot, choose):
    dialog = open_import_dialog(window, choose)
    type_path(dialog, qtbot, CHECKPOINT)
    progress = []
    window.bridge.progress.connect(lambda job, event: progress.append(event.message) if job.generator.kind == "model" else None)
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    [job] = model_jobs(window)
    row = window.jobs_panel.row(job)
    # Once the converter's child reports a step of its own (torch loaded, exporting): Cancel.
    qtbot.waitUntil(lambda: any("Exporting" in message for message in progress), timeout=120000)
    assert not job.state.done, "the conversion was still running"
    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: job.state.done, timeout=15000)
    assert job.state is JobState.CANCELLED, job.message
    qtbot.waitUntil(lambda: "cancelled" in dialog.status.text(), timeout=5000)
    assert dialog.import_button.isEnabled(), "it can be started again"
    models = paths.models()
    assert not (models / "sd1").exists()
    assert not any((models / ".partial-import").glob("*")) if (models / ".partial-import").exists() else True


def test_a_language_model_folder_imported_with_its_int4_copy_chosen_in_the_dialog(window, qtbot, choose):
    source = CONVERT / "lm" / "qwen2"
    dialog = open_import_dialog(window, choose, "Models", "Import model…")
    qtbot.mouseClick(dialog.folder_button, Qt.MouseButton.LeftButton)
    pick_in_file_dialog(qtbot, source)
    assert dialog.headline.text() == "A Qwen2 language model" and dialog.kind.text() == "Language model (transformers)"
    assert set(dialog.variant_buttons) == {"", "int4", "int8"}
    disk_fp32 = dialog.facts["disk"].text()
    qtbot.mouseClick(dialog.variant_buttons["int4"], Qt.MouseButton.LeftButton)
    assert dialog.chosen_variant() == "int4" and dialog.facts["disk"].text() != disk_fp32, "the copy's disk is counted"
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    [job] = model_jobs(window)
    row = window.jobs_panel.row(job)
    assert row.detail.text().endswith("fp32 + int4 · as qwen2")
    qtbot.waitUntil(lambda: job.state.done, timeout=180000)
    assert job.state is JobState.FINISHED, job.message
    qtbot.waitUntil(lambda: "Imported qwen2" in dialog.status.text(), timeout=5000)
    choose(window, "Models", "Models…")
    record = next(r for r in window.menus.models.library_window.records if r.name == "qwen2")
    assert record.origin == "imported" and record.kind == "text" and {"fp32", "q4"} <= set(record.variants)
    assert record.generator_id in window.generate_panel.generators
