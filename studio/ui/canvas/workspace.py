"""The Canvas workspace: tool bar, the view, tool options and the layers panel (which the
window docks), and the state every edit reports back to.

The document (``studio.core.image.document.ImageDocument``) is plain numpy data; this widget owns it
and the window's undo stack, and every change to it goes through a command
(``studio.ui.canvas.commands``), one undo step per edit. Commands report back what they
changed, and only that is refreshed: a stroke repaints its rectangle and one thumbnail, a
new layer rebuilds the list.

This module builds the widget and holds its state (active layer, tool, brush, colour) and
what commands report; the edits are its parts: ``layer_edits``, ``selection_edits``,
``clipboard_edits``, ``canvas_size_edits`` and ``picture_files`` (open, import, drop, a
project's document).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QKeySequence, QUndoStack
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QToolBar, QToolButton, QVBoxLayout, QWidget

from studio.core.image.document import ImageDocument, Layer
from studio.core.image.geometry import Rect
from studio.core.image.paint import Brush
from studio.ui.canvas.canvas_size_edits import CanvasSizeEdits
from studio.ui.canvas.clipboard_edits import ClipboardEdits
from studio.ui.canvas.elided_label import ElidedLabel
from studio.ui.canvas.icons import icon
from studio.ui.canvas.layer_edits import LayerEdits
from studio.ui.canvas.layers_panel import LayersPanel
from studio.ui.canvas.picture_files import PICTURE_SUFFIXES, PictureFiles
from studio.ui.canvas.results_strip import ResultsStrip
from studio.ui.canvas.reuse_bar import ReuseBar
from studio.ui.canvas.selection_edits import SelectionEdits
from studio.ui.canvas.tool_options import ToolOptions
from studio.ui.canvas.tools import TOOLS, Tool
from studio.ui.canvas.view import CanvasView

__all__ = ["PICTURE_SUFFIXES", "CanvasWorkspace", "ElidedLabel", "ReuseBar"]


class CanvasWorkspace(LayerEdits, SelectionEdits, ClipboardEdits, CanvasSizeEdits, PictureFiles, QWidget):
    """The canvas and everything around it. Every change goes through the undo stack."""

    reuse_requested = Signal(object)  # PictureParameters: load these into the generator panel
    message = Signal(str)  # for the status bar
    warning = Signal(str, str)  # title, text: a problem to show without blocking
    document_replaced = Signal()  # another picture or project: jobs started for the old one must not land here
    changed_outside_undo = Signal()  # a change the project saves that is no undo step (a layer's eye)
    inputs_changed = Signal()  # the canvas size, the selection or the active layer: what a generator would get

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
        self.results = ResultsStrip(self)  # a batch's pictures, waiting to be applied; hidden while empty
        centre_layout.addWidget(self.results)

        # The tool options (``options``) and the layers (``panel``) live in the window's docks,
        # beside the other panels, so the view between the tool bar and the docks keeps the room.

        # The view's column; a strip of results may sit beside it in this splitter.
        self.splitter = QSplitter()
        self.splitter.addWidget(centre)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setCollapsible(0, False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.splitter, 1)
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
        panel.blend_requested.connect(self.set_blend)
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
        self.inputs_changed.emit()

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
        self.inputs_changed.emit()

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
        self.inputs_changed.emit()

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
