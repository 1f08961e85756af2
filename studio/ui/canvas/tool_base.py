"""What every canvas tool is: the view's calls into it, and what it may draw.

The view hands a tool its mouse presses, drags and releases in canvas coordinates, the keys
it does not use itself, and two chances to draw: a layer the tool shows in its own way (the
free transform's live preview) and an overlay above everything (a brush outline, handles).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPen

if TYPE_CHECKING:
    from studio.core.image.document import Layer
    from studio.ui.canvas.view import CanvasView
    from studio.ui.canvas.workspace import CanvasWorkspace


class Tool:
    name = ""
    title = ""
    shortcut = ""
    icon = ""
    tip = ""
    cursor = Qt.CursorShape.CrossCursor
    #: Which tool options apply: size, hardness, opacity, colour, tolerance.
    options: tuple[str, ...] = ()

    def __init__(self, workspace: "CanvasWorkspace") -> None:
        self.workspace = workspace

    @property
    def view(self) -> "CanvasView":
        return self.workspace.view

    def press(self, point: QPointF, event: QMouseEvent) -> None:
        pass

    def move(self, point: QPointF, event: QMouseEvent) -> None:
        pass

    def release(self, point: QPointF, event: QMouseEvent) -> None:
        pass

    def cancel(self) -> None:
        """Abandon a gesture in progress (Esc, or another tool chosen)."""

    def outline_radius(self) -> float:
        """The radius (canvas px) of the outline drawn under the pointer; 0 for none."""
        return 0.0

    def paint_overlay(self, painter: QPainter, view: "CanvasView") -> None:
        radius = self.outline_radius()
        if radius and view.hover is not None:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            r = max(1.5, radius * view.zoom)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(0, 0, 0, 160), 3))
            painter.drawEllipse(view.hover, r, r)
            painter.setPen(QPen(QColor(255, 255, 255, 220), 1))
            painter.drawEllipse(view.hover, r, r)

    def hover(self, point: QPointF) -> None:
        """The pointer moved over the canvas with no button held (canvas coordinates)."""

    def leave(self) -> None:
        """Another tool was chosen: by default, what Esc does."""
        self.cancel()

    def key_press(self, event: QKeyEvent) -> bool:
        """A key pressed on the view; True when the tool used it."""
        return False

    def paint_layer(self, painter: QPainter, layer: "Layer", image: QImage) -> bool:
        """Draw ``layer`` (canvas coordinates, its opacity and blend already set) when the tool
        shows it differently; False leaves it to the view."""
        return False
