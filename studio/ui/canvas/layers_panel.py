"""The layers panel: thumbnails, names, visibility and lock toggles, blend mode, opacity, order.

Top layer first, as painters expect. Double-click (or F2) renames; the eye and the lock at
a row's right toggle; rows drag to reorder; the buttons and the context menu do the rest.
The panel only asks: every change is made by the workspace, through the undo stack.
"""

from __future__ import annotations

import weakref

from PySide6.QtCore import QEvent, QModelIndex, QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QSlider,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.image.blend import BLEND_MODES, NORMAL
from studio.core.image.document import Layer
from studio.ui.canvas.icons import icon
from studio.ui.images import qimage_from_rgba
from studio.ui.plain import plain_tip
from studio.ui.slots import connect_command

THUMB = QSize(48, 48)
ROW_HEIGHT = 58
TOGGLE = 20
LAYER_ROLE = Qt.ItemDataRole.UserRole


def _layer(index: QModelIndex) -> Layer | None:
    return index.data(LAYER_ROLE)


class LayerDelegate(QStyledItemDelegate):
    """Paints a row (thumbnail, name, details, eye, lock) and turns clicks on the toggles into signals."""

    visibility_clicked = Signal(object)
    lock_clicked = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._checker = QPixmap(8, 8)
        self._checker.fill(QColor("#8a8a90"))
        painter = QPainter(self._checker)
        painter.fillRect(0, 0, 4, 4, QColor("#c8c8cc"))
        painter.fillRect(4, 4, 4, 4, QColor("#c8c8cc"))
        painter.end()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        return QSize(180, ROW_HEIGHT)

    @staticmethod
    def eye_rect(row: QRect) -> QRect:
        return QRect(row.right() - 2 * TOGGLE - 14, row.center().y() - TOGGLE // 2, TOGGLE, TOGGLE)

    @staticmethod
    def lock_rect(row: QRect) -> QRect:
        return QRect(row.right() - TOGGLE - 8, row.center().y() - TOGGLE // 2, TOGGLE, TOGGLE)

    @staticmethod
    def thumb_rect(row: QRect) -> QRect:
        return QRect(row.left() + 6, row.top() + (row.height() - THUMB.height()) // 2, THUMB.width(), THUMB.height())

    @classmethod
    def name_rect(cls, row: QRect) -> QRect:
        left = cls.thumb_rect(row).right() + 10
        return QRect(left, row.top() + 8, cls.eye_rect(row).left() - left - 6, 22)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        layer = _layer(index)
        if layer is None:
            return
        row = option.rect
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.fillRect(row, QColor("#34507e") if selected else QColor("#232327") if index.row() % 2 else QColor("#27272c"))
        thumb = self.thumb_rect(row)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QIcon):
            pixmap = pixmap.pixmap(THUMB)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            size = pixmap.deviceIndependentSize().toSize().scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(thumb.center())
            painter.drawTiledPixmap(target, self._checker)
            painter.drawPixmap(target, pixmap)
            painter.setPen(QColor("#55555c"))
            painter.drawRect(target.adjusted(0, 0, -1, -1))
        name_rect = self.name_rect(row)
        font = QFont(option.font)
        font.setBold(selected)
        painter.setFont(font)
        painter.setPen(QColor("#f0f0f4") if layer.visible else QColor("#7b7b83"))
        name = painter.fontMetrics().elidedText(layer.name, Qt.TextElideMode.ElideRight, name_rect.width())
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        details = [f"{round(layer.opacity * 100)} %"]
        if layer.blend != NORMAL:
            details.append(BLEND_MODES.get(layer.blend, layer.blend))
        if layer.x or layer.y:
            details.append(f"at {layer.x}, {layer.y}")
        if layer.generator:
            details.append(layer.generator)
        small = QFont(option.font)
        small.setPointSizeF(max(6.5, option.font.pointSizeF() * 0.85))
        painter.setFont(small)
        painter.setPen(QColor("#9a9aa2"))
        detail_rect = QRect(name_rect.left(), name_rect.bottom() + 1, name_rect.width(), 18)
        painter.drawText(detail_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, painter.fontMetrics().elidedText(" · ".join(details), Qt.TextElideMode.ElideRight, detail_rect.width()))
        icon("eye" if layer.visible else "eye_off").paint(painter, self.eye_rect(row))
        icon("lock" if layer.locked else "unlock").paint(painter, self.lock_rect(row))
        painter.restore()

    def editorEvent(self, event: QEvent, model, option: QStyleOptionViewItem, index: QModelIndex) -> bool:  # noqa: N802
        kinds = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick)
        if event.type() in kinds and event.button() == Qt.MouseButton.LeftButton:
            position = event.position().toPoint()
            for rect, signal in ((self.eye_rect(option.rect), self.visibility_clicked), (self.lock_rect(option.rect), self.lock_clicked)):
                if rect.adjusted(-3, -3, 3, 3).contains(position):
                    if event.type() == QEvent.Type.MouseButtonRelease:
                        signal.emit(_layer(index))
                    return True  # the toggles neither select the row nor start a rename
        return super().editorEvent(event, model, option, index)

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem, index: QModelIndex) -> None:  # noqa: N802
        editor.setGeometry(self.name_rect(option.rect).adjusted(-3, -2, 3, 2))


