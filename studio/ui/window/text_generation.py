"""Generating text in the editor: Continue at the cursor, Rewrite the selection, Retry, Stop.

The sampling controls come from the Generate panel (the generator's params); the editor only
adds what it owns: the prompt (the text before the cursor, or the selection) and the
instruction. One generation streams at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from studio.core.engine.generators import Generator
from studio.core.engine.jobs import Job
from studio.errors import StudioError
from studio.ui.editor.workspace import Generation

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow


class TextGeneration(QObject):
    """The Text menu's and the editor's generation commands."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self._text_generator_id = ""  # the text generator Continue used last
        window.text.continue_requested.connect(self.continue_text)
        window.text.stop_requested.connect(self.stop_text)
        window.text.rewrite_bar.rewrite_requested.connect(self.rewrite_text)

    def _text_generator(self) -> Generator | None:
        """The text generator to use: the panel's choice, else the last used, the built-in, any."""
        panel = self.window.generate_panel
        current = panel.current()
        if current is None or current.kind != "text":
            texts = sorted((g for g in self.window.host.generators.values() if g.kind == "text"), key=lambda g: g.id)
            preferred = [self._text_generator_id, "shakespeare"]
            choice = next((g for i in preferred for g in texts if g.id == i), texts[0] if texts else None)
            if choice is None:
                return None
            panel.select(choice.id)
            current = panel.current()
        return current

    def generate_text(self, generator_id: str, values: dict, mode: str, instruction: str = "", retry_of: Generation | None = None) -> Job | None:
        """Submit a text job: ``continue`` reads the text before the cursor, ``rewrite`` the selection."""
        window, text = self.window, self.window.text
        if text.running:
            window.statusBar().showMessage("A generation is already streaming: Esc stops it", 5000)
            return None
        generator = window.host.generators.get(generator_id)
        names = {p.name for p in generator.params} if generator is not None else set()
        values = dict(values)
        takes_prompt = "prompt" in names  # one without a prompt just writes at the cursor
        if mode == "rewrite" and generator is not None and not takes_prompt:
            window.statusBar().showMessage(f"{generator.title or generator.id} takes no prompt, so it cannot rewrite a selection", 8000)
            return None
        if mode == "rewrite":
            values["prompt"] = text.selected_text()
        elif takes_prompt:
            prompt = text.prompt_before_cursor()
            if not prompt.strip() and str(values.get("prompt") or "").strip() and retry_of is None:
                # An empty page: the form's prompt starts the text, as the writer's own words.
                text.editor.textCursor().insertText(str(values["prompt"]))
                prompt = text.prompt_before_cursor()
            values["prompt"] = prompt
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
        window = self.window
        generator = self._text_generator()
        if generator is None:
            window.statusBar().showMessage("No text generator is installed (Tools ▸ Plugins)", 8000)
            return None
        if not window.text.selected_text().strip():
            window.statusBar().showMessage("Select the text to rewrite first", 5000)
            return None
        job = self.generate_text(generator.id, self._form_values(), "rewrite", instruction)
        if job is not None:
            window.text.rewrite_bar.hide()
        return job

    def stop_text(self) -> None:
        """Cancel the streaming generation at once; what streamed stays (one Ctrl+Z removes it)."""
        for generation in self.window.text.running:
            generation.job.cancel()

    def retry_text(self) -> Job | None:
        """Replace the last generation with a new one from the same prompt and a new seed."""
        last = self.window.text.prepare_retry()
        if last is None:
            return None
        values = dict(last.values)
        values["seed"] = None  # a new seed: the core draws it and the result records it
        return self.generate_text(last.job.generator.id, values, last.mode, str(values.get("instruction") or ""), retry_of=last)
