"""Editing a painter expects, driven as one would: cut, copy and paste through the real system
clipboard, the free transform's handles, merge down, flatten, crop to selection, blend modes
and the eye, on the real window (offscreen)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QByteArray, QMimeData, QPointF, QRect, Qt, QUrl
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication

from studio.core.image.document import Layer
from studio.core.image.geometry import Rect
from studio.core.image.selection import Selection
from studio.ui.canvas.layers_panel import LayerDelegate
from studio.ui.images import qimage_from_rgba, rgba_from_qimage

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def canvas(window, qtbot):
    """The canvas of a window large enough that fitting zooms in: widget points hit exact pixels."""
    window.activateWindow()
    qtbot.waitExposed(window)
    QApplication.processEvents()
    window.resize(1600, 1000)
    QApplication.processEvents()
    QGuiApplication.clipboard().clear()
    return window.canvas


def pattern(width, height, alpha=255):
    """Pixels that differ everywhere, so a wrong place, turn or mirror shows."""
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[..., 0] = (np.arange(width) * 255 // max(1, width - 1))[None, :]
    pixels[..., 1] = (np.arange(height) * 255 // max(1, height - 1))[:, None]
    pixels[..., 2] = 77
    pixels[..., 3] = alpha
    return pixels


def add(canvas, name, pixels, x=0, y=0, **properties):
    layer = Layer(name, pixels.copy(), x=x, y=y, **properties)
    canvas.add_layer(layer)
    return layer


def backdrop(canvas, width=96, height=64):
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[:] = (255, 255, 255, 255)
    return add(canvas, "base", pixels)


def at(view, x, y):
    return view.to_widget(QPointF(x, y)).toPoint()


def drag(qtbot, view, points, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, modifier, at(view, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(view, at(view, *point))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, modifier, at(view, *points[-1]))


def select(canvas, rect):
    canvas.apply_selection(Selection.rectangle(canvas.document.width, canvas.document.height, rect), "replace", "Select")


# -- the clipboard -----------------------------------------------------------------------------------


def test_a_picture_another_program_copied_pastes_as_a_new_layer(window, canvas, choose):
    backdrop(canvas)
    picture = pattern(20, 10, alpha=200)
    picture[0, 0] = (1, 2, 3, 0)
    QGuiApplication.clipboard().setImage(qimage_from_rgba(picture))  # as another program would
    steps = window.undo_stack.count()
    choose(window, "Edit", "Paste")
    pasted = canvas.document.layers[-1]
    assert len(canvas.document.layers) == 2 and canvas.active_layer is pasted
    assert pasted.size == (20, 10) and (pasted.pixels[..., 3] == picture[..., 3]).all()
    seen = picture[..., 3] > 0
    assert np.abs(pasted.pixels[seen].astype(int) - picture[seen]).max() <= 1  # alpha kept, colours too
    assert pasted.rect == Rect(38, 27, 20, 10)  # centred in the view, which shows the whole canvas
    assert window.undo_stack.count() == steps + 1
    window.undo_stack.undo()
    assert len(canvas.document.layers) == 1


def test_png_bytes_and_copied_image_files_paste_too(window, canvas, choose, tmp_path):
    backdrop(canvas)
    picture = pattern(12, 8)
    path = tmp_path / "copied.png"
    Image.fromarray(picture, "RGBA").save(path)
    data = QMimeData()
    data.setData("image/png", QByteArray(path.read_bytes()))  # no decoded image, as some programs offer
    QGuiApplication.clipboard().setMimeData(data)
    choose(window, "Edit", "Paste")
    assert (canvas.document.layers[-1].pixels == picture).all()
    files = QMimeData()
    files.setUrls([QUrl.fromLocalFile(str(path))])  # a file copied in a file manager
    QGuiApplication.clipboard().setMimeData(files)
    choose(window, "Edit", "Paste")
    assert len(canvas.document.layers) == 3 and (canvas.document.layers[-1].pixels == picture).all()


def test_an_empty_or_text_clipboard_says_so_and_changes_nothing(window, canvas, choose):
    backdrop(canvas)
    steps = window.undo_stack.count()
    choose(window, "Edit", "Paste")
    assert "no picture" in window.statusBar().currentMessage()
    QGuiApplication.clipboard().setText("just words")
    window.statusBar().clearMessage()
    choose(window, "Edit", "Paste")
    assert "no picture" in window.statusBar().currentMessage()
    assert len(canvas.document.layers) == 1 and window.undo_stack.count() == steps


def test_a_huge_clipboard_picture_is_refused_with_a_message(window, canvas, choose, qtbot):
    backdrop(canvas)
    QGuiApplication.clipboard().setImage(QImage(40_000, 2, QImage.Format.Format_ARGB32))
    with qtbot.waitSignal(canvas.warning) as warned:
        choose(window, "Edit", "Paste")
    assert warned.args[0] == "Cannot paste" and "40000 × 2" in warned.args[1]
    assert len(canvas.document.layers) == 1


def test_copy_then_paste_puts_the_piece_back_where_it_was(window, canvas, qtbot):
    layer = add(canvas, "art", pattern(96, 64))
    qtbot.keyClick(canvas.view, "m")
    drag(qtbot, canvas.view, [(10, 12), (30, 30), (40, 42)])  # the rectangle tool
    assert canvas.document.selection.bbox == Rect(10, 12, 30, 30)
    qtbot.keyClick(canvas.view, "c", CTRL)
    copied = rgba_from_qimage(QGuiApplication.clipboard().image())  # what other programs get
    assert (copied == layer.pixels[12:42, 10:40]).all()
    canvas.deselect()
    qtbot.keyClick(canvas.view, "v", CTRL)
    pasted = canvas.document.layers[-1]
    assert pasted is not layer and pasted.rect == Rect(10, 12, 30, 30) and (pasted.pixels == copied).all()
    assert (layer.pixels == pattern(96, 64)).all()  # copying took nothing away


def test_cut_clears_the_selection_in_one_step_and_undo_restores(window, canvas, choose):
    layer = add(canvas, "art", pattern(96, 64))
    select(canvas, Rect(50, 20, 10, 8))
    steps = window.undo_stack.count()
    choose(window, "Edit", "Cut")
    assert layer.pixels[20:28, 50:60, 3].max() == 0 and layer.pixels[:20, :, 3].min() == 255
    assert (rgba_from_qimage(QGuiApplication.clipboard().image()) == pattern(96, 64)[20:28, 50:60]).all()
    assert window.undo_stack.count() == steps + 1
    window.undo_stack.undo()
    assert (layer.pixels == pattern(96, 64)).all()


def test_copy_merged_takes_what_the_canvas_shows(window, canvas, choose):
    backdrop(canvas)
    add(canvas, "red", np.full((10, 10, 4), (255, 0, 0, 255), np.uint8), x=5, y=5, opacity=0.5)
    select(canvas, Rect(0, 0, 20, 20))
    choose(window, "Edit", "Copy merged")
    merged = rgba_from_qimage(QGuiApplication.clipboard().image())
    assert merged[0, 0].tolist() == [255, 255, 255, 255] and merged[8, 8].tolist() == [255, 128, 128, 255]


def test_ctrl_v_in_the_text_editor_still_pastes_text(window, canvas, qtbot):
    backdrop(canvas)
    QGuiApplication.clipboard().setText("pasted words")
    window.tabs.setCurrentWidget(window.text)
    editor = window.text.editor
    editor.setFocus()
    qtbot.keyClick(editor, "v", CTRL)
    assert "pasted words" in editor.toPlainText()
    assert len(canvas.document.layers) == 1  # the canvas's Paste rested


# -- the free transform ---------------------------------------------------------------------------------


def test_dragging_a_corner_handle_scales_and_enter_applies_one_step(window, canvas, qtbot):
    backdrop(canvas)
    layer = add(canvas, "art", pattern(20, 10), x=10, y=10)
    steps = window.undo_stack.count()
    qtbot.keyClick(canvas.view, "t")
    drag(qtbot, canvas.view, [(30, 20), (40, 25), (50, 30)])  # the bottom-right corner, twice as far
    assert layer.size == (20, 10) and window.undo_stack.count() == steps  # a preview until Enter
    shown = canvas.view.grab().toImage().pixelColor(at(canvas.view, 48.5, 28.5))
    assert shown.blue() < 100  # the preview shows the layer (blue 77) there, past its old box, not the white under it
    qtbot.keyClick(canvas.view, Qt.Key.Key_Return)
    assert layer.rect == Rect(10, 10, 40, 20) and window.undo_stack.count() == steps + 1
    expected = np.asarray(Image.fromarray(pattern(20, 10), "RGBA").resize((40, 20), Image.Resampling.LANCZOS))
    assert np.abs(layer.pixels.astype(int) - expected).max() <= 2  # resampled with Lanczos, alpha kept
    window.undo_stack.undo()
    assert layer.rect == Rect(10, 10, 20, 10) and (layer.pixels == pattern(20, 10)).all()


def test_rotating_outside_the_box_and_flipping_then_enter(window, canvas, qtbot):
    backdrop(canvas)
    layer = add(canvas, "art", pattern(20, 10), x=30, y=20)  # centred at (40, 25)
    qtbot.keyClick(canvas.view, "t")
    # Outside the box, from the right of the centre to below it: a quarter turn clockwise
    # (Shift snaps the angle to 15 degree steps).
    drag(qtbot, canvas.view, [(60, 25), (58, 35), (40, 45)], modifier=Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(canvas.view, "h")  # flip left-right, along the box's own axis
    qtbot.keyClick(canvas.view, Qt.Key.Key_Enter)
    expected = np.rot90(pattern(20, 10)[:, ::-1], -1)
    assert layer.rect == Rect(35, 15, 10, 20) and (layer.pixels == expected).all()  # right angles: exact
    window.undo_stack.undo()
    assert layer.rect == Rect(30, 20, 20, 10) and (layer.pixels == pattern(20, 10)).all()


def test_dragging_inside_moves_and_esc_cancels(window, canvas, qtbot, choose):
    backdrop(canvas)
    layer = add(canvas, "art", pattern(20, 10), x=10, y=10)
    steps = window.undo_stack.count()
    choose(window, "Layer", "Free transform")
    assert canvas.tool.name == "transform"
    drag(qtbot, canvas.view, [(15, 15), (25, 20), (35, 25)])
    qtbot.keyClick(canvas.view, Qt.Key.Key_Escape)
    qtbot.keyClick(canvas.view, Qt.Key.Key_Return)  # nothing left to apply
    assert layer.rect == Rect(10, 10, 20, 10) and window.undo_stack.count() == steps
    drag(qtbot, canvas.view, [(15, 15), (25, 20), (35, 25)])
    qtbot.keyClick(canvas.view, "b")  # another tool applies what was set up
    assert layer.rect == Rect(30, 20, 20, 10) and (layer.pixels == pattern(20, 10)).all()
    assert window.undo_stack.count() == steps + 1


def test_transforming_a_selection_moves_only_what_it_holds(window, canvas, qtbot):
    layer = add(canvas, "art", pattern(96, 64))
    select(canvas, Rect(10, 10, 10, 10))
    qtbot.keyClick(canvas.view, "t")
    drag(qtbot, canvas.view, [(15, 15), (30, 20), (45, 35)])  # 30 right, 20 down
    qtbot.keyClick(canvas.view, Qt.Key.Key_Return)
    assert layer.rect == Rect(0, 0, 96, 64)
    assert (layer.pixels[30:40, 40:50] == pattern(96, 64)[10:20, 10:20]).all()  # put down there
    assert layer.pixels[10:20, 10:20, 3].max() == 0  # lifted from here
    assert canvas.document.selection.bbox == Rect(40, 30, 10, 10)  # the selection followed
    window.undo_stack.undo()
    assert (layer.pixels == pattern(96, 64)).all() and canvas.document.selection.bbox == Rect(10, 10, 10, 10)


def test_layer_menu_flips_and_quarter_turns_are_one_step_each(window, canvas, choose):
    layer = add(canvas, "art", pattern(20, 10), x=10, y=10)
    steps = window.undo_stack.count()
    choose(window, "Layer", "Flip horizontal")
    assert (layer.pixels == pattern(20, 10)[:, ::-1]).all()
    choose(window, "Layer", "Flip vertical")
    assert (layer.pixels == pattern(20, 10)[::-1, ::-1]).all()
    choose(window, "Layer", "Rotate 90° clockwise")
    assert layer.rect == Rect(15, 5, 10, 20) and (layer.pixels == np.rot90(pattern(20, 10)[::-1, ::-1], -1)).all()
    assert window.undo_stack.count() == steps + 3
    for _ in range(3):
        window.undo_stack.undo()
    assert layer.rect == Rect(10, 10, 20, 10) and (layer.pixels == pattern(20, 10)).all()


# -- merging, cropping, blending, the eye -------------------------------------------------------------------


def test_merge_down_bakes_opacity_and_blend_in_one_step(window, canvas, choose):
    base = backdrop(canvas)
    base.pixels[:] = (200, 100, 50, 255)
    base.opacity = 0.6  # baked into the merged pixels, so the picture stays as it was
    add(canvas, "shade", np.full((10, 10, 4), (128, 128, 128, 255), np.uint8), x=90, y=60, blend="multiply")
    before = canvas.document.composite()
    steps = window.undo_stack.count()
    choose(window, "Layer", "Merge down")
    assert canvas.document.layers == [base] and canvas.active_layer is base
    assert base.rect == Rect(0, 0, 100, 70)  # grown to hold the part past the canvas
    assert np.abs(canvas.document.composite().astype(int) - before).max() <= 1  # looks as it did
    assert base.opacity == 1.0 and window.undo_stack.count() == steps + 1
    window.undo_stack.undo()
    assert len(canvas.document.layers) == 2 and base.rect == Rect(0, 0, 96, 64) and base.opacity == 0.6


def test_flatten_makes_one_layer_of_what_shows_and_undo_restores(window, canvas, choose):
    backdrop(canvas)
    add(canvas, "red", np.full((10, 10, 4), (255, 0, 0, 255), np.uint8), x=5, y=5, opacity=0.5, blend="screen")
    add(canvas, "hidden", np.full((10, 10, 4), (0, 0, 255, 255), np.uint8), visible=False)
    before = canvas.document.composite()
    layers = list(canvas.document.layers)
    choose(window, "Layer", "Flatten image")
    assert len(canvas.document.layers) == 1 and (canvas.document.layers[0].pixels == before).all()
    window.undo_stack.undo()
    assert canvas.document.layers == layers


def test_crop_to_selection_is_one_step(window, canvas, choose):
    layer = backdrop(canvas)
    select(canvas, Rect(20, 10, 30, 25))
    choose(window, "Image", "Crop to selection")
    assert (canvas.document.width, canvas.document.height) == (30, 25) and (layer.x, layer.y) == (-20, -10)
    window.undo_stack.undo()
    assert (canvas.document.width, canvas.document.height) == (96, 64) and (layer.x, layer.y) == (0, 0)


def test_a_blend_mode_chosen_in_the_panel_changes_the_picture_and_undoes(window, canvas, qtbot):
    base = backdrop(canvas)
    base.pixels[:] = (200, 100, 50, 255)
    top = add(canvas, "grey", np.full((64, 96, 4), (128, 128, 128, 255), np.uint8))
    combo = canvas.panel.blend_combo
    assert combo.currentText() == "Normal"
    steps = window.undo_stack.count()
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)  # Normal -> Multiply, as the keyboard chooses
    assert top.blend == "multiply" and window.undo_stack.count() == steps + 1
    assert canvas.document.sample(5, 5) == (100, 50, 25, 255)
    spot = at(canvas.view, 5.5, 5.5)
    shown = canvas.view.grab().toImage().pixelColor(spot)
    assert abs(shown.red() - 100) <= 2 and abs(shown.green() - 50) <= 2  # the view blends as the document
    part = canvas.view.grab(QRect(spot.x() - 10, spot.y() - 10, 20, 20)).toImage()  # a partial repaint
    assert part.pixelColor(10, 10) == shown
    window.undo_stack.undo()
    assert top.blend == "normal" and combo.currentText() == "Normal"
    assert canvas.document.sample(5, 5) == (128, 128, 128, 255)


def test_the_eye_is_no_undo_step_but_marks_the_project_changed(window, canvas, qtbot):
    bottom = backdrop(canvas)
    add(canvas, "top", pattern(10, 10))
    window.project._mark_saved()
    steps = window.undo_stack.count()
    panel = canvas.panel
    row = panel.list.visualItemRect(panel.item(bottom))
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=LayerDelegate.eye_rect(row).center())
    assert not bottom.visible and window.undo_stack.count() == steps
    assert window.project.modified


def test_a_locked_layer_may_be_copied_but_not_cut_or_merged_onto(window, canvas, choose):
    below = add(canvas, "kept", pattern(96, 64), locked=True)
    choose(window, "Edit", "Copy")
    assert (rgba_from_qimage(QGuiApplication.clipboard().image()) == pattern(96, 64)).all()
    steps = window.undo_stack.count()
    choose(window, "Edit", "Cut")
    assert "locked" in window.statusBar().currentMessage() and (below.pixels == pattern(96, 64)).all()
    add(canvas, "above", pattern(10, 10))
    choose(window, "Layer", "Merge down")
    assert "“kept”, is locked" in window.statusBar().currentMessage() and len(canvas.document.layers) == 2
    assert window.undo_stack.count() == steps + 1  # only the layer added