class LayerList(QListWidget):
    """The rows; a row dragged to a new place is reported, not moved: the workspace reorders
    the document (one undo step) and the list is rebuilt from it."""

    row_dropped = Signal(int, int)  # from row, to row (rows top first)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        source = self.currentRow()
        if event.source() not in (self, None) or source < 0:
            event.ignore()
            return
        position = event.position().toPoint()
        index = self.indexAt(position)
        if not index.isValid():
            target = self.count() - 1 if position.y() > 0 else 0
        else:
            rect = self.visualRect(index)
            target = index.row() if position.y() < rect.center().y() else index.row() + 1
            target -= 1 if target > source else 0
        # Accepted, but as "nothing was moved": otherwise the finished drag deletes the source row.
        event.setDropAction(Qt.DropAction.IgnoreAction)
        event.accept()
        if target != source:
            QTimer.singleShot(0, lambda: self.row_dropped.emit(source, target))


class LayersPanel(QWidget):
    current_changed = Signal(object)  # Layer | None
    rename_requested = Signal(object, str)
    visibility_requested = Signal(object)
    lock_requested = Signal(object)
    opacity_previewed = Signal(object, float)  # live, while the slider is dragged
    opacity_requested = Signal(object, float, float)  # layer, before, after: one undo step
    blend_requested = Signal(object, str)  # layer, mode
    order_requested = Signal(list)  # layers bottom to top, after a drag in the list
    add_requested = Signal()
    duplicate_requested = Signal()
    delete_requested = Signal()
    raise_requested = Signal()
    lower_requested = Signal()
    reuse_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layers_panel")
        self._thumbnails: "weakref.WeakKeyDictionary[Layer, tuple[int, int, QIcon]]" = weakref.WeakKeyDictionary()
        self._rebuilding = False
        self._opacity_before: float | None = None

        self.list = LayerList()
        self.list.setObjectName("layers_list")
        self.delegate = LayerDelegate(self.list)
        self.list.setItemDelegate(self.delegate)
        self.list.setIconSize(THUMB)
        self.list.setMinimumWidth(170)  # beside a 1024 px screen's docks: the tool options' width
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.row_dropped.connect(self._row_dropped)
        self.delegate.visibility_clicked.connect(self.visibility_requested)
        self.delegate.lock_clicked.connect(self.lock_requested)

        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setObjectName("layer_opacity")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setToolTip("Opacity of the active layer")
        self.opacity_spin = QSpinBox()
        self.opacity_spin.setRange(0, 100)
        self.opacity_spin.setSuffix(" %")
        self.opacity_spin.setKeyboardTracking(False)
        self.opacity_slider.sliderPressed.connect(self._opacity_pressed)
        self.opacity_slider.sliderReleased.connect(self._opacity_released)
        self.opacity_slider.valueChanged.connect(self._opacity_moved)
        self.opacity_spin.valueChanged.connect(self._opacity_typed)
        self.blend_combo = QComboBox()
        self.blend_combo.setObjectName("layer_blend")
        self.blend_combo.setToolTip("Blend mode: how the active layer's colours mix with the layers under it")
        for mode, title in BLEND_MODES.items():
            self.blend_combo.addItem(title, mode)
        self.blend_combo.activated.connect(self._blend_chosen)

        self.buttons: dict[str, QToolButton] = {}
        row = QHBoxLayout()
        row.setSpacing(2)
        for name, icon_name, tip, signal in (
            ("add", "add", "New layer (Ctrl+Shift+N)", self.add_requested),
            ("duplicate", "duplicate", "Duplicate layer (Ctrl+J)", self.duplicate_requested),
            ("raise", "up", "Move layer up (Ctrl+])", self.raise_requested),
            ("lower", "down", "Move layer down (Ctrl+[)", self.lower_requested),
            ("reuse", "reuse", "Reuse the parameters that made this layer", None),
            ("delete", "delete", "Delete layer", self.delete_requested),
        ):
            button = QToolButton()
            button.setObjectName(f"layer_{name}")
            button.setIcon(icon(icon_name))
            button.setIconSize(QSize(18, 18))
            button.setToolTip(tip)
            button.setAutoRaise(True)
            if signal is not None:
                button.clicked.connect(signal)
            self.buttons[name] = button
            row.addWidget(button)
            if name == "lower":
                row.addStretch(1)
        self.buttons["reuse"].clicked.connect(lambda: self.current() is not None and self.reuse_requested.emit(self.current()))

        properties = QGridLayout()
        properties.setHorizontalSpacing(6)
        properties.setVerticalSpacing(4)
        for line, (text, widgets) in enumerate((("Blend", (self.blend_combo,)), ("Opacity", (self.opacity_slider, self.opacity_spin)))):
            caption = QLabel(text)
            caption.setStyleSheet("color: #aaa;")
            properties.addWidget(caption, line, 0)
            for column, widget in enumerate(widgets, start=1):
                properties.addWidget(widget, line, column, 1, 2 if len(widgets) == 1 else 1)
        properties.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(properties)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        self._update_controls()

    # -- showing the stack ---------------------------------------------------------------------

    def set_layers(self, layers: list[Layer], active: Layer | None) -> None:
        """Rebuild the rows (top layer first) and select ``active``."""
        self._rebuilding = True
        self.list.blockSignals(True)
        self.list.clear()
        for layer in reversed(layers):
            item = QListWidgetItem(self.thumbnail(layer), layer.name)
            item.setData(LAYER_ROLE, layer)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDragEnabled)
            item.setToolTip(plain_tip(self._tooltip(layer)))
            item.setSizeHint(QSize(180, ROW_HEIGHT))
            self.list.addItem(item)
            if layer is active:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self._rebuilding = False
        self._update_controls()

    def update_layer(self, layer: Layer) -> None:
        """Refresh one row (its thumbnail, name, toggles) without rebuilding the list."""
        item = self.item(layer)
        if item is None:
            return
        self.list.blockSignals(True)
        item.setIcon(self.thumbnail(layer))
        item.setText(layer.name)
        item.setToolTip(plain_tip(self._tooltip(layer)))
        self.list.blockSignals(False)
        self.list.viewport().update()
        if layer is self.current():
            self._update_controls()

    def select(self, layer: Layer) -> None:
        """Make ``layer``'s row the current one without reporting it back as a user's choice."""
        item = self.item(layer)
        if item is not None and self.list.currentItem() is not item:
            self.list.blockSignals(True)
            self.list.setCurrentItem(item)
            self.list.blockSignals(False)
            self._update_controls()

    def item(self, layer: Layer) -> QListWidgetItem | None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(LAYER_ROLE) is layer:
                return item
        return None

    def current(self) -> Layer | None:
        item = self.list.currentItem()
        return None if item is None else item.data(LAYER_ROLE)

    def thumbnail(self, layer: Layer) -> QIcon:
        """The layer's icon, remade when its pixels change: a stride-subsample, then a smooth scale."""
        cached = self._thumbnails.get(layer)
        if cached is None or cached[0] != id(layer.pixels) or cached[1] != layer.revision:
            step = max(1, max(layer.pixels.shape[:2]) // (2 * THUMB.width()))
            image = qimage_from_rgba(layer.pixels[::step, ::step])
            scaled = image.scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            cached = self._thumbnails[layer] = (id(layer.pixels), layer.revision, QIcon(QPixmap.fromImage(scaled)))
        return cached[2]

    @staticmethod
    def _tooltip(layer: Layer) -> str:
        lines = [f"{layer.name} — {layer.size[0]} × {layer.size[1]} px at {layer.x}, {layer.y}"]
        if layer.blend != NORMAL:
            lines.append(f"Blend mode: {BLEND_MODES.get(layer.blend, layer.blend)}")
        if layer.generator:
            lines.append(f"Made by {layer.generator}; right-click ▸ Reuse parameters to load them:")
            lines += [f"  {key}: {_short(value)}" for key, value in layer.params.items()]
        return "\n".join(lines)

    def _update_controls(self) -> None:
        layer = self.current()
        for name in ("duplicate", "raise", "lower", "delete"):
            self.buttons[name].setEnabled(layer is not None)
        self.buttons["reuse"].setEnabled(layer is not None and bool(layer.generator))
        self.opacity_slider.setEnabled(layer is not None)
        self.opacity_spin.setEnabled(layer is not None)
        self.blend_combo.setEnabled(layer is not None)
        self.blend_combo.setCurrentIndex(max(0, self.blend_combo.findData(layer.blend if layer is not None else NORMAL)))
        if not self.opacity_slider.isSliderDown():
            value = round((layer.opacity if layer is not None else 1.0) * 100)
            for widget in (self.opacity_slider, self.opacity_spin):
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)

    # -- the user's requests ---------------------------------------------------------------------

    def _on_current(self, current: QListWidgetItem | None, previous) -> None:
        if not self._rebuilding:
            self._update_controls()
            self.current_changed.emit(None if current is None else current.data(LAYER_ROLE))

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        layer = item.data(LAYER_ROLE)
        name = item.text().strip()
        if layer is not None and not self._rebuilding and name != layer.name:
            if name:
                self.rename_requested.emit(layer, name)
            else:  # an empty name is refused: put the old one back
                self.update_layer(layer)

    def _row_dropped(self, source: int, target: int) -> None:
        layers = [self.list.item(row).data(LAYER_ROLE) for row in range(self.list.count())]
        layers.insert(target, layers.pop(source))
        self.order_requested.emit(list(reversed(layers)))  # the document's order: bottom first

    def _opacity_pressed(self) -> None:
        layer = self.current()
        self._opacity_before = None if layer is None else layer.opacity

    def _opacity_moved(self, value: int) -> None:
        self.opacity_spin.blockSignals(True)
        self.opacity_spin.setValue(value)
        self.opacity_spin.blockSignals(False)
        layer = self.current()
        if layer is None:
            return
        if self.opacity_slider.isSliderDown():
            self.opacity_previewed.emit(layer, value / 100)
        else:  # a click on the groove or a key: one step at once
            self.opacity_requested.emit(layer, layer.opacity, value / 100)

    def _opacity_released(self) -> None:
        layer = self.current()
        if layer is not None and self._opacity_before is not None:
            self.opacity_requested.emit(layer, self._opacity_before, self.opacity_slider.value() / 100)
        self._opacity_before = None

    def _opacity_typed(self, value: int) -> None:
        self.opacity_slider.blockSignals(True)
        self.opacity_slider.setValue(value)
        self.opacity_slider.blockSignals(False)
        layer = self.current()
        if layer is not None:
            self.opacity_requested.emit(layer, layer.opacity, value / 100)

    def _blend_chosen(self, index: int) -> None:
        layer = self.current()
        if layer is not None:
            self.blend_requested.emit(layer, self.blend_combo.itemData(index))

    def _context_menu(self, position: QPoint) -> None:
        item = self.list.itemAt(position)
        if item is not None:
            self.list.setCurrentItem(item)
        menu = self.context_menu()
        menu.exec(self.list.viewport().mapToGlobal(position))

    def context_menu(self) -> QMenu:
        """The menu for the current layer (a method, so tests can read its actions)."""
        layer = self.current()
        menu = QMenu(self)
        menu.setObjectName("layer_menu")

        def add(text: str, slot, enabled: bool = True) -> QAction:
            action = menu.addAction(text)
            connect_command(action.triggered, slot)
            action.setEnabled(enabled)
            return action

        add("Reuse parameters", lambda: self.reuse_requested.emit(layer), layer is not None and bool(layer.generator))
        menu.addSeparator()
        add("Rename", lambda: self.list.editItem(self.list.currentItem()), layer is not None)
        add("New layer", self.add_requested.emit)
        add("Duplicate", self.duplicate_requested.emit, layer is not None)
        add("Move up", self.raise_requested.emit, layer is not None)
        add("Move down", self.lower_requested.emit, layer is not None)
        menu.addSeparator()
        add("Show" if layer is not None and not layer.visible else "Hide", lambda: self.visibility_requested.emit(layer), layer is not None)
        add("Unlock" if layer is not None and layer.locked else "Lock", lambda: self.lock_requested.emit(layer), layer is not None)
        menu.addSeparator()
        add("Delete", self.delete_requested.emit, layer is not None)
        return menu


def _short(value) -> str:
    import numpy as np

    if isinstance(value, np.ndarray):
        kind = "image" if value.ndim == 3 else "mask"
        return f"<{kind} {value.shape[1]}×{value.shape[0]}>"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "…"
