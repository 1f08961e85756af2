"""Across the media: a passage of the text illustrated or scored, and the History's link back.

Text ▸ Illustrate selection… sends the selected passage to an image generator, Text ▸ Score
this scene… to an audio generator (``PassageDialog``: the generator, the prompt, and whether
a chat model writes the prompt first). The job then runs the ordinary way
(``GenerationDispatch``): the picture lands as a layer (one undo step), the music as a clip.
A generator that takes no prompt gets the passage as its seed, so a passage always gives the
same picture or music.

The History entry of what was made names the passage (``HistoryEntry.source``). While the
project is open the passage is followed through the writer's edits (two text cursors Qt keeps
in step with the document); Show passage selects it, or finds it again by its opening words
when the text was replaced, or says plainly that it is gone.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QObject, QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QTextCursor
from PySide6.QtWidgets import QMenu

from studio.core.engine.generators import Generator, Result
from studio.core.engine.jobs import Job, JobState
from studio.core.image.canvas_inputs import GENERATE, canvas_inputs, generation_size
from studio.core.project.history import HistoryEntry, Passage
from studio.errors import StudioError
from studio.ui.window.passage_dialog import Medium, PassageDialog, passage_words, takes_prompt
from studio.ui.window.workers import JobBridge

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow

#: How many words of the passage a prompt gets: CLIP reads 77 tokens (about 60 English words)
#: and a music description is a sentence or two; the writer can edit it before sending.
PROMPT_WORDS = 60
#: The most tokens a chat model may spend on a prompt (a short prompt, not a story).
PROMPT_TOKENS = 80

ILLUSTRATE = Medium(
    "image", "Illustrate selection", "Illustrate", "Illustrating", "picture", "cppn",
    "Describe this scene as a short image prompt: subject, setting, light, style. Answer with the prompt only.",
)
SCORE = Medium(
    "audio", "Score this scene", "Score", "Scoring", "music", "chorale",
    "Describe music for this scene as a short prompt: genre, instruments, mood, tempo. Answer with the prompt only.",
)


def prompt_from(text: str, words: int = PROMPT_WORDS) -> str:
    """The first ``words`` words of ``text`` on one line: what a generator's prompt takes."""
    return " ".join(text.split()[:words])


def passage_seed(text: str) -> int:
    """A seed the passage picks: the same words give the same picture or music."""
    return zlib.crc32(" ".join(text.split()).encode("utf-8"))


def _qt_position(text: str, index: int) -> int:
    """The editor's position of ``text[index]`` (Qt counts UTF-16 units: an emoji is two)."""
    return len(text[:index].encode("utf-16-le")) // 2


