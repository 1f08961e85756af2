"""The Canvas workspace: tool bar, tool options, the view, the layers panel, and every edit.

The document (``studio.core.image.ImageDocument``) is plain numpy data; this widget owns it
and the window's undo stack, and every change to it goes through a command
(``studio.ui.canvas.commands``), one undo step per edit. Commands report back what they
changed, and only that is refreshed: a stroke repaints its rectangle and one thumbnail, a
new layer rebuilds the list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QKeySequence, QPainter, QUndoStack
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core import canvas_size
from studio.core.geometry import Rect
from studio.core.image import ImageDocument, Layer, read_picture
from studio.core.paint import Brush, clear, fill, region_on_layer
from studio.core.reuse import PictureParameters, picture_parameters
from studio.core.selection import Selection
from studio.errors import StudioError
from studio.ui.canvas.commands import (
    AddLayer,
    ChangeFrame,
    PaintPatch,
    RemoveLayer,
    ReplaceDocument,
    SetLayerOrder,
    SetLayerProperty,
    SetMask,
    SetSelection,
)
from studio.ui.canvas.icons import icon
from studio.ui.canvas.layers_panel import LayersPanel
from studio.ui.canvas.tool_options import ToolOptions
from studio.ui.canvas.tools import TOOLS, Tool
from studio.ui.canvas.view import CanvasView

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class ReuseBar(QFrame):
    """A quiet bar over the canvas: "this picture carries parameters — reuse them?" (never modal)."""

    accepted = Signal(object)  # PictureParameters

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reuse_bar")
        self.setStyleSheet("#reuse_bar { background: #2d3a52; border-bottom: 1px solid #3d7bd9; }")
        self.parameters: PictureParameters | None = None
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.reuse_button = QPushButton("Reuse parameters")
        self.reuse_button.setObjectName("reuse_bar_accept")
        self.reuse_button.clicked.connect(self._accept)
        dismiss = QToolButton(text="✕")
        dismiss.setAutoRaise(True)
        dismiss.setToolTip("Dismiss")
        dismiss.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 5, 6, 5)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.reuse_button)
        layout.addWidget(dismiss)
        self.hide()

    def offer(self, name: str, parameters: PictureParameters) -> None:
        self.parameters = parameters
        self.label.setText(f"<b>{_escape(name)}</b> carries generation parameters: {_escape(parameters.summary())}")
        self.show()

    def _accept(self) -> None:
        if self.parameters is not None:
            self.accepted.emit(self.parameters)
        self.hide()


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with … instead of holding the window wide."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        area = self.contentsRect().adjusted(8, 0, -8, 0)
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, area.width())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(area, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        painter.end()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class CanvasWorkspace(QWidget):
    """The canvas and everything around it. Every change goes through the undo stack."""

    reuse_requested = Signal(object)  # PictureParameters: load these into the generator panel
    message = Signal(str)  # for the status bar
    warning = Signal(str, str)  # title, text: a problem to show without blocking
    document_replaced = Signal()  # another picture or project: jobs started for the old one must not land here

    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvas_workspace")
        self.undo_stack = undo_stack
        self.document = ImageDocument()
        self._active: Layer | None = None
        self.setAcceptDrops(True)

        self.view = CanvasView(self.document)
        self.options = ToolOptions()
        self.view.pointer_moved.connect(self._show_pointer)
        self.reuse_bar = ReuseBar()
        self.reuse_bar.accepted.connect(self.reuse_requested)

        self.tools: dict[str, Tool] = {}
        self.tool_actions: dict[str, QAction] = {}
        self.toolbar = self._make_toolbar()

        self.panel = LayersPanel()
        self.layers = self.panel.list  # the list widget, for code that counts rows
        self._connect_panel()

        self.info = ElidedLabel()  # long selection details give way before the window does
        self.info.setObjectName("canvas_info")
        self.info.setStyleSheet("color: #9a9aa2; padding: 2px 0px;")
        self.pointer_label = QLabel()
        self.pointer_label.setStyleSheet("color: #9a9aa2; padding: 2px 8px;")
        self.pointer_label.setMinimumWidth(70)
        self.pointer_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.zoom_label = QLabel("100 %")
        self.zoom_label.setObjectName("zoom_label")
        self.zoom_label.setToolTip("Zoom: the wheel zooms around the pointer; middle button or Space-drag pans")
        self.view.zoom_changed.connect(self._show_zoom)
        fit = QToolButton(text="Fit")
        fit.setObjectName("zoom_fit")
        fit.setToolTip("Fit the canvas in the view (Ctrl+0)")
        fit.setAutoRaise(True)
        fit.clicked.connect(self.view.fit)
        actual = QToolButton(text="1:1")
        actual.setObjectName("zoom_actual")
        actual.setToolTip("Actual pixels, 100 % (Ctrl+1)")
        actual.setAutoRaise(True)
        actual.clicked.connect(self.view.actual_size)

        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(0)
        centre_layout.addWidget(self.reuse_bar)
        centre_layout.addWidget(self.view, 1)
        footer = QHBoxLayout()
        footer.setContentsMargins(0, 0, 4, 0)
        footer.setSpacing(2)
        footer.addWidget(self.info, 1)
        footer.addWidget(self.pointer_label)
        footer.addWidget(self.zoom_label)
        footer.addWidget(fit)
        footer.addWidget(actual)
        centre_layout.addLayout(footer)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.setSpacing(0)
        side_layout.addWidget(self.options)
        rule = QFrame()
        rule.setFrameShape(QFrame.Shape.HLine)
        rule.setStyleSheet("color: #34343a;")
        side_layout.addWidget(rule)
        side_layout.addWidget(self.panel, 1)

        splitter = QSplitter()
        splitter.addWidget(centre)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setCollapsible(0, False)
        splitter.setSizes([800, 250])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(splitter, 1)
        self.set_tool("brush")
        self.structure_changed()

    # -- construction --------------------------------------------------------------------------

    def _make_toolbar(self) -> QToolBar:
        bar = QToolBar("Tools")
        bar.setObjectName("canvas_tools")
        bar.setOrientation(Qt.Orientation.Vertical)
        bar.setIconSize(QSize(22, 22))
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        bar.setStyleSheet("QToolBar { background: #202024; border-right: 1px solid #303036; padding: 4px; spacing: 2px; }")
        group = QActionGroup(self)
        group.setExclusive(True)
        for tool_class in TOOLS:
            tool = tool_class(self)
            self.tools[tool.name] = tool
            action = QAction(icon(tool.icon), tool.title, self)
            action.setObjectName(f"tool_{tool.name}")
            action.setCheckable(True)
            action.setShortcut(QKeySequence(tool.shortcut))
            action.setToolTip(f"<b>{tool.title}</b> ({tool.shortcut})<br>{tool.tip}")
            action.triggered.connect(lambda checked=False, name=tool.name: self.set_tool(name))
            group.addAction(action)
            bar.addAction(action)
            self.tool_actions[tool.name] = action
            if tool.name in ("lasso", "fill"):
                bar.addSeparator()
        for text, keys, factor in (("Smaller brush", "[", 1 / 1.25), ("Larger brush", "]", 1.25)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(lambda checked=False, f=factor: self.resize_brush(f))
            self.addAction(action)  # a shortcut without a button
        return bar

    def _connect_panel(self) -> None:
        panel = self.panel
        panel.current_changed.connect(self._on_current_changed)
        panel.rename_requested.connect(self.rename_layer)
        panel.visibility_requested.connect(lambda layer: self.set_visible(layer, not layer.visible))
        panel.lock_requested.connect(lambda layer: self.set_locked(layer, not layer.locked))
        panel.opacity_previewed.connect(self._preview_opacity)
        panel.opacity_requested.connect(self.set_opacity)
        panel.order_requested.connect(lambda order: self.set_order(order, "Reorder layers"))
        panel.add_requested.connect(self.new_layer)
        panel.duplicate_requested.connect(self.duplicate_layer)
        panel.delete_requested.connect(self.delete_layer)
        panel.raise_requested.connect(lambda: self.shift_layer(+1))
        panel.lower_requested.connect(lambda: self.shift_layer(-1))
        panel.reuse_requested.connect(self.reuse_layer)

    # -- state -------------------------------------------------------------------------------

    @property
    def active_layer(self) -> Layer | None:
        if self._active is not None and self._active not in self.document.layers:
            self._active = None
        return self._active

    def set_active(self, layer: Layer | None) -> None:
        self._active = layer if layer in self.document.layers else None
        if self._active is not None:
            self.panel.select(self._active)

    def _on_current_changed(self, layer: Layer | None) -> None:
        self._active = layer

    def set_tool(self, name: str) -> None:
        tool = self.tools[name]
        self.tool_actions[name].setChecked(True)
        self.options.show_for(tool.title, tool.tip, tool.options)
        self.view.set_tool(tool)

    @property
    def tool(self) -> Tool:
        assert self.view.tool is not None
        return self.view.tool

    def resize_brush(self, factor: float) -> None:
        """[ and ]: a quarter smaller or larger, and at least one pixel of change."""
        size = self.options.size_field.value()
        if factor > 1:
            new = max(size + 1, round(size * factor))
        else:
            new = max(1, min(size - 1, round(size * factor)))
        self.options.size_field.set_value(new)

    def brush(self) -> Brush:
        return self.options.brush()

    def tolerance(self) -> int:
        return self.options.tolerance_field.value()

    def colour(self) -> QColor:
        return self.options.colour.colour()

    def set_colour(self, colour: QColor | tuple[int, ...]) -> None:
        self.options.colour.set_colour(colour if isinstance(colour, QColor) else QColor(*colour[:3]))

    def pick_colour(self, point: QPointF) -> None:
        x, y = int(np.floor(point.x())), int(np.floor(point.y()))
        if not self.document.bounds.contains(x, y):
            return
        r, g, b, a = self.document.sample(x, y)
        if a == 0:
            self.message.emit("Nothing to pick there: the canvas is transparent")
            return
        self.set_colour(QColor(r, g, b))

    # -- what commands report -----------------------------------------------------------------

    def structure_changed(self, active: Layer | None = None, refit: bool = False) -> None:
        """Layers were added, removed or reordered."""
        if active is not None or self._active not in self.document.layers:
            self._active = active if active in self.document.layers else (self.document.layers[-1] if self.document.layers else None)
        self.panel.set_layers(self.document.layers, self._active)
        if refit:
            self.view.fit()
        self.view.refresh_mask()  # rebuilt only when the mask array itself was replaced
        self.view.refresh_selection()
        self._update_info()
        self.view.update()

    def layer_changed(self, layer: Layer, rect: Rect | None = None) -> None:
        """One layer's properties, pixels or place changed (within canvas ``rect``, when known)."""
        self.panel.update_layer(layer)
        if rect is not None:
            self.view.update(self.view.widget_rect(rect))
        else:
            self.view.update()
        self._update_info()

    def selection_changed(self) -> None:
        self.view.refresh_selection()
        self._update_info()

    def mask_changed(self, rect: Rect | None = None) -> None:
        self.view.refresh_mask(rect)

    def frame_changed(self, active: Layer | None = None, refit: bool = False) -> None:
        """The canvas size, the layers' places or the whole document changed."""
        self.view.refresh_mask(force=True)
        self.structure_changed(active, refit=False)
        if refit or self.view.fitting:
            self.view.fit()

    def _update_info(self) -> None:
        document = self.document
        text = f"{document.width} × {document.height} px · {len(document.layers)} layer{'s' if len(document.layers) != 1 else ''}"
        box = document.selection.bbox if document.selection is not None else None
        if box is not None:
            text += f" · selection {box.width} × {box.height} at {box.x}, {box.y}"
        if document.has_mask():
            text += " · mask painted"
        self.info.setText(text)

    def _show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f} %" if zoom >= 0.1 else f"{zoom * 100:.1f} %")

    def _show_pointer(self, point) -> None:
        self.pointer_label.setText("" if point is None else f"{point[0]}, {point[1]}")

    # -- layers --------------------------------------------------------------------------------

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
        if visible != layer.visible:
            self.undo_stack.push(SetLayerProperty(self, layer, "visible", visible, ("Show" if visible else "Hide") + f" layer “{layer.name}”"))

    def set_locked(self, layer: Layer, locked: bool) -> None:
        if locked != layer.locked:
            self.undo_stack.push(SetLayerProperty(self, layer, "locked", locked, ("Lock" if locked else "Unlock") + f" layer “{layer.name}”"))

    def _preview_opacity(self, layer: Layer, opacity: float) -> None:
        layer.opacity = opacity  # live while dragging; the release makes the undo step
        self.view.update()

    def set_opacity(self, layer: Layer, before: float, after: float) -> None:
        if abs(before - after) > 1e-9 or abs(layer.opacity - after) > 1e-9:
            self.undo_stack.push(SetLayerProperty(self, layer, "opacity", after, f"Opacity of “{layer.name}”: {round(after * 100)} %", before=before))

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

    # -- selection and mask ----------------------------------------------------------------------

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

    # -- canvas size -----------------------------------------------------------------------------

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

    # -- files -----------------------------------------------------------------------------------

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
