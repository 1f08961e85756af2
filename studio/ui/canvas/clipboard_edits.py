"""Cut, copy and paste in the Canvas workspace, through the system clipboard.

Copy puts the active layer's pixels under the selection (the whole layer without one) on
the clipboard as a picture with its alpha, so any other program can paste it; Copy merged
takes what the canvas shows there instead. Paste makes a new layer of whatever picture the
clipboard holds: Studio's own copy goes back where it came from, another program's picture
(a QImage, PNG/JPEG/WebP bytes, or image files copied in a file manager) lands centred on
the selection, or in the middle of the view. A picture too large for Studio is refused
before it is converted. ``ClipboardEdits`` is a part of ``CanvasWorkspace`` (a mixin).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QMimeData, QPointF
from PySide6.QtGui import QGuiApplication, QImage

from studio.core.image.document import Layer
from studio.core.image.geometry import Rect
from studio.core.image.paint import clear
from studio.core.image.pieces import layer_piece, merged_piece, place_centred
from studio.core.image.provenance import SOURCE_TYPES, composite_source
from studio.core.media.pictures import check_canvas_size, read_picture
from studio.errors import StudioError
from studio.ui.canvas.commands import AddLayer, PaintPatch
from studio.ui.images import qimage_from_rgba, rgba_from_qimage

#: Where a piece Studio copied came from ("x,y"), so that pasting it puts it back there.
PLACE_FORMAT = "application/x-studio-canvas-place"
#: What made the pixels Studio copied (``studio.core.image.provenance``), so a pasted generated
#: picture still says so when exported.
SOURCE_FORMAT = "application/x-studio-digital-source"
#: Encoded pictures other programs put on the clipboard, read when no decoded image is there.
PICTURE_FORMATS = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif", "image/tiff")


class ClipboardEdits:
    """Cut, Copy, Copy merged and Paste, each at most one undo step."""

    def copy(self) -> bool:
        layer = self.active_layer  # a locked or hidden layer may be copied: copying changes nothing
        if layer is None:
            self.message.emit("Copy: choose a layer first")
            return False
        return self._put(layer_piece(layer, self.document.selection, self.document.bounds), f"“{layer.name}”", layer.source)

    def copy_merged(self) -> bool:
        return self._put(merged_piece(self.document, self.document.selection), "the visible layers", composite_source(self.document.layers))

    def cut(self) -> None:
        """Copy, then clear what was copied from the active layer: one undo step."""
        layer, _ = self.layer_to_paint(create=False, action="Cut")
        if layer is None or not self.copy():
            return
        selection = self.document.selection
        region = np.zeros(layer.pixels.shape[:2], dtype=bool)
        if selection is None:  # the whole layer as the canvas shows it
            region[self.document.bounds.intersected(layer.rect).slices(layer.x, layer.y)] = True
        else:
            area = selection.bbox.intersected(layer.rect)
            region[area.slices(layer.x, layer.y)] = selection.crop(area)
        patch = clear(layer.pixels, region)
        if patch is not None:
            self.undo_stack.push(PaintPatch(self, layer, patch, "Cut"))

    def _put(self, piece: tuple[np.ndarray, Rect] | None, what: str, source: str | None) -> bool:
        if piece is None or not piece[0][..., 3].any():
            self.message.emit(f"Copy: {what} has nothing there to copy")
            return False
        pixels, rect = piece
        data = QMimeData()
        data.setImageData(qimage_from_rgba(pixels).convertToFormat(QImage.Format.Format_ARGB32))
        data.setData(PLACE_FORMAT, QByteArray(f"{rect.x},{rect.y}".encode()))
        data.setData(SOURCE_FORMAT, QByteArray((source or "").encode()))
        QGuiApplication.clipboard().setMimeData(data)
        self.message.emit(f"Copied {rect.width} × {rect.height} px of {what}")
        return True

    def paste(self) -> Layer | None:
        """The clipboard's picture as a new layer above the active one."""
        data = QGuiApplication.clipboard().mimeData()
        try:
            pixels = _clipboard_picture(data)
        except StudioError as exc:
            self.warning.emit("Cannot paste", str(exc))
            return None
        except MemoryError:
            self.warning.emit("Cannot paste", "the picture on the clipboard does not fit in memory")
            return None
        if pixels is None:
            self.message.emit("Paste: the clipboard holds no picture")
            return None
        layer = Layer(self.document.unique_name("Pasted"), pixels, source=_pasted_source(data))
        layer.x, layer.y = self._paste_place(data, layer.size)
        index = self.document.layers.index(self.active_layer) + 1 if self.active_layer is not None else None
        self.view.show_preview(None)
        self.undo_stack.push(AddLayer(self, layer, index=index, text="Paste"))
        return layer

    def _paste_place(self, data: QMimeData, size: tuple[int, int]) -> tuple[int, int]:
        if not self.document.layers:
            return 0, 0  # an empty canvas takes the pasted picture's size
        box = self.document.selection.bbox if self.document.selection is not None else None
        if box is not None:
            return place_centred(size, (box.x + box.width / 2, box.y + box.height / 2))
        place = bytes(data.data(PLACE_FORMAT)).decode("ascii", "replace").split(",") if data.hasFormat(PLACE_FORMAT) else []
        if len(place) == 2 and all(part.lstrip("-").isdigit() for part in place):
            return int(place[0]), int(place[1])
        middle = self.view.to_canvas(QPointF(self.view.width() / 2, self.view.height() / 2))
        visible = self.document.bounds
        x = min(max(middle.x(), visible.x), visible.right)
        y = min(max(middle.y(), visible.y), visible.bottom)
        return place_centred(size, (x, y))


def _pasted_source(data: QMimeData | None) -> str | None:
    """What made the pasted pixels: what Studio's own copy says; another program's: a person's."""
    if data is None or not data.hasFormat(SOURCE_FORMAT):
        return None
    source = bytes(data.data(SOURCE_FORMAT)).decode("ascii", "replace")
    return source if source in SOURCE_TYPES else None


def _clipboard_picture(data: QMimeData | None) -> np.ndarray | None:
    """The picture on the clipboard as uint8 RGBA, or None when it holds none; a picture too
    large for Studio is refused (``StudioError``) by its size alone."""
    if data is None:
        return None
    if data.hasImage():
        image = data.imageData()
        if isinstance(image, QImage) and not image.isNull():
            check_canvas_size(image.width(), image.height(), what="the picture on the clipboard")
            return rgba_from_qimage(image)
    for kind in PICTURE_FORMATS:
        if data.hasFormat(kind):
            return _decoded(bytes(data.data(kind)), "." + kind.split("/")[1])
    for url in data.urls():
        if url.isLocalFile() and Path(url.toLocalFile()).is_file():
            return read_picture(url.toLocalFile())[0]  # its size is checked from the header
    return None


def _decoded(encoded: bytes, suffix: str) -> np.ndarray:
    """Encoded picture bytes read as a picture file is: the size checked before decoding."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clipboard{suffix}"
        path.write_bytes(encoded)
        try:
            return read_picture(path)[0]
        except StudioError as exc:
            raise StudioError(str(exc).replace(str(path), "the picture on the clipboard")) from None
