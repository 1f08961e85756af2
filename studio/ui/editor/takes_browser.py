"""Takes in the Text workspace, and the generated colour and takes kept true through undo.

Every change of the document goes through ``_follow_change``. A writer's edit or a chunk
moves the generated spans and the takes (``GeneratedSpans.edit``, ``Takes.edit``). Undo and
redo cannot be followed that way: undoing a Retry puts the earlier take back as an insertion,
which would read as the writer's words (plain black text, the take forgotten). So the state
of both is kept per undo index of the document: before and after each change, the spans
and takes are copied under ``availableUndoSteps()``, and when undo or redo moves the index
(a change with no new undo command) the copy made at the index it lands on is put back.

Choosing a take replaces the take on the page as one undo step, coloured as generated when
it is a generator's words as made.
``TakeBrowsing`` is a part of ``TextWorkspace`` (a mixin).
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtGui import QTextCursor

from studio.core.text.document import GeneratedSpans, Span
from studio.core.text.takes import Takes, TakeSet, utf16_len

#: Undo indices whose spans and takes are kept (the oldest go first; undo past them follows
#: the edits as before, without the generated colour).
MAX_SNAPSHOTS = 2000


class TakeBrowsing:
    """The takes of the text, browsing them, and the per-undo-index copies of spans and takes."""

    def _init_takes(self) -> None:
        self._takes = Takes()
        self._snapshots: dict[int, tuple[list[Span], Takes]] = {}
        self._undo_index = 0  # the document's undo index after the last change we followed
        self._command_added = False  # the change being reported made a new undo command
        self._choosing: TakeSet | None = None  # the place whose take is being replaced by a choice
        self._before_choice: tuple[list[Span], Takes] | None = None  # the state undo of the choice comes back to
        self._frozen = False  # a generation's undo steps are being regrouped: the text ends the same
        self.editor.document().undoCommandAdded.connect(self._on_command_added)

    # -- what the project session reads and sets -------------------------------------------------

    @property
    def takes(self) -> Takes:
        """Every place's takes, the texts of those on the page copied from it (ready to save)."""
        self._takes.sync_current(self.text_between)
        return self._takes

    def set_takes(self, takes: Takes) -> None:
        """A project's takes (after its text was shown): they are browsable from now on."""
        self._takes = takes
        self._snapshots = {self._undo_index: self._snapshot()}
        self.takes_changed.emit()

    def text_between(self, start: int, end: int) -> str:
        """The text at ``[start, end)``, in the document's UTF-16 positions."""
        cursor = QTextCursor(self.editor.document())
        last = self.editor.document().characterCount() - 1
        cursor.setPosition(max(0, min(start, last)))
        cursor.setPosition(max(0, min(end, last)), QTextCursor.MoveMode.KeepAnchor)
        return cursor.selectedText().replace("\u2029", "\n")

    # -- browsing --------------------------------------------------------------------------------

    def active_take_set(self) -> TakeSet | None:
        """The place the page bar browses: the one at the cursor, else the last made."""
        position = self.editor.textCursor().position()
        here = [s for s in self._takes.sets if s.start <= position <= s.end]
        if here:  # inside one rather than at its edge; at an edge between two, the later one
            return min(here, key=lambda s: (not s.start < position < s.end, -s.id))
        return max(self._takes.sets, key=lambda s: s.id) if self._takes.sets else None

    def step_take(self, step: int) -> bool:
        """Show the previous (``-1``) or next (``+1``) take of the place at the cursor."""
        take_set = self.active_take_set()
        if take_set is None:
            self.message.emit("No takes here: Continue writes one, Retry adds another")
            return False
        index = take_set.current + step
        if not 0 <= index < len(take_set.takes):
            self.message.emit("That is the first take" if step < 0 else "That is the last take: Retry (Ctrl+R) makes another")
            return False
        return self.choose_take(take_set, index)

    def choose_take(self, take_set: TakeSet, index: int) -> bool:
        """Put take ``index`` of ``take_set`` on the page in place of the one there: one undo step."""
        if self.running:
            self.message.emit("Wait for the generation to end (or stop it with Esc) before choosing a take")
            return False
        if take_set not in self._takes.sets or not 0 <= index < len(take_set.takes) or take_set.pending is not None:
            return False
        if index == take_set.current:
            return True
        start, old_end = take_set.start, take_set.end
        self._before_choice = self._snapshot()
        take = self._takes.chosen(take_set, index, self.text_between(start, old_end))
        cursor = QTextCursor(self.editor.document())
        cursor.setPosition(start)
        cursor.setPosition(old_end, QTextCursor.MoveMode.KeepAnchor)
        self._choosing = take_set
        self._origin = take.job if take.generated else None  # a generator's words keep their colour
        try:
            cursor.beginEditBlock()
            cursor.insertText(take.text)
            cursor.endEditBlock()
        finally:
            self._choosing = None
            self._before_choice = None
            self._origin = None
        shown = QTextCursor(self.editor.document())
        shown.setPosition(start + utf16_len(take.text))
        self.editor.setTextCursor(shown)
        self.takes_changed.emit()
        self.message.emit(f"Take {take_set.current + 1} of {len(take_set.takes)}: {take.label()} (Ctrl+Z brings the one before back)")
        return True

    # -- what History asks -------------------------------------------------------------------------

    def take_of_job(self, job: int) -> tuple[TakeSet, int] | None:
        """The place and take number ``job`` made, while that place is still browsable."""
        return self._takes.of_job(job)

    def take_line(self, job: int) -> str:
        """History's line for the take ``job`` made: "Take 2 of 3 (retry) · “It was…”", or ""."""
        found = self._takes.of_job(job)
        if found is None:
            return ""
        take_set, index = found
        take = take_set.takes[index]
        words = " ".join((self.text_between(take_set.start, take_set.end) if index == take_set.current else take.text).split())
        words = f"“{words[:60]}…”" if len(words) > 60 else f"“{words}”"
        shown = ", on the page" if index == take_set.current else ""
        return f"Take {index + 1} of {len(take_set.takes)} ({take.label()}{shown}) · {words}"

    def show_take(self, job: int) -> bool:
        """Choose the take ``job`` made (when another is on the page) and select it."""
        found = self._takes.of_job(job)
        if found is None or found[0].pending is not None:
            return False
        take_set, index = found
        if index != take_set.current and not self.choose_take(take_set, index):
            return False
        cursor = QTextCursor(self.editor.document())
        cursor.setPosition(take_set.start)
        cursor.setPosition(take_set.end, QTextCursor.MoveMode.KeepAnchor)
        self.editor.setTextCursor(cursor)
        self.editor.setFocus()
        return True

    # -- following the document ------------------------------------------------------------------

    def _on_command_added(self) -> None:
        self._command_added = True

    def _snapshot(self) -> tuple[list[Span], Takes]:
        return list(self.spans.spans), self._takes.copy()

    def _follow_change(self, position: int, removed: int, added: int) -> list[Span]:
        """Follow one change of the document; returns the spans whose colour changed away from it."""
        document = self.editor.document()
        index = document.availableUndoSteps()
        new_command, self._command_added = self._command_added, False
        if self._frozen:
            return []
        before = list(self.spans.spans)
        if self.editor.replacing:  # a new text: its undo history starts again
            self.spans.edit(position, removed, added, None)
            self._takes.clear()
            self._snapshots = {}
        elif (index < self._undo_index or index > self._undo_index and not new_command) and index in self._snapshots:
            spans, takes = self._snapshots[index]  # undo or redo landed here: the colour and takes as they were
            self.spans.spans = list(spans)
            self._takes.restore(takes, {g.job.id for g in self.running})
            self._undo_index = index
            self.takes_changed.emit()
            return _differing(before, self.spans.spans)
        else:
            self._snapshots[self._undo_index] = self._before_choice or (before, self._takes.copy())  # what undo comes back to
            for stale in [k for k in self._snapshots if k > self._undo_index]:  # the redo steps are gone
                del self._snapshots[stale]
            self.spans.edit(position, removed, added, self._origin)
            for take_set in self._takes.edit(position, removed, added, self._origin, self._choosing):
                take_set.takes[take_set.current] = _with_text(take_set, self.text_between(take_set.start, take_set.end))
        self._undo_index = index
        self._snapshots[index] = self._snapshot()
        while len(self._snapshots) > MAX_SNAPSHOTS:
            del self._snapshots[min(self._snapshots)]
        self.takes_changed.emit()
        if self._origin is None and before:  # a span the writer touched loses its colour everywhere
            jobs = {s.job for s in self.spans.spans}
            return [s for s in before if s.job not in jobs]
        return []

    def _frozen_replay(self, job: int, replay) -> None:
        """Run ``replay`` (which rewinds a generation's undo steps and makes the same final text
        again as two steps: the writer's edits, then the generation) keeping spans and takes."""
        spans, takes = self._snapshot()
        span = self.spans.of_job(job)
        self._frozen = True
        try:
            between = replay()  # the undo index after the writer's edits, before the generation
        finally:
            self._frozen = False
        self.spans.spans = list(spans)
        self._takes.sets = takes.sets
        index = self.editor.document().availableUndoSteps()
        if between is None:  # nothing was replayed
            return
        for stale in [k for k in self._snapshots if k > min(between, index)]:
            del self._snapshots[stale]
        if span is not None:  # undo to between: the writer's edits, no generation
            writer = GeneratedSpans(list(spans))
            writer.edit(span.start, len(span), 0)
            without = takes.copy()
            without.sets = [s for s in without.sets if s.take.job != job]
            without.edit(span.start, len(span), 0)
            self._snapshots[between] = (writer.spans, without)
        self._undo_index = index
        self._snapshots[index] = self._snapshot()


def _with_text(take_set: TakeSet, text: str):
    return replace(take_set.take, text=text)


def _differing(before: list[Span], after: list[Span]) -> list[Span]:
    """The spans in one list and not the other (their colour changed)."""
    old = {(s.start, s.end, s.job) for s in before}
    new = {(s.start, s.end, s.job) for s in after}
    return [s for s in before if (s.start, s.end, s.job) not in new] + [s for s in after if (s.start, s.end, s.job) not in old]
