"""Layer edits in the Canvas workspace: add, duplicate, delete, reorder, rename, show/hide,
lock, opacity, blend mode, merge down, flatten, flips and quarter turns, and which layer an
edit paints on.

Each edit is one undo command (``studio.ui.canvas.commands``) pushed on the workspace's
stack — except showing and hiding, which painters toggle to look, not to edit: it marks the
project changed (and is saved) but is no undo step, so Undo never just flips an eye.
``LayerEdits`` is a part of ``CanvasWorkspace`` (a mixin).
"""

from __future__ import annotations

from studio.core.image.blend import BLEND_MODES
from studio.core.image.document import Layer
from studio.core.image.merge import flatten, merge_down
from studio.core.image.provenance import composite_source
from studio.core.image.transform import flip, rotate_quarter
from studio.core.project.reuse import PictureParameters
from studio.errors import StudioError
from studio.ui.canvas.commands import AddLayer, RemoveLayer, ReplaceLayers, SetLayerOrder, SetLayerProperty


class LayerEdits:
    """The layer stack's edits, each one undo step."""

    def add_layer(self, layer: Layer, fit_canvas: bool = True, text: str = "") -> None:
        self.view.show_preview(None)
        self.undo_stack.push(AddLayer(self, layer, fit_canvas=fit_canvas, text=text))

    def new_layer(self) -> Layer:
        layer = self.document.new_layer(self.document.unique_name("Layer"))
        index = self.document.layers.index(self.active_layer) + 1 if self.active_layer is not None else None
        self.undo_stack.push(AddLayer(self, layer, index=index, fit_canvas=False, text="New layer"))
        return layer

    def duplicate_layer(self) -> Layer | None:
        layer = self.active_layer
        if layer is None:
            return None
        copy = layer.duplicate()
        self.undo_stack.push(AddLayer(self, copy, index=self.document.layers.index(layer) + 1, fit_canvas=False, text=f"Duplicate layer “{layer.name}”"))
        return copy

    def delete_layer(self, layer: Layer | None = None) -> None:
        layer = layer or self.active_layer
        if layer is not None:
            self.undo_stack.push(RemoveLayer(self, layer))

    def shift_layer(self, step: int) -> None:
        """Move the active layer ``step`` places up (+) or down (-) the stack."""
        layer = self.active_layer
        if layer is None:
            return
        order = list(self.document.layers)
        index = order.index(layer)
        target = max(0, min(len(order) - 1, index + step))
        if target != index:
            order.insert(target, order.pop(index))
            self.set_order(order, "Move layer up" if step > 0 else "Move layer down")

    def set_order(self, order: list[Layer], text: str) -> None:
        if order != self.document.layers and sorted(map(id, order)) == sorted(map(id, self.document.layers)):
            self.undo_stack.push(SetLayerOrder(self, order, text))
        else:
            self.panel.set_layers(self.document.layers, self.active_layer)  # undo a refused drag

    def rename_layer(self, layer: Layer, name: str) -> None:
        if name and name != layer.name:
            self.undo_stack.push(SetLayerProperty(self, layer, "name", name, f"Rename layer to “{name}”"))

    def set_visible(self, layer: Layer, visible: bool) -> None:
        """The eye: not an undo step, but a change the project saves."""
        if visible != layer.visible:
            layer.visible = visible
            self.layer_changed(layer)
            self.changed_outside_undo.emit()

    def set_locked(self, layer: Layer, locked: bool) -> None:
        if locked != layer.locked:
            self.undo_stack.push(SetLayerProperty(self, layer, "locked", locked, ("Lock" if locked else "Unlock") + f" layer “{layer.name}”"))

    def _preview_opacity(self, layer: Layer, opacity: float) -> None:
        layer.opacity = opacity  # live while dragging; the release makes the undo step
        self.view.update()

    def set_opacity(self, layer: Layer, before: float, after: float) -> None:
        if abs(before - after) > 1e-9 or abs(layer.opacity - after) > 1e-9:
            self.undo_stack.push(SetLayerProperty(self, layer, "opacity", after, f"Opacity of “{layer.name}”: {round(after * 100)} %", before=before))

    def set_blend(self, layer: Layer, mode: str) -> None:
        if mode in BLEND_MODES and mode != layer.blend:
            self.undo_stack.push(SetLayerProperty(self, layer, "blend", mode, f"Blend mode of “{layer.name}”: {BLEND_MODES[mode]}"))

    def merge_down(self) -> None:
        """The active layer composited onto the one below (its opacity and blend mode baked in)."""
        upper, _ = self.layer_to_paint(create=False, action="Merge down")
        if upper is None:
            return
        index = self.document.layers.index(upper)
        if index == 0:
            self.message.emit(f"Merge down: there is no layer below “{upper.name}”")
            return
        lower = self.document.layers[index - 1]
        if lower.locked or not lower.visible:
            self.message.emit(f"Merge down: the layer below, “{lower.name}”, is {'locked' if lower.locked else 'hidden'}")
            return
        try:
            pixels, x, y, opacity = merge_down(upper, lower)
        except StudioError as exc:
            self.warning.emit("Cannot merge down", str(exc))
            return
        stack = [layer for layer in self.document.layers if layer is not upper]
        text = f"Merge “{upper.name}” down"
        self.undo_stack.beginMacro(text)
        self.undo_stack.push(ReplaceLayers(self, stack, {lower: (pixels, x, y)}, text, active=lower))
        if opacity != lower.opacity:  # baked into the pixels
            self.undo_stack.push(SetLayerProperty(self, lower, "opacity", opacity, text))
        merged = composite_source([lower, upper])
        if merged != lower.source:  # what made the pixels, for provenance: now both
            self.undo_stack.push(SetLayerProperty(self, lower, "source", merged, text))
        self.undo_stack.endMacro()

    def flatten_image(self) -> None:
        """Every visible layer into one, as the canvas shows them; hidden layers are dropped."""
        if not self.document.layers:
            self.message.emit("Flatten image: the canvas is empty")
            return
        flat = flatten(self.document)
        self.undo_stack.push(ReplaceLayers(self, [flat], {}, "Flatten image", active=flat))

    def flip_layer(self, horizontal: bool) -> None:
        layer, _ = self.layer_to_paint(create=False, action="Flip layer")
        if layer is not None:
            text = "Flip “{}” horizontally" if horizontal else "Flip “{}” vertically"
            self.undo_stack.push(ReplaceLayers(self, self.document.layers, {layer: (flip(layer.pixels, horizontal), layer.x, layer.y)}, text.format(layer.name)))

    def rotate_layer(self, clockwise: bool) -> None:
        layer, _ = self.layer_to_paint(create=False, action="Rotate layer")
        if layer is not None:
            turned = rotate_quarter(layer.pixels, layer.x, layer.y, clockwise)
            text = f"Rotate “{layer.name}” 90° " + ("clockwise" if clockwise else "anticlockwise")
            self.undo_stack.push(ReplaceLayers(self, self.document.layers, {layer: turned}, text))

    def reuse_layer(self, layer: Layer | None) -> None:
        if layer is not None and layer.generator:
            self.reuse_requested.emit(PictureParameters(layer.generator, dict(layer.params), "layer"))

    def layer_to_paint(self, create: bool, action: str) -> tuple[Layer | None, bool]:
        """The layer an edit should change, or None with the reason in the status bar.

        With ``create``, an empty canvas gets a new layer first, in an undo macro with the
        edit (so one undo removes both); the second value says a macro was begun.
        """
        layer = self.active_layer
        if layer is None and create and not self.document.layers:
            self.undo_stack.beginMacro(action)
            layer = self.document.new_layer(self.document.unique_name("Layer"))
            self.undo_stack.push(AddLayer(self, layer, fit_canvas=False))
            return layer, True
        if layer is None:
            self.message.emit(f"{action}: choose a layer first")
        elif layer.locked:
            self.message.emit(f"{action}: the layer “{layer.name}” is locked")
            layer = None
        elif not layer.visible:
            self.message.emit(f"{action}: the layer “{layer.name}” is hidden")
            layer = None
        return layer, False
