"""Upscaling in the window, as a person does it: select, choose the upscaler, Generate, Undo, Cancel.

The upscalers are tiny random Real-ESRGAN-shaped models (tests/fixtures/upscale), added as model
folders; the plain resize is built in and needs none.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication

from studio.core.engine.jobs import JobState
from studio.core.engine.onnx_import import import_onnxruntime
from studio.core.image.document import Layer
from studio.core.image.geometry import Rect
from studio.host import Host
from studio.ui.app import create_window

MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "upscale" / "models"
X4 = "upscale:RealESRGAN_x4plus"
X2 = "upscale:realesr-x2-compact"


@pytest.fixture
def upscaler_window(qtbot, tmp_path):
    host = Host()
    for name in ("RealESRGAN_x4plus", "realesr-x2-compact"):
        shutil.copytree(MODELS / name, tmp_path / name)
        assert host.add_model_folder(str(tmp_path / name)).ok
    win = create_window(host=host)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    QApplication.processEvents()
    win.resize(1600, 1000)  # room for a large view: drags aim at canvas pixels through widget points
    yield win
    win._closing = True
    win.probe_thread.join(20)
    host.shutdown()


def painted(window, width: int, height: int) -> Layer:
    ys, xs = np.mgrid[0:height, 0:width]
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[..., 0] = xs * 255 // width
    pixels[..., 1] = ys * 255 // height
    pixels[..., 2] = ((xs // 4 + ys // 4) % 2) * 200
    pixels[..., 3] = 255
    layer = Layer("picture", pixels)
    window.canvas.add_layer(layer)
    return layer


def at(view, x, y):
    return view.to_widget(QPointF(x, y)).toPoint()


def choose_generator(window, generator_id: str) -> None:
    """Pick it in the Generate panel's list, as a person picks a combo box entry."""
    combo = window.generate_panel.combo
    index = combo.findData(generator_id)
    assert index >= 0, [combo.itemData(i) for i in range(combo.count())]
    combo.setCurrentIndex(index)
    assert window.generate_panel.current_id() == generator_id


def set_number(window, name: str, value: int) -> None:
    window.generate_panel.form.widgets[name].spin.setValue(value)


def click_generate(window, qtbot):
    jobs = []
    window.bridge.state_changed.connect(lambda job, state, message: jobs.append(job))
    qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    assert jobs, "Generate started no job"
    return jobs[0]


def test_an_upscale_of_a_selection_lands_four_times_larger_at_its_corner_and_undoes(upscaler_window, qtbot):
    window = upscaler_window
    canvas, view = window.canvas, window.canvas.view
    painted(window, 120, 80)
    qtbot.keyClick(view, "m")  # the rectangle selection tool
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(view, 30, 20))
    qtbot.mouseMove(view, at(view, 70, 50))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(view, 70, 50))
    box = canvas.document.selection.bbox
    assert box == Rect(30, 20, 40, 30)
    source = canvas.document.composite(box)
    choose_generator(window, X4)
    set_number(window, "tile", 32)
    set_number(window, "overlap", 8)
    steps, count = window.undo_stack.count(), len(canvas.document.layers)

    with qtbot.waitSignal(window.bridge.result, timeout=30000) as landed:
        job = click_generate(window, qtbot)

    assert len(canvas.document.layers) == count + 1
    layer = canvas.document.layers[-1]
    assert layer.rect == Rect(30, 20, 160, 120), "an upscale lands at its own size, not squashed into the box"
    assert layer.generator == X4 and job.result.params["scale"] == 4
    assert np.array_equal(layer.pixels, landed.args[1].value)
    # the picture is the selection's, enlarged: what the model gives for it run whole
    session = import_onnxruntime().InferenceSession(str(MODELS / "RealESRGAN_x4plus" / "RealESRGAN_x4plus.onnx"), providers=["CPUExecutionProvider"])
    (whole,) = session.run(None, {"input": source[..., :3].transpose(2, 0, 1)[None].astype(np.float32) / 255})
    expected = np.clip(whole[0].transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(layer.pixels[..., :3].astype(int) - expected).max() <= 1
    assert window.undo_stack.count() == steps + 1
    window.undo_stack.undo()
    assert len(canvas.document.layers) == count and layer not in canvas.document.layers


def test_the_plain_resize_works_with_no_model_installed(window, qtbot, choose):
    assert not window.host.settings.model_folders
    layer = painted(window, 50, 30)
    choose(window, "Edit", "Select all")
    assert window.canvas.document.selection.bbox == Rect(0, 0, 50, 30)
    choose_generator(window, "resize")
    window.generate_panel.form.widgets["scale"].setCurrentText("3x")
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        job = click_generate(window, qtbot)
    result = window.canvas.document.layers[-1]
    assert result is not layer and result.rect == Rect(0, 0, 150, 90) and job.result.params["scale"] == "3x"
    assert job.state is JobState.FINISHED


def test_cancel_during_a_many_tile_upscale_leaves_the_canvas_untouched(upscaler_window, qtbot):
    window = upscaler_window
    canvas = window.canvas
    painted(window, 1024, 768)
    choose_generator(window, X2)
    set_number(window, "tile", 32)
    set_number(window, "overlap", 8)
    before = [(layer.id, layer.rect, layer.pixels.copy()) for layer in canvas.document.layers]
    steps = window.undo_stack.count()
    progressed = []
    window.bridge.progress.connect(lambda job, progress: progressed.append(progress))
    job = click_generate(window, qtbot)
    qtbot.waitUntil(lambda: any(p.step >= 1 for p in progressed), timeout=20000)
    row = window.jobs_panel.row(job)
    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: job.state.done, timeout=20000)
    QApplication.processEvents()
    assert job.state is JobState.CANCELLED, job.message
    assert progressed[-1].step < progressed[-1].total > 500  # stopped among the tiles
    after = [(layer.id, layer.rect, layer.pixels) for layer in canvas.document.layers]
    assert len(after) == len(before) and window.undo_stack.count() == steps
    assert all(a[:2] == b[:2] and np.array_equal(a[2], b[2]) for a, b in zip(after, before))
