"""The canvas's icons, drawn with QPainter: no image files to ship, crisp at any scale.

Each icon is a few strokes on a 64-unit square in the theme's light grey, the way a
monochrome icon set (Krita's, Blender's) reads on a dark panel.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

INK = QColor("#d9d9df")
ACCENT = QColor("#e0524d")
SIDE = 64


def _draw(paint: Callable[[QPainter], None], size: int = SIDE) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(size / SIDE, size / SIDE)
    painter.setPen(QPen(INK, 4.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    paint(painter)
    painter.end()
    return QIcon(pixmap)


def _poly(*points: tuple[float, float]) -> QPolygonF:
    return QPolygonF([QPointF(x, y) for x, y in points])


def _brush(p: QPainter) -> None:
    p.drawLine(QPointF(52, 10), QPointF(28, 36))
    path = QPainterPath(QPointF(26, 34))
    path.cubicTo(14, 32, 12, 44, 10, 54)
    path.cubicTo(22, 54, 34, 50, 30, 38)
    path.closeSubpath()
    p.setBrush(QBrush(INK))
    p.drawPath(path)


def _eraser(p: QPainter) -> None:
    p.drawPolygon(_poly((14, 40), (36, 16), (52, 32), (30, 56), (22, 56)))
    p.drawLine(QPointF(24, 30), QPointF(40, 46))
    p.drawLine(QPointF(30, 56), QPointF(54, 56))


def _picker(p: QPainter) -> None:
    p.drawLine(QPointF(12, 52), QPointF(38, 26))
    p.setBrush(QBrush(INK))
    p.drawEllipse(QRectF(38, 10, 16, 16))
    p.drawLine(QPointF(32, 22), QPointF(42, 32))


def _rect_select(p: QPainter) -> None:
    pen = p.pen()
    pen.setDashPattern([2.0, 1.6])
    p.setPen(pen)
    p.drawRect(QRectF(10, 14, 44, 36))


def _lasso(p: QPainter) -> None:
    pen = p.pen()
    pen.setDashPattern([2.0, 1.6])
    p.setPen(pen)
    p.drawEllipse(QRectF(10, 10, 44, 30))
    p.setPen(QPen(INK, 4.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    path = QPainterPath(QPointF(20, 38))
    path.cubicTo(14, 46, 22, 52, 18, 58)
    p.drawPath(path)


def _mask(p: QPainter) -> None:
    p.setBrush(QBrush(QColor(224, 82, 77, 150)))
    p.setPen(QPen(ACCENT, 4.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    path = QPainterPath(QPointF(10, 40))
    path.cubicTo(16, 18, 36, 14, 54, 22)
    path.cubicTo(52, 40, 40, 54, 18, 52)
    path.closeSubpath()
    p.drawPath(path)


def _move(p: QPainter) -> None:
    p.drawLine(QPointF(32, 8), QPointF(32, 56))
    p.drawLine(QPointF(8, 32), QPointF(56, 32))
    for a, b, c in (((24, 16), (32, 8), (40, 16)), ((24, 48), (32, 56), (40, 48)), ((16, 24), (8, 32), (16, 40)), ((48, 24), (56, 32), (48, 40))):
        p.drawPolyline(_poly(a, b, c))


def _transform(p: QPainter) -> None:
    p.setPen(QPen(INK, 3, Qt.PenStyle.DashLine, Qt.PenCapStyle.FlatCap))
    p.drawPolygon(_poly((14, 22), (42, 10), (52, 40), (22, 52)))
    p.setPen(QPen(INK, 3))
    p.setBrush(QBrush(INK))
    for x, y in ((14, 22), (42, 10), (52, 40), (22, 52)):
        p.drawRect(QRectF(x - 4.5, y - 4.5, 9, 9))


def _fill(p: QPainter) -> None:
    p.drawPolygon(_poly((12, 30), (30, 12), (50, 32), (32, 50)))
    p.setBrush(QBrush(INK))
    path = QPainterPath(QPointF(52, 38))
    path.cubicTo(46, 48, 48, 56, 53, 56)
    path.cubicTo(58, 56, 60, 48, 52, 38)
    p.drawPath(path)


def _eye(p: QPainter) -> None:
    path = QPainterPath(QPointF(6, 32))
    path.quadTo(32, 6, 58, 32)
    path.quadTo(32, 58, 6, 32)
    p.drawPath(path)
    p.setBrush(QBrush(INK))
    p.drawEllipse(QPointF(32, 32), 7, 7)


def _eye_off(p: QPainter) -> None:
    p.setPen(QPen(QColor("#6b6b73"), 4.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    path = QPainterPath(QPointF(6, 32))
    path.quadTo(32, 54, 58, 32)
    p.drawPath(path)
    for x in (18, 32, 46):
        p.drawLine(QPointF(x, 44), QPointF(x + (x - 32) * 0.2, 52))


def _lock(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(14, 28, 36, 28), 4, 4)
    path = QPainterPath(QPointF(22, 28))
    path.lineTo(22, 20)
    path.arcTo(QRectF(22, 8, 20, 24), 180, -180)
    path.lineTo(42, 28)
    p.drawPath(path)


def _unlock(p: QPainter) -> None:
    p.setPen(QPen(QColor("#6b6b73"), 4.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawRoundedRect(QRectF(14, 28, 36, 28), 4, 4)
    path = QPainterPath(QPointF(42, 28))
    path.lineTo(42, 20)
    path.arcTo(QRectF(42, 8, 20, 24), 180, -180)
    p.drawPath(path)


def _add(p: QPainter) -> None:
    p.drawLine(QPointF(32, 12), QPointF(32, 52))
    p.drawLine(QPointF(12, 32), QPointF(52, 32))


def _duplicate(p: QPainter) -> None:
    p.drawRect(QRectF(10, 10, 30, 30))
    p.drawRect(QRectF(24, 24, 30, 30))


def _up(p: QPainter) -> None:
    p.drawPolyline(_poly((14, 38), (32, 20), (50, 38)))


def _down(p: QPainter) -> None:
    p.drawPolyline(_poly((14, 26), (32, 44), (50, 26)))


def _delete(p: QPainter) -> None:
    p.drawLine(QPointF(10, 16), QPointF(54, 16))
    p.drawPolyline(_poly((16, 16), (20, 56), (44, 56), (48, 16)))
    p.drawLine(QPointF(26, 16), QPointF(28, 8))
    p.drawLine(QPointF(28, 8), QPointF(36, 8))
    p.drawLine(QPointF(36, 8), QPointF(38, 16))


def _reuse(p: QPainter) -> None:
    path = QPainterPath(QPointF(50, 24))
    path.arcTo(QRectF(12, 12, 40, 40), 20, 250)
    p.drawPath(path)
    p.drawPolyline(_poly((40, 22), (50, 24), (54, 14)))


PAINTERS: dict[str, Callable[[QPainter], None]] = {
    "brush": _brush,
    "eraser": _eraser,
    "picker": _picker,
    "rect_select": _rect_select,
    "lasso": _lasso,
    "mask": _mask,
    "move": _move,
    "transform": _transform,
    "fill": _fill,
    "eye": _eye,
    "eye_off": _eye_off,
    "lock": _lock,
    "unlock": _unlock,
    "add": _add,
    "duplicate": _duplicate,
    "up": _up,
    "down": _down,
    "delete": _delete,
    "reuse": _reuse,
}


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    return _draw(PAINTERS[name])
