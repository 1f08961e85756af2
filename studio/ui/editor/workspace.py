"""The Text workspace: a writer's editor. Generated text streams in at the cursor.

A generation is one undo step: its chunks are joined into one edit block, so Ctrl+Z removes
the generation, not its last word. If the writer edits while it streams, their edit is
never folded into the generation (Ctrl+Z must not take their words with it): the stream
starts a fresh block after it. Generated text is coloured (by the highlighter, not by the
document) until the writer edits it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QSaveFile, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPalette, QTextCursor
from PySide6.QtWidgets import QLabel, QMessageBox, QPlainTextEdit, QVBoxLayout, QWidget

from studio.core.jobs import Job
from studio.core.text import GeneratedSpans, Span, NotUtf8Error, counts_label, is_markdown, read_text, word_count
from studio.errors import StudioError
from studio.ui.editor.find_bar import FindBar
from studio.ui.editor.highlighter import TextHighlighter
from studio.ui.editor.rewrite_bar import RewriteBar
from studio.ui.editor.text_edit import WriterEdit
from studio.ui.plain import plain_box

THEMES = {  # name -> (paper, ink, selection)
    "light": ("#fbfaf7", "#232323", "#cfe0f5"),
    "sepia": ("#f4ecd8", "#3b3024", "#e0cfa6"),
    "dark": ("#1e1f23", "#e4e2dc", "#3a4a63"),
}
DEFAULT_FONT = ("Serif", 13)
# An insertion costs in proportion to its paragraph, not to the chunk: Qt lays the paragraph
# out and repaints it (about 10 ms for 30,000 characters here). So streamed text goes in no
# more often than keeps its insertions and their repaints to this share of the window's time,
# however fast chunks come: at once in a short paragraph, a few larger pieces a second in a huge one.
STREAM_SHARE = 0.05


@dataclass
class Generation:
    """One generation in the document: where it streams and how to make it again."""

    job: Job
    mode: str  # "continue" or "rewrite"
    cursor: QTextCursor  # the insertion point (a rewrite: the selection it replaces)
    values: dict[str, Any]
    submitted: float = field(default_factory=time.monotonic)
    first_chunk: float | None = None
    tokens: int = 0
    streamed: str = ""
    join_first: bool = False  # a retry: the first chunk joins the removal of the old text
    undo_steps: int = -1  # the document's undo count after our last chunk
    undo_base: int = 0  # ...before the generation began
    split: bool = False  # the writer edited while it streamed: its chunks are in several undo steps
    pending: list[str] = field(default_factory=list)  # chunks not yet inserted (see TextWorkspace.stream)


class TextWorkspace(QWidget):
    continue_requested = Signal()
    stop_requested = Signal()
    message = Signal(str)
    warning = Signal(str, str)
    counts_changed = Signal(str)
    stats_changed = Signal(str)
    file_changed = Signal()  # path or modified state
    document_replaced = Signal()  # New, Open, a project: generations started for the old text must not land here

    def __init__(self, settings=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.path: Path | None = None
        self.spans = GeneratedSpans()
        self.generations: dict[int, Generation] = {}
        self.last: Generation | None = None  # the generation Retry replaces
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
        document.modificationChanged.connect(lambda _: self.file_changed.emit())
        self.highlighter = TextHighlighter(document, self.spans.between)
        self._inserts = QTimer(self, singleShot=True)  # inserts the chunks that arrived meanwhile in one piece
        self._inserts.setTimerType(Qt.TimerType.PreciseTimer)
        self._inserts.timeout.connect(self.flush)
        self._next_insert = 0.0  # time.monotonic() before which no streamed chunk goes in (STREAM_SHARE)
        self._counts = QTimer(self, singleShot=True, interval=150)  # counting 100k words per key is wasteful
        self._counts.timeout.connect(lambda: self.counts_changed.emit(counts_label(self.editor.toPlainText())))
        document.contentsChanged.connect(self._counts.start)

        self.find_bar = FindBar(self.editor)
        self.find_bar.message.connect(self.message)
        self.rewrite_bar = RewriteBar()
        self.rewrite_bar.closed.connect(self.editor.setFocus)
        self.generated_hint = QLabel()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.rewrite_bar)
        layout.addWidget(self.editor, 1)
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
        """The text before the cursor (the pipeline cuts it to the model's context and says so)."""
        cursor = self.editor.textCursor()
        return self.editor.toPlainText()[: cursor.selectionStart()]

    def selected_text(self) -> str:
        return self.editor.textCursor().selectedText().replace("\u2029", "\n")

    def open_rewrite(self) -> bool:
        text = self.selected_text()
        if not text.strip():
            self.message.emit("Select the text to rewrite first")
            return False
        self.rewrite_bar.open_bar(word_count(text))
        return True

    # -- generations ----------------------------------------------------------------------

    @property
    def running(self) -> list[Generation]:
        return [g for g in self.generations.values() if not g.job.state.done]

    def begin(self, job: Job, mode: str, values: dict[str, Any], retry_of: Generation | None = None) -> None:
        """A job was submitted for the text at the cursor (``continue``) or the selection (``rewrite``)."""
        cursor = QTextCursor(self.editor.textCursor())
        if mode == "continue":
            cursor.clearSelection()
        generation = Generation(job, mode, cursor, dict(values), join_first=retry_of is not None)
        generation.undo_base = self.editor.document().availableUndoSteps() - (1 if retry_of is not None else 0)
        # Only running generations and the last one (Retry) are needed: each holds its job and
        # its prompt, the whole text before the cursor, so keeping them all grows with the book.
        self.generations = {key: g for key, g in self.generations.items() if not g.job.state.done}
        self.generations[job.id] = generation
        self.last = generation
        self.editor.generating = True
        self.stats_changed.emit("Waiting for the first token…")

    def stream(self, job: Job, chunk: str) -> None:
        """Take a streamed chunk for ``job``; it goes in with the others that arrive meanwhile.

        Every insertion lays out and highlights its whole paragraph again, so a generator
        that floods one-character chunks froze the window when each went in on its own. The
        chunks that come while the window is busy, or sooner than ``STREAM_SHARE`` allows
        after the last insertion, go in as one insertion.
        """
        generation = self.generations.get(job.id)
        if generation is None:  # a text job not started from the editor (e.g. the CLI-like panel path)
            generation = self.generations[job.id] = Generation(job, "continue", QTextCursor(self.editor.textCursor()), {})
            self.last = generation
        if not chunk:
            return
        if generation.first_chunk is None:
            generation.first_chunk = time.monotonic()
        generation.pending.append(chunk)
        if not self._inserts.isActive():
            self._inserts.start(max(0, int((self._next_insert - time.monotonic()) * 1000)))

    def flush(self) -> None:
        """Insert the chunks still waiting, each generation's in one piece (joined into its undo step)."""
        self._inserts.stop()
        began = time.monotonic()
        for generation in list(self.generations.values()):
            if generation.pending:
                chunk = "".join(generation.pending)
                generation.pending.clear()
                self._insert(generation, chunk)
                self._show_live_stats(generation)
        ended = time.monotonic()
        cost = ended - began + self.editor.paint_seconds  # the repaint it causes: as long as the last one
        self._next_insert = ended + cost * (1 / STREAM_SHARE - 1)

    def _insert(self, generation: Generation, chunk: str) -> None:
        document = self.editor.document()
        cursor = generation.cursor
        interrupted = generation.undo_steps >= 0 and document.availableUndoSteps() != generation.undo_steps
        if generation.streamed and not interrupted or generation.join_first and not generation.streamed:
            cursor.joinPreviousEditBlock()
        else:
            cursor.beginEditBlock()  # the first chunk, or the writer edited meanwhile: never fold their edit in
            generation.split = generation.split or interrupted
        self._origin = generation.job.id  # Qt reports an edit block's change at its end: keep it until then
        try:
            cursor.insertText(chunk)  # a rewrite's first chunk replaces the selection
            cursor.endEditBlock()
        finally:
            self._origin = None
        generation.streamed += chunk
        generation.undo_steps = document.availableUndoSteps()

    def progress(self, job: Job, step: int) -> None:
        generation = self.generations.get(job.id)
        if generation is not None:
            generation.tokens = max(generation.tokens, step)
            if not generation.pending:  # else the insertion shows it, once for the whole turn
                self._show_live_stats(generation)

    def _show_live_stats(self, generation: Generation) -> None:
        if generation.first_chunk is None:
            return
        ttft = generation.first_chunk - generation.submitted
        elapsed = time.monotonic() - generation.first_chunk
        tokens = max(generation.tokens, 1)
        rate = f"{(tokens - 1) / elapsed:.1f} tok/s" if elapsed > 0.05 and tokens > 1 else "… tok/s"
        self.stats_changed.emit(f"{rate} · first token {ttft:.2f} s · {tokens} tokens")

    def finish(self, job: Job, text: str, info: dict | None = None) -> None:
        """The job ended with ``text``: insert it, unless it already streamed in chunk by chunk."""
        self.flush()
        generation = self.generations.get(job.id)
        if generation is None or not generation.streamed:
            self.stream(job, text)
            self.flush()
        info = info or {}
        if "tokens_per_s" in info:
            parts = [f"{float(info['tokens_per_s']):.1f} tok/s"]
            if "ttft_s" in info:
                parts.append(f"first token {float(info['ttft_s']):.2f} s")
            if "new_tokens" in info:
                parts.append(f"{int(info['new_tokens'])} tokens")
            self.stats_changed.emit(" · ".join(parts))
        self._ended(job)

    def abandon(self, job: Job) -> None:
        """A failed or cancelled job keeps what it streamed (one Ctrl+Z removes it)."""
        self.flush()
        self._ended(job)

    def _ended(self, job: Job) -> None:
        generation = self.generations.get(job.id)
        if generation is not None and generation.split:
            self._regroup(generation)
        self.editor.generating = bool([g for g in self.running if g.job is not job])

    def _regroup(self, generation: Generation) -> None:
        """Make a generation the writer typed into while it streamed one undo step again.

        Its chunks and the writer's edits alternate on the undo stack; rewind them and replay
        the same final text as two steps, the writer's edits first, then the whole generation,
        so one Ctrl+Z removes exactly the generation. Skipped when the writer edited the
        generated text itself (then it is theirs, and the pieces stay as they were).
        """
        document = self.editor.document()
        span = self.spans.of_job(generation.job.id)
        if span is None or len(span) != len(generation.streamed):
            return
        final = self.editor.toPlainText()
        position = self.editor.textCursor().position()
        steps = document.availableUndoSteps() - generation.undo_base
        if steps <= 0:
            return
        for _ in range(steps):
            document.undo()
        writers = final[: span.start] + final[span.end :]
        current = self.editor.toPlainText()
        prefix = 0  # the writer's edits as one replacement: from the first to the last difference
        while prefix < min(len(current), len(writers)) and current[prefix] == writers[prefix]:
            prefix += 1
        suffix = 0
        while suffix < min(len(current), len(writers)) - prefix and current[-1 - suffix] == writers[-1 - suffix]:
            suffix += 1
        edit = QTextCursor(document)
        edit.setPosition(prefix)
        edit.setPosition(len(current) - suffix, QTextCursor.MoveMode.KeepAnchor)
        edit.beginEditBlock()
        edit.insertText(writers[prefix : len(writers) - suffix])
        edit.endEditBlock()
        generation.cursor.setPosition(span.start)
        self._origin = generation.job.id
        try:
            generation.cursor.beginEditBlock()
            generation.cursor.insertText(generation.streamed)
            generation.cursor.endEditBlock()
        finally:
            self._origin = None
        generation.split = False
        cursor = self.editor.textCursor()
        cursor.setPosition(min(position, len(final)))
        self.editor.setTextCursor(cursor)

    def prepare_retry(self) -> Generation | None:
        """Remove the last generation's text (if still unedited) and put the cursor there.

        Returns the generation to make again; the new one's first chunk joins this removal,
        so one Ctrl+Z brings the old text back.
        """
        last = self.last
        if last is None:
            self.message.emit("Nothing to retry: generate something first")
            return None
        if not last.job.state.done:
            self.message.emit("Stop the running generation before retrying it")
            return None
        span = self.spans.of_job(last.job.id)
        end = last.cursor.position()
        if span is None and last.streamed and self.editor.toPlainText()[max(end - len(last.streamed), 0) : end] == last.streamed:
            span = Span(end - len(last.streamed), end, last.job.id)  # undone and redone: the same text, unmarked
        if last.streamed and (span is None or len(span) != len(last.streamed)):
            self.message.emit("The last generation was edited, so Retry would overwrite your words: select it and Rewrite instead")
            return None
        cursor = QTextCursor(self.editor.document())
        if span is not None:
            cursor.setPosition(span.start)
            cursor.setPosition(span.end, QTextCursor.MoveMode.KeepAnchor)
            if last.mode == "continue":
                cursor.beginEditBlock()
                cursor.removeSelectedText()
                cursor.endEditBlock()
        else:
            cursor.setPosition(last.cursor.position())
        self.editor.setTextCursor(cursor)  # a rewrite's retry: the rewritten text is the selection
        return last

    # -- the writer's edits and the generated colour -----------------------------------------

    def _on_change(self, position: int, removed: int, added: int) -> None:
        before = list(self.spans.spans)
        self.spans.edit(position, removed, added, self._origin)
        if self._origin is None and before:  # a span the writer touched loses its colour everywhere
            gone = [s for s in before if s.job not in {t.job for t in self.spans.spans}]
            if gone:
                QTimer.singleShot(0, lambda: self._repaint(gone))

    def _repaint(self, spans) -> None:
        document = self.editor.document()
        for span in spans:
            block = document.findBlock(min(span.start, max(document.characterCount() - 1, 0)))
            while block.isValid() and block.position() <= span.end:
                self.highlighter.rehighlightBlock(block)
                block = block.next()

    # -- files ----------------------------------------------------------------------------

    @property
    def modified(self) -> bool:
        return self.editor.document().isModified()

    def display_name(self) -> str:
        return self.path.name if self.path else "Untitled"

    def new_document(self) -> None:
        self._load("", None)

    def open_file(self, path: str | Path) -> bool:
        """Open a .txt/.md file; a file that is not UTF-8 is refused with a message, nothing lost."""
        try:
            text = read_text(path)
        except NotUtf8Error as exc:
            self.warning.emit("Not a UTF-8 text file", str(exc))
            return False
        except StudioError as exc:
            self.warning.emit("Cannot open", str(exc))
            return False
        self._load(text, Path(path))
        self.message.emit(f"Opened {self.path}")
        return True

    def _load(self, text: str, path: Path | None) -> None:
        # A generation belongs to the text it started in: its chunks still waiting and its
        # cursor go with it (the window stops its job when told the document was replaced).
        self._inserts.stop()
        self.generations = {}
        self.last = None
        self.editor.generating = False
        self.spans.clear()
        self.path = path
        self.highlighter.set_markdown(is_markdown(path))
        self.editor.setPlainText(text)  # also clears the undo history: a new document
        self.spans.clear()
        self.editor.document().setModified(False)
        self.file_changed.emit()
        self.document_replaced.emit()

    def load_text(self, text: str, spans: list[Span]) -> None:
        """Show a project's text, its generated words marked as they were saved."""
        self._load(text, None)
        self.spans.spans = sorted((Span(s.start, s.end, s.job) for s in spans), key=lambda s: s.start)
        self._repaint(self.spans.spans)

    def save(self, path: str | Path | None = None, mark_saved: bool = True) -> bool:
        """Write the text as UTF-8 through QSaveFile: a failed save leaves the old file whole.

        ``mark_saved=False`` exports a copy: the document stays modified, because the
        project that holds it has not been saved.
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            return False
        file = QSaveFile(str(target))
        data = self.editor.toPlainText().encode("utf-8")
        if not file.open(QSaveFile.OpenModeFlag.WriteOnly) or file.write(data) != len(data) or not file.commit():
            error = file.errorString()
            file.cancelWriting()
            self.warning.emit("Cannot save", f"{target}: {error}. The text is still here, unsaved.")
            return False
        self.path = target
        self.highlighter.set_markdown(is_markdown(target))
        if mark_saved:
            self.editor.document().setModified(False)
        self.file_changed.emit()
        self.message.emit(f"Saved {target}")
        return True

    def confirm_discard(self, then: Callable[[], None]) -> QMessageBox | None:
        """Run ``then`` now if nothing is unsaved, else after the writer says so (not modal)."""
        if not self.modified:
            then()
            return None
        box = plain_box(QMessageBox.Icon.Question, "Unsaved changes", f"{self.display_name()} has unsaved changes. Discard them?",
                        QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel, self)  # a file's name: plain
        box.setObjectName("unsaved_changes")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: then() if box.standardButton(button) == QMessageBox.StandardButton.Discard else None)
        box.open()
        return box