class MediaLinks(QObject):
    """The Text menu's Illustrate selection and Score this scene, and the links they leave."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.dialog: PassageDialog | None = None
        self._last: dict[str, str] = {}  # kind -> the generator used last for a passage
        self._current: dict[str, str] = {}  # kind -> the generator of that kind the Generate panel showed last
        self._passage: tuple[QTextCursor, QTextCursor, str] | None = None  # the dialog's passage: start, end, text
        self._prompt_job: Job | None = None  # a chat model writing the prompt
        self._jobs: dict[int, tuple[QTextCursor, QTextCursor]] = {}  # job id -> its passage, while it runs
        self._tracked: dict[int, tuple[HistoryEntry, QTextCursor, QTextCursor]] = {}  # entry id -> its passage
        self.bridge = JobBridge(self)  # the prompt job's events: never the editor's stream
        self.bridge.state_changed.connect(self._prompt_state)
        self.bridge.progress.connect(self._prompt_progress)
        self.bridge.result.connect(self._prompt_written)
        window.bridge.result.connect(self._landed)  # connected after the History's: the entry exists
        window.bridge.state_changed.connect(self._ended)
        window.history_panel.passage_requested.connect(self.show_passage)
        window.generate_panel.generator_changed.connect(self._shown)
        self._shown(window.generate_panel.current())
        window.history_panel.model.modelReset.connect(self._track_entries)  # a project opened
        self._sync = QTimer(self, singleShot=True, interval=300)  # the entries' places, once typing pauses
        self._sync.timeout.connect(self.sync_places)
        window.text.editor.document().contentsChanged.connect(self._sync.start)
        self.actions: list[QAction] = []  # the Text menu's entries, offered on a right-click in the editor too
        self.editor_menu: QMenu | None = None  # the editor's context menu last opened
        window.text.editor.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        window.text.editor.customContextMenuRequested.connect(self._open_editor_menu)

    def _open_editor_menu(self, position: QPoint) -> None:
        """The editor's own menu (Undo, Cut, Copy, Paste…) with Illustrate and Score under it."""
        editor = self.window.text.editor
        menu = editor.createStandardContextMenu(position)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addSeparator()
        selected = editor.textCursor().hasSelection()
        for action in self.actions:
            entry = menu.addAction(action.text(), action.trigger)
            entry.setEnabled(selected and action.isEnabled())
        self.editor_menu = menu
        menu.popup(editor.viewport().mapToGlobal(position))

    def add_entries(self, menu: QMenu, text_action: Callable[[QMenu, str, Callable[..., Any]], QAction]) -> None:
        """The Text menu's entries (``text_action`` makes an entry that works on the Text tab)."""
        menu.addSeparator()
        self.actions = [text_action(menu, "&Illustrate selection…", self.illustrate), text_action(menu, "Score this &scene…", self.score)]

    def illustrate(self) -> PassageDialog | None:
        return self.open(ILLUSTRATE)

    def score(self) -> PassageDialog | None:
        return self.open(SCORE)

    # -- the dialog ---------------------------------------------------------------------------

    def open(self, medium: Medium) -> PassageDialog | None:
        """The dialog for the selected passage; none, with a word why, without a passage or a generator."""
        window = self.window
        cursor = window.text.editor.textCursor()
        text = cursor.selectedText().replace("\u2029", "\n")
        if not text.strip():
            window.statusBar().showMessage(f"Select the passage first: {medium.title} works on the selected text", 8000)
            return None
        generators = self._generators(medium)
        if not generators:
            window.statusBar().showMessage(f"No {medium.kind} generator that can start from a passage is installed (Tools ▸ Plugins)", 8000)
            return None
        if self.dialog is not None:
            self.dialog.reject()
        start, end = QTextCursor(cursor), QTextCursor(cursor)
        start.setPosition(cursor.selectionStart())
        end.setPosition(cursor.selectionEnd())
        end.setKeepPositionOnInsert(True)  # words typed right after the passage are not part of it
        self._passage = (start, end, text)
        passage = Passage.of(start.position(), end.position(), text)
        dialog = PassageDialog(medium, passage, passage_words(text), prompt_from(text), generators,
                               self._chosen(medium, generators).id, self._chat_model(), window)
        dialog.start_requested.connect(self._start)
        dialog.stop_requested.connect(self._stop_prompt)
        dialog.rejected.connect(self._stop_prompt)
        dialog.finished.connect(lambda _: self._closed(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _closed(self, dialog: PassageDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
            self._passage = None
        dialog.deleteLater()

    def _generators(self, medium: Medium) -> list[Generator]:
        """Those of the medium's kind that can start from nothing (not an upscaler, which needs a picture)."""
        def from_nothing(g: Generator) -> bool:
            return not any(p.type in ("image", "mask", "audio") and not p.optional for p in g.params)

        found = [g for g in self.window.host.generators.values() if g.kind == medium.kind and from_nothing(g)]
        return sorted(found, key=lambda g: (g.title or g.id).lower())

    def _chosen(self, medium: Medium, generators: list[Generator]) -> Generator:
        """The one used last for a passage, else the Generate panel's last of that kind, the built-in, the first."""
        by_id = {g.id: g for g in generators}
        for wanted in (self._last.get(medium.kind, ""), self._current.get(medium.kind, ""), medium.builtin):
            if wanted in by_id:
                return by_id[wanted]
        return generators[0]

    def _chat_model(self) -> Generator | None:
        """A text generator that follows instructions (its model has a chat template): the panel's last, else the first."""
        chats = sorted((g for g in self.window.host.generators.values() if g.kind == "text" and getattr(g, "chat_template", False)),
                       key=lambda g: (g.title or g.id).lower())
        return next((g for g in chats if g.id == self._current.get("text")), chats[0] if chats else None)

    def _form_values(self, generator: Generator) -> dict:
        """What the writer set for ``generator`` in the Generate panel (its size, steps, model settings)."""
        return dict(self.window.generate_panel.values_for(generator.id))

    def _shown(self, generator: Generator | None) -> None:
        """The Generate panel shows ``generator``: it is the current one of its kind from now on."""
        if generator is not None:
            self._current[generator.kind] = generator.id

    # -- the jobs -------------------------------------------------------------------------------

    def _start(self) -> None:
        dialog = self.dialog
        if dialog is None or self._passage is None:
            return
        generator = dialog.chosen()
        if dialog.writes_prompt() and dialog.chat is not None:
            self._write_prompt(dialog.chat)
        elif takes_prompt(generator) and not dialog.prompt_text().strip():
            dialog.show_idle("The prompt is empty: write one, or tick the box to have it written")
        else:
            self._run(generator, dialog.prompt_text())

    def _write_prompt(self, chat: Generator) -> None:
        """A text job on the chat model: the passage and the medium's instruction; its answer is the prompt."""
        dialog, (_, _, text) = self.dialog, self._passage
        values = {**self._form_values(chat), "prompt": text, "instruction": dialog.medium.instruction, "seed": None}
        if any(p.name == "max_new_tokens" for p in chat.params):
            most = chat.param("max_new_tokens").max
            values["max_new_tokens"] = int(min(PROMPT_TOKENS, most if most is not None else PROMPT_TOKENS))
        try:
            job = self.window.host.submit(chat.id, values, listeners=[self.bridge.listener])
        except StudioError as exc:
            dialog.show_idle(f"{chat.title or chat.id} cannot write the prompt: {exc}")
            return
        self._prompt_job = job
        self.window.jobs_panel.add(job)
        dialog.show_writing(f"{chat.title or chat.id} is writing the prompt…")

    def _stop_prompt(self) -> None:
        if self._prompt_job is not None and not self._prompt_job.state.done:
            self._prompt_job.cancel()

    def _prompt_state(self, job: Job, state: JobState, message: str) -> None:
        row = self.window.jobs_panel.row(job)
        if row is not None:
            row.on_state(state, message)
        indicator = self.window.job_indicator
        indicator.ended(job) if state.done else indicator.started(job)
        if job is not self._prompt_job or not state.done:
            return
        self._prompt_job = None
        if self.dialog is None or not self.dialog.isVisible():
            return
        if state is JobState.CANCELLED or job.cancel_requested:  # stopped, or finished as Stop was pressed: not used
            self.dialog.show_idle("Stopped: nothing was generated. The prompt is as it was.")
        elif state is JobState.FAILED:
            self.dialog.show_idle(f"{job.generator.title or job.generator.id} could not write the prompt: {message}")

    def _prompt_progress(self, job: Job, progress) -> None:
        row = self.window.jobs_panel.row(job)
        if row is not None:
            row.on_progress(progress)
        self.window.job_indicator.progressed(job, progress)

    def _prompt_written(self, job: Job, result: Result) -> None:
        """The chat model's answer becomes the prompt (shown in the dialog), and the job starts."""
        dialog = self.dialog
        if dialog is None or not dialog.isVisible() or job.cancel_requested:
            return
        prompt = prompt_from(str(result.value).strip().strip("\"'“”"))
        if not prompt:
            dialog.show_idle(f"{job.generator.title or job.generator.id} wrote no prompt: write one, or try again")
            return
        dialog.set_prompt(prompt)
        self._run(dialog.chosen(), prompt)

    def _run(self, generator: Generator, prompt: str) -> Job | None:
        """The picture or music job, through the ordinary path; its History entry will name the passage."""
        window, dialog = self.window, self.dialog
        start, end, text = self._passage
        values = self._form_values(generator)
        if takes_prompt(generator):
            values["prompt"] = prompt
        elif any(p.type == "seed" for p in generator.params):
            values[next(p.name for p in generator.params if p.type == "seed")] = passage_seed(text)
        placement = None
        if generator.kind == "image":
            document = window.canvas.document
            if not values:  # not the panel's: the size follows the canvas, as the panel's would
                values.update(generation_size(document, generator.params)[0])
            try:  # from the prompt alone, whatever the Generate panel's mode: the picture is new
                values, placement = canvas_inputs(document, None, generator.params, values, GENERATE)
            except StudioError as exc:
                dialog.show_idle(str(exc))
                return None
        job = window.generation.generate(generator.id, values, placement)
        if job is None:  # said why (a warning)
            dialog.show_idle("It did not start: see the message")
            return None
        passage = Passage.of(start.position(), end.position(), text)
        window.history.sources[job.id] = passage
        self._jobs[job.id] = (QTextCursor(start), QTextCursor(end))
        self._jobs[job.id][1].setKeepPositionOnInsert(True)
        self._last[generator.kind] = generator.id
        dialog.accept()
        how = "" if takes_prompt(generator) else " (the passage picks its seed)"
        window.statusBar().showMessage(f"{dialog.medium.doing} {passage.label()} with {generator.title or generator.id}{how}", 8000)
        return job

    def _landed(self, job: Job, result: Result) -> None:
        """A job made from a passage finished: its new History entry follows the passage from now on."""
        cursors = self._jobs.get(job.id)
        entries = self.window.history_panel.entries()
        if cursors is None or not entries or entries[-1].source is None or entries[-1].source is not self.window.history.sources.get(job.id):
            return
        entry = entries[-1]
        start, end = QTextCursor(cursors[0]), QTextCursor(cursors[1])
        end.setKeepPositionOnInsert(True)
        self._tracked[entry.id] = (entry, start, end)
        self.sync_places()

    def _ended(self, job: Job, state: JobState, message: str) -> None:
        if state.done:
            self._jobs.pop(job.id, None)
            self.window.history.sources.pop(job.id, None)

    # -- the links ------------------------------------------------------------------------------

    def _track_entries(self) -> None:
        """A project opened: follow each linked entry's passage from where the project says it is."""
        self._tracked.clear()
        document = self.window.text.editor.document()
        last = max(document.characterCount() - 1, 0)
        for entry in self.window.history_panel.entries():
            if not isinstance(entry.source, Passage):  # none, or a chat reply's link
                continue
            start, end = QTextCursor(document), QTextCursor(document)
            start.setPosition(min(entry.source.start, last))
            end.setPosition(min(entry.source.end, last))
            end.setKeepPositionOnInsert(True)
            self._tracked[entry.id] = (entry, start, end)

    def sync_places(self) -> None:
        """Write where each followed passage lies now into its entry (what a save stores). A
        passage deleted whole keeps its last place: Show passage then looks for its words."""
        for entry, start, end in self._tracked.values():
            source = entry.source
            if source is not None and end.position() > start.position() and (start.position(), end.position()) != (source.start, source.end):
                entry.source = Passage(start.position(), end.position(), source.excerpt)

    def show_passage(self, entry: HistoryEntry) -> bool:
        """Select the passage ``entry`` was made from in the editor, on the Text tab."""
        window, source = self.window, entry.source
        if not isinstance(source, Passage):
            window.statusBar().showMessage("This generation was not made from a passage of the text", 8000)
            return False
        self.sync_places()
        editor = window.text.editor
        document = editor.document()
        followed = self._tracked.get(entry.id)
        start, end = (followed[1].position(), followed[2].position()) if followed else (source.start, source.end)
        last = max(document.characterCount() - 1, 0)
        start, end = min(start, last), min(end, last)
        selection = QTextCursor(document)
        selection.setPosition(start)
        selection.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        now = selection.selectedText().replace("\u2029", "\n")
        if now and now.startswith(source.excerpt):
            said = f"Selected the passage {source.label()}"
        else:
            found = self._find(source, start)
            if found is not None:
                selection = found
                said = f"Found the passage {source.label()} by its opening words"
            elif now.strip():
                said = f"The passage {source.label()} was edited since: selected what it has become"
            else:
                window.statusBar().showMessage(f"The passage {source.label()} is no longer in the text (deleted or rewritten)", 10000)
                return False
        window.tabs.setCurrentWidget(window.text)
        editor.setTextCursor(selection)
        editor.ensureCursorVisible()
        editor.setFocus()
        window.statusBar().showMessage(said, 8000)
        return True

    def _find(self, source: Passage, near: int) -> QTextCursor | None:
        """The passage found by its excerpt (the occurrence nearest where it was), or None."""
        if not source.excerpt.strip():
            return None
        text = self.window.text.editor.toPlainText()
        found, at = [], text.find(source.excerpt)
        while at >= 0 and len(found) < 1000:
            found.append(at)
            at = text.find(source.excerpt, at + 1)
        if not found:
            return None
        index = min(found, key=lambda i: abs(i - near))  # near enough: an emoji moves it by one
        begin = _qt_position(text, index)
        length = max(source.end - source.start, _qt_position(source.excerpt, len(source.excerpt)))
        cursor = QTextCursor(self.window.text.editor.document())
        cursor.setPosition(begin)
        cursor.setPosition(min(begin + length, _qt_position(text, len(text))), QTextCursor.MoveMode.KeepAnchor)
        return cursor
