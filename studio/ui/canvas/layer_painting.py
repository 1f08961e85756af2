"""Drawing the layer stack in the view, each layer with its opacity and blend mode.

QPainter's composition modes are the W3C blend modes the document composites with
(``studio.core.image.blend``: multiply, screen, overlay and soft light, source-over with
blending), so the view shows what an export writes without flattening on the GUI thread.
A blend mode must mix with the layers only, never with the checkerboard behind a
transparent canvas: a stack that uses one is drawn into a transparent buffer first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from PySide6.QtCore import QPointF, QRect, Qt
from PySide6.QtGui import QImage, QPainter, QTransform

from studio.core.image.blend import NORMAL
from studio.core.image.document import Layer

if TYPE_CHECKING:
    from studio.ui.canvas.tool_base import Tool

MODES = {
    NORMAL: QPainter.CompositionMode.CompositionMode_SourceOver,
    "multiply": QPainter.CompositionMode.CompositionMode_Multiply,
    "screen": QPainter.CompositionMode.CompositionMode_Screen,
    "overlay": QPainter.CompositionMode.CompositionMode_Overlay,
    "soft-light": QPainter.CompositionMode.CompositionMode_SoftLight,
}


def paint_layers(painter: QPainter, layers: Iterable[Layer], image_of: Callable[[Layer], QImage], tool: "Tool | None") -> None:
    """Draw the visible ``layers`` bottom to top; ``painter`` is set to canvas coordinates."""
    shown = [layer for layer in layers if layer.visible and layer.opacity > 0]
    if all(layer.blend == NORMAL for layer in shown):
        _draw(painter, shown, image_of, tool)
        return
    # Only the part being repainted (marching ants repaint a sliver): the buffer covers the
    # paint event's region, in device pixels.
    device = painter.device()
    ratio = device.devicePixelRatioF()
    region = painter.paintEngine().systemClip() if painter.paintEngine() is not None else None
    area = region.boundingRect() if region is not None and not region.isEmpty() else QRect(0, 0, round(device.width() * ratio), round(device.height() * ratio))
    if area.isEmpty():
        return
    buffer = QImage(area.size(), QImage.Format.Format_ARGB32_Premultiplied)
    buffer.fill(Qt.GlobalColor.transparent)
    inner = QPainter(buffer)
    inner.setRenderHints(painter.renderHints())
    inner.setTransform(painter.deviceTransform() * QTransform.fromTranslate(-area.x(), -area.y()))
    if painter.hasClipping():
        inner.setClipRect(painter.clipBoundingRect())
    _draw(inner, shown, image_of, tool)
    inner.end()
    painter.save()
    # World coordinates that are the device's pixels (grab() and high-DPI screens offset and scale them).
    painter.setTransform(painter.deviceTransform().inverted()[0] * painter.transform())
    painter.setClipping(False)
    painter.drawImage(QPointF(area.x(), area.y()), buffer)
    painter.restore()


def _draw(painter: QPainter, layers: list[Layer], image_of: Callable[[Layer], QImage], tool: "Tool | None") -> None:
    for layer in layers:
        painter.setOpacity(layer.opacity)
        painter.setCompositionMode(MODES.get(layer.blend, MODES[NORMAL]))
        image = image_of(layer)
        if tool is None or not tool.paint_layer(painter, layer, image):
            painter.drawImage(QPointF(layer.x, layer.y), image)
    painter.setOpacity(1.0)
    painter.setCompositionMode(MODES[NORMAL])
