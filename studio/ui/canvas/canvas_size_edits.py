"""Canvas size edits in the Canvas workspace: crop or extend the canvas, crop it to the
selection, extend it for outpainting, and resample the whole image.

A refused size warns (through ``warning``) and changes nothing; a done one is one
``ChangeFrame`` undo step. ``CanvasSizeEdits`` is a part of ``CanvasWorkspace`` (a mixin).
"""

from __future__ import annotations

from studio.core.image import canvas_size
from studio.errors import StudioError
from studio.ui.canvas.commands import ChangeFrame


class CanvasSizeEdits:
    """Changing the canvas's frame: its size, its borders, its resolution."""

    def _frame_edit(self, text: str, edit) -> bool:
        before = self.document.save_frame()
        try:
            edit()
        except StudioError as exc:
            self.document.restore_frame(before)
            self.warning.emit(f"Cannot {text.lower()}", str(exc))
            return False
        self.undo_stack.push(ChangeFrame(self, before, self.document.save_frame(), text))
        return True

    def resize_canvas(self, width: int, height: int, anchor: str = "center") -> bool:
        """Crop or extend the canvas (layers keep their pixels); a refused size warns and changes nothing."""
        return self._frame_edit("Change the canvas size", lambda: canvas_size.resize_canvas(self.document, width, height, anchor))

    def crop_to_selection(self) -> bool:
        """The canvas becomes the selection's bounding box."""
        box = self.document.selection.bbox if self.document.selection is not None else None
        if box is None:
            self.message.emit("Crop to selection: select an area first")
            return False
        return self._frame_edit("Crop to selection", lambda: canvas_size.crop_to(self.document, box))

    def extend_canvas(self, side: str, amount: int) -> bool:
        """Grow the canvas on ``side`` for outpainting: the border is masked and selected."""
        done = self._frame_edit(f"Extend the canvas {amount} px {side}", lambda: canvas_size.extend_for_outpainting(self.document, side, amount))
        if done:
            self.message.emit("Canvas extended: the new border is masked and selected — generate with an inpainting model to fill it")
        return done

    def scale_image(self, width: int, height: int) -> bool:
        """Resample every layer so the canvas becomes ``width`` x ``height``."""
        before = self.document.save_frame()
        old = {layer: layer.pixels for layer in self.document.layers}
        try:
            canvas_size.scale_image(self.document, width, height)
        except StudioError as exc:
            self.warning.emit("Cannot resize the image", str(exc))
            return False
        except MemoryError:
            for layer, pixels in old.items():
                layer.set_pixels(pixels)
            self.document.restore_frame(before)
            self.warning.emit("Cannot resize the image", f"{width} × {height} pixels do not fit in memory")
            return False
        pixels = {layer: (old[layer], layer.pixels) for layer in self.document.layers}
        self.undo_stack.push(ChangeFrame(self, before, self.document.save_frame(), f"Resize image to {width} × {height}", pixels))
        return True
