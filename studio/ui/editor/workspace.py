"""The Text workspace: a writer's editor. Generated text streams in at the cursor.

This module builds the widget and holds what is not a generation or a file: the font and
paper theme, what a generation reads (the text before the cursor, the selection), and
keeping the generated spans in step with the writer's edits. Generated text is coloured
(by the highlighter, not by the document) until the writer edits it. Its parts are
``generations`` (streaming, one undo step, Retry), ``takes_browser`` (the takes made at each
place, and the colour and takes kept through undo and redo) and ``text_files`` (open, save,
discard). Under the text, the ``page_bar``: Continue, Retry, Stop and the take browser.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from studio.core.text.document import GeneratedSpans, before_position, word_count
from studio.ui.editor.find_bar import FindBar
from studio.ui.editor.generations import STREAM_SHARE, Generation, Recipe, TextGenerations
from studio.ui.editor.highlighter import TextHighlighter
from studio.ui.editor.page_bar import PageBar
from studio.ui.editor.rewrite_bar import RewriteBar
from studio.ui.editor.takes_browser import TakeBrowsing
from studio.ui.editor.text_counts import TextCounts
from studio.ui.editor.text_edit import WriterEdit
from studio.ui.editor.text_files import TextFiles

__all__ = ["DEFAULT_FONT", "STREAM_SHARE", "THEMES", "Generation", "TextWorkspace"]

THEMES = {  # name -> (paper, ink, selection)
    "light": ("#fbfaf7", "#232323", "#cfe0f5"),
    "sepia": ("#f4ecd8", "#3b3024", "#e0cfa6"),
    "dark": ("#1e1f23", "#e4e2dc", "#3a4a63"),
}
DEFAULT_FONT = ("Serif", 13)


class TextWorkspace(TextGenerations, TakeBrowsing, TextFiles, QWidget):
    continue_requested = Signal()
    stop_requested = Signal()
    message = Signal(str)
    warning = Signal(str, str)
    counts_changed = Signal(str)
    stats_changed = Signal(str)
    file_changed = Signal()  # path or modified state
    document_replaced = Signal()  # New, Open, a project: generations started for the old text must not land here
    takes_changed = Signal()  # a take was made, chosen, ended, or undo moved them

    def __init__(self, settings=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.path: Path | None = None
        self.spans = GeneratedSpans()
        self.generations: dict[int, Generation] = {}
        self.last: Generation | None = None  # the last generation (its stats, its job)
        self.recipes: dict[int, Recipe] = {}  # job id -> how it was made, for Retry
        self._origin: int | None = None  # the job whose chunk is being inserted now

        self.editor = WriterEdit()
        self.editor.setObjectName("text_editor")
        self.editor.setPlaceholderText("Write here. Ctrl+Enter continues from the cursor; Esc stops.")
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.editor.document().setDocumentMargin(28)
        self.editor.document().setModified(False)  # Qt counts a margin as a change; no words changed
        self.editor.continue_requested.connect(self.continue_requested)
        self.editor.stop_requested.connect(self.stop_requested)
        document = self.editor.document()
        document.contentsChange.connect(self._on_change)  # before the highlighter: it reads the spans
        self._plain: str | None = None  # the whole text as last read (prompt_before_cursor); None: changed since
        document.contentsChange.connect(self._forget_plain)
        document.modificationChanged.connect(lambda _: self.file_changed.emit())
        self.highlighter = TextHighlighter(document, self.spans.between)
        self._init_takes()
        self._inserts = QTimer(self, singleShot=True)  # inserts the chunks that arrived meanwhile in one piece
        self._inserts.setTimerType(Qt.TimerType.PreciseTimer)
        self._inserts.timeout.connect(self.flush)
        self._next_insert = 0.0  # time.monotonic() before which no streamed chunk goes in (STREAM_SHARE)
        self.text_counts = TextCounts(document)  # per paragraph: a change recounts only what it touched
        self._counts = QTimer(self, singleShot=True, interval=150)  # the label once typing pauses, not per key
        self._counts.timeout.connect(lambda: self.counts_changed.emit(self.text_counts.label()))
        document.contentsChanged.connect(self._counts.start)

        self.find_bar = FindBar(self.editor)
        self.find_bar.message.connect(self.message)
        self.rewrite_bar = RewriteBar()
        self.rewrite_bar.closed.connect(self.editor.setFocus)
        self.generated_hint = QLabel()
        self.page_bar = PageBar()
        self.takes_changed.connect(self._show_page_state)
        self.editor.cursorPositionChanged.connect(self._show_page_state)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.rewrite_bar)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.page_bar)
        layout.addWidget(self.find_bar)
        self.set_font(self._saved_font())
        self.set_theme(str(self._setting("editor/theme", "light")))

    # -- settings ------------------------------------------------------------------------

    def _setting(self, key: str, default):
        return self.settings.value(key, default) if self.settings is not None else default

    def _saved_font(self) -> QFont:
        font = QFont(*DEFAULT_FONT)
        font.setStyleHint(QFont.StyleHint.Serif)
        saved = self._setting("editor/font", "")
        if saved:
            font.fromString(str(saved))
        return font

    def set_font(self, font: QFont) -> None:
        self.editor.setFont(font)
        if self.settings is not None:
            self.settings.set_value("editor/font", font.toString())

    def set_theme(self, theme: str) -> None:
        theme = theme if theme in THEMES else "light"
        paper, ink, selection = THEMES[theme]
        palette = self.editor.palette()
        palette.setColor(QPalette.ColorRole.Base, QColor(paper))
        palette.setColor(QPalette.ColorRole.Text, QColor(ink))
        palette.setColor(QPalette.ColorRole.Highlight, QColor(selection))
        palette.setColor(QPalette.ColorRole.HighlightedText, QColor(ink))
        self.editor.setPalette(palette)
        self.theme = theme
        self.highlighter.set_theme(theme)
        if self.settings is not None:
            self.settings.set_value("editor/theme", theme)

    # -- what a generation reads -----------------------------------------------------------

    def prompt_before_cursor(self) -> str:
        """The text before the cursor (the pipeline cuts it to the model's context and says so).

        The whole text is copied out of the document once per change, not once per call: the
        context view asks again at every move of the cursor, and copying a 1 MB manuscript
        takes milliseconds each time.
        """
        if self._plain is None:
            self._plain = self.editor.toPlainText()
        return before_position(self._plain, self.editor.textCursor().selectionStart())

    def _forget_plain(self, *_change) -> None:
        self._plain = None

    def selected_text(self) -> str:
        return self.editor.textCursor().selectedText().replace("\u2029", "\n")

    def open_rewrite(self) -> bool:
        text = self.selected_text()
        if not text.strip():
            self.message.emit("Select the text to rewrite first")
            return False
        self.rewrite_bar.open_bar(word_count(text))
        return True

    # -- the writer's edits and the generated colour -----------------------------------------

    def _on_change(self, position: int, removed: int, added: int) -> None:
        changed = self._follow_change(position, removed, added)  # spans and takes (takes_browser)
        if changed:  # painted again where they lie, not only in the paragraph that changed
            QTimer.singleShot(0, lambda: self._repaint(changed))

    def _show_page_state(self) -> None:
        self.page_bar.show_state(bool(self.running), self.active_take_set())

    def _repaint(self, spans) -> None:
        document = self.editor.document()
        for span in spans:
            block = document.findBlock(min(span.start, max(document.characterCount() - 1, 0)))
            while block.isValid() and block.position() <= span.end:
                self.highlighter.rehighlightBlock(block)
                block = block.next()

