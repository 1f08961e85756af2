"""The canvas's undo steps: one QUndoCommand per kind of edit.

Every command is pushed *after* or *as* its edit is made and its ``redo`` only sets the
state it stored, so running ``redo`` right away (QUndoStack.push does) is harmless. A
command tells the workspace what changed (structure, one layer's pixels, the selection, the
mask), and the workspace refreshes only that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtGui import QUndoCommand

from studio.core.image.document import Frame, Layer
from studio.core.image.paint import PixelPatch
from studio.core.image.provenance import painted_over
from studio.core.image.selection import Selection

if TYPE_CHECKING:
    from studio.ui.canvas.workspace import CanvasWorkspace


class AddLayer(QUndoCommand):
    def __init__(self, workspace: "CanvasWorkspace", layer: Layer, index: int | None = None, fit_canvas: bool = True, text: str = "") -> None:
        super().__init__(text or f"Add layer “{layer.name}”")
        self.workspace, self.layer, self.index, self.fit_canvas = workspace, layer, index, fit_canvas
        # Only the first layer can change the canvas (it may take the layer's size).
        self.frame = workspace.document.save_frame() if not workspace.document.layers else None
        self.previous_active = workspace.active_layer

    def redo(self) -> None:
        document = self.workspace.document
        size = (document.width, document.height)
        document.insert(self.layer, self.index, self.fit_canvas)
        if (document.width, document.height) != size:
            self.workspace.frame_changed(active=self.layer, refit=True)
        else:
            self.workspace.structure_changed(active=self.layer, refit=len(document.layers) == 1)

    def undo(self) -> None:
        document = self.workspace.document
        document.remove(self.layer)
        if self.frame is not None:
            document.restore_frame(self.frame)
            self.workspace.frame_changed(active=self.previous_active, refit=True)
        else:
            self.workspace.structure_changed(active=self.previous_active)


class RemoveLayer(QUndoCommand):
    def __init__(self, workspace: "CanvasWorkspace", layer: Layer) -> None:
        super().__init__(f"Delete layer “{layer.name}”")
        self.workspace, self.layer = workspace, layer
        self.index = workspace.document.layers.index(layer)

    def redo(self) -> None:
        document = self.workspace.document
        document.remove(self.layer)
        below = document.layers[max(0, self.index - 1)] if document.layers else None
        self.workspace.structure_changed(active=below)

    def undo(self) -> None:
        self.workspace.document.insert(self.layer, self.index, fit_canvas=False)
        self.workspace.structure_changed(active=self.layer)


class SetLayerOrder(QUndoCommand):
    """The whole stack in a new order (bottom to top): raise, lower, or a drag in the list."""

    def __init__(self, workspace: "CanvasWorkspace", order: list[Layer], text: str) -> None:
        super().__init__(text)
        self.workspace = workspace
        self.before = list(workspace.document.layers)
        self.after = list(order)
        self.active = workspace.active_layer

    def redo(self) -> None:
        self.workspace.document.layers[:] = self.after
        self.workspace.structure_changed(active=self.active)

    def undo(self) -> None:
        self.workspace.document.layers[:] = self.before
        self.workspace.structure_changed(active=self.active)


class SetLayerProperty(QUndoCommand):
    """Name, opacity, blend mode or lock: one attribute of one layer (the eye is no undo step)."""

    def __init__(self, workspace: "CanvasWorkspace", layer: Layer, name: str, value: Any, text: str, before: Any = None) -> None:
        super().__init__(text)
        self.workspace, self.layer, self.name, self.value = workspace, layer, name, value
        self.before = getattr(layer, name) if before is None else before

    def redo(self) -> None:
        setattr(self.layer, self.name, self.value)
        self.workspace.layer_changed(self.layer)

    def undo(self) -> None:
        setattr(self.layer, self.name, self.before)
        self.workspace.layer_changed(self.layer)


class MoveLayer(QUndoCommand):
    """A layer's offset on the canvas (the move tool, the arrow keys)."""

    def __init__(self, workspace: "CanvasWorkspace", layer: Layer, before: tuple[int, int], after: tuple[int, int]) -> None:
        super().__init__(f"Move layer “{layer.name}”")
        self.workspace, self.layer, self.before, self.after = workspace, layer, before, after

    def redo(self) -> None:
        self.layer.x, self.layer.y = self.after
        self.workspace.layer_changed(self.layer)

    def undo(self) -> None:
        self.layer.x, self.layer.y = self.before
        self.workspace.layer_changed(self.layer)


