"""Generated text in the Text workspace: it streams in at the cursor (or over the selection it
rewrites), shows its speed, stays one undo step, and can be made again (Retry): each
generation is a take at its place (``studio.core.text.takes``), a Retry one more take there.

A generation is one undo step: its chunks are joined into one edit block, so Ctrl+Z removes
the generation, not its last word. If the writer edits while it streams, their edit is
never folded into the generation (Ctrl+Z must not take their words with it): the stream
starts a fresh block after it, and the pieces are made one step again when it ends.
``TextGenerations`` is a part of ``TextWorkspace`` (a mixin).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtGui import QTextCursor

from studio.core.engine.jobs import Job, JobState
from studio.core.text.takes import TakeSet

# An insertion costs in proportion to its paragraph, not to the chunk: Qt lays the paragraph
# out and repaints it (about 10 ms for 30,000 characters here). So streamed text goes in no
# more often than keeps its insertions and their repaints to this share of the window's time,
# however fast chunks come: at once in a short paragraph, a few larger pieces a second in a huge one.
STREAM_SHARE = 0.05
#: Generations whose generator and parameters are kept for Retry (each holds no prompt).
MAX_RECIPES = 500


@dataclass(frozen=True)
class Recipe:
    """How a take was made, to make another: its generator, parameters (no prompt: the page
    is the prompt), and mode."""

    generator: str
    values: dict[str, Any]
    mode: str


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
    undo_steps: int = -1  # the document's undo count after our last chunk
    undo_base: int = 0  # ...before the generation began
    split: bool = False  # the writer edited while it streamed: its chunks are in several undo steps
    pending: list[str] = field(default_factory=list)  # chunks not yet inserted (see TextWorkspace.stream)


class TextGenerations:
    """The generations running in (or last made for) the text, and their chunks."""

    @property
    def running(self) -> list[Generation]:
        return [g for g in self.generations.values() if not g.job.state.done]

    def begin(self, job: Job, mode: str, values: dict[str, Any], retry_of: TakeSet | None = None) -> None:
        """A job was submitted for the text at the cursor (``continue``), the selection
        (``rewrite``), or the take on the page at ``retry_of`` (its first words replace it)."""
        cursor = QTextCursor(self.editor.textCursor())
        if retry_of is not None:
            cursor.setPosition(retry_of.start)
            cursor.setPosition(retry_of.end, QTextCursor.MoveMode.KeepAnchor)
            self._takes.start_retry(retry_of, job.id, self.text_between(retry_of.start, retry_of.end))
        elif mode == "continue":
            cursor.clearSelection()
            self._takes.start_continue(cursor.position(), job.id)
        else:
            start, end = cursor.selectionStart(), cursor.selectionEnd()
            self._takes.start_rewrite(start, end, job.id, self.text_between(start, end), str(values.get("instruction") or ""))
        self.recipes[job.id] = Recipe(job.generator.id, {k: v for k, v in values.items() if k != "prompt"}, mode)
        while len(self.recipes) > MAX_RECIPES:
            self.recipes.pop(next(iter(self.recipes)))
        generation = Generation(job, mode, cursor, dict(values))
        generation.undo_base = self.editor.document().availableUndoSteps()
        # Only running generations and the last one (Retry) are needed: each holds its job and
        # its prompt, the whole text before the cursor, so keeping them all grows with the book.
        self.generations = {key: g for key, g in self.generations.items() if not g.job.state.done}
        self.generations[job.id] = generation
        self.last = generation
        self.editor.generating = True
        self.stats_changed.emit("Waiting for the first token…")
        self.takes_changed.emit()

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
        if generation.streamed and not interrupted:
            cursor.joinPreviousEditBlock()
        else:
            cursor.beginEditBlock()  # the first chunk, or the writer edited meanwhile: never fold their edit in
            generation.split = generation.split or interrupted
        self._origin = generation.job.id  # Qt reports an edit block's change at its end: keep it until then
        try:
            cursor.insertText(chunk)  # a rewrite's or a retry's first chunk replaces the selection
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
            if int(info.get("reused_tokens") or 0) > 0 and "prompt_tokens" in info:  # the kept KV cache
                parts.append(f"{int(info['reused_tokens']):,} of {int(info['prompt_tokens']):,} read tokens reused")
            self.stats_changed.emit(" · ".join(parts))
        self._ended(job, stopped=False)

    def abandon(self, job: Job) -> None:
        """A failed or cancelled job keeps what it streamed (one Ctrl+Z removes it), as a take
        marked stopped; the status line says it ended, never "Waiting for the first token…"."""
        self.flush()
        generation = self.generations.get(job.id)
        streamed = max(generation.tokens, 1) if generation is not None and generation.streamed else 0
        ended = "Failed" if job.state is JobState.FAILED else "Stopped"
        self.stats_changed.emit(f"{ended} after {streamed} token{'s' if streamed != 1 else ''}" if streamed else f"{ended} before the first token")
        self._ended(job, stopped=True)

    def _ended(self, job: Job, stopped: bool) -> None:
        generation = self.generations.get(job.id)
        if generation is not None and generation.split:
            self._frozen_replay(job.id, lambda: self._regroup(generation))
        self.editor.generating = bool([g for g in self.running if g.job is not job])
        self._takes.end_job(job.id, stopped)
        self._snapshots[self._undo_index] = self._snapshot()
        self.takes_changed.emit()

    def _regroup(self, generation: Generation) -> int | None:
        """Make a generation the writer typed into while it streamed one undo step again.

        Its chunks and the writer's edits alternate on the undo stack; rewind them and replay
        the same final text as two steps, the writer's edits first, then the whole generation,
        so one Ctrl+Z removes exactly the generation. Skipped when the writer edited the
        generated text itself (then it is theirs, and the pieces stay as they were).
        Returns the undo index between the two steps (None when skipped).
        """
        document = self.editor.document()
        span = self.spans.of_job(generation.job.id)
        if span is None or len(span) != len(generation.streamed):
            return None
        final = self.editor.toPlainText()
        position = self.editor.textCursor().position()
        steps = document.availableUndoSteps() - generation.undo_base
        if steps <= 0:
            return None
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
        between = document.availableUndoSteps()
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
        return between

    def retry_target(self) -> tuple[TakeSet, Recipe | None] | None:
        """The place Retry makes a new take for (the one at the cursor, else the last made) and
        how its take on the page was made (None: a project's take made in another session).

        Nothing is lost by a Retry: the take on the page, edited or not, stays a take of the
        place, and the new one replaces it on the page only when its first words come.
        """
        take_set = self.active_take_set()
        if take_set is None:
            self.message.emit("Nothing to retry: Continue (Ctrl+Enter) writes a first take")
            return None
        if self.running:
            self.message.emit("Stop the running generation before retrying (Esc)")
            return None
        recipe = next((self.recipes[t.job] for t in [take_set.take, *reversed(take_set.takes)] if t.job in self.recipes), None)
        if take_set.take.edited:
            self.message.emit("You edited this take: it stays one of the takes here (‹ brings it back)")
        return take_set, recipe
