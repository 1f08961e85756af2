"""File ▸ Export image… writes what made the picture into the file (IPTC DigitalSourceType in
XMP), and painting over a generated picture turns the claim into a composite."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import QPointF, Qt, QTimer

from studio.core.project.provenance import ALGORITHMIC, COMPOSITE_SYNTHETIC, VOCABULARY

from PySide6.QtWidgets import QLineEdit

from qt_file_dialog import open_file_dialog  # Qt's file dialog, typed into


def source_type(path: Path) -> str | None:
    with Image.open(path) as image:
        xmp = image.getxmp()  # Pillow's own XMP reader, not ours
    return xmp["xmpmeta"]["RDF"]["Description"].get("DigitalSourceType") if xmp else None


def save_as(qtbot, path: Path) -> None:
    """Replace the suggested name in the open Save dialog with ``path`` and press Enter."""
    dialog = open_file_dialog(qtbot)
    edit = dialog.findChild(QLineEdit, "fileNameEdit")
    qtbot.mouseClick(edit, Qt.MouseButton.LeftButton)
    qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(edit, str(path))
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def export(window, qtbot, choose, path: Path) -> None:
    # The export dialog is modal: answer it from inside its own event loop, as a person would.
    QTimer.singleShot(0, lambda: save_as(qtbot, path))
    choose(window, "File", "Export image…")
    qtbot.waitUntil(path.exists, timeout=5000)


def test_an_exported_picture_says_what_made_it_and_painting_over_makes_it_a_composite(window, qtbot, choose, tmp_path):
    window.generate_panel.select("cppn")
    form = window.generate_panel.form.widgets
    form["width"].spin.setValue(64)
    form["height"].spin.setValue(48)
    with qtbot.waitSignal(window.bridge.result, timeout=20000):
        qtbot.mouseClick(window.generate_panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.canvas.document.layers) == 1, timeout=5000)

    export(window, qtbot, choose, tmp_path / "generated.png")
    assert source_type(tmp_path / "generated.png") == VOCABULARY + ALGORITHMIC

    canvas, view = window.canvas, window.canvas.view
    canvas.set_tool("brush")
    start, end = (view.to_widget(QPointF(x, 24)).toPoint() for x in (10, 50))
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, end)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)
    assert canvas.document.layers[-1].painted_over

    export(window, qtbot, choose, tmp_path / "painted.webp")
    assert source_type(tmp_path / "painted.webp") == VOCABULARY + COMPOSITE_SYNTHETIC