class PaintPatch(QUndoCommand):
    """Pixels that a stroke or a fill changed: only the touched rectangle, before and after.

    ``layer`` None means the inpainting mask.
    """

    def __init__(self, workspace: "CanvasWorkspace", layer: Layer | None, patch: PixelPatch, text: str) -> None:
        super().__init__(text)
        self.workspace, self.layer, self.patch = workspace, layer, patch
        self._source = layer.source if layer is not None else None  # what made the pixels, before

    def _target(self) -> np.ndarray:
        return self.workspace.document.ensure_mask() if self.layer is None else self.layer.pixels

    def redo(self) -> None:
        self.patch.redo(self._target())
        if self.layer is not None:
            self.layer.source = painted_over(self._source)
        self._changed()

    def undo(self) -> None:
        self.patch.undo(self._target())
        if self.layer is not None:
            self.layer.source = self._source
        self._changed()

    def _changed(self) -> None:
        if self.layer is None:
            self.workspace.mask_changed(self.patch.rect)
        else:
            self.layer.touch()
            self.workspace.layer_changed(self.layer, self.patch.rect.translated(self.layer.x, self.layer.y))


class SetSelection(QUndoCommand):
    def __init__(self, workspace: "CanvasWorkspace", selection: Selection | None, text: str) -> None:
        super().__init__(text)
        self.workspace = workspace
        self.before = workspace.document.selection
        self.after = selection if selection is None or not selection.is_empty() else None

    def redo(self) -> None:
        self.workspace.document.selection = self.after
        self.workspace.selection_changed()

    def undo(self) -> None:
        self.workspace.document.selection = self.before
        self.workspace.selection_changed()


class SetMask(QUndoCommand):
    """The whole inpainting mask replaced (cleared, or made from the selection)."""

    def __init__(self, workspace: "CanvasWorkspace", mask: np.ndarray | None, text: str) -> None:
        super().__init__(text)
        self.workspace = workspace
        self.before = None if workspace.document.mask is None else workspace.document.mask.copy()
        self.after = mask

    def redo(self) -> None:
        self.workspace.document.mask = None if self.after is None else self.after.copy()
        self.workspace.mask_changed()

    def undo(self) -> None:
        self.workspace.document.mask = None if self.before is None else self.before.copy()
        self.workspace.mask_changed()


class ChangeFrame(QUndoCommand):
    """A canvas-size change (crop, extend, outpainting border): frames before and after.

    With ``pixels`` (layer -> (before, after) arrays) it is an image resize, which also
    replaces every layer's pixels.
    """

    def __init__(
        self,
        workspace: "CanvasWorkspace",
        before: Frame,
        after: Frame,
        text: str,
        pixels: dict[Layer, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        super().__init__(text)
        self.workspace, self.before, self.after, self.pixels = workspace, before, after, pixels or {}

    def redo(self) -> None:
        for layer, (_, after) in self.pixels.items():
            if layer.pixels is not after:
                layer.set_pixels(after)
        self.workspace.document.restore_frame(self.after)
        self.workspace.frame_changed()

    def undo(self) -> None:
        for layer, (before, _) in self.pixels.items():
            layer.set_pixels(before)
        self.workspace.document.restore_frame(self.before)
        self.workspace.frame_changed()


class ReplaceDocument(QUndoCommand):
    """Open a picture: the canvas becomes that picture, and undo brings the old one back."""

    def __init__(self, workspace: "CanvasWorkspace", layers: list[Layer], width: int, height: int, text: str) -> None:
        super().__init__(text)
        document = workspace.document
        self.workspace = workspace
        self.before = (list(document.layers), document.save_frame(), workspace.active_layer)
        self.after = (list(layers), width, height)

    def redo(self) -> None:
        document = self.workspace.document
        layers, width, height = self.after
        document.layers[:] = layers
        document.width, document.height = width, height
        document.mask, document.selection = None, None
        self.workspace.frame_changed(active=layers[-1] if layers else None, refit=True)

    def undo(self) -> None:
        layers, frame, active = self.before
        self.workspace.document.layers[:] = layers
        self.workspace.document.restore_frame(frame)
        self.workspace.frame_changed(active=active, refit=True)


class ReplaceLayers(QUndoCommand):
    """The stack and some layers' pixels and places changed together, as one step: a merge,
    a flatten, a transform, a flip or a quarter turn.

    ``stack`` is the new list of layers (bottom to top); ``pixels`` maps each layer whose
    pixels change to its new (pixels, x, y). The old ones are kept for undo.
    """

    def __init__(self, workspace: "CanvasWorkspace", stack: list[Layer], pixels: dict[Layer, tuple[np.ndarray, int, int]], text: str, active: Layer | None = None) -> None:
        super().__init__(text)
        self.workspace = workspace
        self.before = (list(workspace.document.layers), {layer: (layer.pixels, layer.x, layer.y) for layer in pixels}, workspace.active_layer)
        self.after = (list(stack), dict(pixels), active or workspace.active_layer)

    def redo(self) -> None:
        self._set(*self.after)

    def undo(self) -> None:
        self._set(*self.before)

    def _set(self, stack: list[Layer], pixels: dict[Layer, tuple[np.ndarray, int, int]], active: Layer | None) -> None:
        for layer, (array, x, y) in pixels.items():
            if layer.pixels is not array:
                layer.set_pixels(array)
            layer.x, layer.y = x, y
        structural = stack != self.workspace.document.layers
        self.workspace.document.layers[:] = stack
        if structural:
            self.workspace.structure_changed(active=active)
        else:
            for layer in pixels:
                self.workspace.layer_changed(layer)
