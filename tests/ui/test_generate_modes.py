"""The Generate panel's choices, driven as a painter does: Generate / Refine / Inpaint, a size
that follows the canvas or the selection until set, and a picture larger than the canvas
that grows it (never cut off without a word), its preview drawn where it lands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QTabBar

import studio
from studio.core.image.document import Layer
from studio.core.image.geometry import Rect
from studio.core.image.selection import Selection
from studio.host import Host
from studio.plugins import PluginInfo
from studio.ui.app import create_window

BLUE, RED = (20, 40, 220, 255), (230, 20, 20, 255)


class Painter(studio.Generator):
    """Takes an optional image and mask, a size and a strength; previews red, finishes blue."""

    id, title, kind = "test-painter", "Test painter", "image"
    params = (
        studio.Param("prompt", "text", "a test"),
        studio.Param("init_image", "image", optional=True),
        studio.Param("mask", "mask", optional=True),
        studio.Param("strength", "float", 0.75, min=0.01, max=1.0, step=0.01),
        studio.Param("width", "int", 512, min=64, max=2048, step=8),
        studio.Param("height", "int", 512, min=64, max=2048, step=8),
        studio.Param("seed", "seed"),
    )
    received: list = []

    def generate(self, request, ctx):
        Painter.received.append(dict(request.params))
        width, height = request["width"], request["height"]
        yield studio.Progress(1, 2)
        yield studio.Preview("image", np.full((height // 8, width // 8, 4), RED, np.uint8))  # a small, rough preview
        yield studio.Progress(2, 2)
        yield studio.Result("image", np.full((height, width, 4), BLUE, np.uint8), self.id, dict(request.params))


class Plugin:
    @studio.hookimpl
    def register_generators(self, register):
        register(Painter())


@pytest.fixture
def window(qtbot):
    Painter.received = []
    host = Host()
    host.plugins.add_plugin(Plugin(), PluginInfo("test-painter-plugin", __name__))
    win = create_window(host=host)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    QApplication.processEvents()
    win.generate_panel.select("test-painter")
    yield win
    win._closing = True
    win.probe_thread.join(20)
    win.host.shutdown()


def base(window, width=200, height=120):
    layer = Layer("base", np.full((height, width, 4), 255, np.uint8))
    window.canvas.add_layer(layer)
    return layer


def click_mode(window, qtbot, mode):
    qtbot.mouseClick(window.generate_panel.mode_bar.buttons[mode], Qt.MouseButton.LeftButton)


def size_field(window, name):
    return window.generate_panel.form.widgets[name].spin


def front_tab(window, title):
    """The tab in front in the group of docks that holds ``title``, as the tab bar shows it."""
    for bar in window.findChildren(QTabBar):
        titles = [bar.tabText(i) for i in range(bar.count())]
        if title in titles and bar.isVisible():
            return bar.tabText(bar.currentIndex())
    return None


def run(window, qtbot):
    with qtbot.waitSignal(window.bridge.result, timeout=10000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.host.runner.active())
    return Painter.received[-1]


def test_the_mode_buttons_are_offered_by_what_a_generator_takes(window, qtbot):
    bar = window.generate_panel.mode_bar
    assert [m for m, b in bar.buttons.items() if b.isVisibleTo(window)] == ["generate", "refine", "inpaint"]
    assert window.generate_panel.mode() == "generate"  # the default: from the prompt alone
    strength = window.generate_panel.form.widgets["strength"]
    assert not strength.isVisibleTo(window)  # nothing to change in Generate
    click_mode(window, qtbot, "refine")
    assert strength.isVisibleTo(window) and window.generate_panel.mode() == "refine"
    base(window)
    assert bar.source.text() == "Refines the layer “base”"
    window.generate_panel.select("cppn")  # takes no picture: no choice to make
    assert not any(b.isVisibleTo(window) for b in bar.buttons.values())


def test_the_mode_drives_what_the_generator_gets(window, qtbot):
    base(window)
    assert run(window, qtbot)["init_image"] is None  # Generate: text to image, a layer there or not
    click_mode(window, qtbot, "refine")
    got = run(window, qtbot)
    assert got["init_image"].shape == (120, 200, 4) and got["mask"] is None  # image to image
    window.canvas.apply_selection(Selection.rectangle(200, 120, Rect(8, 8, 96, 64)), "replace", "Select")
    click_mode(window, qtbot, "inpaint")
    got = run(window, qtbot)
    assert got["init_image"].shape == (64, 96, 4) and got["mask"].min() == 255  # the selection as the mask


def test_refine_from_an_empty_layer_is_a_plain_message_and_no_job(window, qtbot, choose):
    base(window)
    choose(window, "Layer", "New layer")  # a stray click made it: nothing on it
    click_mode(window, qtbot, "refine")
    assert "is empty" in window.generate_panel.mode_bar.source.text()
    qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    assert window.jobs_panel.rows == {} and Painter.received == []
    assert "has nothing painted on it" in window.statusBar().currentMessage()
    box = window.findChild(QMessageBox, "warning")
    assert box is not None and "Generate" in box.text()  # says how to start from the prompt instead
    box.close()

    window.canvas.set_tool("brush")  # a stroke on it: now there is something to refine
    view = window.canvas.view
    spot = view.widget_rect(Rect(100, 60, 1, 1)).center()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=spot)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=spot)
    assert window.generate_panel.mode_bar.source.text() == "Refines the layer “Layer 1”"
    assert run(window, qtbot)["init_image"][..., 3].any()


def test_the_size_follows_the_canvas_or_the_selection_until_the_user_sets_it(window, qtbot):
    panel = window.generate_panel
    base(window, 200, 120)
    assert (size_field(window, "width").value(), size_field(window, "height").value()) == (200, 120)
    assert panel.mode_bar.size_note.text() == "Size follows the canvas: 200 × 120"
    window.canvas.apply_selection(Selection.rectangle(200, 120, Rect(30, 20, 101, 70)), "replace", "Select")
    assert (size_field(window, "width").value(), size_field(window, "height").value()) == (104, 72)  # the step's grid
    assert panel.mode_bar.size_note.text() == "Size follows the selection: 104 × 72"
    window.canvas.deselect()

    field = size_field(window, "width")
    field.selectAll()
    qtbot.keyClicks(field, "320")
    qtbot.keyClick(field, Qt.Key.Key_Return)  # typed by the user: kept
    assert field.value() == 320 and panel.mode_bar.size_note.text().startswith("Size set by you")
    assert window.canvas.resize_canvas(240, 160, "top-left")
    assert field.value() == 320
    qtbot.mouseClick(panel.mode_bar.follow, Qt.MouseButton.LeftButton)
    assert (field.value(), size_field(window, "height").value()) == (240, 160)


def test_a_result_larger_than_the_canvas_grows_it_and_says_so(window, qtbot):
    canvas, view = window.canvas, window.canvas.view
    base(window, 200, 120)
    for name, value in (("width", 256), ("height", 160)):
        size_field(window, name).setValue(value)  # the user asks for more than the canvas
    previews = []
    window.bridge.preview.connect(lambda job, preview: previews.append((view._preview_rect(), view.zoom, view.origin, view.height())))
    landed = []  # the view as the picture lands (after the window's handler: connected later)
    window.bridge.result.connect(lambda job, result: landed.append((view.zoom, view.origin, view.height())))
    steps = window.undo_stack.count()
    run(window, qtbot)

    assert (canvas.document.width, canvas.document.height) == (256, 160)  # grown, not cut
    layer = canvas.document.layers[-1]
    assert layer.rect == Rect(0, 0, 256, 160) and tuple(layer.pixels[-1, -1]) == BLUE
    assert "larger than the canvas (200 × 120)" in window.statusBar().currentMessage()
    assert "grew to 256 × 160" in window.statusBar().currentMessage()
    # The preview was drawn over the rectangle the picture took, and the view did not move when it landed.
    rect, zoom, origin, height = previews[-1]
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == (0, 0, 256, 160)
    # Same zoom, same place (the results strip that opens under the view only re-centres it).
    now_zoom, now_origin, now_height = landed[-1]
    assert now_zoom == zoom and now_origin.x() == origin.x() and now_origin.y() - now_height / 2 == origin.y() - height / 2
    assert window.undo_stack.count() == steps + 1  # one step: the canvas and the picture
    window.undo_stack.undo()
    assert (canvas.document.width, canvas.document.height) == (200, 120) and layer not in canvas.document.layers


def test_the_jobs_thumbnail_is_the_final_picture_not_the_last_preview(window, qtbot):
    run(window, qtbot)
    row = next(iter(window.jobs_panel.rows.values()))
    thumb = row.thumb.pixmap().toImage()
    colour = thumb.pixelColor(thumb.width() // 2, thumb.height() // 2)
    assert (colour.red(), colour.green(), colour.blue()) == BLUE[:3]
    # The picture lives in its layer; the listed job keeps its parameters, not a second copy.
    qtbot.waitUntil(lambda: row.job.state.done)
    assert row.job.result.value is None and row.job.result.params
    assert (window.canvas.document.layers[-1].pixels[..., :3] == BLUE[:3]).all()


def test_the_status_bar_shows_a_running_job_and_brings_the_jobs_panel_forward(window, qtbot):
    indicator = window.job_indicator
    assert not indicator.isVisible() and front_tab(window, "Jobs") != "Jobs"  # a tab behind others at first
    seen = []

    def at_preview(job, preview):
        seen.append((indicator.isVisible(), indicator.button.text()))
        qtbot.mouseClick(indicator.button, Qt.MouseButton.LeftButton)

    window.bridge.preview.connect(at_preview)
    run(window, qtbot)
    assert seen and seen[0][0] and seen[0][1] == "Generating · 50 %"  # step 1 of 2
    assert front_tab(window, "Jobs") == "Jobs"
    assert not indicator.isVisible()  # nothing runs any more


def test_extend_canvas_for_outpainting_sets_the_panel_to_inpaint(window, qtbot, choose):
    base(window, 200, 120)
    assert window.generate_panel.mode() == "generate"

    def accept_dialog():
        dialog = QApplication.activeModalWidget()
        dialog.side.setCurrentText("right")
        dialog.accept()

    QTimer.singleShot(0, accept_dialog)
    choose(window, "Image", "Extend canvas for outpainting…")
    assert window.canvas.document.width > 200
    assert window.generate_panel.mode() == "inpaint" and window.generate_panel.button.text() == "Inpaint"
    assert "set to Inpaint" in window.statusBar().currentMessage()
    got = run(window, qtbot)
    assert got["init_image"] is not None and got["mask"] is not None


def test_refine_tile_by_tile_is_offered_only_with_a_picture_to_change(window, qtbot):
    folder = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models" / "sd1"
    assert window.add_model_folder_path(str(folder))
    tiles = window.generate_panel.form.widgets["refine_tiles"]
    assert not tiles.isVisibleTo(window)  # Generate paints from the prompt: no tiles to refine
    click_mode(window, qtbot, "refine")
    assert tiles.isVisibleTo(window)


def test_regenerate_from_the_history_makes_the_picture_in_the_mode_it_was_made_in(window, qtbot):
    folder = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models" / "sd1"
    assert window.add_model_folder_path(str(folder))
    window.generate_panel.form.set_values({"prompt": "a lighthouse", "steps": 2, "seed": 3})
    base(window, 64, 64)
    click_mode(window, qtbot, "refine")
    with qtbot.waitSignal(window.bridge.result, timeout=60000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    refined = window.canvas.document.layers[-1]
    assert refined.params["mode"] == "img2img"

    click_mode(window, qtbot, "generate")  # the panel moved on since
    bar = next(b for b in window.findChildren(QTabBar) if b.isVisible() and "History" in [b.tabText(i) for i in range(b.count())])
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect([bar.tabText(i) for i in range(bar.count())].index("History")).center())
    assert front_tab(window, "History") == "History"
    history = window.history_panel
    row = history.view.visualRect(history.view.model().index(0, 0))
    qtbot.mouseClick(history.view.viewport(), Qt.MouseButton.LeftButton, pos=row.center())
    assert history.selected() is not None and history.regenerate_button.isEnabled()
    with qtbot.waitSignal(window.bridge.result, timeout=60000):
        qtbot.mouseClick(history.regenerate_button, Qt.MouseButton.LeftButton)
    again = window.canvas.document.layers[-1]
    assert again is not refined and again.params["mode"] == "img2img"
    assert window.generate_panel.mode() == "refine"
