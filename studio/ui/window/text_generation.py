"""Generating text in the editor: Continue at the cursor, Rewrite / Expand / Summarise the
selection, Retry, Stop, and choosing among the takes.

One source of the prompt: the page. Continue sends the text before the cursor (an empty page
starts from the model's start token); the Generate panel keeps the sampling controls and
hides the parameters the editor fills. Following an instruction (Rewrite, Expand, Summarise)
needs a model with a chat template: for one without, the entries are greyed and say why.
One generation streams at a time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

import studio
from studio.core.engine.generators import Generator
from studio.core.engine.jobs import Job, JobState
from studio.core.text.context_request import with_notes
from studio.core.text.takes import TakeSet
from studio.errors import StudioError
from studio.ui.slots import connect_command

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow

#: The fixed instructions of Text ▸ Expand selection and Summarise selection.
EXPAND = "Expand this passage: add sensory detail and depth, keep its voice, tense and events, and do not add new plot."
SUMMARISE = "Summarise this passage in a few sentences, in the same voice and tense."


def instruction_refusal(generator: Generator | None) -> str:
    """Why ``generator`` cannot follow an instruction, or "" when it can."""
    if generator is None:
        return "No text generator is installed (Tools ▸ Plugins)"
    names = {p.name for p in generator.params}
    title = generator.title or generator.id
    if "prompt" not in names:
        return f"{title} takes no prompt, so it cannot rewrite a selection"
    if "instruction" not in names:
        return f"{title} takes no instruction, so it cannot rewrite: pick an instruction-tuned model"
    if not getattr(generator, "chat_template", True):
        return f"{title} has no chat template, so it cannot follow an instruction: pick an instruction-tuned model"
    return ""


def plain_failure(generator: Generator, message: str) -> str:
    """A failed job's message in plain words: the model folder named by its generator's title,
    and no path of Studio's own install."""
    folder = getattr(generator, "model_folder", None)
    title = generator.title or generator.id
    if folder:
        message = message.replace(str(folder), title)
    install = str(Path(studio.__file__).resolve().parents[1])
    message = re.sub(re.escape(install) + r"[^\s:;,]*", "a file of Studio's install", message)
    return message


