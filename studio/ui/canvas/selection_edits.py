"""Selection and mask edits in the Canvas workspace: select all, deselect, invert, combine a
drawn shape, fill or clear the selection, and the inpainting mask made from it.

Each edit is one undo command pushed on the workspace's stack. ``SelectionEdits`` is a part
of ``CanvasWorkspace`` (a mixin).
"""

from __future__ import annotations

from studio.core.image.paint import clear, fill, region_on_layer
from studio.core.image.selection import Selection
from studio.ui.canvas.commands import PaintPatch, SetMask, SetSelection


class SelectionEdits:
    """The selection and the mask, and the pixels they pick out."""

    def apply_selection(self, shape: Selection, mode: str, text: str) -> None:
        current = self.document.selection
        selection = shape if current is None or mode == "replace" else current.combined(shape, mode)
        self.undo_stack.push(SetSelection(self, None if selection.is_empty() else selection, text))

    def select_all(self) -> None:
        self.undo_stack.push(SetSelection(self, Selection.everything(self.document.width, self.document.height), "Select all"))

    def deselect(self) -> None:
        if self.document.selection is not None:
            self.undo_stack.push(SetSelection(self, None, "Deselect"))

    def invert_selection(self) -> None:
        current = self.document.selection
        inverted = Selection.everything(self.document.width, self.document.height) if current is None else current.inverted()
        self.undo_stack.push(SetSelection(self, None if inverted.is_empty() else inverted, "Invert selection"))

    def fill_selection(self) -> None:
        """Fill the selection (everything, without one) on the active layer with the brush colour."""
        layer, macro = self.layer_to_paint(create=True, action="Fill selection")
        if layer is None:
            return
        try:
            selection = self.document.selection or Selection.everything(self.document.width, self.document.height)
            brush = self.brush()
            patch = fill(layer.pixels, region_on_layer(selection.mask, layer.rect), brush.colour, brush.opacity)
            if patch is not None:
                self.undo_stack.push(PaintPatch(self, layer, patch, "Fill selection"))
        finally:
            if macro:
                self.undo_stack.endMacro()

    def clear_selection(self) -> None:
        """Delete: make the selected pixels of the active layer transparent."""
        layer, _ = self.layer_to_paint(create=False, action="Clear")
        if layer is None or self.document.selection is None:
            if layer is not None:
                self.message.emit("Clear: select an area first (or delete the layer)")
            return
        patch = clear(layer.pixels, region_on_layer(self.document.selection.mask, layer.rect))
        if patch is not None:
            self.undo_stack.push(PaintPatch(self, layer, patch, "Clear selection"))

    def clear_mask(self) -> None:
        if self.document.has_mask():
            self.undo_stack.push(SetMask(self, None, "Clear mask"))

    def mask_from_selection(self) -> None:
        if self.document.selection is not None:
            self.undo_stack.push(SetMask(self, self.document.selection.as_uint8(), "Mask from selection"))
