"""The Explorer's pictures: a tile (the current picture, a grid cell), the 3 × 3 grid of
variations, and a strip of thumbnails (the kept pictures, a morph's frames).

A tile shows what it is waiting for as well as what it has: a dim tile with "…" is a picture
on its way, so a painter sees the grid fill in rather than a frozen panel.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QFrame, QGridLayout, QListView, QListWidget, QListWidgetItem, QMenu, QWidget

from studio.ui.images import qimage_from_rgba

GRID_SIDE = 3
BACKGROUND = QColor("#1c1c20")
FRAME = QColor("#3a3a42")
CHOSEN = QColor("#3d7bd9")


def pixmap_of(picture: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(qimage_from_rgba(picture))


class PictureTile(QFrame):
    """One picture, scaled to fit and centred; empty, waiting ("…") or failed ("!")."""

    clicked = Signal()
    double_clicked = Signal()

    def __init__(self, side: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self.setMinimumSize(QSize(side, side))
        self.pixmap: QPixmap | None = None
        self.picture: np.ndarray | None = None
        self.waiting = False
        self.failed = False
        self.chosen = False
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self.side, self.side)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - a square
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return width

    def show_picture(self, picture: np.ndarray | None) -> None:
        self.picture = picture
        self.pixmap = None if picture is None else pixmap_of(picture)
        self.waiting = self.failed = False
        self.update()

    def set_waiting(self, waiting: bool = True) -> None:
        self.waiting, self.failed = waiting, False
        self.update()

    def set_failed(self) -> None:
        self.waiting, self.failed = False, True
        self.update()

    def set_chosen(self, chosen: bool) -> None:
        self.chosen = chosen
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        area = self.rect().adjusted(1, 1, -1, -1)
        painter.fillRect(area, BACKGROUND)
        if self.pixmap is not None:
            scaled = self.pixmap.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            painter.drawPixmap(area.x() + (area.width() - scaled.width()) // 2, area.y() + (area.height() - scaled.height()) // 2, scaled)
        if self.waiting or self.failed:
            painter.fillRect(area, QColor(20, 20, 24, 150))
            painter.setPen(QColor("#e0a040") if self.failed else QColor("#c8c8d0"))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "!" if self.failed else "…")
        painter.setPen(CHOSEN if self.chosen else FRAME)
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.pixmap is not None:
            self.clicked.emit()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and self.pixmap is not None:
            self.double_clicked.emit()


class VariationGrid(QWidget):
    """3 × 3 tiles; clicking one that holds a picture says which (0 to 8, row by row)."""

    chosen = Signal(int)

    def __init__(self, side: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.tiles: list[PictureTile] = []
        for index in range(GRID_SIDE * GRID_SIDE):
            tile = PictureTile(side)
            tile.setObjectName(f"explorer_cell_{index}")
            tile.setToolTip("Click: make this the current picture (the grid then varies around it)")
            tile.clicked.connect(lambda index=index: self.chosen.emit(index))
            layout.addWidget(tile, index // GRID_SIDE, index % GRID_SIDE)
            self.tiles.append(tile)

    def pictures(self) -> list[np.ndarray | None]:
        return [tile.picture for tile in self.tiles]


class PictureStrip(QListWidget):
    """A row of thumbnails: double-click (or Enter) says which; Delete or the menu's Remove asks
    to remove one, when the strip allows it."""

    activated_at = Signal(int)
    remove_requested = Signal(int)

    def __init__(self, side: int, removable: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.removable = removable
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(side, side))
        self.setGridSize(QSize(side + 8, side + 22))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFixedHeight(side + 22 + self.horizontalScrollBar().sizeHint().height() + 6)
        self.itemDoubleClicked.connect(lambda item: self.activated_at.emit(self.row(item)))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.side = side

    def set_count(self, count: int, captions: list[str] | None = None) -> None:
        """``count`` cells, waiting for their pictures."""
        self.clear()
        for index in range(count):
            item = QListWidgetItem(captions[index] if captions else "")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            item.setIcon(self._placeholder())
            self.addItem(item)

    def show_picture(self, index: int, picture: np.ndarray) -> None:
        item = self.item(index)
        if item is not None:
            item.setIcon(pixmap_of(picture).scaled(self.side, self.side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
            item.setData(Qt.ItemDataRole.UserRole, True)  # holds its picture

    def filled(self) -> int:
        """How many cells hold their picture."""
        return sum(1 for index in range(self.count()) if self.item(index).data(Qt.ItemDataRole.UserRole))

    def _placeholder(self) -> QPixmap:
        pixmap = QPixmap(self.side, self.side)
        pixmap.fill(BACKGROUND)
        return pixmap

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        row = self.currentRow()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and row >= 0:
            self.activated_at.emit(row)
        elif event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.removable and row >= 0:
            self.remove_requested.emit(row)
        else:
            super().keyPressEvent(event)

    def _menu(self, point) -> None:
        item = self.itemAt(point)
        if item is None:
            return
        menu = QMenu(self)
        menu.addAction("Make current", lambda: self.activated_at.emit(self.row(item)))
        if self.removable:
            menu.addAction("Remove", lambda: self.remove_requested.emit(self.row(item)))
        menu.popup(self.viewport().mapToGlobal(point))
