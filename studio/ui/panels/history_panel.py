"""The Generation history panel: every generation of the project, newest on top.

A row shows what was made (a kind badge, the prompt or key and the seed), by which
generator, when and how long it took; its tooltip lists every parameter and the model
folder. From a row the user reuses the parameters, regenerates, or jumps to the layer,
text or clip it made. The history is a log, not part of undo (``studio.core.project.history``):
an entry whose output was undone or deleted stays, greyed "removed", and cannot be
jumped to, but its parameters can still be reused.

One model over the entries and one painted row per visible line (a delegate), never a
widget per entry: a project with thousands of generations opens at once.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any, Callable

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QPoint, QRect, QSize, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QFontMetrics, QGuiApplication, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.project.history import HistoryEntry, Passage
from studio.core.project.outputs import studio_parameters_json

EMPTY_HINT = "Generations appear here — each with its parameters and seed"
NO_MATCH_HINT = "No generation matches the filter"
KIND_FILTERS = (("All", ""), ("Image", "image"), ("Text", "text"), ("Audio", "audio"))
# The badge of each kind: the glyph the Jobs panel uses, on a muted colour that reads on
# the dark theme (an accent, not a background: the row itself keeps the palette's colours).
BADGES = {"image": ("▣", "#3f6fb5"), "text": ("¶", "#a57a2a"), "audio": ("♪", "#3f8f5e")}
UNKNOWN_BADGE = ("•", "#5a5a63")

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1  # the HistoryEntry of a row
ALIVE_ROLE = Qt.ItemDataRole.UserRole + 2  # whether what it made is still in the project
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 3  # the lower-case text the filter field searches


def clock_time(created: float, now: float | None = None) -> str:
    """"14:32" for today, "12 Mar 14:32" for another day this year, else with the year."""
    when = time.localtime(created)
    today = time.localtime(now if now is not None else time.time())
    if when[:3] == today[:3]:
        return time.strftime("%H:%M", when)
    if when.tm_year == today.tm_year:
        return time.strftime("%d %b %H:%M", when).lstrip("0")
    return time.strftime("%d %b %Y %H:%M", when).lstrip("0")


def duration(seconds: float) -> str:
    """How long a generation ran, to the precision a person reads: "0.4 s", "12 s", "2 min 5 s"."""
    if seconds <= 0:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def model_name(entry: HistoryEntry) -> str:
    return entry.model or "built-in model"


def tooltip(entry: HistoryEntry) -> str:
    """Every parameter as ``name = value`` and the model folder, as rich text (Qt wraps it)."""
    lines = [f"<b>{html.escape(entry.title or entry.generator)}</b> <span>({html.escape(entry.generator)})</span>"]
    lines.append(f"Model: {html.escape(model_name(entry))}")
    made = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.created))
    took = duration(entry.seconds)
    lines.append(f"Made {made}" + (f" in {took}" if took else ""))
    if isinstance(entry.source, Passage):  # Illustrate selection, Score this scene
        lines.append(f"From the passage {html.escape(entry.source.label(120))} (right-click: Show passage)")
    elif entry.source is not None:  # a reply in the Text tab's chat
        lines.append(f"A reply in the Text tab's chat: {html.escape(entry.source.label(120))} (Show brings it up there)")
    lines.append("")
    for name, value in entry.params.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)
        lines.append(f"{html.escape(name)} = {html.escape(shown, quote=False)}")
    return "<qt>" + "<br>".join(lines) + "</qt>"


class HistoryModel(QAbstractListModel):
    """The entries, newest in row 0. Kept in the order they were made (the project's order),
    so adding one is an insert at row 0, not a reversal of the list."""

    def __init__(self, target_exists: Callable[[HistoryEntry], bool], parent=None) -> None:
        super().__init__(parent)
        self._entries: list[HistoryEntry] = []
        self._alive: dict[int, bool] = {}  # entry id -> its target is still in the project
        self._target_exists = target_exists
        self.describe: Callable[[HistoryEntry], str] = lambda entry: ""  # a line of the window's own (a take: which one), else the summary

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self._entries)

    def entry(self, row: int) -> HistoryEntry:
        return self._entries[len(self._entries) - 1 - row]

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self.entry(index.row())
        if role == Qt.ItemDataRole.DisplayRole:
            return self.describe(entry) or entry.summary()
        if role == ENTRY_ROLE:
            return entry
        if role == ALIVE_ROLE:
            return self.alive(entry)
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip(entry)
        if role == SEARCH_ROLE:
            prompt = " ".join(str(entry.params.get(k) or "") for k in ("prompt", "instruction", "key"))
            passage = entry.source.excerpt if entry.source is not None else ""
            return f"{entry.summary()} {prompt} {entry.title} {entry.generator} {entry.model} {passage}".lower()
        return None

    def entries(self) -> list[HistoryEntry]:
        return list(self._entries)

    def row_of(self, entry: HistoryEntry) -> int | None:
        """``entry``'s row, or None; searched from the newest, which is what add() asks for."""
        for position in range(len(self._entries) - 1, -1, -1):
            if self._entries[position] is entry:
                return len(self._entries) - 1 - position
        return None

    def set_entries(self, entries: list[HistoryEntry]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self._alive = {e.id: self._exists(e) for e in self._entries}
        self.endResetModel()

    def add(self, entry: HistoryEntry) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._entries.append(entry)
        self._alive[entry.id] = self._exists(entry)
        self.endInsertRows()

    def refresh_targets(self) -> None:
        alive = {e.id: self._exists(e) for e in self._entries}
        if alive != self._alive and self._entries:
            self._alive = alive
            self.dataChanged.emit(self.index(0), self.index(len(self._entries) - 1), [ALIVE_ROLE])

    def alive(self, entry: HistoryEntry) -> bool:
        """Whether what ``entry`` made was in the project when last asked."""
        return self._alive.get(entry.id, False)

    def _exists(self, entry: HistoryEntry) -> bool:
        return entry.target is not None and bool(self._target_exists(entry))


class HistoryFilter(QSortFilterProxyModel):
    """Rows of one kind (or all) whose prompt, generator or model contains every typed word."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.kind = ""
        self.words: list[str] = []

    def set_filter(self, kind: str, text: str) -> None:
        self.beginFilterChange()
        self.kind = kind
        self.words = text.lower().split()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802 - Qt's name
        if not self.kind and not self.words:
            return True
        index = self.sourceModel().index(row, 0, parent)
        if self.kind and index.data(ENTRY_ROLE).kind != self.kind:
            return False
        text = index.data(SEARCH_ROLE)
        return all(word in text for word in self.words)


class HistoryDelegate(QStyledItemDelegate):
    """A row: the kind badge, the summary on the first line, the generator, the time and the
    duration on the second; a removed output greys the row and says "removed"."""

    PAD = 6
    BADGE = 26

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:  # noqa: N802 - Qt's name
        line = QFontMetrics(option.font).height()
        return QSize(200, max(self.BADGE, 2 * line + 2) + 2 * self.PAD)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        entry: HistoryEntry = index.data(ENTRY_ROLE)
        alive = bool(index.data(ALIVE_ROLE))
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        # The style draws the selection and hover background the same way every list does.
        style = option.widget.style() if option.widget is not None else QGuiApplication.instance().style()
        background = QStyleOptionViewItem(option)
        background.text = ""
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, background, painter, option.widget)

        rect = option.rect.adjusted(self.PAD, self.PAD, -self.PAD, -self.PAD)
        glyph, colour = BADGES.get(entry.kind, UNKNOWN_BADGE)
        badge = QRect(rect.left(), rect.top() + (rect.height() - self.BADGE) // 2, self.BADGE, self.BADGE)
        fill = QColor(colour) if alive else QColor(UNKNOWN_BADGE[1])
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(badge, 5, 5)
        glyph_font = QFont(option.font)
        glyph_font.setPixelSize(15)
        painter.setFont(glyph_font)
        painter.setPen(QColor("#f2f2f5") if alive else palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, glyph)

        ink = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        quiet = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.PlaceholderText)
        if not alive:
            ink = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text) if not selected else quiet
        text = rect.adjusted(self.BADGE + 8, 0, 0, 0)
        metrics = QFontMetrics(option.font)
        line = metrics.height()
        first = QRect(text.left(), text.top() + (text.height() - 2 * line - 2) // 2, text.width(), line)
        second = first.translated(0, line + 2)

        small = QFont(option.font)
        small.setPointSizeF(max(option.font.pointSizeF() * 0.9, 7.0))
        small_metrics = QFontMetrics(small)
        when = clock_time(entry.created)
        when_width = small_metrics.horizontalAdvance(when) + 8
        painter.setFont(small)
        painter.setPen(quiet)
        painter.drawText(first, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, when)
        painter.setFont(option.font)
        painter.setPen(ink)
        summary = metrics.elidedText(str(index.data(Qt.ItemDataRole.DisplayRole)), Qt.TextElideMode.ElideRight, first.width() - when_width)
        painter.drawText(first, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, summary)

        painter.setFont(small)
        removed = "removed" if isinstance(entry.source, Passage) or entry.source is None else "gone from the chat"
        state = removed if not alive and entry.target is not None else ("nothing to show" if not alive else "")
        state_width = small_metrics.horizontalAdvance(state) + 8 if state else 0
        if state:
            painter.setPen(palette.color(QPalette.ColorRole.BrightText) if not selected else quiet)
            painter.drawText(second, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, state)
        passage = f"from {entry.source.label()}" if isinstance(entry.source, Passage) else ("in the chat" if entry.source is not None else "")
        details = " · ".join(bit for bit in (passage, entry.title or entry.generator, duration(entry.seconds)) if bit)
        painter.setPen(quiet)
        details = small_metrics.elidedText(details, Qt.TextElideMode.ElideRight, second.width() - state_width)
        painter.drawText(second, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, details)
        painter.restore()


class HistoryView(QListView):
    """The list, with a grey hint painted in its middle when there is nothing to show."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hint = EMPTY_HINT

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        if self.model() is not None and self.model().rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            area = self.viewport().rect().adjusted(24, 24, -24, -24)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.hint)
            painter.end()


class HistoryPanel(QWidget):
    reuse_requested = Signal(object)  # HistoryEntry: load its generator and parameters into the Generate panel
    regenerate_requested = Signal(object)  # HistoryEntry: run it again, same parameters and seed
    jump_requested = Signal(object)  # HistoryEntry: show the layer, text or clip it made
    passage_requested = Signal(object)  # HistoryEntry: select the passage of the text it was made from

    def __init__(self, target_exists: Callable[[HistoryEntry], bool] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Without a way to ask, an output is taken to exist when the entry names one.
        self.model = HistoryModel(target_exists or (lambda entry: True), self)
        self.filter = HistoryFilter(self)
        self.filter.setSourceModel(self.model)
        self.menu: QMenu | None = None  # the context menu last opened

        self.search = QLineEdit()
        self.search.setObjectName("history_search")
        self.search.setPlaceholderText("Filter by prompt or generator")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._apply_filter)
        self.kind = QComboBox()
        self.kind.setObjectName("history_kind")
        for label, kind in KIND_FILTERS:
            self.kind.addItem(label, kind)
        self.kind.currentIndexChanged.connect(self._apply_filter)

        self.view = HistoryView()
        self.view.setObjectName("history_list")
        self.view.setModel(self.filter)
        self.view.setItemDelegate(HistoryDelegate(self.view))
        self.view.setUniformItemSizes(True)  # rows are one height: no per-row measuring on a long list
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setMouseTracking(True)  # hover highlight
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._open_menu)
        self.view.activated.connect(self._jump_to_index)  # double-click, or Enter
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        for signal in (self.filter.modelReset, self.filter.rowsRemoved, self.filter.layoutChanged, self.model.dataChanged):
            signal.connect(self._update_buttons)

        self.reuse_button = QPushButton("Reuse")  # "parameters" is in its tool tip: three buttons fit a narrow panel
        self.reuse_button.setObjectName("history_reuse")
        self.reuse_button.setToolTip("Load this generation's generator and parameters into the Generate panel")
        self.reuse_button.clicked.connect(lambda: self._emit(self.reuse_requested))
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setObjectName("history_regenerate")
        self.regenerate_button.setToolTip("Run it again with the same parameters and seed")
        self.regenerate_button.clicked.connect(lambda: self._emit(self.regenerate_requested))
        self.show_button = QPushButton("Show")
        self.show_button.setObjectName("history_show")
        self.show_button.setToolTip("Show the layer, text or clip it made (double-click a row)")
        self.show_button.clicked.connect(lambda: self._emit(self.jump_requested, needs_target=True))

        filters = QHBoxLayout()
        filters.setSpacing(4)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.kind)
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        buttons.addWidget(self.reuse_button)
        buttons.addWidget(self.regenerate_button)
        buttons.addWidget(self.show_button)
        for button in (self.reuse_button, self.regenerate_button, self.show_button):
            # As narrow as its words: the style's 80 px floor cut the first one off in a narrow panel.
            button.setMinimumWidth(button.fontMetrics().horizontalAdvance(button.text()) + 20)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(filters)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    # -- the API the window uses -----------------------------------------------------------

    def set_entries(self, entries: list[HistoryEntry]) -> None:
        """A project was opened: show its history (in the order made; the newest on top)."""
        self.model.set_entries(entries)
        self._update_hint()

    def add(self, entry: HistoryEntry) -> None:
        """A generation finished. The selection stays where the user put it; the list scrolls
        to the new row only when it is shown (a filter may hide it)."""
        self.model.add(entry)
        self._update_hint()
        index = self._proxy_index(entry)
        if index is not None:
            self.view.scrollTo(index)

    def entries(self) -> list[HistoryEntry]:
        """Every entry, oldest first (the order a project saves)."""
        return self.model.entries()

    def refresh_targets(self) -> None:
        """Ask again which outputs still exist (after undo, redo or a delete)."""
        self.model.refresh_targets()
        self._update_buttons()
        self.view.viewport().update()  # a line the window describes (which take) may have changed

    def selected(self) -> HistoryEntry | None:
        indexes = self.view.selectionModel().selectedIndexes()
        return indexes[0].data(ENTRY_ROLE) if indexes else None

    def select(self, entry: HistoryEntry | None) -> bool:
        """Select ``entry``'s row (None: clear); False when it is not shown."""
        if entry is None:
            self.view.clearSelection()
            return True
        index = self._proxy_index(entry)
        if index is None:
            return False
        self.view.setCurrentIndex(index)
        return True

    def target_exists(self, entry: HistoryEntry) -> bool:
        return self.model.alive(entry)

    def copy_parameters(self, entry: HistoryEntry) -> str:
        """Put the entry's generator and parameters on the clipboard as the JSON Studio writes
        into pictures (``{"generator": ..., "params": {...}}``); returns it."""
        text = studio_parameters_json(entry.generator, entry.params)
        QGuiApplication.clipboard().setText(text)
        return text

    def menu_for(self, entry: HistoryEntry) -> QMenu:
        """The context menu of a row: the buttons' actions and Copy parameters."""
        menu = QMenu(self)
        menu.setObjectName("history_menu")
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        actions: list[tuple[str, Callable[[], None], bool]] = [
            ("Reuse parameters", lambda: self.reuse_requested.emit(entry), True),
            ("Regenerate", lambda: self.regenerate_requested.emit(entry), True),
            ("Show", lambda: self.jump_requested.emit(entry), self.target_exists(entry)),
        ]
        if isinstance(entry.source, Passage):
            actions.append(("Show passage", lambda: self.passage_requested.emit(entry), True))
        for text, slot, enabled in actions:
            action = QAction(text, menu)
            action.setEnabled(enabled)
            action.triggered.connect(slot)
            menu.addAction(action)
        menu.addSeparator()
        copy = QAction("Copy parameters", menu)
        copy.triggered.connect(lambda: self.copy_parameters(entry))
        menu.addAction(copy)
        return menu

    # -- inside ---------------------------------------------------------------------------

    def _proxy_index(self, entry: HistoryEntry) -> QModelIndex | None:
        row = self.model.row_of(entry)
        if row is None:
            return None
        index = self.filter.mapFromSource(self.model.index(row))
        return index if index.isValid() else None

    def _emit(self, signal, needs_target: bool = False) -> None:
        entry = self.selected()
        if entry is not None and (not needs_target or self.target_exists(entry)):
            signal.emit(entry)

    def _jump_to_index(self, index: QModelIndex) -> None:
        entry = index.data(ENTRY_ROLE)
        if entry is not None and index.data(ALIVE_ROLE):
            self.jump_requested.emit(entry)

    def _open_menu(self, position: QPoint) -> None:
        index = self.view.indexAt(position)
        if not index.isValid():
            return
        self.view.setCurrentIndex(index)
        self.menu = self.menu_for(index.data(ENTRY_ROLE))
        self.menu.popup(self.view.viewport().mapToGlobal(position))

    def _apply_filter(self) -> None:
        # A list view moves the selection to a neighbour when its row is filtered away; an
        # entry the user did not pick must not become the one Regenerate runs, so the
        # selection is kept when its row stays shown and cleared when it does not.
        chosen = self.selected()
        self.filter.set_filter(str(self.kind.currentData() or ""), self.search.text())
        if chosen is None or not self.select(chosen):
            self.view.selectionModel().clear()
        self._update_hint()
        self._update_buttons()

    def _update_hint(self) -> None:
        self.view.hint = EMPTY_HINT if self.model.rowCount() == 0 else NO_MATCH_HINT
        self.view.viewport().update()

    def _update_buttons(self, *_: object) -> None:
        entry = self.selected()
        self.reuse_button.setEnabled(entry is not None)
        self.regenerate_button.setEnabled(entry is not None)
        self.show_button.setEnabled(entry is not None and self.target_exists(entry))
