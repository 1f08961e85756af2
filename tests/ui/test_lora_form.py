"""The generator form's LoRA list, driven as a person does: Add LoRA… opens a file dialog, a path is
typed into it, the weight is set with the keyboard, a row is removed with its button (reached
with Tab), and the value the form gives is one the ``loras`` parameter takes."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from studio.core.engine.generators import Param
from studio.ui.panels.param_form import ParamForm

from qt_file_dialog import open_file_dialog, pick_in_file_dialog  # Qt's file dialog, typed into

LORAS = Param("loras", "loras", (), label="LoRAs", help="LoRA files applied to the model, each with its weight.")
PARAMS = (Param("prompt", "text", "", multiline=True), LORAS, Param("steps", "int", 4, min=1, max=50))


def write_lora(path: Path) -> Path:
    """A small but real safetensors file (one rank-1 pair): the form reads only its name."""
    header = {"lora_unet_mid_block_attentions_0_proj_in.lora_down.weight": {"dtype": "F32", "shape": [1, 4], "data_offsets": [0, 16]},
              "lora_unet_mid_block_attentions_0_proj_in.lora_up.weight": {"dtype": "F32", "shape": [4, 1], "data_offsets": [16, 32]}}
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(32))
    return path


def add_lora(form, qtbot, path: Path) -> None:
    lora_list = form.widgets["loras"]
    qtbot.mouseClick(lora_list.add_button, Qt.MouseButton.LeftButton)
    pick_in_file_dialog(qtbot, path)


@pytest.fixture
def form(qtbot):
    form = ParamForm(PARAMS)
    qtbot.addWidget(form)
    form.resize(360, 400)
    form.show()
    return form


def test_two_loras_added_weighted_by_keyboard_and_one_removed(form, qtbot, tmp_path):
    style = write_lora(tmp_path / "ink style.safetensors")
    detail = write_lora(tmp_path / "more detail.safetensors")
    lora_list = form.widgets["loras"]
    assert form.values()["loras"] == () and lora_list.empty.isVisible(), "none by default"

    add_lora(form, qtbot, style)
    [row] = lora_list.rows
    assert row.name.text() == "ink style" and row.weight.value() == 1.0
    # The new row's weight is where the keyboard goes next (the form's focus widget: the offscreen
    # platform does not make the form the active window again when the file dialog closes).
    qtbot.waitUntil(lambda: form.focusWidget() is row.weight, timeout=3000)
    qtbot.keyClicks(row.weight, "0.75")  # its text was selected: typing replaces it
    assert form.values()["loras"] == ((str(style), 0.75),)

    add_lora(form, qtbot, detail)
    second = lora_list.rows[1]
    qtbot.keyClick(second.weight, Qt.Key.Key_Down)  # one step down from 1
    assert second.weight.value() == pytest.approx(0.95)
    values = form.values()["loras"]
    assert values == ((str(style), 0.75), (str(detail), 0.95))
    assert LORAS.coerce(values) == values, "what the form gives is what the parameter takes"

    # The same file again is not a second row (the parameter refuses a file given twice).
    add_lora(form, qtbot, style)
    assert len(lora_list.rows) == 2

    # Tab from the first weight reaches its remove button; Space removes the row, and the
    # keyboard's focus moves on to the row that took its place.
    row.weight.setFocus()
    qtbot.keyClick(row.weight, Qt.Key.Key_Tab)
    assert form.focusWidget() is row.remove
    qtbot.keyClick(row.remove, Qt.Key.Key_Space)
    assert form.values()["loras"] == ((str(detail), 0.95),)
    assert form.focusWidget() is second.weight
    qtbot.mouseClick(second.remove, Qt.MouseButton.LeftButton)
    assert form.values()["loras"] == () and lora_list.empty.isVisible()


def test_weights_stop_at_four_either_way(form, qtbot, tmp_path):
    add_lora(form, qtbot, write_lora(tmp_path / "strong.safetensors"))
    [row] = form.widgets["loras"].rows
    row.weight.selectAll()
    qtbot.keyClicks(row.weight, "9")  # refused: the box keeps 1
    assert form.values()["loras"][0][1] == 1.0
    for _ in range(10):  # half a unit a page
        qtbot.keyClick(row.weight, Qt.Key.Key_PageUp)
    assert form.values()["loras"][0][1] == 4.0
    for _ in range(100):
        qtbot.keyClick(row.weight, Qt.Key.Key_PageDown)
    assert form.values()["loras"][0][1] == -4.0


def test_add_lora_is_reached_and_pressed_with_the_keyboard(form, qtbot, tmp_path):
    lora = write_lora(tmp_path / "keyboard.safetensors")
    lora_list = form.widgets["loras"]
    form.widgets["prompt"].setFocus()
    for _ in range(4):  # from the prompt, Tab walks to the button
        if form.focusWidget() is lora_list.add_button:
            break
        qtbot.keyClick(form.focusWidget(), Qt.Key.Key_Tab)
    assert form.focusWidget() is lora_list.add_button
    qtbot.keyClick(lora_list.add_button, Qt.Key.Key_Space)
    pick_in_file_dialog(qtbot, lora)
    assert form.values()["loras"] == ((str(lora), 1.0),)


def test_a_cancelled_file_dialog_adds_nothing(form, qtbot, tmp_path):
    qtbot.mouseClick(form.widgets["loras"].add_button, Qt.MouseButton.LeftButton)
    dialog = open_file_dialog(qtbot)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=3000)
    assert form.values()["loras"] == ()
