"""The canvas tools: what a press, a drag and a release on the canvas do.

A tool gets points in canvas coordinates from the view and makes its edit through the
workspace, which owns the document and the undo stack. One press-to-release gesture is
one undo step (a stroke, a selection, a move, a fill). The base class is in ``tool_base``,
the free transform in ``transform_tool``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QPolygonF

from studio.core.image.geometry import Rect
from studio.core.image.paint import ERASE, MASK, PAINT, UNMASK, Stroke, fill, flood_region, region_on_layer
from studio.core.image.selection import Selection
from studio.ui.canvas.commands import MoveLayer, PaintPatch, SetSelection
from studio.ui.canvas.tool_base import Tool
from studio.ui.canvas.transform_tool import TransformTool

if TYPE_CHECKING:
    from studio.ui.canvas.view import CanvasView
    from studio.ui.canvas.workspace import CanvasWorkspace

__all__ = ["TOOLS", "Tool"]


class StrokeTool(Tool):
    """Brush, eraser and mask brush: a smoothed stroke, one undo step storing what it touched."""

    mode = PAINT
    options = ("size", "hardness", "opacity")

    def __init__(self, workspace: "CanvasWorkspace") -> None:
        super().__init__(workspace)
        self.stroke: Stroke | None = None
        self.layer = None
        self._macro = False

    def outline_radius(self) -> float:
        return self.workspace.brush().size / 2

    def _mode_for(self, event: QMouseEvent) -> str:
        return self.mode

    def press(self, point: QPointF, event: QMouseEvent) -> None:
        if self.stroke is not None:
            return
        mode = self._mode_for(event)
        if mode in (MASK, UNMASK):
            target, origin, self.layer, clip = self.workspace.document.ensure_mask(), (0, 0), None, None
        else:
            if event.button() != Qt.MouseButton.LeftButton:
                return
            self.layer, self._macro = self.workspace.layer_to_paint(create=mode == PAINT, action=self.title)
            if self.layer is None:
                return
            target, origin = self.layer.pixels, (self.layer.x, self.layer.y)
            selection = self.workspace.document.selection
            clip = selection.mask if selection is not None else None
        self.stroke = Stroke(target, self.workspace.brush(), mode, origin, clip)
        self._changed(self.stroke.begin(point.x(), point.y()))

    def move(self, point: QPointF, event: QMouseEvent) -> None:
        if self.stroke is not None:
            self._changed(self.stroke.extend(point.x(), point.y()))

    def release(self, point: QPointF, event: QMouseEvent) -> None:
        self._end(point)

    def cancel(self) -> None:
        """Esc ends the stroke where it is: what was painted stays (and is one undo step)."""
        if self.stroke is not None:
            self._end(None)

    def _end(self, point: QPointF | None) -> None:
        if self.stroke is None:
            return
        if point is not None:
            self._changed(self.stroke.extend(point.x(), point.y()))
        stroke, self.stroke = self.stroke, None
        patch = stroke.finish()
        self._changed(stroke.touched)
        if patch is not None:
            text = {PAINT: "Brush stroke", ERASE: "Erase", MASK: "Paint mask", UNMASK: "Erase mask"}[stroke.mode]
            self.workspace.undo_stack.push(PaintPatch(self.workspace, self.layer, patch, text))
        if self._macro:
            self.workspace.undo_stack.endMacro()
            self._macro = False

    def _changed(self, rect: Rect) -> None:
        if rect.is_empty():
            return
        if self.layer is None:
            self.view.refresh_mask(rect)
        else:
            self.layer.touch()
            self.view.update(self.view.widget_rect(rect))


class BrushTool(StrokeTool):
    name, title, shortcut, icon = "brush", "Brush", "B", "brush"
    tip = "Paint on the active layer, inside the selection when there is one. Alt-click picks a colour."
    options = ("size", "hardness", "opacity", "colour")

    def press(self, point: QPointF, event: QMouseEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.AltModifier:
            self.workspace.pick_colour(point)
            return
        super().press(point, event)


class EraserTool(StrokeTool):
    name, title, shortcut, icon = "eraser", "Eraser", "E", "eraser"
    tip = "Erase to transparency on the active layer."
    mode = ERASE


class MaskTool(StrokeTool):
    name, title, shortcut, icon = "mask", "Inpainting mask", "K", "mask"
    tip = "Paint in red where an inpainting generator should repaint. The right button erases the mask."
    mode = MASK

    def _mode_for(self, event: QMouseEvent) -> str:
        return UNMASK if event.button() == Qt.MouseButton.RightButton else MASK


class PickerTool(Tool):
    name, title, shortcut, icon = "picker", "Colour picker", "I", "picker"
    tip = "Pick the brush colour from the visible picture."
    options = ("colour",)

    def press(self, point: QPointF, event: QMouseEvent) -> None:
        self.workspace.pick_colour(point)

    def move(self, point: QPointF, event: QMouseEvent) -> None:
        self.workspace.pick_colour(point)


def selection_mode(event: QMouseEvent) -> str:
    modifiers = event.modifiers()
    shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
    alt = bool(modifiers & Qt.KeyboardModifier.AltModifier)
    return "intersect" if shift and alt else "add" if shift else "subtract" if alt else "replace"


class RectSelectTool(Tool):
    name, title, shortcut, icon = "rect_select", "Rectangle selection", "M", "rect_select"
    tip = "Drag to select a rectangle. Shift adds, Alt subtracts; a click deselects."

    def __init__(self, workspace: "CanvasWorkspace") -> None:
        super().__init__(workspace)
        self.start: QPointF | None = None
        self.end: QPointF | None = None
        self.mode = "replace"

    def press(self, point: QPointF, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.start = self.end = QPointF(point)
            self.mode = selection_mode(event)

    def move(self, point: QPointF, event: QMouseEvent) -> None:
        if self.start is not None:
            self._repaint()
            self.end = QPointF(point)
            self._repaint()

    def release(self, point: QPointF, event: QMouseEvent) -> None:
        if self.start is None:
            return
        self.end = QPointF(point)
        rect = self.rect()
        self._repaint()
        self.start = self.end = None
        document = self.workspace.document
        if rect.is_empty() or rect.width * rect.height < 2:  # a click: deselect (or leave as is)
            if self.mode == "replace" and document.selection is not None:
                self.workspace.undo_stack.push(SetSelection(self.workspace, None, "Deselect"))
            return
        shape = Selection.rectangle(document.width, document.height, rect)
        self.workspace.apply_selection(shape, self.mode, "Select rectangle")

    def cancel(self) -> None:
        if self.start is not None:
            self._repaint()
        self.start = self.end = None

    def rect(self) -> Rect:
        """The rectangle being dragged, in canvas pixels (edges rounded to the nearest pixel)."""
        if self.start is None or self.end is None:
            return Rect(0, 0, 0, 0)
        left, right = sorted((round(self.start.x()), round(self.end.x())))
        top, bottom = sorted((round(self.start.y()), round(self.end.y())))
        return Rect.from_edges(left, top, right, bottom).intersected(self.workspace.document.bounds)

    def _repaint(self) -> None:
        self.view.update(self.view.widget_rect(self.rect(), pad=4))

    def paint_overlay(self, painter: QPainter, view: "CanvasView") -> None:
        rect = self.rect()
        if self.start is None or rect.is_empty():
            return
        top_left = view.to_widget(QPointF(rect.x, rect.y))
        area = QRectF(top_left.x(), top_left.y(), rect.width * view.zoom, rect.height * view.zoom)
        painter.setBrush(QColor(61, 123, 217, 40))
        painter.setPen(QPen(QColor("white"), 1))
        painter.drawRect(area)
        dashed = QPen(QColor("black"), 1)
        dashed.setDashPattern([4.0, 4.0])
        painter.setPen(dashed)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(area)
        painter.setPen(QColor("#e6e6ea"))
        painter.drawText(area.bottomRight() + QPointF(6, 14), f"{rect.width} × {rect.height}")


class LassoTool(Tool):
    name, title, shortcut, icon = "lasso", "Lasso selection", "L", "lasso"
    tip = "Draw around an area to select it. Shift adds, Alt subtracts; a click deselects."

    def __init__(self, workspace: "CanvasWorkspace") -> None:
        super().__init__(workspace)
        self.points: list[QPointF] = []
        self.mode = "replace"

    def press(self, point: QPointF, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.points = [QPointF(point)]
            self.mode = selection_mode(event)

    def move(self, point: QPointF, event: QMouseEvent) -> None:
        if self.points:
            last = self.points[-1]
            if math.hypot(point.x() - last.x(), point.y() - last.y()) * self.view.zoom >= 2:
                self.points.append(QPointF(point))
                self.view.update()

    def release(self, point: QPointF, event: QMouseEvent) -> None:
        if not self.points:
            return
        self.points.append(QPointF(point))
        points, self.points = [(p.x(), p.y()) for p in self.points], []
        self.view.update()
        document = self.workspace.document
        shape = Selection.polygon(document.width, document.height, points)
        if shape.is_empty():
            if self.mode == "replace" and document.selection is not None:
                self.workspace.undo_stack.push(SetSelection(self.workspace, None, "Deselect"))
            return
        self.workspace.apply_selection(shape, self.mode, "Lasso selection")

    def cancel(self) -> None:
        self.points = []
        self.view.update()

    def paint_overlay(self, painter: QPainter, view: "CanvasView") -> None:
        if len(self.points) < 2:
            return
        polygon = QPolygonF([view.to_widget(p) for p in self.points])
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("white"), 1))
        painter.drawPolyline(polygon)
        dashed = QPen(QColor("black"), 1)
        dashed.setDashPattern([4.0, 4.0])
        painter.setPen(dashed)
        painter.drawPolyline(polygon)


class MoveTool(Tool):
    name, title, shortcut, icon = "move", "Move layer", "V", "move"
    tip = "Drag the active layer to a new place."
    cursor = Qt.CursorShape.SizeAllCursor

    def __init__(self, workspace: "CanvasWorkspace") -> None:
        super().__init__(workspace)
        self.layer = None
        self.grab: QPointF | None = None
        self.before = (0, 0)

    def press(self, point: QPointF, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self.layer, _ = self.workspace.layer_to_paint(create=False, action="Move")
        if self.layer is not None:
            self.grab = QPointF(point)
            self.before = (self.layer.x, self.layer.y)

    def move(self, point: QPointF, event: QMouseEvent) -> None:
        if self.layer is None or self.grab is None:
            return
        old = self.layer.rect
        self.layer.x = self.before[0] + round(point.x() - self.grab.x())
        self.layer.y = self.before[1] + round(point.y() - self.grab.y())
        self.view.update(self.view.widget_rect(old.united(self.layer.rect)))

    def release(self, point: QPointF, event: QMouseEvent) -> None:
        if self.layer is None or self.grab is None:
            return
        self.move(point, event)
        layer, self.layer, self.grab = self.layer, None, None
        after = (layer.x, layer.y)
        if after != self.before:
            self.workspace.undo_stack.push(MoveLayer(self.workspace, layer, self.before, after))

    def cancel(self) -> None:
        if self.layer is not None:
            self.layer.x, self.layer.y = self.before
            self.view.update()
        self.layer = self.grab = None


class FillTool(Tool):
    name, title, shortcut, icon = "fill", "Fill", "G", "fill"
    tip = "Click to fill the area of similar colour on the active layer (inside the selection). Shift-click fills the whole selection."
    options = ("opacity", "colour", "tolerance")
    cursor = Qt.CursorShape.PointingHandCursor

    def press(self, point: QPointF, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.workspace.fill_selection()
            return
        layer, macro = self.workspace.layer_to_paint(create=True, action="Fill")
        if layer is None:
            return
        try:
            x, y = int(math.floor(point.x())) - layer.x, int(math.floor(point.y())) - layer.y
            region = flood_region(layer.pixels, x, y, self.workspace.tolerance())
            selection = self.workspace.document.selection
            if selection is not None:
                region &= region_on_layer(selection.mask, layer.rect)
            brush = self.workspace.brush()
            patch = fill(layer.pixels, region, brush.colour, brush.opacity)
            if patch is not None:
                self.workspace.undo_stack.push(PaintPatch(self.workspace, layer, patch, "Fill"))
        finally:
            if macro:
                self.workspace.undo_stack.endMacro()


TOOLS: tuple[type[Tool], ...] = (MoveTool, TransformTool, RectSelectTool, LassoTool, BrushTool, EraserTool, FillTool, PickerTool, MaskTool)
