"""The generation history as the window uses it, and parameters reused.

Each finished generation is recorded (a change the project must save). An entry's buttons
show what it made (its layer, text or clip, on its tab), load its parameters into the
Generate panel, or run it again. A reply written in the chat is shown and retried in the chat
(``ChatReplyLink``), not on the story's page. A picture's parameters (a generated layer's, or those a
PNG carries) are reused the same way.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QTextCursor

from studio.core.engine.generators import Generator, Result
from studio.core.engine.jobs import Job
from studio.core.image.document import Layer
from studio.core.project.history import ChatReplyLink, HistoryEntry, Passage, Source, entry_for
from studio.core.project.reuse import PictureParameters, fit_parameters

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow


class HistoryActions(QObject):
    """Records finished generations in the History panel and answers its buttons."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        panel = window.history_panel
        window.canvas.reuse_requested.connect(self.reuse_parameters)
        panel.reuse_requested.connect(self.reuse_history)
        panel.regenerate_requested.connect(self.regenerate_history)
        panel.jump_requested.connect(self.show_history_target)
        panel.model.describe = self.describe  # a take's entry says which take it is
        self.sources: dict[int, Passage] = {}  # job id -> the passage it is made from (Illustrate selection)
        # Undo, redo and edits add or take away what an entry made: its "Show" follows (once
        # typing pauses, not on every key).
        self._history_refresh = QTimer(self, singleShot=True, interval=200)
        self._history_refresh.timeout.connect(panel.refresh_targets)
        window.undo_stack.indexChanged.connect(lambda _: self._history_refresh.start())
        window.text.editor.document().contentsChanged.connect(self._history_refresh.start)
        window.chatting.view.changed.connect(self._history_refresh.start)  # a chat reply deleted, or put back
        window.chatting.view.replaced.connect(panel.refresh_targets)  # a project opened: its chat after its history

    def record(self, job: Job, result: Result, title: str, target: int | None, source: Source | None = None) -> None:
        """Add the finished generation to the history (a change the project must save);
        ``source``: what it links to (a chat reply), else the passage it was made from."""
        seconds = (job.ended or time.monotonic()) - (job.started or job.created)
        entry = entry_for(result.kind, result.generator, title, result.params, target, self._model_folder(result.generator), seconds,
                          source or self.sources.get(job.id))
        self.window.history_panel.add(entry)
        self.window.project.mark_changed()

    def _model_folder(self, generator_id: str) -> str:
        """The model folder a generator runs from ("" for a plugin's built-in model)."""
        for folder in self.window.host.plugins.model_folders:
            if folder.generator is not None and folder.generator.id == generator_id:
                return str(folder.path)
        return ""

    def history_target_exists(self, entry: HistoryEntry) -> bool:
        if entry.target is None:
            return False
        window = self.window
        if isinstance(entry.source, ChatReplyLink):  # a reply in the chat, not a span of the story
            return window.chatting.find(entry.source) is not None
        if entry.kind == "image":
            return any(layer.id == entry.target for layer in window.canvas.document.layers)
        if entry.kind == "text":  # on the page, or a take of a place that can be chosen again
            return window.text.spans.of_job(entry.target) is not None or window.text.take_of_job(entry.target) is not None
        if entry.kind == "audio":
            return any(clip.id == entry.target for clip in window.audio.timeline.clips)
        return False

    def show_history_target(self, entry: HistoryEntry) -> bool:
        """Show what ``entry`` made: select its layer, its text or its clip, on its tab."""
        window = self.window
        if isinstance(entry.source, ChatReplyLink):
            return window.chatting.show_reply(entry.source)  # or says plainly that it is gone
        if not self.history_target_exists(entry):
            window.statusBar().showMessage("What this generation made was undone, deleted or edited away", 8000)
            return False
        if entry.kind == "image":
            window.tabs.setCurrentWidget(window.canvas)
            window.canvas.set_active(next(l for l in window.canvas.document.layers if l.id == entry.target))
        elif entry.kind == "text" and window.text.take_of_job(entry.target) is not None:
            window.tabs.setCurrentWidget(window.text)
            return window.text.show_take(entry.target)  # chosen, when another take is on the page
        elif entry.kind == "text":
            text = window.text
            span = text.spans.of_job(entry.target)
            window.tabs.setCurrentWidget(text)
            cursor = text.editor.textCursor()
            cursor.setPosition(span.start)
            cursor.setPosition(span.end, QTextCursor.MoveMode.KeepAnchor)
            text.editor.setTextCursor(cursor)
            text.editor.setFocus()
        elif entry.kind == "audio":
            audio = window.audio
            window.tabs.setCurrentWidget(audio)
            clip = audio.timeline.clip(entry.target)
            audio.select_clip(clip.id)
            audio.set_playhead(clip.start)
            audio.arrangement.ensure_visible(clip.id)
        return True

    def describe(self, entry: HistoryEntry) -> str:
        """A take's line in History: which take of its place it is, and how it begins; a chat
        reply's: that it is one, and how it begins."""
        if isinstance(entry.source, ChatReplyLink):
            return f"Chat reply · {entry.source.label()}"
        return self.window.text.take_line(entry.target) if entry.kind == "text" and entry.target is not None else ""

    def _history_generator(self, entry: HistoryEntry) -> Generator | None:
        generator = self.window.host.generators.get(entry.generator)
        if generator is None:
            self.window.statusBar().showMessage(f"{entry.title or entry.generator} is not installed (Tools ▸ Plugins, or add its model folder)", 8000)
        return generator

    def reuse_history(self, entry: HistoryEntry) -> bool:
        """Select the entry's generator and fill its form with the entry's parameters."""
        generator = self._history_generator(entry)
        if generator is None:
            return False
        self.window.generate_panel.reuse(generator.id, fit_parameters(entry.params, generator.params), str(entry.params.get("mode", "")))
        self.window.statusBar().showMessage(f"Parameters of {entry.summary()} loaded into {generator.title or generator.id}", 8000)
        return True

    def regenerate_history(self, entry: HistoryEntry) -> Job | None:
        """Run the entry's generator again with its parameters, seed included: the same output,
        made again (pictures and audio prompts come from the workspace, as for any generation).
        A chat reply: a new take of it, by the same model, when it is the chat's last reply."""
        generator = self._history_generator(entry)
        if generator is None:
            return None
        if isinstance(entry.source, ChatReplyLink):
            self.window.tabs.setCurrentWidget(self.window.text)  # where the panel offers text generators
            self.window.generate_panel.select(generator.id)  # the model that wrote it writes the take
            return self.window.chatting.retry_reply(entry.source)
        values = fit_parameters(entry.params, generator.params)
        self.window.generate_panel.reuse(generator.id, values, str(entry.params.get("mode", "")))  # made as it was
        return self.window.generation.generate(generator.id, values)

    def reuse_layer(self, layer: Layer) -> None:
        if layer.generator:
            self.reuse_parameters(PictureParameters(layer.generator, dict(layer.params), "layer"), f"“{layer.name}”")

    def reuse_parameters(self, parameters: PictureParameters, source: str = "the picture") -> bool:
        """Select the generator that made a picture and fill its form with what fits.

        A1111 text names no Studio generator: it goes to the current image generator (or the
        first one with a prompt), its names matched to that generator's parameters.
        """
        window = self.window
        generators = window.host.generators
        generator = generators.get(parameters.generator)
        note = ""
        if generator is None:
            current = window.generate_panel.current()
            candidates = ([current] if current is not None else []) + sorted(generators.values(), key=lambda g: g.id)
            generator = next((g for g in candidates if g.kind == "image" and any(p.name == "prompt" for p in g.params)), None)
            generator = generator or next((g for g in candidates if g.kind == "image"), None)
            if generator is None:
                window.statusBar().showMessage(f"No installed generator can reuse the parameters of {source}", 8000)
                return False
            if parameters.generator:
                note = f" ({parameters.generator} is not installed)"
        values = fit_parameters(parameters.params, generator.params)
        window.generate_panel.reuse(generator.id, values, str(parameters.params.get("mode", "")))
        window.statusBar().showMessage(f"Parameters of {source} loaded into {generator.title or generator.id}{note}", 8000)
        return True
