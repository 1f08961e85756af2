"""File ▸ Export image… writes what made the picture into the file (IPTC DigitalSourceType in
XMP), and painting over a generated picture turns the claim into a composite."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QFileDialog

from studio.core.project.provenance import ALGORITHMIC, COMPOSITE_SYNTHETIC, VOCABULARY


def source_type(path: Path) -> str | None:
    with Image.open(path) as image:
        xmp = image.getxmp()  # Pillow's own XMP reader, not ours
    return xmp["xmpmeta"]["RDF"]["Description"].get("DigitalSourceType") if xmp else None


def export(window, choose, monkeypatch, path: Path) -> None:
    # The Save dialog answered as the window's other export tests answer it.
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Export image…")
    assert path.exists()


def test_an_exported_picture_says_what_made_it_and_painting_over_makes_it_a_composite(window, qtbot, choose, tmp_path, monkeypatch):
    window.generate_panel.select("cppn")
    form = window.generate_panel.form.widgets
    form["width"].spin.setValue(64)
    form["height"].spin.setValue(48)
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.canvas.document.layers) == 1, timeout=5000)

    export(window, choose, monkeypatch, tmp_path / "generated.png")
    assert source_type(tmp_path / "generated.png") == VOCABULARY + ALGORITHMIC

    canvas, view = window.canvas, window.canvas.view
    canvas.set_tool("brush")
    start, end = (view.to_widget(QPointF(x, 24)).toPoint() for x in (10, 50))
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, end)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)
    assert canvas.document.layers[-1].painted_over

    export(window, choose, monkeypatch, tmp_path / "painted.webp")
    assert source_type(tmp_path / "painted.webp") == VOCABULARY + COMPOSITE_SYNTHETIC
