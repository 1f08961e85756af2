"""The File menu's entries for pictures, text files and model folders (projects are
``ProjectSession``'s): each asks for a path, then hands it to the workspace or the host."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from studio.core.engine.generators import Result
from studio.core.project.outputs import write_result
from studio.core.image.provenance import composite_source
from studio.errors import StudioError

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow

TEXT_FILTER = "Text and Markdown (*.txt *.md *.markdown);;Text (*.txt);;Markdown (*.md *.markdown);;All files (*)"
PICTURE_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp);;PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp);;All files (*)"


class FileActions(QObject):
    """Open, import and export pictures; open and export text; add a model folder."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window

    # -- pictures ----------------------------------------------------------------------------

    def open_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open image", "", PICTURE_FILTER)
        if path:
            self.window.canvas.open_file(path)

    def import_image(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Import images as layers", "", PICTURE_FILTER)
        if paths:
            self.window.canvas.import_files(paths)

    def export_image(self) -> None:
        document = self.window.canvas.document
        if not document.layers:
            self.window.statusBar().showMessage("Nothing to export: the canvas is empty", 5000)
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Export image", "image.png", "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp)")
        if path:
            self.export_image_to(path)

    def export_image_to(self, path: str) -> Path | None:
        """Flatten the canvas into ``path``; the top generated layer's parameters go with it,
        and what made the picture (a model's, or a composite with one) in its XMP."""
        document = self.window.canvas.document
        source = next((l for l in reversed(document.layers) if l.visible and l.generator), None)
        result = Result("image", document.composite(), source.generator if source else "", dict(source.params) if source else {})
        try:
            written = write_result(result, path, composite_source(document.layers) or "")
        except StudioError as exc:
            self.window.warn("Cannot export", str(exc))
            return None
        self.window.statusBar().showMessage(f"Exported {written}", 5000)
        return written

    # -- text files --------------------------------------------------------------------------

    def open_text(self) -> None:
        """Put a .txt/.md file's text in the Text workspace (it becomes the project's text)."""
        text = self.window.text

        def choose() -> None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Open text file", "", TEXT_FILTER)
            if path and text.open_file(path):
                text.editor.document().setModified(True)  # new to the project: unsaved

        text.confirm_discard(choose)

    def save_text_as(self) -> bool:
        """Export the text as a .md/.txt file (the project keeps its own copy)."""
        text = self.window.text
        name = text.path.name if text.path else f"{self.window.project.name}.md"
        path, _ = QFileDialog.getSaveFileName(self.window, "Export text", name, TEXT_FILTER)
        return text.save(path, mark_saved=False) if path else False

    # -- model folders -----------------------------------------------------------------------

    def add_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Add model folder")
        if folder:
            self.add_model_folder_path(folder)

    def add_model_folder_path(self, folder: str) -> bool:
        """Add a model folder and select its generator; a folder no plugin reads gets a warning."""
        window = self.window
        try:
            entry = window.host.add_model_folder(folder)
        except StudioError as exc:
            window.warn("Cannot add this model folder", str(exc))
            return False
        window.generate_panel.set_generators(window.host.generators)
        window.generate_panel.select(entry.generator.id)
        window.statusBar().showMessage(f"Added {entry.path} as {entry.generator.title or entry.generator.id}", 8000)
        return True
