"""The Story panel: what the model should always know (memory), a steer near the end (the
author's note), and the lorebook, whose entries enter the context when their keys appear.

The panel edits a ``StoryNotes`` (``studio.core.text.story``): the window reads ``notes()``
when it generates and when it saves the project, and puts a loaded project's back with
``set_notes``. ``changed`` fires on the writer's edits only, never on ``set_notes``, so a
project that is opened is not marked modified by being shown.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.text.context import SCAN_CHARS
from studio.core.text.story import (
    MAX_KEY_CHARS,
    MAX_KEYS,
    MAX_LORE_ENTRIES,
    MAX_LORE_TEXT_CHARS,
    MAX_NAME_CHARS,
    MAX_NOTE_CHARS,
    MAX_NOTE_DEPTH,
    PRIORITY_RANGE,
    LoreEntry,
    StoryNotes,
)
from studio.ui.plain import plain_box, plain_label
from studio.ui.slots import connect_command

FIRED_INK = "#c27c0e"  # the Context view's lore colour, readable on light and dark lists
LOREBOOK_HELP = (
    "A lorebook holds what the model should know only when it matters: a character, a place, "
    "a rule of your world.\n\nEach entry has keys, words such as a name. When one appears near the "
    "end of the story, the entry's text goes into what the model reads; the rest of the time it "
    "takes no room.\n\nAdd entry to write the first one."
)


def hint(text: str) -> QLabel:
    """A short grey explanation under a section's title."""
    label = plain_label(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(mid);")
    return label


def title(text: str) -> QLabel:
    label = plain_label(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def titled(text: str, aside: QLabel) -> QHBoxLayout:
    """A section's title with a grey remark at its right (its token count)."""
    row = QHBoxLayout()
    row.addWidget(title(text))
    row.addStretch(1)
    row.addWidget(aside)
    return row


def split_keys(text: str) -> list[str]:
    """"Aldric, the knight ,," -> ["Aldric", "the knight"]: comma-separated, blanks dropped,
    within what a project keeps (``MAX_KEYS`` keys of ``MAX_KEY_CHARS``)."""
    return [key.strip()[:MAX_KEY_CHARS] for key in text.split(",") if key.strip()][:MAX_KEYS]


def keep_within(box: QPlainTextEdit, limit: int, warning: QLabel) -> None:
    """Hold ``box`` to ``limit`` characters (what a project keeps of it): a paste past it is
    cut there, and ``warning`` says so until the text is shorter again."""

    cutting = []  # non-empty while the cut's own change comes back through textChanged

    def check() -> None:
        if cutting:
            return
        if len(box.toPlainText()) <= limit:
            warning.hide()
            return
        cutting.append(True)
        cursor = box.textCursor()
        cursor.setPosition(limit)
        cursor.movePosition(cursor.MoveOperation.End, cursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        cutting.clear()
        warning.setText(f"At most {limit:,} characters are kept: the end of the text was left out.")
        warning.show()

    box.textChanged.connect(check)


def warning_label() -> QLabel:
    label = plain_label()
    label.setWordWrap(True)
    label.setStyleSheet("color: #b3261e;")
    label.hide()
    return label


def entry_label(entry: LoreEntry) -> str:
    """How an entry reads in the list: its name and its keys (an unnamed one: its keys)."""
    keys = ", ".join(entry.keys) or "no keys yet"
    name = entry.name.strip()
    return f"{name}  ·  {keys}" if name else keys if entry.keys else "(unnamed entry: no keys yet)"


class NotesTab(QWidget):
    """Memory and the author's note."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.memory = QPlainTextEdit()
        self.memory.setObjectName("story_memory")
        self.memory.setTabChangesFocus(True)
        self.memory.setPlaceholderText("The premise, the main characters, the style…")
        self.note = QPlainTextEdit()
        self.note.setObjectName("story_authors_note")
        self.note.setTabChangesFocus(True)
        self.note.setPlaceholderText("[Tone: tense. The storm reaches the castle.]")
        self.depth = QSpinBox()
        self.depth.setObjectName("story_note_depth")
        self.depth.setRange(0, MAX_NOTE_DEPTH)
        self.depth.setValue(3)
        self.depth.setSuffix(" lines before the end")
        self.depth.setPrefix("Insert ")
        self.depth.setToolTip("0: after the last line, where it weighs most on the next words")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(4)
        self.memory_tokens, self.note_tokens = hint(""), hint("")  # from the Context view's plan
        layout.addLayout(titled("Memory", self.memory_tokens))
        layout.addWidget(hint("Always at the top of what the model reads."))
        layout.addWidget(self.memory, 3)
        layout.addSpacing(10)
        layout.addLayout(titled("Author's note", self.note_tokens))
        layout.addWidget(hint("A steer near the end of the story, where it weighs most on the next words."))
        layout.addWidget(self.note, 2)
        layout.addWidget(self.depth)
        self.memory_warning, self.note_warning = warning_label(), warning_label()
        layout.insertWidget(layout.indexOf(self.memory) + 1, self.memory_warning)
        layout.insertWidget(layout.indexOf(self.note) + 1, self.note_warning)
        keep_within(self.memory, MAX_NOTE_CHARS, self.memory_warning)
        keep_within(self.note, MAX_NOTE_CHARS, self.note_warning)
        self.memory.textChanged.connect(self.changed)
        self.note.textChanged.connect(self.changed)
        self.depth.valueChanged.connect(self.changed)

    def show_tokens(self, memory: str, note: str) -> None:
        """What memory and the note cost in the context now ("" when not planned)."""
        self.memory_tokens.setText(memory)
        self.note_tokens.setText(note)


class LorebookTab(QWidget):
    """The lorebook: a list of entries, the selected one's fields under it, Add and Remove."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list[LoreEntry] = []
        self.fired: dict[str, str] = {}  # label -> why, for the entries in the context now (the Context view's plan)
        self._showing = False  # filling the fields from an entry: not an edit

        self.list = QListWidget()
        self.list.setObjectName("lore_list")
        self.list.setAlternatingRowColors(True)
        self.list.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.list.setMinimumHeight(52)  # a short dock keeps a few rows and scrolls the rest
        empty = QLabel(LOREBOOK_HELP)
        empty.setTextFormat(Qt.TextFormat.PlainText)
        empty.setObjectName("lore_empty")
        empty.setWordWrap(True)
        empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        empty.setStyleSheet("color: palette(mid); padding: 6px;")
        self.empty = empty
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.list)

        self.add_button = QPushButton("Add entry")
        self.add_button.setObjectName("lore_add")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("lore_remove")
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)

        self.name = QLineEdit()
        self.name.setObjectName("lore_name")
        self.name.setMaxLength(MAX_NAME_CHARS)
        self.name.setPlaceholderText("Ser Aldric")
        self.keys = QLineEdit()
        self.keys.setObjectName("lore_keys")
        self.keys.setPlaceholderText("Aldric, the knight")
        self.keys.setToolTip(f"Words or phrases, separated by commas. When one of them appears in the last {SCAN_CHARS:,} "
                             "characters of the story (whole, in any case), the entry's text enters the context.")
        self.text = QPlainTextEdit()
        self.text.setObjectName("lore_text")
        self.text.setTabChangesFocus(True)
        self.text.setPlaceholderText("What the model should know when a key appears")
        self.text.setMinimumHeight(56)
        self.priority = QSpinBox()
        self.priority.setObjectName("lore_priority")
        self.priority.setRange(*PRIORITY_RANGE)
        self.priority.setToolTip("When the context cannot hold every entry that fired, the lowest priority is left out first")
        self.enabled = QCheckBox("On")
        self.enabled.setObjectName("lore_enabled")
        self.enabled.setToolTip("An entry turned off never enters the context")
        last_row = QHBoxLayout()
        last_row.addWidget(self.priority)
        last_row.addStretch(1)
        last_row.addWidget(self.enabled)
        self.fields = QWidget()
        form = QFormLayout(self.fields)
        form.setContentsMargins(0, 4, 0, 0)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Name", self.name)
        form.addRow("Keys", self.keys)
        form.addRow("Text", self.text)
        self.text_warning = warning_label()
        keep_within(self.text, MAX_LORE_TEXT_CHARS, self.text_warning)
        form.addRow("Priority", last_row)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(4)
        layout.addWidget(self.stack, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.fields, 3)
        layout.addWidget(self.text_warning)

        connect_command(self.add_button.clicked, self.add_entry)
        connect_command(self.remove_button.clicked, self.remove_entry)
        self.list.currentRowChanged.connect(self._show_entry)
        self.list.itemChanged.connect(self._item_checked)
        self.name.textEdited.connect(lambda _: self._edited())
        self.keys.textEdited.connect(lambda _: self._edited())
        self.text.textChanged.connect(self._edited)
        self.priority.valueChanged.connect(lambda _: self._edited())
        self.enabled.toggled.connect(lambda _: self._edited())
        self._refill(-1)

    # -- the list --------------------------------------------------------------------------

    def set_entries(self, entries: list[LoreEntry]) -> None:
        self.entries = list(entries)
        self._refill(0 if self.entries else -1)

    def _refill(self, row: int) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for entry in self.entries:
            self.list.addItem(self._item(entry))
        self.list.blockSignals(False)
        self.stack.setCurrentWidget(self.list if self.entries else self.empty)
        self.add_button.setEnabled(len(self.entries) < MAX_LORE_ENTRIES)
        self.list.setCurrentRow(row)
        self._show_entry(row)

    def _item(self, entry: LoreEntry) -> QListWidgetItem:
        item = QListWidgetItem(entry_label(entry))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if entry.enabled else Qt.CheckState.Unchecked)
        if not entry.enabled:
            font = QFont(item.font())
            font.setItalic(True)
            item.setFont(font)
        why = self.fired.get(entry.label)
        if why is not None:  # in the Context view's lore colour, bold: this one is in what the model reads
            item.setForeground(QBrush(QColor(FIRED_INK)))
            font = QFont(item.font())
            font.setBold(True)
            item.setFont(font)
        item.setToolTip(f"In the context now: {why}" if why is not None else entry.text[:400])
        return item

    def show_fired(self, fired: dict[str, str]) -> None:
        """Mark the entries now in the context (by label, with the reason as their tool tip)."""
        if fired == self.fired:
            return
        self.fired = dict(fired)
        self.list.blockSignals(True)
        for row, entry in enumerate(self.entries):
            self._restyle(self.list.item(row), entry)
        self.list.blockSignals(False)

    def _restyle(self, item: QListWidgetItem, entry: LoreEntry) -> None:
        fresh = self._item(entry)
        item.setText(fresh.text())
        item.setCheckState(fresh.checkState())
        item.setFont(fresh.font())
        item.setToolTip(fresh.toolTip())
        item.setForeground(fresh.foreground())

    def add_entry(self) -> None:
        if len(self.entries) >= MAX_LORE_ENTRIES:
            self.add_button.setEnabled(False)
            self.add_button.setToolTip(f"A lorebook holds at most {MAX_LORE_ENTRIES:,} entries")
            return
        self.entries.append(LoreEntry(keys=[], text="", priority=0, enabled=True, name=""))
        self._refill(len(self.entries) - 1)
        self.changed.emit()
        self.name.setFocus()

    def remove_entry(self) -> QMessageBox | None:
        """Remove the selected entry; one with a text is removed once the writer confirms
        (there is no undo for it). Returns the open question, if one was asked."""
        row = self.list.currentRow()
        if not 0 <= row < len(self.entries):
            return None
        entry = self.entries[row]
        if not entry.text.strip():
            self._remove(entry)
            return None
        box = plain_box(QMessageBox.Icon.Question, "Remove lore entry", f"Remove “{entry.label}” from the lorebook?",
                        QMessageBox.StandardButton.Cancel, self, informative="Its text is lost: removing an entry cannot be undone.")
        box.setObjectName("remove_lore_entry")
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: self._remove(entry) if button is remove else None)
        box.open()
        return box

    def _remove(self, entry: LoreEntry) -> None:
        row = next((i for i, e in enumerate(self.entries) if e is entry), -1)
        if row < 0:  # gone meanwhile (another project shown)
            return
        del self.entries[row]
        self._refill(min(row, len(self.entries) - 1))
        self.changed.emit()

    # -- the selected entry's fields ------------------------------------------------------

    def _show_entry(self, row: int) -> None:
        entry = self.entries[row] if 0 <= row < len(self.entries) else None
        self._showing = True
        self.name.setText(entry.name if entry else "")
        self.keys.setText(", ".join(entry.keys) if entry else "")
        self.text.setPlainText(entry.text if entry else "")
        self.priority.setValue(entry.priority if entry else 0)
        self.enabled.setChecked(entry.enabled if entry else True)
        self._showing = False
        self.fields.setVisible(entry is not None)  # no entry: the explanation has the room
        self.text_warning.hide()
        self.remove_button.setEnabled(entry is not None)

    def _edited(self) -> None:
        row = self.list.currentRow()
        if self._showing or not 0 <= row < len(self.entries):
            return
        entry = LoreEntry(
            keys=split_keys(self.keys.text()),
            text=self.text.toPlainText(),
            priority=self.priority.value(),
            enabled=self.enabled.isChecked(),
            name=self.name.text(),
        )
        self.entries[row] = entry
        self.list.blockSignals(True)
        self._restyle(self.list.item(row), entry)
        self.list.blockSignals(False)
        self.changed.emit()

    def _item_checked(self, item: QListWidgetItem) -> None:
        """The list's own check box turns an entry on or off, as the field's does."""
        row = self.list.row(item)
        if not 0 <= row < len(self.entries):
            return
        if self.list.currentRow() != row:
            self.list.setCurrentRow(row)
        self.enabled.setChecked(item.checkState() == Qt.CheckState.Checked)


