"""The chat view of the Text tab: a conversation with an instruction-tuned model.

Beside the story view (the "Story | Chat" switch at the top of the tab). The messages show as
blocks (you / the model), each editable in place; a system prompt field above them; an input
box below (Enter sends, Shift+Enter starts a new line). A reply streams in as the model writes
it; Esc (or the Stop button) stops it at once and what streamed is kept as a take. Each reply
can be continued (more at its end, after the writer's edits) and retried (a new take; ‹ n / m ›
browses them). What a reply is generated from is ``ChatLog.as_messages``; the window's
``ChatGeneration`` submits the jobs and routes their events back here.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.core.engine.jobs import Job
from studio.core.text.chat import ChatLog, ChatMessage
from studio.ui.editor.chat_message import MessageBlock

USER_TINT = "#5a82d2"
EMPTY_HINT = (
    "Write a message below and press Enter (Shift+Enter for a new line). Every reply can be "
    "edited in place, continued from its end and retried; Esc stops a reply."
)


#: What a text box cannot hold as it is (control characters; Qt shows a no-break space and a
#: line or paragraph separator as a space and a new line): a reply holds what the view shows.
_UNSHOWABLE = {c: None for c in range(32) if c not in (9, 10)} | {0x7F: None, 0xA0: " ", 0x2028: "\n", 0x2029: "\n"}


def showable(text: str) -> str:
    return text.translate(_UNSHOWABLE)


def _mix(colour: QColor, other: QColor, share: float) -> QColor:
    """``colour`` with ``share`` of ``other`` mixed in."""
    return QColor.fromRgbF(*(a * (1 - share) + b * share for a, b in zip(colour.getRgbF()[:3], other.getRgbF()[:3])))


class MessageInput(QPlainTextEdit):
    """The box at the bottom: Enter sends, Shift+Enter is a new line."""

    send_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier):
            self.send_requested.emit()
            return
        if enter and event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.insertPlainText("\n")
            return
        super().keyPressEvent(event)


@dataclass
class ChatReply:
    """A reply being generated: the message it streams into and the text it started from."""

    job: Job
    message: ChatMessage
    base: str  # a continuation's text before it; "" for a new reply or take
    how: str  # "reply", "continue" or "retry"
    streamed: str = ""


class ChatView(QWidget):
    """Shows and edits a ``ChatLog``; asks for generations through ``generate_requested``."""

    generate_requested = Signal(int, str)  # the reply's index in the log, and "reply" / "continue" / "retry"
    stop_requested = Signal()
    changed = Signal()  # the conversation changed (for the project's unsaved mark)
    replaced = Signal()  # another conversation is shown (a project opened, New): not an edit
    message = Signal(str)  # a line for the status bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chat_view")
        self.log = ChatLog()
        self.replies: dict[int, ChatReply] = {}  # job id -> the reply it writes
        self.blocks: list[MessageBlock] = []
        self.model_name = "Model"
        self.can_chat = True

        self.banner = QLabel()
        self.banner.setObjectName("chat_banner")
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.PlainText)
        self.banner.setStyleSheet("QLabel#chat_banner { background: #fff4d6; color: #4a3b12; padding: 8px; border-radius: 4px; }")
        self.banner.hide()
        self._deleted: tuple[int, ChatMessage] | None = None  # what Undo in the bar puts back
        self.undo_bar = QWidget()
        self.undo_bar.setObjectName("chat_undo_bar")
        self.undo_label = QLabel()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setObjectName("chat_undo_delete")
        self.undo_button.clicked.connect(self.undo_delete)
        undo_row = QHBoxLayout(self.undo_bar)
        undo_row.setContentsMargins(0, 0, 0, 0)
        undo_row.addWidget(self.undo_label, 1)
        undo_row.addWidget(self.undo_button)
        self.undo_bar.hide()
        self.system = QPlainTextEdit()
        self.system.setObjectName("chat_system_prompt")
        self.system.setPlaceholderText("System prompt (optional): who the model is and how it answers, e.g. “You are a concise editor.”")
        self.system.setTabChangesFocus(True)
        self.system.setFixedHeight(self.system.fontMetrics().lineSpacing() * 2 + 14)
        self.system.textChanged.connect(self._system_edited)
        self._showing_system = False

        self.list_widget = QWidget()
        self.list_widget.setObjectName("chat_messages")
        self.list_layout = QVBoxLayout(self.list_widget)
        self.list_layout.setContentsMargins(16, 12, 16, 12)
        self.list_layout.setSpacing(10)
        self.empty_hint = QLabel(EMPTY_HINT)
        self.empty_hint.setObjectName("chat_empty_hint")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setEnabled(False)
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.list_layout.addWidget(self.empty_hint)
        self.left_out_line = QLabel("↑ The model no longer reads the messages above: the chat outgrew its context")
        self.left_out_line.setObjectName("chat_left_out")
        self.left_out_line.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.left_out_line.setEnabled(False)  # the palette's quieter colour
        self.left_out_line.hide()
        self._read_from = 0  # the first message the model still reads (the Context view's plan)
        self.list_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setObjectName("chat_scroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.list_widget)
        self.scroll.verticalScrollBar().rangeChanged.connect(self._follow_stream)
        self._last_maximum = 0

        self.input = MessageInput()
        self.input.setObjectName("chat_input")
        self.input.setPlaceholderText("Message the model…  (Enter sends · Shift+Enter new line)")
        self.input.setTabChangesFocus(True)
        self.input.setFixedHeight(self.input.fontMetrics().lineSpacing() * 3 + 14)
        self.input.send_requested.connect(self.send)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("chat_send")
        self.send_button.clicked.connect(self._send_or_stop)

        system_row = QHBoxLayout()
        system_row.addWidget(QLabel("System"), 0, Qt.AlignmentFlag.AlignTop)
        system_row.addWidget(self.system, 1)
        input_row = QHBoxLayout()
        input_row.addWidget(self.input, 1)
        input_row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.addWidget(self.banner)
        layout.addWidget(self.undo_bar)
        layout.addLayout(system_row)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(input_row)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """Esc stops a streaming reply (the input and the messages leave Esc to their parent, here)."""
        if event.key() == Qt.Key.Key_Escape and self.running:
            self.stop()
            return
        super().keyPressEvent(event)

    # -- the log, for the project ----------------------------------------------------------

    def chat_log(self) -> ChatLog:
        return self.log

    def set_chat_log(self, log: ChatLog) -> None:
        """Show another conversation (a project opened, New): a reply still streaming stops."""
        if self.replies:
            self.stop_requested.emit()
            self.replies.clear()  # what it still sends belongs to the old conversation
        for message in log.messages:  # as the boxes will show them (a project written elsewhere)
            message.takes = [showable(take) for take in message.takes]
            message.choose(message.chosen)
        self.log = log
        self._showing_system = True
        try:
            self.system.setPlainText(log.system)
        finally:
            self._showing_system = False
        self._rebuild()
        self._update_controls()
        self.replaced.emit()

    # -- which model chats -------------------------------------------------------------------

    def set_model(self, name: str, can_chat: bool, reason: str = "") -> None:
        """The model replies come from; one that cannot chat greys sending and says why."""
        self.model_name, self.can_chat = name or "Model", can_chat
        for block in self.blocks:
            if block.message.role == "assistant":
                block.role.setText(self.model_name)
        self.banner.setText(reason)
        self.banner.setVisible(not can_chat and bool(reason))
        self._update_controls()

    def set_paper(self, paper: str, ink: str) -> None:
        """The messages on the story's paper and ink (its theme), so both views read alike."""
        palette = self.list_widget.palette()
        quiet = _mix(QColor(ink), QColor(paper), 0.45)
        for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Base):
            palette.setColor(role, QColor(paper))
        for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
            palette.setColor(role, QColor(ink))
            palette.setColor(QPalette.ColorGroup.Disabled, role, quiet)
        self.list_widget.setPalette(palette)
        self.list_widget.setAutoFillBackground(True)
        for block in self.blocks:
            self._tint(block)

    def _tint(self, block: MessageBlock) -> None:
        """Your messages on a blue-tinted paper, the model's on the paper itself."""
        if block.message.role == "user":
            palette = self.list_widget.palette()
            palette.setColor(QPalette.ColorRole.Window, _mix(palette.color(QPalette.ColorRole.Window), QColor(USER_TINT), 0.14))
            block.setPalette(palette)
            block.setAutoFillBackground(True)

    @property
    def running(self) -> bool:
        return bool(self.replies)

    # -- the writer's actions ----------------------------------------------------------------

    def send(self) -> None:
        """Enter in the input: the message is added and the model answers it."""
        if self.running:
            self.message.emit("A reply is streaming: Esc stops it")
            return
        text = self.input.toPlainText().strip()
        last = self.log.messages[-1] if self.log.messages else None
        if not text and (last is None or last.role != "user"):
            return
        if not self.can_chat:
            self.message.emit(self.banner.text() or f"{self.model_name} cannot chat")
            return
        if text:
            self.log.append("user", text)
            self.input.clear()
        index = self.log.append("assistant", "", generated=True)
        self._rebuild()
        self.changed.emit()
        self.generate_requested.emit(index, "reply")

    def _send_or_stop(self) -> None:
        self.stop() if self.running else self.send()

    def stop(self) -> None:
        if self.running:
            self.stop_requested.emit()

    def _reply_action(self, block: MessageBlock, how: str) -> None:
        if self.running:
            self.message.emit("A reply is streaming: Esc stops it")
            return
        if not self.can_chat:
            self.message.emit(self.banner.text() or f"{self.model_name} cannot chat")
            return
        index = self._index(block.message)
        if how == "retry":
            self.log.add_take(index, "")
            block.show_message()
            self.changed.emit()
        self.generate_requested.emit(index, how)

    def continue_reply(self, index: int) -> None:
        """Continue the reply at ``index``, as its Continue button does."""
        block = self._block(self.log.messages[index])
        if block is not None:
            self._reply_action(block, "continue")

    def retry_reply(self, index: int) -> None:
        """A new take of the reply at ``index``, as its Retry button does."""
        block = self._block(self.log.messages[index])
        if block is not None:
            self._reply_action(block, "retry")

    def show_reply(self, index: int, take: int) -> None:
        """Bring the reply at ``index`` into view with take ``take`` chosen, its text selected."""
        message = self.log.messages[index]
        block = self._block(message)
        if block is None:
            return
        if message.chosen != take and not block.streaming:
            self._choose_take(block, take)
        block.text.selectAll()
        QTimer.singleShot(0, lambda: self._bring_into_view(block))  # once laid out, and after the switch focused the input

    def _bring_into_view(self, block: MessageBlock) -> None:
        if block in self.blocks:
            self.scroll.ensureWidgetVisible(block, 0, 24)
            block.text.setFocus()

    def index_of(self, message: ChatMessage) -> int:
        """Where ``message`` is in the conversation (-1: no longer there)."""
        return self._index(message)

    def _delete(self, block: MessageBlock) -> None:
        """Delete a message; the bar above the messages offers it back until the next change."""
        if block.streaming:
            return
        index = self._index(block.message)
        self.log.delete(index)
        self._rebuild()
        self._deleted = (index, block.message)
        who = "your message" if block.message.role == "user" else "the reply" + (f" and its {len(block.message.takes)} takes" if len(block.message.takes) > 1 else "")
        self.undo_label.setText(f"Deleted {who}.")
        self.undo_bar.show()
        self.changed.emit()

    def undo_delete(self) -> None:
        """Put the message deleted last back where it was."""
        if self._deleted is None:
            return
        index, message = self._deleted
        self.log.messages.insert(min(index, len(self.log.messages)), message)
        self._rebuild()
        self.changed.emit()

    def _choose_take(self, block: MessageBlock, take: int) -> None:
        self.log.choose_take(self._index(block.message), take)
        block.show_message()
        self.changed.emit()

    def _system_edited(self) -> None:
        if not self._showing_system:
            self.log.set_system(self.system.toPlainText())
            self.changed.emit()

    # -- a reply's job ------------------------------------------------------------------------

    def owns(self, job: Job) -> bool:
        return job.id in self.replies

    def messages_for(self, index: int, how: str) -> list[dict[str, str]]:
        """What the model reads for the reply at ``index``: the conversation before it, and for
        a continuation the reply itself (which it goes on from)."""
        return self.log.as_messages(index + 1 if how == "continue" else index)

    def begin(self, job: Job, index: int, how: str) -> None:
        message = self.log.messages[index]
        base = message.text if how == "continue" else ""
        self.replies[job.id] = ChatReply(job, message, base, how)
        block = self._block(message)
        if block is not None:
            block.set_streaming(True, "writing…")
        self._update_controls()

    def stream(self, job: Job, chunk: str) -> None:
        reply = self.replies.get(job.id)
        chunk = showable(chunk)
        if reply is None or not chunk:
            return
        reply.streamed += chunk
        reply.message.set_text(reply.base + reply.streamed)
        block = self._block(reply.message)
        if block is not None:
            block.append(chunk)

    def finish(self, job: Job, text: str) -> None:
        """The result: the whole generated text (it may differ from the stream at a stop sequence)."""
        reply = self.replies.pop(job.id, None)
        if reply is None:
            return
        reply.message.set_text(reply.base + showable(text))
        reply.message.generated = True
        wrote = (reply.base + text).strip()  # a model may end its turn at once: say so, not an empty box
        self._settle(reply, "" if wrote else "the model wrote nothing: Retry for another take")

    def ended(self, job: Job, stopped: bool) -> None:
        """The job was stopped (``stopped``) or failed: what streamed is kept as the take; a new
        reply or take that got nothing is taken back, so no empty take lingers."""
        reply = self.replies.pop(job.id, None)
        if reply is None:
            return
        index = self._index(reply.message)
        if not reply.streamed and reply.how != "continue" and index >= 0:
            if reply.how == "reply":
                self.log.delete(index)
                self._rebuild()
            elif len(reply.message.takes) > 1:
                del reply.message.takes[reply.message.chosen]
                reply.message.choose(len(reply.message.takes) - 1)
        self._settle(reply, "stopped" if stopped and reply.streamed else "")

    def ended_without_job(self, index: int, how: str) -> None:
        """No job could be started for the reply at ``index`` (``generate_requested``): the empty
        reply or take made for it is taken back."""
        if not 0 <= index < len(self.log.messages):
            return
        message = self.log.messages[index]
        if how == "reply" and message.role == "assistant" and not message.text:
            self.log.delete(index)
            self._rebuild()
        elif how == "retry" and len(message.takes) > 1 and not message.text:
            del message.takes[message.chosen]
            message.choose(len(message.takes) - 1)
            block = self._block(message)
            if block is not None:
                block.show_message()
        self._update_controls()
        self.changed.emit()  # the conversation is back as it was before: what the model reads too

    def _settle(self, reply: ChatReply, status: str) -> None:
        block = self._block(reply.message)
        if block is not None:
            block.show_message()
            block.set_streaming(False, status)
        self._update_controls()
        self.changed.emit()

    # -- showing -----------------------------------------------------------------------------

    def _index(self, message: ChatMessage) -> int:
        return next((i for i, m in enumerate(self.log.messages) if m is message), -1)

    def _block(self, message: ChatMessage) -> MessageBlock | None:
        return next((b for b in self.blocks if b.message is message), None)

    def _rebuild(self) -> None:
        """One block per message (the system prompt has its own field); streaming ones stay."""
        self._deleted = None  # a new message, a conversation opened, an undo: nothing to put back now
        self.undo_bar.hide()
        streaming = {id(r.message) for r in self.replies.values()}
        for block in self.blocks:
            self.list_layout.removeWidget(block)
            block.deleteLater()
        self.blocks = []
        for message in self.log.messages:
            if message.role == "system":
                continue
            block = MessageBlock(message, self.model_name)
            block.edited.connect(self.changed)
            block.continue_clicked.connect(lambda b=block: self._reply_action(b, "continue"))
            block.retry_clicked.connect(lambda b=block: self._reply_action(b, "retry"))
            block.delete_clicked.connect(lambda b=block: self._delete(b))
            block.take_chosen.connect(lambda take, b=block: self._choose_take(b, take))
            self._tint(block)
            if id(message) in streaming:
                block.set_streaming(True, "writing…")
            self.list_layout.insertWidget(self.list_layout.count() - 1, block)
            self.blocks.append(block)
        self.empty_hint.setVisible(not self.blocks)
        self.mark_read_from(self._read_from)
        QTimer.singleShot(0, self._scroll_to_end)

    def mark_read_from(self, index: int) -> None:
        """The messages before ``index`` no longer reach the model: a line above the first that does says so."""
        self._read_from = index
        self.list_layout.removeWidget(self.left_out_line)
        block = next((b for b in self.blocks if self._index(b.message) >= index), None) if index > 0 else None
        if block is not None:
            self.list_layout.insertWidget(self.list_layout.indexOf(block), self.left_out_line)
        self.left_out_line.setVisible(block is not None)

    def _scroll_to_end(self) -> None:
        bar = self.scroll.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _follow_stream(self, _low: int, high: int) -> None:
        """While a reply grows, the view follows it (unless the writer scrolled up to read)."""
        bar = self.scroll.verticalScrollBar()
        if self.running and bar.value() >= self._last_maximum - 24:
            bar.setValue(high)
        self._last_maximum = high

    def _update_controls(self) -> None:
        running = self.running
        self.send_button.setText("Stop" if running else "Send")
        self.send_button.setToolTip("Stop the reply (Esc): what it wrote is kept" if running else "Send the message (Enter)")
        self.send_button.setEnabled(running or self.can_chat)
        self.input.setEnabled(self.can_chat)
