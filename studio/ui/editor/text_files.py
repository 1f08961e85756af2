"""Text files in the Text workspace: new, open (UTF-8 only), save through QSaveFile, a
project's text, and asking before unsaved changes are discarded.

Opening or starting a text replaces the document, which is announced with
``document_replaced`` (generations started for the old text must not land here).
``TextFiles`` is a part of ``TextWorkspace`` (a mixin).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSaveFile, Qt
from PySide6.QtWidgets import QMessageBox

from studio.core.text.document import NotUtf8Error, Span, is_markdown, read_text
from studio.errors import StudioError
from studio.ui.plain import plain_box


class TextFiles:
    """The text's file: its name, whether it changed, reading and writing it."""

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
        self.highlighter.set_markdown(is_markdown(path), rehighlight=False)  # not the old text: the new one is highlighted as it goes in
        self.editor.setPlainText(text)  # also clears the undo history: a new document
        self.spans.clear()
        self.editor.document().setModified(False)
        self.file_changed.emit()
        self.document_replaced.emit()

    def load_text(self, text: str, spans: list[Span]) -> None:
        """Show a project's text, its generated words marked as they were saved."""
        self._load(text, None)
        kept, reach = [], 0
        for span in sorted((Span(s.start, s.end, s.job) for s in spans), key=lambda s: s.start):
            if span.start >= reach:  # a damaged project's marks may overlap (the editor never makes them): the first stays
                kept.append(span)
                reach = span.end
        self.spans.spans = kept
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
