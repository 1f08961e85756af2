"""The results strip driven as a painter would: a batch from the real CPPN generator lands as
thumbnails under the canvas; they are shown, compared, applied, undone and discarded through
clicks, keys and the Edit menu, on the real window (offscreen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from studio.core.engine.jobs import JobState

SEED = 500
SD_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models"  # committed, tiny


def generate(window, qtbot, count: int, width: int = 48, height: int = 32, seed: int = SEED, generator: str = "cppn", **values) -> None:
    """Ask ``generator`` for ``count`` pictures through its form and the Generate button; wait for the end."""
    panel = window.generate_panel
    assert panel.select(generator)
    panel.form.set_values(values)
    widgets = panel.form.widgets
    widgets["width"].spin.setValue(width)
    widgets["height"].spin.setValue(height)
    widgets["batch_count"].spin.setValue(count)
    widgets["seed"].random_each.setChecked(False)
    widgets["seed"].edit.clear()
    QTest.keyClicks(widgets["seed"].edit, str(seed))
    ended = []
    window.bridge.state_changed.connect(lambda job, state, message: ended.append(state) if state.done else None)
    qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(ended), timeout=60000)
    assert ended == [JobState.FINISHED]


def click_thumbnail(qtbot, strip, row: int, double: bool = False) -> None:
    thumbnails = strip.thumbnails
    centre = thumbnails.visualItemRect(thumbnails.item(row)).center()
    if double:
        qtbot.mouseDClick(thumbnails.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    else:
        qtbot.mouseClick(thumbnails.viewport(), Qt.MouseButton.LeftButton, pos=centre)


def test_a_batch_of_four_waits_in_the_strip_and_apply_is_one_undo_step(window, qtbot, choose):
    canvas, strip = window.canvas, window.canvas.results
    assert strip.isHidden()  # nothing to show yet: the canvas keeps the room
    generate(window, qtbot, 4)

    assert [item.seed for item in strip.results] == [SEED, SEED + 1, SEED + 2, SEED + 3]
    assert strip.thumbnails.count() == 4 and strip.isVisibleTo(window)
    assert canvas.document.layers == []  # a batch is staged, not piled up as layers
    assert all(max(item.thumbnail.shape[:2]) <= 96 for item in strip.results)
    steps = window.undo_stack.count()

    click_thumbnail(qtbot, strip, 1)
    second = strip.results.items[1]
    assert strip.current() is second and strip.shown() is second
    preview, rect = canvas.view._preview
    assert (rect.x, rect.y, rect.width, rect.height) == (0, 0, 48, 32)  # where it would land
    assert canvas.document.layers == [] and window.undo_stack.count() == steps  # the document is untouched

    qtbot.mousePress(strip.compare_button, Qt.MouseButton.LeftButton)
    assert canvas.view._preview is None  # before: the canvas without it
    qtbot.mouseRelease(strip.compare_button, Qt.MouseButton.LeftButton)
    assert canvas.view._preview is not None  # after: back over it

    canvas.set_tool("rect_select")  # an edit while it is shown: the overlay steps aside
    qtbot.mousePress(canvas.view, Qt.MouseButton.LeftButton, pos=canvas.view.widget_rect(rect).topLeft())
    qtbot.mouseRelease(canvas.view, Qt.MouseButton.LeftButton, pos=canvas.view.widget_rect(rect).center())
    assert canvas.document.selection is not None and canvas.view._preview is None and strip.shown() is None
    choose(window, "Edit", f"Undo {window.undo_stack.undoText()}")
    steps = window.undo_stack.index()  # the selection undone: the next step replaces it
    click_thumbnail(qtbot, strip, 1)
    assert strip.shown() is second

    qtbot.mouseClick(strip.apply_button, Qt.MouseButton.LeftButton)
    assert len(canvas.document.layers) == 1
    layer = canvas.document.layers[0]
    assert layer.params["seed"] == SEED + 1 and layer.generator == "cppn" and layer.rect.size == (48, 32)
    assert np.array_equal(layer.pixels, second.pixels)
    assert window.undo_stack.count() == steps + 1 and window.undo_stack.undoText() == f"Apply result “{second.name}”"
    assert canvas.view._preview is None  # the layer took the overlay's place
    assert strip.thumbnails.item(1).data(Qt.ItemDataRole.UserRole + 1)  # marked as on the canvas
    assert "1 on the canvas" in strip.title.text()
    entries = {entry.params["seed"]: entry for entry in window.history_panel.entries()}
    assert window.history_target_exists(entries[SEED + 1])  # History's Show finds the applied layer
    assert not window.history_target_exists(entries[SEED + 2])  # still only in the strip

    choose(window, "Edit", f"Undo Apply result “{second.name}”")  # the menu names the step
    assert canvas.document.layers == [] and window.undo_stack.count() == steps + 1  # one step took it away
    assert len(strip.results) == 4 and not strip.thumbnails.item(1).data(Qt.ItemDataRole.UserRole + 1)

    qtbot.mouseClick(strip.apply_all_button, Qt.MouseButton.LeftButton)
    assert [l.params["seed"] for l in canvas.document.layers] == [SEED, SEED + 1, SEED + 2, SEED + 3]
    assert not strip.apply_all_button.isEnabled()  # every one is on the canvas now
    choose(window, "Edit", "Undo Apply 4 results")
    assert canvas.document.layers == []  # all four in one step
    assert strip.apply_all_button.isEnabled()

    click_thumbnail(qtbot, strip, 2)
    history = (window.undo_stack.count(), window.undo_stack.index())
    qtbot.mouseClick(strip.discard_button, Qt.MouseButton.LeftButton)
    assert [item.seed for item in strip.results] == [SEED, SEED + 1, SEED + 3]
    assert strip.thumbnails.count() == 3 and canvas.document.layers == []
    assert (window.undo_stack.count(), window.undo_stack.index()) == history  # discarding tidies the strip, not the document
    assert strip.current().seed == SEED + 3 and strip.shown() is strip.current()  # the next one is chosen and shown

    choose(window, "File", "New project")
    box = next(box for box in window.findChildren(QMessageBox, "unsaved_project") if box.isVisible())
    box.button(QMessageBox.StandardButton.Discard).click()  # the generations are unsaved history
    assert len(strip.results) == 0 and strip.thumbnails.count() == 0 and strip.isHidden()
    assert canvas.view._preview is None


def test_keys_move_apply_and_discard_and_double_click_applies(window, qtbot, choose):
    canvas, strip = window.canvas, window.canvas.results
    generate(window, qtbot, 3)
    click_thumbnail(qtbot, strip, 0)
    thumbnails = strip.thumbnails
    assert thumbnails.hasFocus()

    QTest.keyClick(thumbnails, Qt.Key.Key_Right)
    assert strip.current().seed == SEED + 1 and strip.shown() is strip.current()
    QTest.keyClick(thumbnails, Qt.Key.Key_Escape)
    assert strip.shown() is None and canvas.view._preview is None  # Esc leaves the overlay
    QTest.keyClick(thumbnails, Qt.Key.Key_Return)
    assert [l.params["seed"] for l in canvas.document.layers] == [SEED + 1]
    QTest.keyClick(thumbnails, Qt.Key.Key_Right)
    QTest.keyClick(thumbnails, Qt.Key.Key_Delete)
    assert [item.seed for item in strip.results] == [SEED, SEED + 1]
    assert len(canvas.document.layers) == 1  # Delete in the strip never deleted a layer

    click_thumbnail(qtbot, strip, 0, double=True)
    assert [l.params["seed"] for l in canvas.document.layers] == [SEED + 1, SEED]
    choose(window, "Edit", f"Undo {window.undo_stack.undoText()}")
    assert [l.params["seed"] for l in canvas.document.layers] == [SEED + 1]


def test_reuse_parameters_loads_a_results_seed_into_the_form(window, qtbot):
    strip = window.canvas.results
    generate(window, qtbot, 2, width=40, height=24)
    window.generate_panel.form.widgets["width"].spin.setValue(300)
    click_thumbnail(qtbot, strip, 1)
    assert "seed: 501" in strip.thumbnails.item(1).toolTip()
    qtbot.mouseClick(strip.reuse_button, Qt.MouseButton.LeftButton)
    values = window.generate_panel.form.values()
    assert values["seed"] == SEED + 1 and values["width"] == 40 and values["batch_count"] == 1  # that picture alone


def test_a_single_result_lands_as_a_layer_and_is_listed_as_applied(window, qtbot, choose):
    canvas, strip = window.canvas, window.canvas.results
    generate(window, qtbot, 1)
    assert [l.params["seed"] for l in canvas.document.layers] == [SEED]
    assert window.undo_stack.undoText() == f"Generate “{canvas.document.layers[0].name}”"
    assert len(strip.results) == 1 and strip.thumbnails.item(0).data(Qt.ItemDataRole.UserRole + 1)
    assert canvas.view._preview is None
    choose(window, "Edit", f"Undo {window.undo_stack.undoText()}")
    assert canvas.document.layers == [] and not strip.thumbnails.item(0).data(Qt.ItemDataRole.UserRole + 1)
    click_thumbnail(qtbot, strip, 0)
    qtbot.mouseClick(strip.apply_button, Qt.MouseButton.LeftButton)  # applied again after the undo
    assert [l.params["seed"] for l in canvas.document.layers] == [SEED]


def test_a_result_painted_over_on_the_canvas_is_not_applied_again(window, qtbot):
    canvas, strip = window.canvas, window.canvas.results
    generate(window, qtbot, 1)
    layer = canvas.document.layers[0]
    canvas.set_tool("brush")
    spot = canvas.view.widget_rect(layer.rect).center()
    qtbot.mousePress(canvas.view, Qt.MouseButton.LeftButton, pos=spot)
    qtbot.mouseRelease(canvas.view, Qt.MouseButton.LeftButton, pos=spot)
    assert layer.revision > 0  # a dab of paint on the generated layer
    click_thumbnail(qtbot, strip, 0)
    assert not strip.apply_button.isEnabled() and "Painted over" in strip.thumbnails.item(0).toolTip()


def test_the_strip_folds_to_give_the_canvas_its_room(window, qtbot):
    canvas, strip = window.canvas, window.canvas.results
    generate(window, qtbot, 2)
    assert strip.expanded and strip.thumbnails.isVisibleTo(window)
    tall = canvas.view.height()
    qtbot.mouseClick(strip.toggle, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: canvas.view.height() > tall)
    assert not strip.thumbnails.isVisibleTo(window) and strip.isVisibleTo(window)  # the title and buttons stay
    qtbot.mouseClick(strip.apply_all_button, Qt.MouseButton.LeftButton)  # still works folded
    assert len(canvas.document.layers) == 2
    qtbot.mouseClick(strip.toggle, Qt.MouseButton.LeftButton)
    assert strip.thumbnails.isVisibleTo(window)


def test_a_full_strip_lets_the_oldest_go_and_says_so(window, qtbot):
    strip = window.canvas.results
    strip.results.capacity = 3  # 32 in use; three keep the test short
    generate(window, qtbot, 4)
    assert [item.seed for item in strip.results] == [SEED + 1, SEED + 2, SEED + 3] and strip.thumbnails.count() == 3
    assert [strip.thumbnails.item(row).data(Qt.ItemDataRole.UserRole).seed for row in range(3)] == [SEED + 1, SEED + 2, SEED + 3]
    generate(window, qtbot, 2, seed=900)
    assert [item.seed for item in strip.results] == [SEED + 3, 900, 901]
    bar = window.statusBar()
    # The last word (not overwritten by the line saying a result came), naming both that left.
    qtbot.waitUntil(lambda: "results strip holds 3" in bar.currentMessage() and f"· {SEED + 2}”" in bar.currentMessage())
    assert f"· {SEED + 1}”" in bar.currentMessage()


def test_a_stable_diffusion_batch_waits_in_the_strip_too(window, qtbot, choose):
    canvas, strip = window.canvas, window.canvas.results
    assert window.add_model_folder_path(str(SD_FIXTURES / "sd1"))
    generate(window, qtbot, 3, width=64, height=64, seed=7, generator="sd:sd1", prompt="a lighthouse", steps=2)
    assert [item.seed for item in strip.results] == [7, 8, 9] and canvas.document.layers == []
    assert all(item.params["prompt"] == "a lighthouse" and item.params["batch_count"] == 1 for item in strip.results)
    qtbot.mouseClick(strip.apply_all_button, Qt.MouseButton.LeftButton)
    assert [layer.params["seed"] for layer in canvas.document.layers] == [7, 8, 9]
    assert all(layer.rect.size == (64, 64) for layer in canvas.document.layers)
    choose(window, "Edit", "Undo Apply 3 results")
    assert canvas.document.layers == []


def test_applying_a_result_larger_than_the_canvas_grows_it_in_the_same_step(window, qtbot, choose):
    canvas, strip = window.canvas, window.canvas.results
    generate(window, qtbot, 1, width=40, height=30)  # the first picture gives the canvas its size
    assert (canvas.document.width, canvas.document.height) == (40, 30)
    generate(window, qtbot, 2, width=64, height=48, seed=700)
    assert (canvas.document.width, canvas.document.height) == (40, 30)  # staged: nothing changed yet
    click_thumbnail(qtbot, strip, 2)
    qtbot.mouseClick(strip.apply_button, Qt.MouseButton.LeftButton)
    assert (canvas.document.width, canvas.document.height) == (64, 48)
    assert canvas.document.layers[-1].params["seed"] == 701 and canvas.document.layers[-1].rect.size == (64, 48)
    choose(window, "Edit", "Undo Apply result “CPPN abstract art · 701”")
    assert (canvas.document.width, canvas.document.height) == (40, 30) and len(canvas.document.layers) == 1
