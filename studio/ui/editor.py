"""The Text workspace: a writer's editor. Generated text streams in at the cursor.

The whole generation is one undo step: streamed chunks are joined into a single edit
block, so Ctrl+Z removes the generation, not its last word.
"""

from __future__ import annotations

from PySide6.QtGui import QFont, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QVBoxLayout, QWidget

from studio.core.jobs import Job


class TextWorkspace(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("text_editor")
        self.editor.setPlaceholderText("Write here. Text generators continue from the cursor.")
        font = QFont("Serif")
        font.setStyleHint(QFont.StyleHint.Serif)
        font.setPointSize(13)
        self.editor.setFont(font)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.editor.document().setDocumentMargin(24)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.editor)
        self._streams: dict[int, QTextCursor] = {}

    def stream(self, job: Job, chunk: str) -> None:
        """Insert a streamed chunk for ``job`` (joined into the job's one undo step)."""
        cursor = self._streams.get(job.id)
        if cursor is None:
            cursor = self._streams[job.id] = QTextCursor(self.editor.textCursor())
            cursor.beginEditBlock()
        else:
            cursor.joinPreviousEditBlock()
        cursor.insertText(chunk)
        cursor.endEditBlock()

    def finish(self, job: Job, text: str) -> None:
        """The job ended with ``text``: insert it, unless it already streamed in chunk by chunk."""
        if self._streams.pop(job.id, None) is not None:
            return
        cursor = QTextCursor(self.editor.textCursor())
        cursor.beginEditBlock()
        cursor.insertText(text)
        cursor.endEditBlock()

    def abandon(self, job: Job) -> None:
        """A failed or cancelled job keeps what it streamed (one Ctrl+Z removes it)."""
        self._streams.pop(job.id, None)
