"""The Canvas workspace: the layered image, its layers list, and the live preview of a job.

The document (``studio.core.image.ImageDocument``) is plain numpy data. The view wraps each
layer's pixels in a QImage that shares their memory (no copy, made once per layer) and lets
QPainter scale and blend them while painting: that costs about a millisecond for a
2048x2048 layer, where flattening or smooth-rescaling it would stall the GUI thread for
tens to hundreds of milliseconds.
"""

from __future__ import annotations

import weakref

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.image import ImageDocument, Layer
from studio.ui.images import qimage_from_rgba

THUMB = QSize(48, 48)


class CanvasView(QWidget):
    """Draws the composite fitted to the widget over a checkerboard, and a preview on top."""

    def __init__(self, document: ImageDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setMinimumSize(240, 240)
        self._images: "weakref.WeakKeyDictionary[Layer, QImage]" = weakref.WeakKeyDictionary()
        self._preview = None
        self._checker = self._make_checker()
        self.refresh()

    @staticmethod
    def _make_checker() -> QPixmap:
        tile = QPixmap(16, 16)
        tile.fill(QColor("#3a3a40"))
        painter = QPainter(tile)
        painter.fillRect(0, 0, 8, 8, QColor("#2e2e33"))
        painter.fillRect(8, 8, 8, 8, QColor("#2e2e33"))
        painter.end()
        return tile

    def refresh(self) -> None:
        self.update()

    def layer_image(self, layer: Layer) -> QImage:
        image = self._images.get(layer)
        if image is None:
            image = self._images[layer] = qimage_from_rgba(layer.pixels, copy=False)
        return image

    def show_preview(self, pixels: np.ndarray | None) -> None:
        self._preview = None if pixels is None else qimage_from_rgba(pixels)
        self.update()

    def image_rect(self) -> QRectF:
        """Where the canvas is drawn: fitted into the widget, never upscaled past 100 %."""
        width, height = self.document.width, self.document.height
        margin = 16
        scale = min((self.width() - 2 * margin) / width, (self.height() - 2 * margin) / height, 1.0)
        scale = max(scale, 0.01)
        w, h = width * scale, height * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#202024"))
        rect = self.image_rect()
        painter.drawTiledPixmap(rect, self._checker)
        painter.setClipRect(rect)  # layers larger than the canvas are cut at its edge
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        scale = rect.width() / self.document.width
        for layer in self.document.layers:
            if layer.visible and layer.opacity > 0:
                width, height = layer.size
                painter.setOpacity(layer.opacity)
                painter.drawImage(QRectF(rect.left(), rect.top(), width * scale, height * scale), self.layer_image(layer))
        painter.setOpacity(1.0)
        painter.setClipping(False)
        if self._preview is not None:
            preview_rect = QRectF(rect.topLeft(), QSize(self._preview.width(), self._preview.height()).scaled(rect.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio))
            painter.setOpacity(0.92)
            painter.drawImage(preview_rect, self._preview)
            painter.setOpacity(1.0)
        painter.setPen(QColor("#55555c"))
        painter.drawRect(rect.adjusted(-0.5, -0.5, 0.5, 0.5))
        if not self.document.layers and self._preview is None:
            painter.setPen(QColor("#8b8b93"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "Empty canvas\nGenerate an image to add a layer")
        painter.end()


class AddLayer(QUndoCommand):
    def __init__(self, workspace: "CanvasWorkspace", layer: Layer) -> None:
        super().__init__(f"Add layer “{layer.name}”")
        self.workspace, self.layer = workspace, layer
        self.size_before = (workspace.document.width, workspace.document.height)

    def redo(self) -> None:
        self.workspace.document.insert(self.layer)
        self.workspace.changed()

    def undo(self) -> None:
        document = self.workspace.document
        document.remove(self.layer)
        document.width, document.height = self.size_before
        self.workspace.changed()


class RemoveLayer(QUndoCommand):
    def __init__(self, workspace: "CanvasWorkspace", layer: Layer) -> None:
        super().__init__(f"Delete layer “{layer.name}”")
        self.workspace, self.layer, self.index = workspace, layer, 0

    def redo(self) -> None:
        self.index = self.workspace.document.remove(self.layer)
        self.workspace.changed()

    def undo(self) -> None:
        self.workspace.document.insert(self.layer, self.index)
        self.workspace.changed()


class SetVisible(QUndoCommand):
    def __init__(self, workspace: "CanvasWorkspace", layer: Layer, visible: bool) -> None:
        super().__init__(("Show" if visible else "Hide") + f" layer “{layer.name}”")
        self.workspace, self.layer, self.visible = workspace, layer, visible

    def redo(self) -> None:
        self.layer.visible = self.visible
        self.workspace.changed()

    def undo(self) -> None:
        self.layer.visible = not self.visible
        self.workspace.changed()


class CanvasWorkspace(QWidget):
    """The canvas and its layers panel. Every change goes through the undo stack."""

    layer_activated = Signal(object)  # Layer: the user asked to reuse its parameters

    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack
        self.document = ImageDocument()
        self._thumbnails: "weakref.WeakKeyDictionary[Layer, QIcon]" = weakref.WeakKeyDictionary()
        self.view = CanvasView(self.document)
        self.layers = QListWidget()
        self.layers.setObjectName("layers_list")
        self.layers.setIconSize(THUMB)
        self.layers.setMinimumWidth(200)
        self.layers.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.layers.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.layers.setWordWrap(True)
        self.layers.itemChanged.connect(self._on_item_changed)
        self.layers.itemDoubleClicked.connect(lambda item: self.layer_activated.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.size_label = QLabel()
        self.size_label.setStyleSheet("color: #999;")
        delete = QToolButton(text="Delete")
        delete.setToolTip("Delete the selected layer")
        delete.clicked.connect(self.delete_selected)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        header.addWidget(QLabel("<b>Layers</b>"))
        header.addStretch(1)
        header.addWidget(delete)
        side_layout.addLayout(header)
        side_layout.addWidget(self.layers, 1)
        side_layout.addWidget(self.size_label)

        splitter = QSplitter()
        splitter.addWidget(self.view)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([800, 220])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.changed()

    def add_layer(self, layer: Layer) -> None:
        self.view.show_preview(None)
        self.undo_stack.push(AddLayer(self, layer))

    def delete_selected(self) -> None:
        item = self.layers.currentItem()
        if item is not None:
            self.undo_stack.push(RemoveLayer(self, item.data(Qt.ItemDataRole.UserRole)))

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        layer: Layer = item.data(Qt.ItemDataRole.UserRole)
        visible = item.checkState() == Qt.CheckState.Checked
        if layer is not None and visible != layer.visible:
            self.undo_stack.push(SetVisible(self, layer, visible))

    def changed(self) -> None:
        """Rebuild the layers list and the composite after any edit."""
        self.layers.blockSignals(True)
        self.layers.clear()
        for layer in reversed(self.document.layers):  # top layer first, as painters expect
            item = QListWidgetItem(self.thumbnail(layer), layer.name)
            item.setData(Qt.ItemDataRole.UserRole, layer)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
            if layer.params:
                item.setToolTip("Double-click to reuse these parameters:\n" + "\n".join(f"{k}: {v}" for k, v in layer.params.items()))
            self.layers.addItem(item)
        self.layers.blockSignals(False)
        if self.layers.count():
            self.layers.setCurrentRow(0)
        self.size_label.setText(f"{self.document.width} × {self.document.height} px · {len(self.document.layers)} layer(s)")
        self.view.refresh()

    def thumbnail(self, layer: Layer) -> QIcon:
        """The layer's icon, made once: a cheap stride-subsample first, a smooth scale of that after."""
        icon = self._thumbnails.get(layer)
        if icon is None:
            step = max(1, max(layer.pixels.shape[:2]) // (2 * THUMB.width()))
            image = qimage_from_rgba(layer.pixels[::step, ::step])
            scaled = image.scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            icon = self._thumbnails[layer] = QIcon(QPixmap.fromImage(scaled))
        return icon
