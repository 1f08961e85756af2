"""The results strip's row of thumbnails: one cell per staged result, and the keys a painter
uses on it (arrows move, Enter applies, Delete discards, Esc hides the overlay).

Each cell shows the picture (a selection-shaped result on grey where it is transparent),
its number in the order the results came and its seed; a result already on the
canvas carries a green check, one whose picture was painted over on the canvas is dimmed.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from studio.core.image.staged_results import THUMBNAIL_SIDE, StagedResult
from studio.ui.images import qimage_from_rgba
from studio.ui.plain import plain_tip

ITEM_ROLE = Qt.ItemDataRole.UserRole
APPLIED_ROLE = Qt.ItemDataRole.UserRole + 1
CAPTION_HEIGHT = 15
CELL = QSize(THUMBNAIL_SIDE + 12, THUMBNAIL_SIDE + 8 + CAPTION_HEIGHT)
ACCENT = QColor("#3d7bd9")
APPLIED = QColor("#3fae5a")
PLAIN = (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)  # the keypad's Enter is Enter


def item_of(entry: QListWidgetItem | None) -> StagedResult | None:
    return entry.data(ITEM_ROLE) if entry is not None else None


def tooltip(item: StagedResult, applied: bool) -> str:
    """What made the result (plain text: a prompt is the user's, a value a plugin's), and what
    the strip can do with it."""
    lines = [item.name, f"{item.size[0]} × {item.size[1]} px at {item.x}, {item.y} · {item.generator}"]
    for name, value in item.params.items():
        text = " ".join(str(value).split())
        lines.append(f"{name}: {text[:117] + '…' if len(text) > 120 else text}")
    if item.picture() is None:
        lines.append("Painted over on the canvas since it was applied: Reuse parameters makes it again.")
    elif applied:
        lines.append("On the canvas. Double-click or Enter applies it again as another layer.")
    else:
        lines.append("Click: show it on the canvas · Double-click or Enter: apply as a layer · Delete: discard")
    return plain_tip("\n".join(lines))


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints a cell: the picture, its number and seed, and the applied check."""

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:  # noqa: N802 - Qt's name
        return CELL

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        item: StagedResult | None = index.data(ITEM_ROLE)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if item is None or not isinstance(pixmap, QPixmap):
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        cell = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        frame = QRect(cell.left() + 6, cell.top() + 4, THUMBNAIL_SIDE, THUMBNAIL_SIDE)
        size = pixmap.size().scaled(frame.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(frame.center())
        lost = item.picture() is None
        painter.setOpacity(0.35 if lost else 1.0)
        painter.fillRect(target, QColor("#34343a"))  # under what a selection's shape left transparent
        painter.drawPixmap(target, pixmap)
        painter.setOpacity(1.0)
        outline = target.adjusted(-2, -2, 2, 2)
        if selected:
            painter.setPen(QPen(ACCENT, 2.5))
        else:
            painter.setPen(QPen(QColor("#8a8a92") if hovered else QColor("#3c3c43"), 1))
        painter.drawRoundedRect(QRectF(outline), 3, 3)
        self._badge(painter, QRect(target.left() + 3, target.top() + 3, 18, 16), str(index.row() + 1), QColor(20, 20, 24, 200))
        if index.data(APPLIED_ROLE):
            self._check(painter, QRectF(target.right() - 19, target.top() + 3, 16, 16))
        caption = QRect(cell.left() + 2, frame.bottom() + 3, cell.width() - 4, CAPTION_HEIGHT)
        font = QFont(option.font)
        font.setPointSizeF(max(7.0, option.font.pointSizeF() * 0.85))
        painter.setFont(font)
        painter.setPen(QColor("#f0f0f4") if selected else QColor("#9a9aa2"))
        text = "painted over" if lost else (f"seed {item.seed}" if item.seed is not None else item.name)
        painter.drawText(caption, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, caption.width()))
        painter.restore()

    @staticmethod
    def _badge(painter: QPainter, rect: QRect, text: str, background: QColor) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(background)
        painter.drawRoundedRect(QRectF(rect), 4, 4)
        font = painter.font()
        font.setPointSizeF(7.5)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("#e6e6ea"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    @staticmethod
    def _check(painter: QPainter, rect: QRectF) -> None:
        """A green disc with a white tick: this result is on the canvas."""
        painter.setPen(QPen(QColor(0, 0, 0, 120), 1))
        painter.setBrush(APPLIED)
        painter.drawEllipse(rect)
        tick = QPainterPath()
        tick.moveTo(rect.left() + rect.width() * 0.27, rect.top() + rect.height() * 0.53)
        tick.lineTo(rect.left() + rect.width() * 0.44, rect.top() + rect.height() * 0.70)
        tick.lineTo(rect.left() + rect.width() * 0.74, rect.top() + rect.height() * 0.34)
        painter.setPen(QPen(QColor("white"), 2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(tick)


class ResultThumbnails(QListWidget):
    """One row of thumbnails, scrolling sideways; its keys are the strip's."""

    apply_pressed = Signal()  # Enter or a double-click on a thumbnail
    discard_pressed = Signal()  # Delete
    escape_pressed = Signal()  # Esc: leave the overlay

    KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_Escape)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("results_thumbnails")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setSpacing(2)
        self.setIconSize(QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMouseTracking(True)  # the hover outline
        self.setItemDelegate(ThumbnailDelegate(self))
        self.setFrameShape(QListWidget.Shape.NoFrame)
        self.setStyleSheet(
            "QListWidget { background: #1f1f23; outline: none; }"
            "QScrollBar:horizontal { height: 8px; background: transparent; margin: 0px 4px 2px 4px; }"
            "QScrollBar::handle:horizontal { background: #4a4a52; border-radius: 3px; min-width: 24px; }"
            "QScrollBar::add-line:horizontal, QScrollBar::sub-line:horizontal { width: 0px; }"
        )
        # The row plus a horizontal scroll bar's room, so a long batch never covers a caption.
        self.setFixedHeight(CELL.height() + 2 * self.spacing() + 10)
        self.itemDoubleClicked.connect(self._double_clicked)

    def add(self, item: StagedResult, applied: bool) -> QListWidgetItem:
        entry = QListWidgetItem()
        entry.setData(ITEM_ROLE, item)
        entry.setData(Qt.ItemDataRole.DecorationRole, QPixmap.fromImage(qimage_from_rgba(item.thumbnail)))
        entry.setSizeHint(CELL)
        self.addItem(entry)
        self.mark(entry, applied)
        return entry

    def mark(self, entry: QListWidgetItem, applied: bool) -> None:
        entry.setData(APPLIED_ROLE, applied)
        entry.setToolTip(tooltip(item_of(entry), applied))

    def entries(self) -> list[QListWidgetItem]:
        return [self.item(row) for row in range(self.count())]

    def entry_for(self, item: StagedResult) -> QListWidgetItem | None:
        return next((entry for entry in self.entries() if item_of(entry) is item), None)

    def _double_clicked(self, entry: QListWidgetItem) -> None:
        self.setCurrentItem(entry)  # the one double-clicked is the one applied
        self.apply_pressed.emit()

    def event(self, event: QEvent) -> bool:
        # Delete, Enter and Esc mean the strip's actions here, not the window's shortcuts.
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) and event.key() in self.KEYS and event.modifiers() in PLAIN:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        key = event.key()
        if event.modifiers() in PLAIN:
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.apply_pressed.emit()
                return
            if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                self.discard_pressed.emit()
                return
            if key == Qt.Key.Key_Escape:
                self.escape_pressed.emit()
                return
        super().keyPressEvent(event)
