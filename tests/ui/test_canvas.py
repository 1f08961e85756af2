"""The canvas driven as an artist would: mouse and keys on the real window, offscreen.

Real Host, real plugins (the built-in CPPN and a small test generator that records what the
canvas hands it), real undo stack. Pixels are checked in the document and on screen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QColor, QDropEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QToolButton

import studio
from studio.core.engine.generators import Result
from studio.core.image.geometry import Rect
from studio.core.image.document import Layer
from studio.core.project.outputs import read_parameters, write_result
from studio.core.image.selection import Selection
from studio.host import Host
from studio.plugins import PluginInfo
from studio.ui.app import create_window
from studio.ui.canvas.layers_panel import LayerDelegate

WHITE = (255, 255, 255, 255)
RED = QColor(230, 20, 20)


class Inpaint(studio.Generator):
    """Takes an optional image and mask, as an inpainting pipeline does; records what it got."""

    id = "test-inpaint"
    title = "Test inpaint"
    kind = "image"
    params = (
        studio.Param("prompt", "text", "a test"),
        studio.Param("init_image", "image", optional=True),
        studio.Param("mask", "mask", optional=True),
        studio.Param("seed", "seed"),
    )
    received: list = []

    def generate(self, request, ctx):
        Inpaint.received.append(dict(request.params))
        image = request["init_image"]
        height, width = image.shape[:2] if image is not None else (24, 40)
        out = np.zeros((height, width, 4), np.uint8)
        out[:] = (0, 200, 0, 255)
        yield studio.Progress(1, 2)
        yield studio.Preview("image", out[::2, ::2].copy())
        yield studio.Progress(2, 2)
        yield studio.Result("image", out, self.id, dict(request.params))


class TestPlugin:
    @studio.hookimpl
    def register_generators(self, register):
        register(Inpaint())


@pytest.fixture
def window(qtbot):
    Inpaint.received = []
    host = Host()
    host.plugins.add_plugin(TestPlugin(), PluginInfo("test-canvas-plugin", __name__))
    win = create_window(host=host)
    qtbot.addWidget(win)
    win.show()
    win.activateWindow()
    qtbot.waitExposed(win)
    QApplication.processEvents()  # the shown window fits itself to the screen (offscreen: 800 x 800)...
    # ...then gets room for a large view: the drags below aim at canvas pixels through whole
    # widget points, which is exact only where "fit" zooms in.
    win.resize(1600, 1000)
    yield win
    win.probe_thread.join(20)
    host.shutdown()


def base(window, width=96, height=64, colour=WHITE, name="base"):
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[:] = colour
    layer = Layer(name, pixels)
    window.canvas.add_layer(layer)
    return layer


def at(view, x, y):
    """The widget point showing canvas point (``x``, ``y``)."""
    return view.to_widget(QPointF(x, y)).toPoint()


def drag(qtbot, view, points, button=Qt.MouseButton.LeftButton, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mousePress(view, button, modifier, at(view, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(view, at(view, *point))
    qtbot.mouseRelease(view, button, modifier, at(view, *points[-1]))


def shown(view, x, y) -> QColor:
    """The colour the view shows at canvas point (``x``, ``y``)."""
    return view.grab().toImage().pixelColor(at(view, x, y))


def key(qtbot, window, text):
    qtbot.keyClick(window.canvas.view, text)


# -- painting -----------------------------------------------------------------------------------


def test_a_brush_stroke_paints_where_dragged_and_nowhere_else(window, qtbot):
    canvas, view = window.canvas, window.canvas.view
    bottom = base(window)
    layer = canvas.new_layer()
    key(qtbot, window, "b")
    assert canvas.tool.name == "brush"
    canvas.set_colour(RED)
    canvas.options.size_field.set_value(6)
    canvas.options.hardness_field.set_value(100)
    thumbnail = canvas.panel.thumbnail(layer).cacheKey()
    image_key = view.layer_image(layer).cacheKey()
    assert shown(view, 30, 20) == QColor("white")
    steps = window.undo_stack.count()

    drag(qtbot, view, [(10, 20), (30, 20), (50, 20), (60, 40)])

    alpha = layer.pixels[..., 3]
    # On the path (the corner at 50, 20 is rounded off: strokes are smoothed curves).
    for x, y in ((10, 20), (20, 20), (30, 20), (40, 20), (56, 32), (60, 40)):
        assert alpha[y, x] == 255 and tuple(layer.pixels[y, x, :3]) == (230, 20, 20)
    assert alpha[:12].sum() == 0 and alpha[48:].sum() == 0 and alpha[:, 70:].sum() == 0 and alpha[35, 20] == 0
    assert (bottom.pixels == 255).all()
    assert window.undo_stack.count() == steps + 1 and window.undo_stack.undoText() == "Brush stroke"
    # The view and the layers panel show the new pixels: their caches were dropped.
    assert shown(view, 30, 20).red() > 200 and shown(view, 30, 20).green() < 60
    assert view.layer_image(layer).cacheKey() != image_key
    assert canvas.panel.thumbnail(layer).cacheKey() != thumbnail

    painted = layer.pixels.copy()
    window.undo_stack.undo()
    assert layer.pixels.sum() == 0 and shown(view, 30, 20) == QColor("white")
    window.undo_stack.redo()
    assert (layer.pixels == painted).all()


def test_on_an_empty_canvas_a_stroke_makes_its_layer_in_the_same_undo_step(window, qtbot):
    canvas = window.canvas
    canvas.set_tool("brush")
    drag(qtbot, canvas.view, [(100, 100), (200, 120)])
    assert len(canvas.document.layers) == 1 and canvas.document.layers[0].pixels[..., 3].any()
    window.undo_stack.undo()
    assert canvas.document.layers == []


def test_the_eraser_clears_to_transparency(window, qtbot):
    canvas = window.canvas
    layer = base(window)
    key(qtbot, window, "e")
    canvas.options.size_field.set_value(8)
    drag(qtbot, canvas.view, [(10, 30), (80, 30)])
    assert layer.pixels[30, 20:70, 3].max() == 0
    assert (layer.pixels[:20, :, 3] == 255).all() and (layer.pixels[..., :3] == 255).all()
    window.undo_stack.undo()
    assert (layer.pixels == 255).all()


def test_the_colour_picker_takes_the_visible_colour(window, qtbot):
    canvas = window.canvas
    base(window, colour=(10, 120, 240, 255))
    key(qtbot, window, "i")
    assert canvas.tool.name == "picker"
    qtbot.mouseClick(canvas.view, Qt.MouseButton.LeftButton, pos=at(canvas.view, 40.5, 30.5))
    assert canvas.colour() == QColor(10, 120, 240)
    assert canvas.brush().colour == (10, 120, 240, 255)


def test_the_mask_brush_paints_a_red_overlay_with_its_own_undo_steps(window, qtbot):
    canvas, view = window.canvas, window.canvas.view
    layer = base(window)
    key(qtbot, window, "k")
    canvas.options.size_field.set_value(10)
    drag(qtbot, view, [(10, 30), (80, 30)])
    mask = canvas.document.mask
    assert mask[30, 15:75].min() == 255 and mask[:20].sum() == 0
    assert (layer.pixels == 255).all()  # the picture is untouched
    colour = shown(view, 40, 30)
    assert colour.red() > 200 and colour.green() < 180  # white under translucent red
    assert window.undo_stack.undoText() == "Paint mask"
    drag(qtbot, view, [(40, 10), (40, 50)], button=Qt.MouseButton.RightButton)  # the right button erases
    assert mask[30, 40] == 0 and mask[30, 20] == 255
    window.undo_stack.undo()
    assert mask[30, 40] == 255
    window.undo_stack.undo()
    assert not canvas.document.has_mask() and shown(view, 40, 30) == QColor("white")


def test_flood_fill_fills_the_clicked_area_up_to_a_wall(window, qtbot):
    canvas = window.canvas
    layer = base(window)
    layer.pixels[:, 48] = (0, 0, 0, 255)
    key(qtbot, window, "g")
    canvas.set_colour(QColor(0, 0, 255))
    qtbot.mouseClick(canvas.view, Qt.MouseButton.LeftButton, pos=at(canvas.view, 10.5, 10.5))
    assert (layer.pixels[:, :48, :3] == (0, 0, 255)).all()
    assert (layer.pixels[:, 49:] == 255).all() and (layer.pixels[:, 48, :3] == 0).all()
    window.undo_stack.undo()
    assert (layer.pixels[:, :48] == 255).all()


def test_shift_click_with_fill_fills_the_selection_only(window, qtbot):
    canvas = window.canvas
    layer = base(window)
    canvas.apply_selection(Selection.rectangle(96, 64, Rect(60, 10, 20, 10)), "replace", "Select")
    canvas.set_tool("fill")
    canvas.set_colour(QColor(0, 0, 0))
    qtbot.mouseClick(canvas.view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, at(canvas.view, 5.5, 5.5))
    painted = (layer.pixels[..., :3] == 0).all(axis=2)
    assert painted[10:20, 60:80].all() and painted.sum() == 200


def test_a_locked_or_hidden_layer_refuses_paint_with_a_message(window, qtbot):
    canvas = window.canvas
    layer = base(window)
    canvas.set_locked(layer, True)
    canvas.set_tool("brush")
    drag(qtbot, canvas.view, [(10, 10), (50, 10)])
    assert (layer.pixels == 255).all() and "locked" in window.statusBar().currentMessage()
    canvas.set_locked(layer, False)
    canvas.set_visible(layer, False)
    drag(qtbot, canvas.view, [(10, 10), (50, 10)])
    assert (layer.pixels == 255).all() and "hidden" in window.statusBar().currentMessage()


# -- selections ---------------------------------------------------------------------------------


def test_rectangle_selection_adds_with_shift_and_undoes(window, qtbot):
    canvas, view = window.canvas, window.canvas.view
    base(window)
    key(qtbot, window, "m")
    drag(qtbot, view, [(10, 10), (25, 18), (40, 30)])
    assert canvas.document.selection.bbox == Rect(10, 10, 30, 20)
    assert len(view._outline) == 4 and view._ants_timer.isActive()  # marching ants
    drag(qtbot, view, [(50, 40), (60, 50)], modifier=Qt.KeyboardModifier.ShiftModifier)
    selection = canvas.document.selection
    assert selection.bbox == Rect(10, 10, 50, 40) and int(selection.mask.sum()) == 600 + 100
    window.undo_stack.undo()
    assert canvas.document.selection.bbox == Rect(10, 10, 30, 20)
    window.undo_stack.undo()
    assert canvas.document.selection is None and view._outline == []
    window.undo_stack.redo()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=at(view, 70, 5))  # a click deselects
    assert canvas.document.selection is None and window.undo_stack.undoText() == "Deselect"


def test_lasso_selection_follows_the_drawn_outline(window, qtbot):
    canvas = window.canvas
    base(window)
    key(qtbot, window, "l")
    drag(qtbot, canvas.view, [(10, 10), (70, 10), (40, 35), (10, 55), (10, 12)])
    selection = canvas.document.selection
    box = selection.bbox
    assert abs(box.x - 10) <= 1 and abs(box.y - 10) <= 1 and abs(box.right - 70) <= 1 and abs(box.bottom - 55) <= 1
    assert selection.contains(20, 20) and not selection.contains(60, 40) and not selection.is_rectangle()
    window.undo_stack.undo()
    assert canvas.document.selection is None


def test_a_brush_stroke_stays_inside_the_selection(window, qtbot):
    canvas = window.canvas
    layer = base(window, colour=(0, 0, 0, 0))
    canvas.apply_selection(Selection.rectangle(96, 64, Rect(0, 0, 40, 64)), "replace", "Select")
    canvas.set_tool("brush")
    drag(qtbot, canvas.view, [(5, 30), (90, 30)])
    assert layer.pixels[30, 5:40, 3].min() > 0 and layer.pixels[:, 40:, 3].sum() == 0


def test_select_all_invert_and_mask_from_selection(window, qtbot):
    canvas = window.canvas
    base(window)
    canvas.apply_selection(Selection.rectangle(96, 64, Rect(0, 0, 48, 64)), "replace", "Select")
    canvas.invert_selection()
    assert canvas.document.selection.bbox == Rect(48, 0, 48, 64)
    canvas.mask_from_selection()
    assert canvas.document.mask[:, 48:].min() == 255 and canvas.document.mask[:, :48].max() == 0
    canvas.select_all()
    assert canvas.document.selection.bbox == Rect(0, 0, 96, 64)
    canvas.clear_mask()
    assert not canvas.document.has_mask()
    for _ in range(4):
        window.undo_stack.undo()
    assert canvas.document.selection.bbox == Rect(0, 0, 48, 64) and not canvas.document.has_mask()


# -- moving, zooming, sizes -----------------------------------------------------------------------


def test_the_move_tool_drags_the_layer_by_whole_pixels(window, qtbot):
    canvas = window.canvas
    base(window)
    top = Layer("spot", np.full((8, 8, 4), 90, np.uint8))
    canvas.add_layer(top)
    key(qtbot, window, "v")
    drag(qtbot, canvas.view, [(4, 4), (10, 8), (19, 14)])
    assert (top.x, top.y) == (15, 10)
    assert tuple(canvas.document.sample(16, 11)[:3]) != (255, 255, 255) and canvas.document.sample(2, 2)[:3] == (255, 255, 255)
    window.undo_stack.undo()
    assert (top.x, top.y) == (0, 0)


def test_the_wheel_zooms_around_the_pointer_and_fit_and_100_percent(window, qtbot):
    view = window.canvas.view
    base(window, 300, 200)
    anchor = at(view, 100, 50)
    before_zoom = view.zoom
    under = view.to_canvas(QPointF(anchor))
    event = QWheelEvent(QPointF(anchor), view.mapToGlobal(QPointF(anchor)), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, event)
    assert view.zoom == pytest.approx(before_zoom * 1.2)
    after = view.to_canvas(QPointF(anchor))
    assert abs(after.x() - under.x()) < 1e-6 and abs(after.y() - under.y()) < 1e-6
    assert window.canvas.zoom_label.text() == f"{view.zoom * 100:.0f} %"
    window.canvas.findChild(QToolButton, "zoom_actual").click()
    assert view.zoom == 1.0
    view.fit()
    rect = view.image_rect()
    assert rect.left() >= 0 and rect.top() >= 0 and rect.right() <= view.width() and rect.bottom() <= view.height()
    assert rect.width() == pytest.approx(view.width() - 48, abs=1) or rect.height() == pytest.approx(view.height() - 48, abs=1)


def test_middle_button_and_space_drag_pan_without_painting(window, qtbot):
    canvas, view = window.canvas, window.canvas.view
    layer = base(window)
    canvas.set_tool("brush")
    origin = QPointF(view.origin)
    qtbot.mousePress(view, Qt.MouseButton.MiddleButton, pos=QPoint(300, 300))
    qtbot.mouseMove(view, QPoint(340, 320))
    qtbot.mouseRelease(view, Qt.MouseButton.MiddleButton, pos=QPoint(340, 320))
    assert view.origin - origin == QPointF(40, 20)
    qtbot.keyPress(view, Qt.Key.Key_Space)
    drag(qtbot, view, [(20, 20), (30, 25)])
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert view.origin != origin + QPointF(40, 20) and (layer.pixels == 255).all()
    assert not view.fitting


def test_canvas_size_crops_and_extends_around_the_anchor_and_undoes(window, qtbot):
    canvas = window.canvas
    layer = base(window)
    assert canvas.resize_canvas(120, 80, "bottom-right")
    assert (canvas.document.width, canvas.document.height, layer.x, layer.y) == (120, 80, 24, 16)
    assert canvas.resize_canvas(50, 40, "top-left")
    assert (canvas.document.width, layer.x) == (50, 24) and layer.pixels.shape == (64, 96, 4)
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert (canvas.document.width, canvas.document.height, layer.x, layer.y) == (96, 64, 0, 0)


def test_resize_image_resamples_every_layer_in_one_step(window, qtbot):
    canvas = window.canvas
    layer = base(window)
    small = Layer("small", np.full((10, 10, 4), 50, np.uint8), x=20, y=10)
    canvas.add_layer(small)
    assert canvas.scale_image(48, 32)
    assert layer.pixels.shape == (32, 48, 4) and small.pixels.shape == (5, 5, 4) and (small.x, small.y) == (10, 5)
    assert canvas.view.layer_image(small).width() == 5  # the view follows the new array
    window.undo_stack.undo()
    assert layer.pixels.shape == (64, 96, 4) and (small.x, small.y, small.pixels.shape[0]) == (20, 10, 10)
    assert canvas.view.layer_image(small).width() == 10


def test_a_huge_canvas_size_is_refused_with_a_message_and_nothing_changes(window, qtbot):
    canvas = window.canvas
    base(window)
    steps = window.undo_stack.count()
    assert not canvas.resize_canvas(50_000, 64)
    assert not canvas.scale_image(96, 40_000)
    box = window.findChild(QMessageBox, "warning")
    assert box is not None and box.isVisible() and "16384" in box.text()
    assert (canvas.document.width, canvas.document.height) == (96, 64) and window.undo_stack.count() == steps


# -- layers ---------------------------------------------------------------------------------------


def test_layers_add_duplicate_rename_hide_lock_opacity_and_reorder(window, qtbot):
    canvas, panel = window.canvas, window.canvas.panel
    bottom = base(window)
    top = canvas.new_layer()
    copy = canvas.duplicate_layer()
    assert [l.name for l in canvas.document.layers] == ["base", "Layer 1", "Layer 1 copy"]
    assert panel.list.count() == 3 and panel.current() is copy
    steps = window.undo_stack.count()

    item = panel.item(copy)
    item.setText("Highlights")  # what the name editor does when it closes
    assert copy.name == "Highlights" and window.undo_stack.undoText() == "Rename layer to “Highlights”"

    row = panel.list.visualItemRect(panel.item(bottom))
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=LayerDelegate.eye_rect(row).center())
    assert not bottom.visible
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=LayerDelegate.lock_rect(row).center())
    assert bottom.locked

    canvas.set_active(copy)
    panel.opacity_spin.setValue(40)
    assert copy.opacity == pytest.approx(0.4)

    canvas.shift_layer(-1)
    assert canvas.document.layers == [bottom, copy, top]
    drop_on_top_row(panel, panel.item(bottom))  # a drag in the list: the bottom layer to the top
    qtbot.waitUntil(lambda: canvas.document.layers[-1] is bottom, timeout=2000)
    assert canvas.document.layers == [copy, top, bottom]
    assert [panel.list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(3)] == [bottom, top, copy]

    assert window.undo_stack.count() == steps + 5  # one step each; the eye is none
    for _ in range(5):
        window.undo_stack.undo()
    assert canvas.document.layers == [bottom, top, copy]
    assert copy.name == "Layer 1 copy" and not bottom.locked and copy.opacity == 1.0
    assert not bottom.visible  # hiding was no undo step: undo left it hidden
    canvas.delete_layer(top)
    assert top not in canvas.document.layers
    window.undo_stack.undo()
    assert canvas.document.layers[1] is top


def drop_on_top_row(panel, item):
    """What a drag of ``item`` to the top edge of the first row delivers to the list."""
    panel.list.setCurrentItem(item)
    data = panel.list.model().mimeData([panel.list.indexFromItem(item)])
    top = panel.list.visualItemRect(panel.list.item(0))
    drop = QDropEvent(QPointF(top.center().x(), top.top() + 3), Qt.DropAction.MoveAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    panel.list.dropEvent(drop)  # Qt delivers a drop only inside a real drag; this is what it calls
    assert drop.isAccepted() and drop.dropAction() == Qt.DropAction.IgnoreAction  # Qt must not delete the row


def test_double_click_edits_the_name_in_place(window, qtbot):
    from PySide6.QtWidgets import QAbstractItemView, QLineEdit

    canvas, panel = window.canvas, window.canvas.panel
    layer = base(window)
    row = panel.list.visualItemRect(panel.item(layer))
    name = LayerDelegate.name_rect(row).center()
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=name)  # QTest's double-click
    qtbot.mouseDClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=name)  # lacks the first press
    assert panel.list.state() == QAbstractItemView.State.EditingState
    editor = panel.list.viewport().findChild(QLineEdit)
    editor.selectAll()
    qtbot.keyClicks(editor, "Sky")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: layer.name == "Sky", timeout=2000)  # Qt commits the editor queued
    assert window.undo_stack.undoText() == "Rename layer to “Sky”"
    assert window.generate_panel.current_id() != "" and not canvas.reuse_bar.isVisible()  # no reuse on double-click


def test_bracket_keys_change_the_brush_size(window, qtbot):
    canvas = window.canvas
    canvas.options.size_field.set_value(20)
    key(qtbot, window, "]")
    assert canvas.brush().size == 25
    key(qtbot, window, "[")
    key(qtbot, window, "[")
    assert canvas.brush().size == 16


def test_dragging_the_opacity_slider_is_one_undo_step(window, qtbot):
    from PySide6.QtWidgets import QStyle, QStyleOptionSlider

    panel = window.canvas.panel
    layer = base(window)
    steps = window.undo_stack.count()
    slider = panel.opacity_slider
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    handle = slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, slider).center()
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=handle)
    for dx in (10, 30, 60):
        qtbot.mouseMove(slider, handle - QPoint(dx, 0))
    assert layer.opacity < 0.9 and window.undo_stack.count() == steps  # live while dragging, no step yet
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=handle - QPoint(60, 0))
    assert window.undo_stack.count() == steps + 1 and layer.opacity == pytest.approx(slider.value() / 100)
    assert panel.opacity_spin.value() == slider.value()
    window.undo_stack.undo()
    assert layer.opacity == 1.0 and slider.value() == 100


def test_reuse_parameters_is_in_the_layer_menu(window, qtbot):
    canvas = window.canvas
    canvas.add_layer(Layer("made", np.zeros((8, 8, 4), np.uint8), generator="cppn", params={"seed": 77, "width": 40, "height": 24, "colour_mode": "hsv"}))
    actions = {a.text(): a for a in canvas.panel.context_menu().actions()}
    assert actions["Reuse parameters"].isEnabled()
    actions["Reuse parameters"].trigger()
    values = window.generate_panel.form.values()
    assert window.generate_panel.current_id() == "cppn" and values["seed"] == 77 and values["width"] == 40 and values["colour_mode"] == "hsv"


# -- files ---------------------------------------------------------------------------------------


def test_import_open_and_drop_pictures(window, qtbot, tmp_path):
    canvas = window.canvas
    Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / "red.jpg")
    Image.new("RGBA", (20, 10), (0, 0, 255, 128)).save(tmp_path / "blue.webp", lossless=True)
    assert canvas.open_file(tmp_path / "red.jpg")
    assert (canvas.document.width, canvas.document.height) == (40, 30) and canvas.document.layers[0].name == "red"
    layer = canvas.import_file(tmp_path / "blue.webp")
    assert layer.size == (20, 10) and tuple(layer.pixels[0, 0]) == (0, 0, 255, 128)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(tmp_path / "blue.webp"))])
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    canvas.dropEvent(drop)
    assert len(canvas.document.layers) == 3
    window.undo_stack.undo()
    window.undo_stack.undo()
    window.undo_stack.undo()  # opening is one step too: the empty canvas comes back
    assert canvas.document.layers == [] and (canvas.document.width, canvas.document.height) == (512, 512)


@pytest.mark.parametrize("kind", ["text", "truncated", "huge"])
def test_bad_picture_files_give_a_message_and_lose_nothing(window, qtbot, tmp_path, kind):
    canvas = window.canvas
    layer = base(window)
    path = tmp_path / "bad.png"
    if kind == "text":
        path.write_text("this is not a picture")
    elif kind == "truncated":
        Image.new("RGB", (64, 64), (1, 2, 3)).save(path)
        path.write_bytes(path.read_bytes()[:80])
    else:
        Image.new("1", (20000, 3)).save(path)
    assert canvas.import_file(path) is None and not canvas.open_file(path)
    box = window.findChild(QMessageBox, "warning")
    assert box is not None and box.isVisible() and "bad.png" in box.text() and "Traceback" not in box.text()
    assert canvas.document.layers == [layer]


def test_opening_a_png_with_parameters_offers_to_reuse_them(window, qtbot, tmp_path):
    canvas = window.canvas
    params = {"seed": 4_000_000_001, "width": 48, "height": 40, "scale": 3.5, "complexity": 1.0, "colour_mode": "grayscale"}
    path = write_result(Result("image", np.zeros((40, 48, 4), np.uint8), "cppn", params), tmp_path / "art.png")
    assert canvas.open_file(path)
    assert canvas.reuse_bar.isVisible() and "art.png" in canvas.reuse_bar.label.text()
    assert canvas.document.layers[0].generator == "cppn"
    qtbot.mouseClick(canvas.reuse_bar.reuse_button, Qt.MouseButton.LeftButton)
    assert not canvas.reuse_bar.isVisible()
    values = window.generate_panel.form.values()
    assert window.generate_panel.current_id() == "cppn"
    assert values["seed"] == 4_000_000_001 and values["scale"] == 3.5 and values["colour_mode"] == "grayscale"


def test_a1111_parameters_in_a_png_fill_the_current_generator(window, qtbot, tmp_path):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", "a quiet harbour\nNegative prompt: people\nSteps: 30, Sampler: Euler a, CFG scale: 7, Seed: 99, Size: 512x768")
    Image.new("RGB", (16, 24)).save(tmp_path / "a1111.png", pnginfo=info)
    window.generate_panel.select("test-inpaint")
    assert window.canvas.open_file(tmp_path / "a1111.png")
    window.canvas.reuse_bar.reuse_button.click()
    values = window.generate_panel.form.values()
    assert window.generate_panel.current_id() == "test-inpaint" and values["prompt"] == "a quiet harbour" and values["seed"] == 99


# -- generating --------------------------------------------------------------------------------------


def set_param(window, name, value):
    widget = window.generate_panel.form.widgets[name]
    widget.spin.setValue(value) if hasattr(widget, "spin") else widget.setCurrentText(value)


def test_generate_into_the_selection_lands_there_with_previews_in_place(window, qtbot, tmp_path):
    canvas, view = window.canvas, window.canvas.view
    base(window, 200, 150)
    canvas.set_tool("rect_select")
    drag(qtbot, view, [(30, 20), (130, 100)])
    box = canvas.document.selection.bbox
    assert box == Rect(30, 20, 100, 80)
    window.generate_panel.select("cppn")
    set_param(window, "width", 512)
    previews = []
    window.bridge.preview.connect(lambda job, preview: previews.append(view._preview[1]))
    requests = []
    window.bridge.state_changed.connect(lambda job, state, msg: requests.append(job.request.params))
    steps = window.undo_stack.count()

    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)

    params = requests[0]
    assert (params["width"], params["height"]) == (100, 80)  # CPPN draws any size (step 1): the box's own
    layer = canvas.document.layers[-1]
    assert layer.generator == "cppn" and layer.rect == box and layer.pixels[..., 3].min() == 255
    assert previews and all(rect == box for rect in previews)  # previews were drawn on the box
    assert view._preview is None  # and went when the layer came
    assert window.undo_stack.count() == steps + 1
    window.undo_stack.undo()
    assert layer not in canvas.document.layers and len(canvas.document.layers) == 1
    window.undo_stack.redo()
    assert canvas.document.layers[-1] is layer

    written = window.export_image_to(str(tmp_path / "out.png"))
    read = read_parameters(written)
    assert read["generator"] == "cppn" and read["params"]["seed"] == layer.params["seed"]
    assert (np.asarray(Image.open(written).convert("RGBA")) == canvas.document.composite()).all()
    for suffix in (".jpg", ".webp"):
        assert window.export_image_to(str(tmp_path / f"out{suffix}")) is not None
        assert Image.open(tmp_path / f"out{suffix}").size == (200, 150)


def choose_mode(window, qtbot, title):
    """Click the Generate panel's mode button named ``title`` (Generate, Refine, Inpaint)."""
    button = next(b for b in window.generate_panel.mode_bar.buttons.values() if b.text() == title)
    assert button.isVisibleTo(window), f"no {title} button for {window.generate_panel.current_id()}"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.generate_panel.mode() == title.lower()


