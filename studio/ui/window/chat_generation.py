"""Chatting in the Text tab: the chat view's replies submitted as jobs, their events routed back.

The model is the Generate panel's text generator, and the sampling controls are its form, as
for the story view; the conversation goes in the ``messages`` parameter (the model's chat
template makes the prompt). A model without a chat template greys the Chat switch with the
reason in its tooltip, and the chat view names the models that can chat.

A finished reply is linked from its History entry (``ChatReplyLink``): the entry's Show brings
the reply up in the chat, its Regenerate asks for a new take of it when it is the last one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from studio.core.engine.generators import Generator
from studio.core.engine.jobs import Job
from studio.core.project.history import ChatReplyLink
from studio.errors import StudioError
from studio.ui.editor.chat_view import ChatView
from studio.ui.editor.story_chat_switch import install_chat_view
from studio.ui.editor.workspace import THEMES

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow


def can_chat(generator: Generator | None) -> bool:
    """A text generator that takes a conversation and has a chat template to prompt it with."""
    return (
        generator is not None and generator.kind == "text" and bool(getattr(generator, "chat_template", False))
        and any(p.name == "messages" for p in generator.params)
    )


class ChatGeneration(QObject):
    """Builds the chat view into the Text tab and runs its replies."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.view = ChatView()
        self.switch, self.stack = install_chat_view(window.text, self.view)
        self.view.generate_requested.connect(self.generate)
        self.view.stop_requested.connect(self.stop)
        self.view.changed.connect(lambda: window.project.mark_changed())
        self.view.message.connect(lambda text: window.statusBar().showMessage(text, 8000))
        self.switch.chat_button.toggled.connect(lambda on: on and self.show_model())
        self.switch.chat_button.toggled.connect(lambda on: on and self.show_paper())
        window.generate_panel.generator_changed.connect(lambda _generator: self.show_model())
        self.show_model()

    def show_paper(self) -> None:
        """The chat on the story's paper (Text ▸ Theme), as it is when the chat is shown."""
        paper, ink, _selection = THEMES.get(getattr(self.window.text, "theme", "light"), THEMES["light"])
        self.view.set_paper(paper, ink)

    # -- which model ----------------------------------------------------------------------

    def generator(self) -> Generator | None:
        """The Generate panel's text generator (on the Text tab the panel offers one)."""
        current = self.window.generate_panel.current()
        return current if current is not None and current.kind == "text" else None

    def chat_models(self) -> list[str]:
        return sorted(g.title or g.id for g in self.window.host.generators.values() if can_chat(g))

    def show_model(self) -> None:
        """Grey the Chat switch for a model that cannot chat, and say why in its tooltip and in the view."""
        current = self.window.generate_panel.current()
        if current is not None and current.kind != "text":
            return  # another tab's generator: the text's is chosen again when the Text tab shows
        name = current.title or current.id if current is not None else "No text model"
        able = can_chat(current)
        others = self.chat_models()
        if able:
            reason = ""
        elif others:
            reason = f"{name} has no chat template: it cannot chat. Models that can: {', '.join(others)} (choose one in the Generate panel)."
        else:
            reason = (f"{name} has no chat template: it cannot chat. No installed model can: add an instruction-tuned "
                      "model (one whose folder has a chat template) with Models ▸ Add model folder or Download.")
        self.view.set_model(name, able, reason)
        self.switch.chat_button.setEnabled(able or self.switch.chat_button.isChecked())
        self.switch.chat_button.setToolTip("Chat with the model: it answers your messages" if able else reason)

    # -- a reply's job ----------------------------------------------------------------------

    def generate(self, index: int, how: str) -> Job | None:
        window, view = self.window, self.view
        generator = self.generator()
        if not can_chat(generator):
            view.ended_without_job(index, how)
            window.statusBar().showMessage(view.banner.text() or "Choose a model that can chat in the Generate panel", 10000)
            return None
        form = window.generate_panel.form
        values = dict(form.values()) if form is not None else {}
        names = {p.name for p in generator.params}
        values = {k: v for k, v in values.items() if k in names}
        values.update(prompt="", instruction="", messages=json.dumps(view.messages_for(index, how), ensure_ascii=False))
        try:
            job = window.host.submit(generator.id, values, listeners=[window.bridge.listener])
        except StudioError as exc:
            view.ended_without_job(index, how)
            window.warn("Cannot chat", str(exc))
            return None
        window.jobs_panel.add(job)
        view.begin(job, index, how)
        verb = {"continue": "Continuing the reply", "retry": "Writing a new take"}.get(how, "Replying")
        window.statusBar().showMessage(f"{verb} with {generator.title or generator.id}… Esc stops", 8000)
        return job

    def showing(self) -> bool:
        """True while the Text tab shows the chat view (the Generate panel's button then answers there)."""
        return self.window.tabs.currentWidget() is self.window.text and self.stack.currentWidget() is self.view

    def generate_from_panel(self) -> Job | None:
        """The Generate panel's button in the chat: what is typed is sent; with nothing typed the
        model answers the last message, or goes on with its last reply."""
        view = self.view
        last = view.log.messages[-1] if view.log.messages else None
        if view.input.toPlainText().strip() or (last is not None and last.role == "user"):
            view.send()
        elif last is not None and last.role == "assistant":
            view.continue_reply(len(view.log.messages) - 1)
        else:
            self.window.statusBar().showMessage("Write a message below first: the model answers it", 8000)
            return None
        return next((reply.job for reply in view.replies.values()), None)

    def finish(self, job: Job, text: str) -> ChatReplyLink | None:
        """The reply's job finished with ``text``: it lands in its reply; the link for its History
        entry (None when the reply is no longer in the chat)."""
        reply = self.view.replies.get(job.id)
        self.view.finish(job, text)
        index = self.view.index_of(reply.message) if reply is not None else -1
        return ChatReplyLink.of(index, reply.message.chosen, reply.message.text) if index >= 0 else None

    def find(self, link: ChatReplyLink) -> tuple[int, int] | None:
        """Where the linked reply is in the chat now, ``(message, take)``, or None when it is gone."""
        return self.view.log.find_reply(link.message, link.take, link.excerpt)

    def _gone(self, link: ChatReplyLink, doing: str) -> None:
        self.window.statusBar().showMessage(
            f"The chat reply {link.label()} is no longer in the chat (it was deleted, or its opening edited away){doing}", 10000)

    def _bring_up(self) -> None:
        """The Text tab in front, showing the chat."""
        self.window.tabs.setCurrentWidget(self.window.text)
        self.switch.chat_button.setChecked(True)

    def show_reply(self, link: ChatReplyLink) -> bool:
        """History's Show: the chat in front, the linked reply scrolled to and selected, its take chosen."""
        found = self.find(link)
        if found is None:
            self._gone(link, "")
            return False
        self._bring_up()
        self.view.show_reply(*found)
        return True

    def retry_reply(self, link: ChatReplyLink) -> Job | None:
        """History's Regenerate: a new take of the linked reply, when it is the chat's last
        message (a new take of an earlier one would not fit what follows it); else why not."""
        found = self.find(link)
        if found is None:
            self._gone(link, ": there is nothing to retry")
            return None
        if self.view.running:
            self.window.statusBar().showMessage("A reply is streaming: Esc stops it, then Regenerate asks for a new take", 10000)
            return None
        index, take = found
        after = len(self.view.log.messages) - 1 - index
        self._bring_up()
        self.view.show_reply(index, take)
        if after:
            self.window.statusBar().showMessage(
                f"Only the chat's last reply can be retried: {after} message{'s' if after != 1 else ''} came after this one "
                "and followed from it. Retry the last reply, or delete what came after.", 10000)
            return None
        self.view.retry_reply(index)
        return next((reply.job for reply in self.view.replies.values()), None)

    def stop(self) -> None:
        """Stop the streaming reply at once; what it wrote stays, as a take."""
        for reply in list(self.view.replies.values()):
            reply.job.cancel()

    def owns(self, job: Job) -> bool:
        return self.view.owns(job)
