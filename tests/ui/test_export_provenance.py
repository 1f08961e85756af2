"""File ▸ Export image… writes what made the picture into the file (IPTC DigitalSourceType in
XMP), and painting over a generated picture turns the claim into a composite."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QFileDialog

from studio.core.image.provenance import ALGORITHMIC, COMPOSITE_SYNTHETIC, VOCABULARY


def source_type(path: Path) -> str | None:
    with Image.open(path) as image:
        xmp = image.getxmp()  # Pillow's own XMP reader, not ours
    return xmp["xmpmeta"]["RDF"]["Description"].get("DigitalSourceType") if xmp else None


def export(window, choose, monkeypatch, path: Path) -> None:
    # The Save dialog answered as the window's other export tests answer it.
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Export image…")
    assert path.exists()


def generate_cppn(window, qtbot) -> None:
    """A 64 x 48 picture from the built-in pattern network, through the Generate panel."""
    window.generate_panel.select("cppn")
    form = window.generate_panel.form.widgets
    form["width"].spin.setValue(64)
    form["height"].spin.setValue(48)
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)


def stroke(qtbot, view) -> None:
    """A brush stroke across the middle of the picture, dragged with the mouse."""
    start, end = (view.to_widget(QPointF(x, 24)).toPoint() for x in (10, 50))
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, end)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)


def test_an_exported_picture_says_what_made_it_and_painting_over_makes_it_a_composite(window, qtbot, choose, tmp_path, monkeypatch):
    generate_cppn(window, qtbot)
    qtbot.waitUntil(lambda: len(window.canvas.document.layers) == 1, timeout=5000)

    export(window, choose, monkeypatch, tmp_path / "generated.png")
    assert source_type(tmp_path / "generated.png") == VOCABULARY + ALGORITHMIC

    canvas, view = window.canvas, window.canvas.view
    generated = canvas.document.layers[-1]
    assert generated.source == ALGORITHMIC
    canvas.set_tool("brush")
    stroke(qtbot, view)
    assert generated.source == COMPOSITE_SYNTHETIC

    export(window, choose, monkeypatch, tmp_path / "painted.webp")
    assert source_type(tmp_path / "painted.webp") == VOCABULARY + COMPOSITE_SYNTHETIC

    choose(window, "Edit", "Undo Brush stroke")  # the stroke undone: the picture is the network's alone again
    assert generated.source == ALGORITHMIC
    export(window, choose, monkeypatch, tmp_path / "undone.png")
    assert source_type(tmp_path / "undone.png") == VOCABULARY + ALGORITHMIC


def test_merging_a_painted_layer_down_onto_a_generated_one_makes_a_composite_and_undo_takes_it_back(window, qtbot, choose):
    generate_cppn(window, qtbot)
    canvas, view = window.canvas, window.canvas.view
    generated = canvas.document.layers[-1]
    choose(window, "Layer", "New layer")
    canvas.set_tool("brush")
    stroke(qtbot, view)
    painted = canvas.document.layers[-1]
    assert painted is not generated and painted.source is None

    choose(window, "Layer", "Merge down")
    assert canvas.document.layers == [generated] and generated.source == COMPOSITE_SYNTHETIC
    choose(window, "Edit", "Undo Merge “Layer 1” down")
    assert generated.source == ALGORITHMIC

    # Studio's own copy of the generated layer pastes back still saying what made it.
    canvas.set_active(generated)
    choose(window, "Edit", "Copy")
    choose(window, "Edit", "Paste")
    pasted = canvas.document.layers[1]  # above the layer it was copied from
    assert pasted.name.startswith("Pasted") and pasted.source == ALGORITHMIC