class TextGeneration(QObject):
    """The Text menu's and the editor's generation commands."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self._text_generator_id = ""  # the text generator Continue used last
        window.text.continue_requested.connect(self.continue_text)
        window.text.stop_requested.connect(self.stop_text)
        window.text.rewrite_bar.rewrite_requested.connect(self.rewrite_text)
        bar = window.text.page_bar
        connect_command(bar.continue_clicked, self.continue_text)
        connect_command(bar.retry_clicked, self.retry_text)
        connect_command(bar.stop_clicked, self.stop_text)
        connect_command(bar.previous_clicked, lambda: window.text.step_take(-1))
        connect_command(bar.next_clicked, lambda: window.text.step_take(+1))
        window.bridge.state_changed.connect(self._on_state)
        self.instruction_actions: list[QAction] = []  # Rewrite, Expand, Summarise: chat models only

    def _choice(self) -> Generator | None:
        """The text generator Continue would use, chosen without changing the panel."""
        current = self.window.generate_panel.current()
        if current is not None and current.kind == "text":
            return current
        texts = sorted((g for g in self.window.host.generators.values() if g.kind == "text"), key=lambda g: g.id)
        preferred = [self._text_generator_id, "shakespeare"]
        return next((g for i in preferred for g in texts if g.id == i), texts[0] if texts else None)

    def _text_generator(self) -> Generator | None:
        """The text generator to use: the panel's choice, else the last used, the built-in, any."""
        choice = self._choice()
        if choice is not None and self.window.generate_panel.current() is not choice:
            self.window.generate_panel.select(choice.id)
        return choice

    def generate_text(self, generator_id: str, values: dict, mode: str, instruction: str = "", retry_of: TakeSet | None = None) -> Job | None:
        """Submit a text job: ``continue`` reads the text before the cursor, ``rewrite`` the
        selection; ``retry_of``: a new take for that place (a rewrite's: of its original words)."""
        window, text = self.window, self.window.text
        if text.running:
            window.statusBar().showMessage("A generation is already streaming: Esc stops it", 5000)
            return None
        generator = window.host.generators.get(generator_id)
        names = {p.name for p in generator.params} if generator is not None else set()
        values = with_notes(generator, values, window.story_panel.notes())  # memory, note, lorebook: where it takes them
        takes_prompt = "prompt" in names  # one without a prompt just writes at the cursor
        if mode == "rewrite" and instruction_refusal(generator):
            window.statusBar().showMessage(instruction_refusal(generator), 10000)
            return None
        if mode == "rewrite":
            values["prompt"] = retry_of.source if retry_of is not None else text.selected_text()
        elif takes_prompt:  # the page is the prompt: an empty page starts from the model's start token
            values["prompt"] = text.prompt_before_cursor() if retry_of is None else text.text_between(0, retry_of.start)
        if "instruction" in names:
            values["instruction"] = instruction if mode == "rewrite" else ""
        if "messages" in names:  # the chat view's conversation (in the form after a reuse) is not the story's
            values["messages"] = ""
        try:
            job = window.host.submit(generator_id, values, listeners=[window.bridge.listener])
        except StudioError as exc:
            window.warn("Cannot generate", str(exc))
            return None
        self._text_generator_id = generator_id
        window.jobs_panel.add(job)
        window.tabs.setCurrentWidget(text)
        text.begin(job, mode, values, retry_of)
        return job

    def _form_values(self) -> dict:
        form = self.window.generate_panel.form
        return form.values() if form is not None else {}

    def continue_text(self) -> Job | None:
        generator = self._text_generator()
        if generator is None:
            self.window.statusBar().showMessage("No text generator is installed (Tools ▸ Plugins)", 8000)
            return None
        return self.generate_text(generator.id, self._form_values(), "continue")

    def rewrite_text(self, instruction: str) -> Job | None:
        """Rewrite the selection following ``instruction`` (the rewrite bar, Expand, Summarise)."""
        window = self.window
        generator = self._text_generator()
        refusal = instruction_refusal(generator)
        if refusal:
            window.statusBar().showMessage(refusal, 10000)
            return None
        if not window.text.selected_text().strip():
            window.statusBar().showMessage("Select the text to rewrite first", 5000)
            return None
        job = self.generate_text(generator.id, self._form_values(), "rewrite", instruction)
        if job is not None:
            window.text.rewrite_bar.hide()
        return job

    def open_rewrite(self) -> bool:
        refusal = instruction_refusal(self._choice())
        if refusal:
            self.window.statusBar().showMessage(refusal, 10000)
            return False
        return self.window.text.open_rewrite()

    def watch_instruction_actions(self, menu: QMenu, actions: list[QAction]) -> None:
        """Grey Rewrite, Expand and Summarise unless the text generator can follow an
        instruction, and keep them to the Text tab like the other text entries. Why they are
        greyed is their tooltip, and the status bar's line while the menu is open."""
        self.instruction_actions = actions
        menu.aboutToShow.connect(self._say_why_greyed)
        self.window.generate_panel.generator_changed.connect(lambda _: self.update_instruction_actions())
        self.window.tabs.currentChanged.connect(lambda _: self.update_instruction_actions())
        self.update_instruction_actions()

    def update_instruction_actions(self) -> None:
        refusal = instruction_refusal(self._choice())
        on_text = self.window.tabs.currentWidget() is self.window.text
        for action in self.instruction_actions:
            action.setEnabled(on_text and not refusal)
            tip = refusal or action.data() or ""
            action.setToolTip(tip)
            action.setStatusTip(tip)

    def _say_why_greyed(self) -> None:
        refusal = instruction_refusal(self._choice())
        if refusal and self.window.tabs.currentWidget() is self.window.text:
            self.window.statusBar().showMessage(refusal, 10000)

    def stop_text(self) -> None:
        """Cancel the streaming generation at once; what streamed stays (one Ctrl+Z removes it)."""
        for generation in self.window.text.running:
            generation.job.cancel()
        self.window.chatting.stop()  # Text ▸ Stop ends a chat reply too

    def retry_text(self) -> Job | None:
        """A new take for the place at the cursor (else the last one made): the same generator,
        the panel's sampling controls, a new seed. The take on the page stays one of the takes."""
        text = self.window.text
        target = text.retry_target()
        if target is None:
            return None
        take_set, recipe = target
        generator = self.window.host.generators.get(recipe.generator) if recipe is not None else None
        generator = generator or self._choice()
        if generator is None:
            self.window.statusBar().showMessage("No text generator is installed (Tools ▸ Plugins)", 8000)
            return None
        panel = self.window.generate_panel
        if panel.current() is generator or recipe is None:
            panel.select(generator.id)
            values = self._form_values()  # the sampling controls as the writer set them now
        else:
            values = dict(recipe.values)
        values["seed"] = None  # a new seed: the core draws it and the result records it
        return self.generate_text(generator.id, values, take_set.mode, take_set.instruction, retry_of=take_set)

    def _on_state(self, job: Job, state: JobState, message: str) -> None:
        """A text job that failed says why in plain words, after the window's generic line; one
        that ended away from the editor (its text was replaced) still ends the waiting line."""
        if job.generator.kind != "text" or state not in (JobState.FAILED, JobState.CANCELLED):
            return
        text = self.window.text
        if job.id not in text.generations and not text.running:
            text.stats_changed.emit("Failed" if state is JobState.FAILED else "Stopped")
        if state is JobState.FAILED:
            words = f"{job.generator.title or job.generator.id} failed: {plain_failure(job.generator, message)}"
            QTimer.singleShot(0, lambda: self.window.statusBar().showMessage(words, 15000))
