"""Rewrite selection: a small inline field for the instruction, above the text."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QToolButton, QWidget


class RewriteBar(QWidget):
    rewrite_requested = Signal(str)  # the instruction
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rewrite_bar")
        self.label = QLabel("Rewrite selection:")
        self.instruction = QLineEdit()
        self.instruction.setObjectName("rewrite_instruction")
        self.instruction.setPlaceholderText("e.g. make it more formal · shorter · in iambic pentameter")
        self.instruction.returnPressed.connect(self.submit)
        self.button = QPushButton("Rewrite")
        self.button.clicked.connect(self.submit)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Close (Esc)")
        close.clicked.connect(self.close_bar)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label)
        layout.addWidget(self.instruction, 1)
        layout.addWidget(self.button)
        layout.addWidget(close)
        QShortcut(QKeySequence("Escape"), self, self.close_bar, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.hide()

    def open_bar(self, words: int) -> None:
        self.label.setText(f"Rewrite {words} selected word{'s' if words != 1 else ''}:")
        self.show()
        self.instruction.setFocus()
        self.instruction.selectAll()

    def submit(self) -> None:
        if self.instruction.text().strip():
            self.rewrite_requested.emit(self.instruction.text().strip())

    def close_bar(self) -> None:
        self.hide()
        self.closed.emit()
