"""Find and replace: a bar under the text, not a dialog, so the writer keeps typing around it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QTextCursor, QTextDocument
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QToolButton, QWidget

from studio.ui.slots import connect_command


class FindBar(QWidget):
    message = Signal(str)

    def __init__(self, editor: QPlainTextEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("find_bar")
        self.editor = editor
        self.find_field = QLineEdit()
        self.find_field.setObjectName("find_field")
        self.find_field.setPlaceholderText("Find")
        self.find_field.returnPressed.connect(self.find_next)
        self.replace_field = QLineEdit()
        self.replace_field.setObjectName("replace_field")
        self.replace_field.setPlaceholderText("Replace with")
        self.replace_field.returnPressed.connect(self.replace_one)
        self.case = QCheckBox("Match case")
        self.status = QLabel()
        self.status.setMinimumWidth(90)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.find_field, 2)
        layout.addWidget(self._button("‹", "Previous match (Shift+Enter)", self.find_previous))
        layout.addWidget(self._button("›", "Next match (Enter)", self.find_next))
        layout.addWidget(self.replace_field, 2)
        layout.addWidget(self._button("Replace", "Replace this match and find the next", self.replace_one))
        layout.addWidget(self._button("All", "Replace every match (one undo step)", self.replace_all))
        layout.addWidget(self.case)
        layout.addWidget(self.status)
        layout.addWidget(self._button("✕", "Close (Esc)", self.close_bar))
        QShortcut(QKeySequence("Escape"), self, self.close_bar, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        QShortcut(QKeySequence("Shift+Return"), self.find_field, self.find_previous, context=Qt.ShortcutContext.WidgetShortcut)
        self.hide()

    def _button(self, text: str, tip: str, slot) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        connect_command(button.clicked, slot)
        return button

    def open_bar(self, replace: bool = False) -> None:
        selected = self.editor.textCursor().selectedText()
        if selected and "\u2029" not in selected:  # a one-line selection is what to look for
            self.find_field.setText(selected)
        self.replace_field.setVisible(True)
        self.show()
        (self.replace_field if replace and self.find_field.text() else self.find_field).setFocus()
        self.find_field.selectAll()

    def close_bar(self) -> None:
        self.hide()
        self.editor.setFocus()

    def _flags(self, backward: bool = False) -> QTextDocument.FindFlag:
        flags = QTextDocument.FindFlag(0)
        if self.case.isChecked():
            flags |= QTextDocument.FindFlag.FindCaseSensitively
        if backward:
            flags |= QTextDocument.FindFlag.FindBackward
        return flags

    def _find(self, backward: bool) -> bool:
        needle = self.find_field.text()
        if not needle:
            return False
        if self.editor.find(needle, self._flags(backward)):
            self.status.setText("")
            return True
        cursor = self.editor.textCursor()  # wrap around, as every editor does
        cursor.movePosition(QTextCursor.MoveOperation.End if backward else QTextCursor.MoveOperation.Start)
        self.editor.setTextCursor(cursor)
        found = self.editor.find(needle, self._flags(backward))
        self.status.setText("Wrapped" if found else "Not found")
        return found

    def find_next(self) -> bool:
        return self._find(backward=False)

    def find_previous(self) -> bool:
        return self._find(backward=True)

    def _matches_selection(self) -> bool:
        selected, needle = self.editor.textCursor().selectedText(), self.find_field.text()
        return bool(needle) and (selected == needle if self.case.isChecked() else selected.lower() == needle.lower())

    def replace_one(self) -> bool:
        if not self._matches_selection() and not self.find_next():
            return False
        self.editor.textCursor().insertText(self.replace_field.text())
        self.find_next()
        return True

    def replace_all(self) -> int:
        """Replace every match as one undo step; says how many."""
        needle, document = self.find_field.text(), self.editor.document()
        if not needle:
            return 0
        count = 0
        edit = QTextCursor(document)
        edit.beginEditBlock()
        found = document.find(needle, 0, self._flags())
        while not found.isNull():
            found.insertText(self.replace_field.text())
            count += 1
            found = document.find(needle, found.position(), self._flags())
        edit.endEditBlock()
        self.status.setText(f"{count} replaced")
        self.message.emit(f"Replaced {count} match{'es' if count != 1 else ''} of “{needle}”")
        return count
