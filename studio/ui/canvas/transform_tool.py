"""The free transform tool (T): move, scale, rotate and flip the active layer, or what the
selection holds of it, with handles, and a live preview until Enter applies it.

Dragging inside the box moves it, a corner handle scales (Shift keeps the proportions), an
edge handle stretches one way, and a drag outside the box rotates it about its centre
(Shift: in 15 degree steps). H flips it left-right, Shift+H upside down; the tool options
have the same as buttons. Enter, or choosing another tool, applies it as one undo step,
resampled once (``studio.core.image.transform``); Esc puts everything back. With a selection
the selected pixels are lifted off the layer and put down where the box ends, and the
selection follows them.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPen, QPolygonF, QTransform
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from studio.core.image.document import Layer
from studio.core.image.geometry import Rect
from studio.core.image.merge import stamp
from studio.core.image.pieces import layer_piece
from studio.core.image.selection import Selection
from studio.core.image.transform import FreeTransform, apply_transform
from studio.errors import StudioError
from studio.ui.canvas.commands import ReplaceLayers, SetSelection
from studio.ui.canvas.tool_base import Tool
from studio.ui.images import qimage_from_rgba

if TYPE_CHECKING:
    from studio.ui.canvas.view import CanvasView
    from studio.ui.canvas.workspace import CanvasWorkspace

HANDLE = 4.5  # half a handle's side, widget px
GRAB = 9.0  # how near (widget px) a press must be to take a handle
HANDLES = ((-1, -1), (0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0))  # corners and edge middles
SNAP = 15.0  # degrees, with Shift


class TransformTool(Tool):
    name, title, shortcut, icon = "transform", "Free transform", "T", "transform"
    tip = ("Drag inside to move, a corner to scale (Shift keeps the shape), an edge to stretch, outside to "
           "rotate (Shift: 15° steps). H flips, Shift+H flips upside down. Enter applies, Esc cancels.")
    cursor = Qt.CursorShape.ArrowCursor
    options = ("transform",)

    def __init__(self, workspace: "CanvasWorkspace") -> None:
        super().__init__(workspace)
        self.layer: Layer | None = None
        self.piece: np.ndarray | None = None  # the pixels being transformed
        self.base: np.ndarray | None = None  # with a selection: the layer without them
        self._images: tuple[QImage, QImage | None] | None = None
        self.transform: FreeTransform | None = None
        self._drag: tuple[str, tuple[int, int], QPointF, FreeTransform] | None = None
        self._pushing = False
        workspace.undo_stack.indexChanged.connect(self._stack_changed)
        workspace.options.add_row("transform", "", self._make_buttons())

    def _make_buttons(self) -> QWidget:
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        self.buttons: dict[str, QPushButton] = {}
        for name, text, tip, slot in (
            ("flip_h", "Flip ↔", "Mirror left to right (H)", lambda: self.flip(True)),
            ("flip_v", "Flip ↕", "Mirror top to bottom (Shift+H)", lambda: self.flip(False)),
            ("apply", "Apply", "Apply the transform (Enter)", self.apply),
            ("cancel", "Cancel", "Put everything back (Esc)", self.cancel),
        ):
            button = QPushButton(text)
            button.setObjectName(f"transform_{name}")
            button.setToolTip(tip)
            button.clicked.connect(lambda checked=False, s=slot: s())
            row.addWidget(button)
            self.buttons[name] = button
        row.addStretch(1)
        self._update_buttons()
        return bar

    def _update_buttons(self) -> None:
        pending = self.transform is not None
        self.buttons["apply"].setEnabled(pending and not self.transform.is_identity())
        self.buttons["cancel"].setEnabled(pending)

    # -- starting and ending -------------------------------------------------------------------

    def begin(self) -> bool:
        """Lift the active layer (or its selected pixels) into a pending transform."""
        if self.transform is not None:
            return True
        layer, _ = self.workspace.layer_to_paint(create=False, action="Transform")
        if layer is None:
            return False
        selection = self.workspace.document.selection
        if selection is None:
            piece, rect = layer.pixels, layer.rect
            if rect.is_empty():
                self.workspace.message.emit(f"Transform: “{layer.name}” has no pixels")
                return False
        else:
            lifted = layer_piece(layer, selection, self.workspace.document.bounds)
            if lifted is None or not lifted[0][..., 3].any():
                self.workspace.message.emit(f"Transform: “{layer.name}” has nothing inside the selection")
                return False
            piece, rect = lifted
            self.base = layer.pixels.copy()
            self.base[rect.slices(layer.x, layer.y)][selection.crop(rect)] = 0
        self.layer, self.piece = layer, piece
        self._images = (qimage_from_rgba(piece), None if self.base is None else qimage_from_rgba(self.base))
        self.transform = FreeTransform.of(rect)
        self._update_buttons()
        return True

    def apply(self) -> None:
        """Resample once and push it: one undo step."""
        if self.transform is None:
            return
        layer, transform, piece, base = self.layer, self.transform, self.piece, self.base
        self._end()
        if transform.is_identity():
            return
        try:
            moved, mx, my = apply_transform(piece, transform)
            pixels, x, y = (moved, mx, my) if base is None else stamp(base, (layer.x, layer.y), moved, (mx, my))
        except StudioError as exc:
            self.workspace.warning.emit("Cannot transform", str(exc))
            return
        stack = self.workspace.undo_stack
        self._pushing = True
        try:
            stack.beginMacro(f"Transform “{layer.name}”")
            stack.push(ReplaceLayers(self.workspace, self.workspace.document.layers, {layer: (pixels, x, y)}, f"Transform “{layer.name}”"))
            if base is not None:  # the selection follows what it held
                document = self.workspace.document
                mask = np.zeros((document.height, document.width), dtype=bool)
                inside = Rect(mx, my, moved.shape[1], moved.shape[0]).intersected(document.bounds)
                if not inside.is_empty():
                    mask[inside.slices()] = moved[inside.slices(mx, my)][..., 3] > 127
                stack.push(SetSelection(self.workspace, Selection(mask), "Transform selection"))
            stack.endMacro()
        finally:
            self._pushing = False

    def cancel(self) -> None:
        self._end()

    def leave(self) -> None:
        """Another tool chosen: what was set up is applied, as in Krita."""
        self.apply()

    def _end(self) -> None:
        self.layer = self.piece = self.base = self._images = self.transform = None
        self._drag = None
        self._update_buttons()
        self.view.update()

    def _stack_changed(self, _index: int) -> None:
        # Undo, redo or another edit changed the document under a pending transform.
        if not self._pushing and self.transform is not None:
            self._end()

    def flip(self, horizontal: bool) -> None:
        if self.begin():
            self.transform = self.transform.flipped(horizontal)
            self._update_buttons()
            self.view.update()

    # -- the mouse and keys ----------------------------------------------------------------------

    def press(self, point: QPointF, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self.begin():
            return
        self._drag = (self._hit(point), self._handle_at(point) or (0, 0), QPointF(point), self.transform)

    def move(self, point: QPointF, event: QMouseEvent) -> None:
        if self._drag is None:
            return
        kind, handle, start, before = self._drag
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if kind == "move":
            self.transform = replace(before, dx=before.dx + point.x() - start.x(), dy=before.dy + point.y() - start.y())
        elif kind == "scale":
            self.transform = before.scaled_by_handle(*handle, point.x(), point.y(), keep_aspect=shift)
        else:
            cx, cy = before.centre
            turn = math.degrees(math.atan2(point.y() - cy, point.x() - cx) - math.atan2(start.y() - cy, start.x() - cx))
            angle = before.angle + turn
            self.transform = replace(before, angle=round(angle / SNAP) * SNAP if shift else angle)
        self._update_buttons()
        self.view.update()

    def release(self, point: QPointF, event: QMouseEvent) -> None:
        if self._drag is not None:
            self.move(point, event)
            self._drag = None

    def hover(self, point: QPointF) -> None:
        kind = self._hit(point) if self._box() is not None else "none"
        handle = self._handle_at(point)
        if kind == "scale" and handle is not None:
            u, v = handle
            turned = (math.degrees(math.atan2(v, u)) + (self.transform or FreeTransform((0, 0, 1, 1))).angle) % 180
            shapes = (Qt.CursorShape.SizeHorCursor, Qt.CursorShape.SizeFDiagCursor, Qt.CursorShape.SizeVerCursor, Qt.CursorShape.SizeBDiagCursor)
            self.view.setCursor(shapes[round(turned / 45) % 4])
        else:
            self.view.setCursor({"move": Qt.CursorShape.SizeAllCursor, "rotate": Qt.CursorShape.CrossCursor}.get(kind, self.cursor))

    def key_press(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.transform is not None:
            self.apply()
            return True
        if key == Qt.Key.Key_Escape and self.transform is not None:
            self.cancel()
            return True
        if key == Qt.Key.Key_H:
            self.flip(not event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            return True
        return False

    # -- where things are ------------------------------------------------------------------------

    def _box(self) -> FreeTransform | None:
        """The pending transform, or the box a press would start one on (for the handles)."""
        if self.transform is not None:
            return self.transform
        layer = self.workspace.active_layer
        if layer is None or layer.locked or not layer.visible:
            return None
        selection = self.workspace.document.selection
        rect = layer.rect if selection is None else layer.rect.intersected(selection.bbox)
        return None if rect.is_empty() else FreeTransform.of(rect)

    def _handles(self, box: FreeTransform) -> list[tuple[tuple[int, int], QPointF]]:
        w, h = box.box[2] / 2, box.box[3] / 2
        return [(side, self.view.to_widget(QPointF(*box.map(side[0] * w, side[1] * h)))) for side in HANDLES]

    def _handle_at(self, point: QPointF) -> tuple[int, int] | None:
        box = self._box()
        if box is None:
            return None
        spot = self.view.to_widget(point)
        near = [(math.hypot(p.x() - spot.x(), p.y() - spot.y()), side) for side, p in self._handles(box)]
        distance, side = min(near)
        return side if distance <= GRAB else None

    def _hit(self, point: QPointF) -> str:
        box = self._box()
        if box is None:
            return "none"
        if self._handle_at(point) is not None:
            return "scale"
        u, v = box.unmap(point.x(), point.y())
        inside = abs(u) <= abs(box.box[2] * box.scale_x) / 2 and abs(v) <= abs(box.box[3] * box.scale_y) / 2
        return "move" if inside else "rotate"

    # -- drawing ---------------------------------------------------------------------------------

    def paint_layer(self, painter: QPainter, layer: Layer, image: QImage) -> bool:
        if layer is not self.layer or self.transform is None or self._images is None:
            return False
        piece, base = self._images
        if base is not None:
            painter.drawImage(QPointF(layer.x, layer.y), base)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.setTransform(qt_transform(self.transform), True)
        x, y, _, _ = self.transform.box
        painter.drawImage(QPointF(x, y), piece)
        painter.restore()
        return True

    def paint_overlay(self, painter: QPainter, view: "CanvasView") -> None:
        box = self._box()
        if box is None:
            return
        outline = QPolygonF([view.to_widget(QPointF(*corner)) for corner in box.corners()])
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(0, 0, 0, 150), 3))
        painter.drawPolygon(outline)
        painter.setPen(QPen(QColor("#4d9bff") if self.transform is not None else QColor(255, 255, 255, 200), 1.2))
        painter.drawPolygon(outline)
        painter.setPen(QPen(QColor(20, 20, 24), 1.2))
        painter.setBrush(QColor("#f4f4f7"))
        for _, spot in self._handles(box):
            painter.drawRect(QRectF(spot.x() - HANDLE, spot.y() - HANDLE, 2 * HANDLE, 2 * HANDLE))
        centre = view.to_widget(QPointF(*box.centre))
        painter.setPen(QPen(QColor(255, 255, 255, 200), 1))
        painter.drawLine(centre - QPointF(5, 0), centre + QPointF(5, 0))
        painter.drawLine(centre - QPointF(0, 5), centre + QPointF(0, 5))
        if self.transform is not None and not self.transform.is_identity():
            width, height = abs(box.box[2] * box.scale_x), abs(box.box[3] * box.scale_y)
            label = f"{width:.0f} × {height:.0f} px · {box.angle % 360:.1f}°"
            width = painter.fontMetrics().horizontalAdvance(label)
            corner = outline.boundingRect().bottomRight() + QPointF(8, 14)
            # Kept inside the view, so a box near its edge still says its size and angle.
            spot = QPointF(min(corner.x(), view.width() - width - 6), min(corner.y(), view.height() - 6))
            painter.setPen(QColor(0, 0, 0, 170))
            painter.drawText(spot + QPointF(1, 1), label)
            painter.setPen(QColor("#e6e6ea"))
            painter.drawText(spot, label)


def qt_transform(transform: FreeTransform) -> QTransform:
    """The same mapping for QPainter: the box scaled and turned about its centre, then moved."""
    x, y, w, h = transform.box
    cx, cy = transform.centre
    return QTransform().translate(cx, cy).rotate(transform.angle).scale(transform.scale_x, transform.scale_y).translate(-(x + w / 2), -(y + h / 2))