def run(window, qtbot):
    with qtbot.waitSignal(window.bridge.result, timeout=10000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    return Inpaint.received[-1]


def test_the_canvas_hands_pictures_to_a_generator_that_takes_them(window, qtbot):
    canvas = window.canvas
    window.generate_panel.select("test-inpaint")
    got = run(window, qtbot)  # empty canvas: text to image
    assert got["init_image"] is None and got["mask"] is None
    assert canvas.document.layers[0].rect == Rect(0, 0, 40, 24)
    window.undo_stack.undo()

    bottom = base(window, 120, 80, colour=(10, 20, 30, 255))
    bottom.pixels[40:, :, 0] = 99
    choose_mode(window, qtbot, "Refine")
    got = run(window, qtbot)  # no selection: the active layer
    assert got["init_image"].shape == (80, 120, 4) and (got["init_image"] == bottom.pixels).all() and got["mask"] is None
    window.undo_stack.undo()

    choose_mode(window, qtbot, "Generate")  # from the prompt alone, though a layer is there
    assert run(window, qtbot)["init_image"] is None
    window.undo_stack.undo()

    choose_mode(window, qtbot, "Inpaint")
    canvas.apply_selection(Selection.rectangle(120, 80, Rect(10, 30, 50, 20)), "replace", "Select")
    canvas.document.ensure_mask()[35:40, 20:30] = 255
    expected = canvas.document.composite(Rect(10, 30, 50, 20))
    got = run(window, qtbot)  # the selection's box of the picture, the painted mask over it
    assert got["init_image"].shape == (20, 50, 4) and (got["init_image"] == expected).all()
    assert got["init_image"][0, 0, 0] == 10 and got["init_image"][-1, 0, 0] == 99
    assert got["mask"].shape == (20, 50) and got["mask"][5:10, 10:20].min() == 255 and got["mask"].sum() == 50 * 255
    assert canvas.document.layers[-1].rect == Rect(10, 30, 50, 20)
    assert canvas.document.layers[-1].params["init_image"] == "<image 50x20>"  # described, not kept


def test_a_lasso_generation_is_cut_to_the_lasso(window, qtbot):
    canvas = window.canvas
    base(window, 100, 100)
    canvas.apply_selection(Selection.polygon(100, 100, [(10, 10), (90, 10), (10, 90)]), "replace", "Lasso")
    window.generate_panel.select("test-inpaint")
    choose_mode(window, qtbot, "Inpaint")
    got = run(window, qtbot)
    assert got["mask"][5, 5] == 255 and got["mask"][75, 75] == 0  # the lasso as the mask
    layer = canvas.document.layers[-1]
    assert layer.rect == Rect(10, 10, 80, 80) and layer.pixels[5, 5, 3] == 255 and layer.pixels[75, 75, 3] == 0


def test_extend_canvas_for_outpainting_masks_the_border_for_the_generator(window, qtbot):
    canvas = window.canvas
    bottom = base(window, 64, 48)
    assert canvas.extend_canvas("right", 32)
    document = canvas.document
    assert (document.width, document.height, bottom.x) == (96, 48, 0)
    window.generate_panel.select("test-inpaint")
    choose_mode(window, qtbot, "Inpaint")
    got = run(window, qtbot)
    overlap = 32  # studio.core.image.canvas_size.OUTPAINT_OVERLAP
    assert got["init_image"].shape == (48, 32 + overlap, 4)
    assert got["init_image"][:, overlap:, 3].max() == 0 and got["init_image"][:, :overlap, 3].min() == 255
    assert got["mask"][:, overlap:].min() == 255 and got["mask"][:, :overlap].max() == 0
    assert document.layers[-1].rect == Rect(64 - overlap, 0, 32 + overlap, 48)
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert (document.width, document.selection, document.has_mask()) == (64, None, False)


SD_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models"  # committed, tiny


def test_stable_diffusion_from_the_canvas_text_image_inpaint_and_outpaint(window, qtbot):
    """The tiny fixture models end to end: the mode is the one chosen in the Generate panel."""
    canvas = window.canvas
    for name in ("sd1", "inpaint9"):
        assert window.add_model_folder_path(str(SD_FIXTURES / name))
    results = []
    window.bridge.result.connect(lambda job, result: results.append(result))

    def generate(generator_id, mode, **values):
        window.generate_panel.select(generator_id)
        choose_mode(window, qtbot, mode)
        window.generate_panel.form.set_values({"prompt": "a lighthouse", "steps": 2, **values})
        with qtbot.waitSignal(window.bridge.result, timeout=60000):
            qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
        return results[-1].params["mode"], canvas.document.layers[-1]

    mode, first = generate("sd:sd1", "Generate", width=64, height=64, seed=1)
    assert mode == "txt2img" and first.rect == Rect(0, 0, 64, 64)
    mode, second = generate("sd:sd1", "Refine", strength=0.5, seed=2)  # from the active layer
    assert mode == "img2img" and second.rect == first.rect
    canvas.apply_selection(Selection.rectangle(64, 64, Rect(8, 8, 40, 32)), "replace", "Select")
    canvas.document.ensure_mask()[16:30, 16:30] = 255
    mode, patch = generate("sd:inpaint9", "Inpaint", seed=3)
    assert mode == "inpaint" and patch.rect == Rect(8, 8, 40, 32)
    canvas.deselect()
    canvas.clear_mask()
    assert canvas.extend_canvas("right", 32)
    mode, border = generate("sd:inpaint9", "Inpaint", seed=4)
    assert mode == "inpaint" and border.rect == Rect(32, 0, 64, 64) and canvas.document.width == 96
    assert border.pixels[:, 32:, 3].min() == 255  # the new border is painted, not transparent


def test_a_required_picture_missing_is_a_message_not_a_job(window, qtbot):
    class NeedsImage(studio.Generator):
        id, title, kind = "test-upscale", "Upscale", "image"
        params = (studio.Param("source", "image"),)

        def generate(self, request, ctx):
            yield studio.Result("image", request["source"], self.id, {})

    class Plugin:
        @studio.hookimpl
        def register_generators(self, register):
            register(NeedsImage())

    window.host.plugins.add_plugin(Plugin(), PluginInfo("needs-image", __name__))
    window.generate_panel.set_generators(window.host.generators)
    assert window.generate("test-upscale", {}) is None
    assert "select an area or choose a layer" in window.statusBar().currentMessage()
    assert window.jobs_panel.rows == {}


def test_the_image_dialogs_read_back_what_was_chosen(window):
    from studio.ui.canvas.dialogs import CanvasSizeDialog, ExtendDialog, ImageSizeDialog

    size = CanvasSizeDialog(96, 64, window)
    size.width_spin.setValue(200)
    size.anchor_group.button(8).click()  # the bottom-right arrow
    assert size.values() == (200, 64, "bottom-right")
    resize = ImageSizeDialog(96, 64, window)
    resize.width_spin.setValue(48)
    assert resize.values() == (48, 32)  # the aspect ratio is kept
    resize.keep.setChecked(False)
    resize.height_spin.setValue(10)
    assert resize.values() == (48, 10)
    extend = ExtendDialog(window)
    extend.side.setCurrentText("top")
    assert extend.values() == ("top", 128)


def test_canvas_menu_shortcuts_rest_while_another_workspace_is_shown(window, qtbot):
    layer = base(window)
    window.canvas.apply_selection(Selection.rectangle(96, 64, Rect(0, 0, 10, 10)), "replace", "Select")
    window.tabs.setCurrentWidget(window.text)
    clear = next(a for a in window.findChildren(QAction) if a.text() == "&Clear selection")
    assert not clear.isEnabled()  # Delete in the text editor must not clear canvas pixels
    window.tabs.setCurrentWidget(window.canvas)
    assert clear.isEnabled()
    clear.trigger()
    assert layer.pixels[:10, :10, 3].max() == 0 and layer.pixels[10:, :, 3].min() == 255