class StoryPanel(QWidget):
    """The Story dock's widget: Memory and author's note, and the Lorebook, as two tabs."""

    changed = Signal()  # the writer edited the notes (never sent by ``set_notes``)
    replaced = Signal()  # ``set_notes``: a project's notes are shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notes_tab = NotesTab()
        self.lorebook = LorebookTab()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("story_tabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.notes_tab, "Memory")
        self.tabs.addTab(self.lorebook, "Lorebook")
        # The chat reads its system prompt and the conversation: said while it is in front, so
        # nobody fills in a memory the chat will never read.
        self.chat_note = hint("The chat view reads its own system prompt, not these notes: they steer Continue in the story view.")
        self.chat_note.setContentsMargins(8, 4, 8, 4)
        self.chat_note.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.chat_note)
        layout.addWidget(self.tabs)
        self._setting = False
        for part in (self.notes_tab, self.lorebook):
            part.changed.connect(self._on_edit)

    def show_chat_note(self, chat_shown: bool) -> None:
        self.chat_note.setVisible(chat_shown)

    def notes(self) -> StoryNotes:
        """The notes as the panel shows them now."""
        tab = self.notes_tab
        return StoryNotes(
            memory=tab.memory.toPlainText(),
            authors_note=tab.note.toPlainText(),
            note_depth=tab.depth.value(),
            lore=list(self.lorebook.entries),
        )

    def set_notes(self, notes: StoryNotes | None) -> None:
        """Show ``notes`` (a project's; None: empty) without counting it as an edit."""
        notes = notes if notes is not None else StoryNotes()
        tab = self.notes_tab
        self._setting = True
        try:
            tab.memory.setPlainText(notes.memory)
            tab.note.setPlainText(notes.authors_note)
            tab.depth.setValue(max(0, min(int(notes.note_depth), MAX_NOTE_DEPTH)))
            self.lorebook.set_entries(list(notes.lore))
        finally:
            self._setting = False
        self._name_tabs()
        self.replaced.emit()

    def _on_edit(self) -> None:
        if self._setting:
            return
        self._name_tabs()
        self.changed.emit()

    def _name_tabs(self) -> None:
        count = len(self.lorebook.entries)
        self.tabs.setTabText(1, f"Lorebook ({count})" if count else "Lorebook")
