"""ControlNet from the window: a scribble painted on a layer, chosen in the form, steers a
generation with the tiny sd1_controlnet fixture; a control layer deleted since is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication

from studio.core.image.control_maps import control_map
from studio.core.image.document import Layer
from studio.host import Host
from studio.ui.app import create_window

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models" / "sd1_controlnet"


@pytest.fixture
def window(qtbot):
    win = create_window(host=Host())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    QApplication.processEvents()
    win.resize(1600, 1000)  # room for a large view: drags aim at canvas pixels through widget points
    assert win.add_model_folder_path(str(MODEL))
    yield win
    win._closing = True
    win.probe_thread.join(20)
    win.host.shutdown()


def drag(qtbot, view, points):
    at = [view.to_widget(QPointF(x, y)).toPoint() for x, y in points]
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[0])
    for point in at[1:]:
        qtbot.mouseMove(view, point)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[-1])


def paint_scribble(window, qtbot, choose) -> Layer:
    """A white picture to draw over, then a new layer with two brush strokes on it."""
    canvas = window.canvas
    canvas.add_layer(Layer("paper", np.full((64, 64, 4), 255, np.uint8)))
    choose(window, "Layer", "New layer")
    scribble = canvas.active_layer
    canvas.set_tool("brush")
    drag(qtbot, canvas.view, [(8, 12), (30, 30), (56, 50)])
    drag(qtbot, canvas.view, [(10, 50), (50, 14)])
    assert scribble.pixels[..., 3].any() and not scribble.pixels[..., 3].all()
    return scribble


def choose_control(window, qtbot, layer_name: str, preprocess: str) -> None:
    form = window.generate_panel.form
    chooser = form.widgets["control_image"]
    qtbot.mouseClick(chooser, Qt.MouseButton.LeftButton)  # opening it lists the layers as they are now
    qtbot.keyClick(QApplication.activePopupWidget() or chooser, Qt.Key.Key_Escape)
    assert chooser.findText(layer_name) >= 0, [chooser.itemText(i) for i in range(chooser.count())]
    chooser.setCurrentText(layer_name)
    form.widgets["control_preprocess"].setCurrentText(preprocess)


def test_a_controlnet_generation_from_a_scribble_layer(window, qtbot, choose):
    canvas = window.canvas
    scribble = paint_scribble(window, qtbot, choose)
    panel = window.generate_panel
    assert panel.select(f"sd:{MODEL.name}")
    panel.form.set_values({"prompt": "a lighthouse", "steps": 2, "width": 64, "height": 64, "seed": 7, "control_strength": 1.5})
    choose_control(window, qtbot, scribble.name, "scribble")
    requests = []
    window.bridge.state_changed.connect(lambda job, state, message: requests.append(job.request.params))
    layers, steps = len(canvas.document.layers), window.undo_stack.count()

    with qtbot.waitSignal(window.bridge.result, timeout=60000):
        qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)

    given = requests[0]["control_image"]
    assert given.shape == (64, 64, 4) and (given == scribble.pixels).all()  # the layer, over the generated area
    assert (control_map(given, "scribble")[..., 0] == 255).sum() == (scribble.pixels[..., 3] >= 128).sum()
    result = canvas.document.layers[-1]
    assert len(canvas.document.layers) == layers + 1 and result.generator == f"sd:{MODEL.name}"
    recorded = result.params
    assert recorded["control_preprocess"] == "scribble" and recorded["control_strength"] == 1.5
    assert (recorded["control_start"], recorded["control_end"]) == (0.0, 1.0) and recorded["seed"] == 7
    assert window.undo_stack.count() == steps + 1
    window.undo_stack.undo()
    assert result not in canvas.document.layers and len(canvas.document.layers) == layers


def test_the_control_layer_changes_the_picture(window, qtbot, choose):
    """The same seed with and without the scribble: the ControlNet really steers."""
    scribble = paint_scribble(window, qtbot, choose)
    panel = window.generate_panel
    panel.select(f"sd:{MODEL.name}")
    panel.form.set_values({"prompt": "a lighthouse", "steps": 2, "width": 64, "height": 64, "seed": 7})
    pictures = []
    for layer in (scribble.name, "none"):
        choose_control(window, qtbot, layer, "scribble")
        with qtbot.waitSignal(window.bridge.result, timeout=60000):
            qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
        pictures.append(window.canvas.document.layers[-1].pixels.astype(int))
    assert np.abs(pictures[0] - pictures[1]).max() > 10


def test_a_control_layer_deleted_since_it_was_chosen_is_refused_plainly(window, qtbot, choose):
    scribble = paint_scribble(window, qtbot, choose)
    panel = window.generate_panel
    panel.select(f"sd:{MODEL.name}")
    choose_control(window, qtbot, scribble.name, "scribble")
    choose(window, "Layer", "Delete layer")
    assert scribble not in window.canvas.document.layers
    layers = len(window.canvas.document.layers)
    submitted = []
    window.bridge.state_changed.connect(lambda job, state, message: submitted.append(job))
    qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
    QApplication.processEvents()
    message = window.statusBar().currentMessage()
    assert "no longer exists" in message and scribble.name in message, message
    assert not submitted and len(window.canvas.document.layers) == layers


def test_a_model_folder_whose_controlnet_gives_no_residuals_is_refused_when_added(window, tmp_path):
    """controlnet/ holding a graph that is no ControlNet (here a plain UNet: no controlnet_cond,
    no residual outputs) is refused in a sentence when the folder is added, never at Generate."""
    folder = tmp_path / "broken-controlnet"
    shutil.copytree(MODEL, folder)
    plain_unet = MODEL.parent / "sd1" / "unet"
    shutil.copyfile(plain_unet / "model.onnx", folder / "controlnet" / "model.onnx")
    shutil.copyfile(plain_unet / "model.onnx_data", folder / "controlnet" / "model.onnx_data")
    assert not window.add_model_folder_path(str(folder))
    message = window.statusBar().currentMessage()
    assert "Cannot add this model folder" in message and "neither a ControlNet" in message, message
    assert f"sd:{folder.name}" not in window.host.generators


def test_the_control_layer_is_chosen_by_keyboard_among_the_layers_of_now(window, qtbot, choose):
    panel = window.generate_panel
    panel.select(f"sd:{MODEL.name}")
    chooser = panel.form.widgets["control_image"]
    assert [chooser.itemText(i) for i in range(chooser.count())] == ["none"]  # an empty canvas
    scribble = paint_scribble(window, qtbot, choose)  # layers made after the form was
    chooser.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(chooser.hasFocus)
    assert [chooser.itemText(i) for i in range(chooser.count())] == ["none", scribble.name, "paper"]  # top first
    qtbot.keyClick(chooser, Qt.Key.Key_Down)
    assert panel.form.values()["control_image"] == scribble.name
