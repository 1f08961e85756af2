"""The canvas view: layers, mask, selection and a job's preview, zoomed and panned.

Each layer is drawn from a QImage that shares the layer's numpy memory (made once per
pixels array and revision, no copy), and QPainter scales and blends it while painting:
about a millisecond for a 2048x2048 layer, where flattening on the GUI thread would stall
it for tens of milliseconds. A brush stroke changes the pixels in place and repaints only
the rectangle it touched.

Mouse input goes to the current tool in canvas coordinates; the view itself keeps zoom
(wheel, around the cursor) and pan (middle button, or space held with the left button).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import QWidget

from studio.core.image.geometry import Rect
from studio.core.image.document import ImageDocument, Layer
from studio.ui.canvas.layer_painting import paint_layers
from studio.ui.images import qimage_from_rgba

if TYPE_CHECKING:
    from studio.ui.canvas.tool_base import Tool

MIN_ZOOM, MAX_ZOOM = 1 / 64, 32.0
WHEEL_STEP = 1.2  # zoom factor per wheel notch
FIT_MARGIN = 24
MASK_COLOUR = (230, 40, 40)  # the inpainting mask shows as translucent red
ANTS_MS = 160
#: A preview showing less than this share of its picture's rows is the top of it (drawn band by band).
PARTIAL_PREVIEW = 0.97


class CanvasView(QWidget):
    zoom_changed = Signal(float)
    pointer_moved = Signal(object)  # (x, y) canvas pixel under the pointer, or None

    def __init__(self, document: ImageDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setObjectName("canvas_view")
        self.setMinimumSize(180, 180)  # still a picture to paint on, between the docks of a 1024 px screen
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # the workspace takes dropped files
        self.zoom = 1.0
        self.origin = QPointF(0, 0)  # where canvas (0, 0) is drawn, in widget coordinates
        self.fitting = True  # follow the widget's size until the user zooms or pans
        self.tool: Tool | None = None
        self._images: "weakref.WeakKeyDictionary[Layer, tuple[int, int, QImage]]" = weakref.WeakKeyDictionary()
        self._preview: tuple[QImage, Rect | None] | None = None
        self._preview_full: tuple[int, int] | None = None  # the whole picture's size, when known
        self._overlay: np.ndarray | None = None
        self._overlay_image: QImage | None = None
        self._overlay_source: np.ndarray | None = None
        self._outline: list[QLineF] = []
        self._outline_of = None
        self._ants = 0
        self._ants_timer = QTimer(self)
        self._ants_timer.setInterval(ANTS_MS)
        self._ants_timer.timeout.connect(self._march)
        self._panning: QPointF | None = None
        self._space = False
        self._hover: QPointF | None = None
        self._checker = self._make_checker()
        self.refresh_mask(force=True)
        self.refresh_selection()

    @staticmethod
    def _make_checker() -> QPixmap:
        tile = QPixmap(16, 16)
        tile.fill(QColor("#3a3a40"))
        painter = QPainter(tile)
        painter.fillRect(0, 0, 8, 8, QColor("#2e2e33"))
        painter.fillRect(8, 8, 8, 8, QColor("#2e2e33"))
        painter.end()
        return tile

    # -- coordinates -----------------------------------------------------------------------------

    def to_canvas(self, point: QPointF) -> QPointF:
        return (QPointF(point) - self.origin) / self.zoom

    def to_widget(self, point: QPointF) -> QPointF:
        return QPointF(point) * self.zoom + self.origin

    def widget_rect(self, rect: Rect, pad: float = 2.0) -> QRect:
        """The widget pixels showing canvas ``rect`` (padded for antialiasing and outlines)."""
        area = QRectF(self.origin.x() + rect.x * self.zoom, self.origin.y() + rect.y * self.zoom, rect.width * self.zoom, rect.height * self.zoom)
        return area.adjusted(-pad, -pad, pad, pad).toAlignedRect()

    def image_rect(self) -> QRectF:
        """Where the canvas is drawn in the widget."""
        return QRectF(self.origin.x(), self.origin.y(), self.document.width * self.zoom, self.document.height * self.zoom)

    # -- zoom and pan ----------------------------------------------------------------------------

    def fit(self) -> None:
        """Show the whole canvas, and a preview reaching past it, as large as the view allows
        (the view follows resizes after). A picture larger than the canvas grows the canvas
        when it lands: fitted to both while it forms, the view need not move then."""
        area = self._content()
        available_w = max(1, self.width() - 2 * FIT_MARGIN)
        available_h = max(1, self.height() - 2 * FIT_MARGIN)
        zoom = min(available_w / area.width(), available_h / area.height())
        self.fitting = True
        self._set_zoom(zoom, None)
        self.origin = QPointF(
            (self.width() - area.width() * self.zoom) / 2 - area.x() * self.zoom,
            (self.height() - area.height() * self.zoom) / 2 - area.y() * self.zoom,
        )
        self.update()

    def _content(self) -> QRectF:
        """The canvas, with the rectangle a job's preview covers where it reaches past it."""
        area = QRectF(0, 0, self.document.width, self.document.height)
        if self._preview is not None and self._preview[1] is not None:
            area = area.united(self._preview_rect())
        return area

    def actual_size(self) -> None:
        """100 %: one canvas pixel per screen pixel, centred."""
        self.fitting = False
        self._set_zoom(1.0, None)
        self.origin = QPointF((self.width() - self.document.width) / 2, (self.height() - self.document.height) / 2)
        self.update()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the canvas point under ``anchor`` (default: the centre) still."""
        self.fitting = False
        anchor = QPointF(self.width() / 2, self.height() / 2) if anchor is None else QPointF(anchor)
        self._set_zoom(self.zoom * factor, anchor)

    def _set_zoom(self, zoom: float, anchor: QPointF | None) -> None:
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        if anchor is not None:
            under = self.to_canvas(anchor)
            self.origin = anchor - under * zoom
        self.zoom = zoom
        self.update()
        self.zoom_changed.emit(zoom)

    def pan_by(self, dx: float, dy: float) -> None:
        self.fitting = False
        self.origin += QPointF(dx, dy)
        self.update()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.fitting:
            self.fit()
        super().resizeEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        notches = event.angleDelta().y() / 120
        if notches:
            self.zoom_by(WHEEL_STEP**notches, event.position())
        event.accept()

    # -- what is shown ---------------------------------------------------------------------------

    def refresh(self) -> None:
        self.update()

    def layer_image(self, layer: Layer) -> QImage:
        """The layer's QImage over its own memory; remade when the array or its revision changes."""
        cached = self._images.get(layer)
        if cached is None or cached[0] != id(layer.pixels) or cached[1] != layer.revision:
            image = qimage_from_rgba(layer.pixels, copy=False)
            cached = self._images[layer] = (id(layer.pixels), layer.revision, image)
        return cached[2]

    def show_preview(self, pixels: np.ndarray | None, rect: Rect | None = None, full: tuple[int, int] | None = None) -> None:
        """A job's partial picture, drawn where it will land and at the size it will have
        (``rect``, canvas coordinates; None: fitted to the canvas) until it lands. A preview is
        small (a 4096 px picture previews at 64-512 px): it is drawn smoothly scaled into its
        rectangle, past the canvas's edge where the picture will grow the canvas.

        ``full``: the size of the whole picture the generator makes. A preview of its top rows
        only (a picture drawn band by band) then covers the top of the rectangle, at the
        picture's scale, instead of being stretched over all of it."""
        before = self._content()
        self._preview = None if pixels is None else (qimage_from_rgba(pixels), rect)
        self._preview_full = full
        if self.fitting and self._content() != before:
            self.fit()  # the preview reaches past the canvas (or no longer does)
        self.update()

    def _preview_rect(self) -> QRectF:
        """Where the previewed picture lands, in canvas coordinates."""
        assert self._preview is not None
        image, rect = self._preview
        if rect is None:  # size unknown: fit the canvas, keeping the picture's shape
            size = QSize(image.width(), image.height()).scaled(QSize(self.document.width, self.document.height), Qt.AspectRatioMode.KeepAspectRatio)
            return QRectF(0, 0, size.width(), size.height())
        return QRectF(rect.x, rect.y, rect.width, rect.height)

    def _preview_drawn(self) -> QRectF:
        """The part of the landing rectangle the preview covers: the top rows done so far
        when it shows only those, else all of it."""
        assert self._preview is not None
        image, full = self._preview[0], self._preview_full
        target = self._preview_rect()
        if full is not None and full[0] > 0 and full[1] > 0 and image.width() > 0:
            shown = image.height() * full[0] / image.width() / full[1]  # the share of the picture's rows
            if shown < PARTIAL_PREVIEW:
                target.setHeight(target.height() * shown)
        return target

    def refresh_mask(self, rect: Rect | None = None, force: bool = False) -> None:
        """Bring the red overlay up to date with the mask.

        ``rect``: only that part changed (a stroke). Without it the overlay is rebuilt when
        the mask array was replaced (or ``force``), and left alone otherwise: a structural
        change such as a new layer should not cost a pass over a large mask.
        """
        mask = self.document.mask
        if rect is None and not force and mask is self._overlay_source:
            return
        self._overlay_source = mask
        if mask is None or (rect is None and not mask.any()):
            self._overlay = self._overlay_image = None
            self.update()
            return
        shape = mask.shape + (4,)
        if self._overlay is None or self._overlay.shape != shape:
            self._overlay = np.zeros(shape, dtype=np.uint8)
            self._overlay[..., :3] = MASK_COLOUR
            rect = None
        area = (rect or self.document.bounds).intersected(self.document.bounds)
        if not area.is_empty():
            painted = mask[area.slices()]
            self._overlay[area.slices() + (3,)] = painted // 2 + painted // 8  # about 60 % at full mask
        # A fresh wrapper, so no paint engine can keep showing a cached copy of the old pixels.
        self._overlay_image = qimage_from_rgba(self._overlay, copy=False)
        self.update() if rect is None else self.update(self.widget_rect(rect))

    def refresh_selection(self) -> None:
        selection = self.document.selection
        if selection is not self._outline_of:
            self._outline_of = selection
            segments = selection.outline() if selection is not None else np.zeros((0, 4))
            self._outline = [QLineF(float(a), float(b), float(c), float(d)) for a, b, c, d in segments.tolist()]
        if self._outline and self.isVisible():
            self._ants_timer.start()
        else:
            self._ants_timer.stop()
        self.update()

    def _march(self) -> None:
        self._ants = (self._ants + 1) % 8
        box = self.document.selection.bbox if self.document.selection is not None else None
        if box is None or not self.isVisible():
            self._ants_timer.stop()
            return
        self.update(self.widget_rect(box, pad=3))

    def showEvent(self, event) -> None:  # noqa: N802
        self.refresh_selection()
        super().showEvent(event)

    def hideEvent(self, event) -> None:  # noqa: N802
        self._ants_timer.stop()
        super().hideEvent(event)

    # -- painting --------------------------------------------------------------------------------

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(event.rect(), QColor("#1b1b1f"))
        width, height = self.document.width, self.document.height
        canvas = QRectF(self.origin.x(), self.origin.y(), width * self.zoom, height * self.zoom)
        painter.fillRect(canvas.adjusted(2, 3, 4, 5), QColor(0, 0, 0, 90))  # a soft drop shadow
        painter.setBrushOrigin(canvas.topLeft())
        painter.drawTiledPixmap(canvas, self._checker, QPointF(0, 0))
        painter.save()
        painter.setClipRect(canvas)  # layers reaching past the canvas are cut at its edge
        painter.translate(self.origin)
        painter.scale(self.zoom, self.zoom)
        # Smooth when shrinking; crisp pixels when an artist zooms in to work on them.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom < 2)
        paint_layers(painter, self.document.layers, self.layer_image, self.tool)
        if self._overlay_image is not None:
            painter.drawImage(QPointF(0, 0), self._overlay_image)
        painter.restore()
        if self._preview is not None:
            self._paint_preview(painter)
        painter.setPen(QPen(QColor("#55555c"), 1))
        painter.drawRect(canvas.adjusted(-0.5, -0.5, 0.5, 0.5))
        self._paint_selection(painter)
        if self.tool is not None:
            self.tool.paint_overlay(painter, self)
        if not self.document.layers and self._preview is None:
            painter.setPen(QColor("#8b8b93"))
            painter.drawText(canvas, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, "Empty canvas\nGenerate, paint, or drop a picture here")
        painter.end()

    def _paint_preview(self, painter: QPainter) -> None:
        """The forming picture over its landing rectangle, outlined: not cut at the canvas's
        edge, since a larger picture grows the canvas when it lands."""
        drawn, landing = self._preview_drawn(), self._preview_rect()
        on_screen = QRectF(self.to_widget(drawn.topLeft()), self.to_widget(drawn.bottomRight()))
        painter.save()
        painter.setOpacity(0.92)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)  # bilinear, never blocks of colour
        painter.drawImage(on_screen, self._preview[0])
        painter.setOpacity(1.0)
        on_screen = QRectF(self.to_widget(landing.topLeft()), self.to_widget(landing.bottomRight()))
        outline = QPen(QColor("#8ab4f8"), 1)
        outline.setDashPattern([3.0, 3.0])
        painter.setPen(outline)
        painter.drawRect(on_screen.adjusted(-0.5, -0.5, 0.5, 0.5))
        painter.restore()

    def _paint_selection(self, painter: QPainter) -> None:
        """Marching ants: a white line under a black dashed one whose dashes crawl."""
        if not self._outline:
            return
        lines = [QLineF(self.to_widget(line.p1()), self.to_widget(line.p2())) for line in self._outline]
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(QColor("white"), 1))
        painter.drawLines(lines)
        dashed = QPen(QColor("black"), 1)
        dashed.setDashPattern([4.0, 4.0])
        dashed.setDashOffset(self._ants)
        painter.setPen(dashed)
        painter.drawLines(lines)

    # -- input -----------------------------------------------------------------------------------

    def _canvas_point(self, event: QMouseEvent) -> QPointF:
        return self.to_canvas(event.position())

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            self._panning = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if self.tool is not None and button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self.tool.press(self._canvas_point(event), event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        point = self._canvas_point(event)
        if self._panning is not None:
            delta = event.position() - self._panning
            self._panning = event.position()
            self.pan_by(delta.x(), delta.y())
            return
        previous = self._hover
        self._hover = event.position()
        inside = 0 <= point.x() < self.document.width and 0 <= point.y() < self.document.height
        self.pointer_moved.emit((int(point.x()), int(point.y())) if inside else None)
        if self.tool is not None:
            if event.buttons() & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton):
                self.tool.move(point, event)
            elif not self._space:
                self.tool.hover(point)
            self._update_tool_cursor(previous)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._panning is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._panning = None
            self.unsetCursor() if not self._space else self.setCursor(Qt.CursorShape.OpenHandCursor)
            self._apply_tool_cursor()
            return
        if self.tool is not None and event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self.tool.release(self._canvas_point(event), event)

    def leaveEvent(self, event) -> None:  # noqa: N802
        previous, self._hover = self._hover, None
        self.pointer_moved.emit(None)
        self._update_tool_cursor(previous)
        super().leaveEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if self.tool is not None and self.tool.key_press(event):
            return  # the tool's own keys (the free transform's Enter and flips)
        if event.key() == Qt.Key.Key_Escape and self.tool is not None:
            self.tool.cancel()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._apply_tool_cursor()
            return
        super().keyReleaseEvent(event)

    @property
    def hover(self) -> QPointF | None:
        """The pointer in widget coordinates while it is over the view."""
        return self._hover

    def set_tool(self, tool: "Tool") -> None:
        if self.tool is not None:
            self.tool.leave()
        self.tool = tool
        self._apply_tool_cursor()
        self.update()

    def _apply_tool_cursor(self) -> None:
        if self._space:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        elif self.tool is not None:
            self.setCursor(self.tool.cursor)

    def _update_tool_cursor(self, previous: QPointF | None) -> None:
        """Repaint the brush outline where it was and where it is."""
        if self.tool is None or not self.tool.outline_radius():
            return
        radius = self.tool.outline_radius() * self.zoom + 3
        for point in (previous, self._hover):
            if point is not None:
                self.update(QRectF(point.x() - radius, point.y() - radius, 2 * radius, 2 * radius).toAlignedRect())
