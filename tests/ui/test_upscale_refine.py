"""Image ▸ Upscale and refine…: the upscale lands as a layer, then the model refines it tile by tile.

A tiny random upscaler (tests/fixtures/upscale) and the tiny sd1 model (64 px, tests/fixtures/sd)
added as model folders; the dialog is answered as a person answers it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from studio.core.image.document import Layer
from studio.core.image.geometry import Rect
from studio.host import Host
from studio.ui.app import create_window

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def window(qtbot, tmp_path):
    host = Host()
    shutil.copytree(FIXTURES / "upscale" / "models" / "realesr-x2-compact", tmp_path / "realesr-x2-compact")
    shutil.copytree(FIXTURES / "sd" / "models" / "sd1", tmp_path / "sd1")
    for name in ("realesr-x2-compact", "sd1"):
        assert host.add_model_folder(str(tmp_path / name)).ok
    win = create_window(host=host)
    qtbot.addWidget(win)
    win.show()
    yield win
    win._closing = True
    win.probe_thread.join(20)
    host.shutdown()


def answer(qtbot, prompt: str, strength: float | None = None):
    """Fill the dialog in as a person does and press its OK button."""
    dialog = QApplication.activeModalWidget()
    assert dialog is not None and dialog.windowTitle() == "Upscale and refine"
    assert dialog.upscaler.currentData() == "upscale:realesr-x2-compact" and dialog.model.currentData() == "sd:sd1"
    assert dialog.strength.value() == pytest.approx(0.3)
    if strength is not None:
        dialog.strength.setValue(strength)
    QTest.keyClicks(dialog.prompt, prompt)
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)


def test_upscale_and_refine_lands_the_upscale_then_its_refinement_each_one_undo_step(window, qtbot, choose):
    canvas = window.canvas
    ys, xs = np.mgrid[0:30, 0:40]
    pixels = np.zeros((30, 40, 4), np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 3] = xs * 6, ys * 8, 255
    canvas.add_layer(Layer("photo", pixels))
    steps = window.undo_stack.count()

    QTimer.singleShot(0, lambda: answer(qtbot, "a red and green gradient"))
    choose(window, "Image", "Upscale and refine…")
    qtbot.waitUntil(lambda: any(layer.generator == "sd:sd1" for layer in canvas.document.layers), timeout=120000)

    upscaled, refined = canvas.document.layers[-2], canvas.document.layers[-1]
    assert upscaled.generator == "upscale:realesr-x2-compact" and upscaled.rect == Rect(0, 0, 80, 60)
    assert refined.generator == "sd:sd1" and refined.rect == Rect(0, 0, 80, 60), "the refinement lands over the upscale, its size"
    assert refined.params["refine_tiles"] is True and refined.params["strength"] == pytest.approx(0.3)
    assert refined.params["prompt"] == "a red and green gradient"
    assert not np.array_equal(refined.pixels, upscaled.pixels)
    assert window.undo_stack.count() == steps + 2
    window.undo_stack.undo()
    assert canvas.document.layers[-1] is upscaled
    window.undo_stack.undo()
    assert [layer.name for layer in canvas.document.layers] == ["photo"]


def test_without_a_model_to_refine_with_the_dialog_says_what_to_add(qtbot, choose):
    host = Host()
    win = create_window(host=host)
    qtbot.addWidget(win)
    win.show()
    seen = {}

    def look():
        dialog = QApplication.activeModalWidget()
        seen["note"] = dialog.note.text()
        seen["ok"] = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
        seen["upscalers"] = [dialog.upscaler.itemData(i) for i in range(dialog.upscaler.count())]
        dialog.reject()

    QTimer.singleShot(0, look)
    choose(win, "Image", "Upscale and refine…")
    assert seen == {"note": "Refining needs a Stable Diffusion model: add its folder in Models, then come back.", "ok": False, "upscalers": ["resize"]}
    win._closing = True
    win.probe_thread.join(20)
    host.shutdown()
