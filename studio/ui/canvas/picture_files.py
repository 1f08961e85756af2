"""Picture files in the Canvas workspace: open one as the canvas, import some as layers
(also by dropping them), and show a project's document.

A picture that carries generation parameters offers them on the reuse bar. An opened
picture or project replaces the document, which the workspace announces with
``document_replaced`` (jobs started for the old one must not land here). ``PictureFiles``
is a part of ``CanvasWorkspace`` (a mixin).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from studio.core.image.document import ImageDocument, Layer
from studio.core.media.pictures import read_picture
from studio.core.project.reuse import PictureParameters, picture_parameters
from studio.errors import StudioError
from studio.ui.canvas.commands import ReplaceDocument

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class PictureFiles:
    """Reading picture files into the canvas, and dropped files."""

    def _read(self, path: str | Path) -> tuple[np.ndarray, PictureParameters | None] | None:
        try:
            pixels, metadata = read_picture(path)
        except StudioError as exc:
            self.warning.emit("Cannot open this file", str(exc))
            return None
        except MemoryError:
            self.warning.emit("Cannot open this file", f"{path} is too large to fit in memory")
            return None
        return pixels, picture_parameters(metadata)

    def import_file(self, path: str | Path) -> Layer | None:
        """Add a picture file as a new layer (top-left); an empty canvas takes its size."""
        read = self._read(path)
        if read is None:
            return None
        layer, parameters = _picture_layer(path, *read)
        self.add_layer(layer, text=f"Import “{Path(path).name}”")
        if layer.size[0] > self.document.width or layer.size[1] > self.document.height:
            self.message.emit(f"“{layer.name}” is larger than the canvas: Image ▸ Canvas size shows all of it")
        self._offer(Path(path).name, parameters)
        return layer

    def import_files(self, paths: Iterable[str | Path]) -> list[Layer]:
        return [layer for layer in (self.import_file(path) for path in paths) if layer is not None]

    def open_file(self, path: str | Path) -> bool:
        """Make the canvas this picture (one layer, its size); undo brings the old canvas back."""
        read = self._read(path)
        if read is None:
            return False
        layer, parameters = _picture_layer(path, *read)
        self.view.show_preview(None)
        self.undo_stack.push(ReplaceDocument(self, [layer], layer.size[0], layer.size[1], f"Open “{Path(path).name}”"))
        self.document_replaced.emit()
        self._offer(Path(path).name, parameters)
        return True

    def load_document(self, document: ImageDocument) -> None:
        """Show ``document`` (a project was opened): its layers, size, selection and mask.

        The view keeps the same document object, so the layers are moved into it; the
        caller clears the undo history, which described the old canvas.
        """
        self.view.show_preview(None)
        self.reuse_bar.hide()
        self.document.layers[:] = document.layers
        self.document.width, self.document.height = document.width, document.height
        self.document.selection, self.document.mask = document.selection, document.mask
        self.document.kept_latents = list(document.kept_latents)  # the Explorer's, saved with the canvas
        self.frame_changed(active=document.layers[-1] if document.layers else None, refit=True)
        self.document_replaced.emit()

    def _offer(self, name: str, parameters: PictureParameters | None) -> None:
        if parameters is not None and parameters.params:
            self.reuse_bar.offer(name, parameters)
        else:
            self.reuse_bar.hide()  # an offer about an earlier picture would now mislead

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.import_files(paths)


def _picture_layer(path: str | Path, pixels: np.ndarray, parameters):
    """A layer named after a picture file, remembering the parameters that made it (if any)."""
    layer = Layer(Path(path).stem or "Picture", pixels)
    if parameters is not None and parameters.generator:
        layer.generator, layer.params = parameters.generator, dict(parameters.params)
    return layer, parameters
