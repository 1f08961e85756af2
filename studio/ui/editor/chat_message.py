"""One message of the chat view: who wrote it, its text (editable in place) and, for a reply,
its buttons: ‹ n / m › through its takes, Continue, Retry; Delete for any message."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QTextEdit, QToolButton, QVBoxLayout, QWidget

from studio.core.text.chat import ChatMessage

ROLE_NAMES = {"user": "You", "assistant": "Model", "system": "System"}


class GrowingEdit(QTextEdit):
    """Plain text that is as tall as its lines: a message scrolls with the chat, not in itself."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptRichText(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setTabChangesFocus(True)
        self.viewport().setAutoFillBackground(False)
        self.document().setDocumentMargin(2)
        self.document().contentsChanged.connect(self.fit)

    def fit(self) -> None:
        document = self.document()
        document.setTextWidth(max(1, self.viewport().width()))
        margins = self.contentsMargins()
        height = math.ceil(document.size().height()) + margins.top() + margins.bottom() + 4  # 4: a descender's room
        height = max(height, self.fontMetrics().lineSpacing() + 8)
        if height != self.height():
            self.setFixedHeight(height)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.fit()


class MessageBlock(QFrame):
    """A message as the chat view shows it; edits go straight into its ``ChatMessage``."""

    edited = Signal()
    continue_clicked = Signal()
    retry_clicked = Signal()
    delete_clicked = Signal()
    take_chosen = Signal(int)

    def __init__(self, message: ChatMessage, model_name: str = "Model", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = message
        self.streaming = False
        self._showing = False  # the text is being set here, not typed: not an edit
        reply = message.role == "assistant"
        self.setObjectName("chat_reply" if reply else "chat_user")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.role = QLabel(model_name if reply else ROLE_NAMES[message.role])
        self.role.setObjectName("chat_role")
        font = self.role.font()
        font.setBold(True)
        self.role.setFont(font)
        self.status = QLabel()
        self.status.setObjectName("chat_status")
        self.status.setEnabled(False)  # the palette's quieter colour
        self.text = GrowingEdit()
        self.text.setObjectName("chat_text")
        self.text.setPlaceholderText("…" if reply else "")
        self.text.textChanged.connect(self._typed)

        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.role)
        header.addWidget(self.status)
        header.addStretch(1)
        self.previous_take = self._button("‹", "Previous take", lambda: self.take_chosen.emit(self.message.chosen - 1), "chat_previous_take")
        self.take_label = QLabel()
        self.take_label.setObjectName("chat_take_label")
        self.next_take = self._button("›", "Next take", lambda: self.take_chosen.emit(self.message.chosen + 1), "chat_next_take")
        self.continue_button = self._button("Continue", "Generate more at the end of this reply (after your edits)", self.continue_clicked.emit, "chat_continue")
        self.retry_button = self._button("Retry", "Write this reply again as a new take; the others stay (‹ ›)", self.retry_clicked.emit, "chat_retry")
        self.delete_button = self._button("✕", "Delete this message", self.delete_clicked.emit, "chat_delete")
        for widget in (self.previous_take, self.take_label, self.next_take, self.continue_button, self.retry_button):
            widget.setVisible(reply)
            header.addWidget(widget)
        header.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.text)
        self.show_message()

    def _button(self, text: str, tip: str, slot, name: str) -> QToolButton:
        button = QToolButton(text=text)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    def show_message(self) -> None:
        """Show the message's text and takes as they are now."""
        if self.text.toPlainText() != self.message.text:
            self._showing = True
            try:
                self.text.setPlainText(self.message.text)
            finally:
                self._showing = False
        self.update_buttons()

    def append(self, chunk: str) -> None:
        """A streamed chunk, at the end (the writer's cursor stays where it is)."""
        self._showing = True
        try:
            cursor = QTextCursor(self.text.document())
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(chunk)
        finally:
            self._showing = False

    def set_streaming(self, streaming: bool, status: str = "") -> None:
        self.streaming = streaming
        self.text.setReadOnly(streaming)
        self.status.setText(status)
        self.update_buttons()

    def update_buttons(self) -> None:
        takes, chosen = len(self.message.takes), self.message.chosen
        several = self.message.role == "assistant" and takes > 1
        for widget in (self.previous_take, self.take_label, self.next_take):
            widget.setVisible(several)
        self.take_label.setText(f"{chosen + 1} / {takes}")
        self.previous_take.setEnabled(not self.streaming and chosen > 0)
        self.next_take.setEnabled(not self.streaming and chosen < takes - 1)
        for button in (self.continue_button, self.retry_button, self.delete_button):
            button.setEnabled(not self.streaming)

    def _typed(self) -> None:
        if self._showing or self.streaming:
            return
        self.message.set_text(self.text.toPlainText())
        self.edited.emit()
