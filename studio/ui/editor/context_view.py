"""The Context view: exactly what the model will read for the next Continue, or, while the Text
tab shows the chat, for the next reply.

Each part in the order the model reads it, tinted by kind (memory, lore, the story, the
author's note; in the chat, the system prompt and each message kept), with its token count
and, for a lore entry, the key that brought it in; a bar of the context used against its
limit; and what was left out (the story's start, the chat's oldest messages). The plan comes from the
generator itself (``studio.core.text.context_request.plan_for``: UI -> core -> plugin), so the
view shows what the generator will do, not a guess of it.

It is worked out again ``REFRESH_MS`` after the last change (the text, the cursor, the notes,
the generator or its settings, the chat, the Story | Chat switch), and only while the view is on screen: a hidden view notes
that it is stale and catches up when it is shown. The tokenizing runs on a worker thread (a
large model's context is tens of thousands of characters, counted several times to find a
stable cut), so typing never waits for it; a plan that arrives after a newer request is
dropped.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QStackedWidget
from PySide6.QtGui import QColor, QFont, QTextBlockFormat, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QDockWidget, QPlainTextEdit, QProgressBar, QVBoxLayout, QWidget

from studio.core.engine.generators import Generator
from studio.core.text.context import ContextPlan
from studio.core.text.context_request import ContextUnavailable, plan_for, with_notes
from studio.errors import StudioError
from studio.ui.editor.story_panel import StoryPanel
from studio.ui.plain import plain_label, plain_tip

if TYPE_CHECKING:
    from studio.ui.editor.chat_view import ChatView
    from studio.ui.editor.workspace import TextWorkspace
    from studio.ui.panels.generate_panel import GeneratePanel

log = logging.getLogger(__name__)

REFRESH_MS = 300
#: kind -> (the part's name, its tint, its heading's colour). Tints light enough for dark ink.
KINDS = {
    "memory": ("Memory", "#e4ecfb", "#2f5fb3"),
    "lore": ("Lore", "#faeed0", "#8a5d06"),
    "story": ("Story", "#f2f1ec", "#5d5a52"),
    "note": ("Author's note", "#e0f2e4", "#2e7d43"),
    "system": ("System prompt", "#ece6f6", "#5b3f99"),
    "user": ("You", "#e4ecfb", "#2f5fb3"),
    "assistant": ("The model", "#f2f1ec", "#5d5a52"),
}
PAPER, INK = "#fbfaf7", "#232323"
#: Reasons that only repeat the part's name ("the story") are not shown under it; these
#: starts of a reason repeat it too and are left off.
SAID_BY_NAME = ("the story", "memory: always at the top", "your message", "the model's reply")
NAME_PREFIXES = ("author's note, ", "your message: ", "the model's reply: ", "the system prompt: ")

#: () -> (the text generator Continue would use, the values it would get), or None (none is
#: installed), or a sentence saying why there is nothing to plan (an empty chat).
PlanSource = Callable[[], "tuple[Generator, dict] | str | None"]


def thousands(number: int) -> str:
    return f"{number:,}"


class ContextView(QWidget):
    """What the model reads next, part by part, with the limit bar and what was cut."""

    planned = Signal(object)  # the ContextPlan now shown, or None
    _answered = Signal(int, object, object)  # from the worker: request number, plan, error sentence

    def __init__(self, source: PlanSource | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.plan: ContextPlan | None = None  # the plan shown
        self.stale = True
        self._asked = 0  # the number of the latest request; older answers are dropped
        self._busy = False  # a worker is planning; a request meanwhile waits for it
        self._dock: QDockWidget | None = None  # the dock the view is in, whose tab may hide it
        self.timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self._answered.connect(self._on_answer)

        self.heading = plain_label()
        self.heading.setObjectName("context_heading")
        self.heading.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setObjectName("context_bar")
        self.bar.setTextVisible(True)
        self.bar.setMinimumHeight(20)
        self.cut = plain_label()
        self.cut.setObjectName("context_cut")
        self.cut.setWordWrap(True)
        self.about = plain_label()  # in the chat: the template's markup, a reply Continue goes on with
        self.about.setObjectName("context_about")
        self.about.setWordWrap(True)
        self.about.setStyleSheet("color: palette(mid);")

        self.body = QPlainTextEdit()
        self.body.setObjectName("context_parts")
        self.body.setReadOnly(True)
        self.body.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        palette = self.body.palette()  # the tints are made for paper: keep paper under them in a dark theme too
        palette.setColor(palette.ColorRole.Base, QColor(PAPER))
        palette.setColor(palette.ColorRole.Text, QColor(INK))
        self.body.setPalette(palette)
        self.body.document().setDocumentMargin(4)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.heading)
        layout.addWidget(self.bar)
        layout.addWidget(self.cut)
        layout.addWidget(self.about)
        layout.addWidget(self.body, 1)
        self._say("Nothing planned yet.")

    # -- when to work it out -------------------------------------------------------------------

    def schedule(self) -> None:
        """Something the plan depends on changed: work it out once the changes pause, if shown."""
        self.stale = True
        if self.on_screen():
            self.timer.start(REFRESH_MS)  # not start(): a start(0) when shown set the interval to 0 for good

    def on_screen(self) -> bool:
        """Shown, and not behind another dock's tab (Qt counts a dock behind a tab as visible)."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.stale:
            self.timer.start(0)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ParentChange:  # put in a dock: its tab coming forward shows the view
            dock = self.parentWidget()
            while dock is not None and not isinstance(dock, QDockWidget):
                dock = dock.parentWidget()
            if dock is not None and dock is not self._dock:
                self._dock = dock
                dock.visibilityChanged.connect(self._dock_shown)
        return super().event(event)

    def _dock_shown(self, shown: bool) -> None:
        if shown and self.stale:
            self.timer.start(0)

    # -- working it out ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Ask the generator for its plan now, on a worker thread (one at a time: a request made
        while one runs goes out when it answers)."""
        if self._busy:
            self.stale = True
            return
        self.stale = False
        chosen = self.source() if self.source is not None else None
        if chosen is None or isinstance(chosen, str):
            self._say(chosen or "No text generator is installed (Tools ▸ Plugins).")
            return
        generator, values = chosen
        self._asked += 1
        self._busy = True
        number = self._asked
        threading.Thread(target=self._plan, args=(number, generator, values), name="studio-context-plan", daemon=True).start()

    def _plan(self, number: int, generator: Generator, values: dict) -> None:
        name = generator.title or generator.id
        chat = bool(str(values.get("messages") or "").strip())  # the chat view's next reply
        plan, error = None, ""
        try:
            plan = plan_for(generator, values)
        except ContextUnavailable as exc:
            error = f"{exc}, so this view cannot show it. {'Sending' if chat else 'Continue'} still works, as that generator decides."
        except StudioError as exc:
            error = f"Cannot work out what {name} reads: {exc}"
        except Exception as exc:  # a plugin's bug must not take the view (or the window) down
            log.exception("the context plan of %s failed", generator.id)
            error = f"Cannot work out what {name} reads: internal error: {type(exc).__name__}: {exc}"
        try:
            self._answered.emit(number, (name, plan, chat), error)
        except RuntimeError:  # the window closed while it was planned
            pass

    def _on_answer(self, number: int, named: tuple, error: str) -> None:
        self._busy = False
        if number == self._asked:
            name, plan, chat = named
            self.show_plan(name, plan, chat) if plan is not None else self._say(error)
        if self.stale and self.on_screen():  # changed while it was planned
            self.timer.start(REFRESH_MS)  # the interval again (see schedule)

    # -- showing it ------------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        """No plan to show: say why, in place of the parts."""
        self.plan = None
        self.heading.setText(text)
        self.bar.hide()
        self.cut.hide()
        self.about.hide()
        self.body.clear()
        self.planned.emit(None)

    def show_plan(self, name: str, plan: ContextPlan, chat: bool = False) -> None:
        """Show ``plan``: a continuation's, or with ``chat`` the chat's next reply."""
        self.plan = plan
        self.heading.setText(f"Next {'reply' if chat else 'Continue'} · {name}")
        self.heading.setToolTip(plain_tip(
            f"What {name} will read for its next reply in the chat: the system prompt and each message kept, "
            "through the model's chat template." if chat else f"What {name} will read when you continue at the cursor, part by part."))
        used, limit = plan.tokens, max(plan.limit, 1)
        self.bar.setRange(0, limit)
        self.bar.setValue(min(used, limit))
        self.bar.setFormat(f"{thousands(used)} / {thousands(limit)} tokens")
        self.bar.setToolTip(plain_tip(
            f"The model reads {thousands(plan.context_length)} tokens at most; {thousands(plan.max_new_tokens)} of them are kept "
            f"for the new text (Max new tokens), which leaves {thousands(plan.limit)} for what it reads."))
        self.bar.show()
        cut = cut_lines(plan)
        self.cut.setText("\n".join(cut) if cut else "Nothing is cut: all of it fits.")
        self.cut.setStyleSheet(f"color: {'#9a4a12' if cut else 'palette(mid)'};")
        self.cut.setToolTip(plain_tip("\n".join(f"{n[:1].upper()}{n[1:]}." for n in plan.notes)))
        self.cut.show()
        about = chat_lines(plan, chat)
        self.about.setText("\n".join(about))
        self.about.setVisible(bool(about))
        self._fill(plan.parts)
        self.planned.emit(plan)

    def _fill(self, parts) -> None:
        scroll = self.body.verticalScrollBar()
        kept = scroll.value()  # where the writer scrolled to stays in view as the plan changes
        document = self.body.document()
        document.clear()
        cursor = QTextCursor(document)
        size = self.body.font().pointSizeF()
        for index, part in enumerate(parts):
            name, tint, ink = KINDS.get(part.kind, (part.kind, "#eeeeee", "#444444"))
            block = QTextBlockFormat()
            block.setBackground(QColor(tint))
            block.setTopMargin(8 if index else 0)
            block.setLeftMargin(2)
            heading = QTextCharFormat()
            heading.setFontWeight(QFont.Weight.Bold)
            heading.setForeground(QColor(ink))
            heading.setFontPointSize(max(size - 1, 7))
            if index:
                cursor.insertBlock(block)
            else:
                cursor.setBlockFormat(block)
            title = [name.upper(), f"{thousands(part.tokens)} tokens"]
            if part.kind == "lore" and part.name:
                title.insert(1, part.name)
            cursor.insertText("  ·  ".join(title), heading)
            detail = reason_shown(part.reason)
            rest = QTextBlockFormat(block)
            rest.setTopMargin(0)
            if detail:
                why = QTextCharFormat()
                why.setFontItalic(True)
                why.setForeground(QColor(ink))
                why.setFontPointSize(max(size - 1, 7))
                cursor.insertBlock(rest)
                cursor.insertText(detail, why)
            text = QTextCharFormat()
            text.setForeground(QColor(INK))
            for line in part.text.split("\n") if part.text else ():
                cursor.insertBlock(rest)
                cursor.insertText(line, text)
        scroll.setValue(min(kept, scroll.maximum()))


def reason_shown(reason: str) -> str:
    """A part's reason as shown under its name: without the words that only repeat the name."""
    if reason in SAID_BY_NAME:
        return ""
    for prefix in NAME_PREFIXES:
        if reason.startswith(prefix):
            reason = reason[len(prefix):]
    return reason[:1].upper() + reason[1:]


def cut_lines(plan: ContextPlan) -> list[str]:
    """What was left out, in a line each (the plan's notes, in full, are the tool tip)."""
    lines = []
    if plan.story_cut_chars:
        lines.append(f"The first {thousands(plan.story_cut_chars)} characters of the story are left out.")
    if plan.memory_cut_chars:
        lines.append(f"The memory's last {thousands(plan.memory_cut_chars)} characters are left out: it alone would crowd out the story.")
    if plan.messages_left_out:
        oldest = "message is" if plan.messages_left_out == 1 else f"{thousands(plan.messages_left_out)} messages are"
        lines.append(f"The oldest {oldest} left out: the chat outgrew the context.")
    if plan.lore_left_out:
        entries = "entry" if len(plan.lore_left_out) == 1 else "entries"
        lines.append(f"Fired but no room for the lore {entries} {', '.join(f'“{n}”' for n in plan.lore_left_out)}.")
    said = ("the story's first", "the memory was cut", "the lore entry", "the chat is longer")  # the lines above say these
    lines += [f"{n[:1].upper()}{n[1:]}." for n in plan.notes if n and not n.startswith(said)]
    return lines


def chat_lines(plan: ContextPlan, chat: bool) -> list[str]:
    """In the chat: what the template's markup costs, and whether the next generation goes on
    with the last reply."""
    if not chat:
        return []
    markup = plan.tokens - sum(part.tokens for part in plan.parts)
    lines = [f"The chat template's markup between the messages: {thousands(markup)} tokens."] if markup > 0 else []
    if plan.continues_reply:
        lines.append("Continue (or Generate) goes on from the model's last reply; a message you send is answered instead.")
    return lines


class ContextWatch(QObject):
    """The next Continue as the view plans it: the text generator the window would use, its
    form's values, the story notes and the text before the cursor; and every change to those
    schedules the view."""

    def __init__(self, view: ContextView, panel: "GeneratePanel", text: "TextWorkspace", story: StoryPanel) -> None:
        super().__init__(view)
        self.view, self.panel, self.text, self.story = view, panel, text, story
        self._forms: set[int] = set()  # the forms whose max new tokens is watched
        view.source = self.next_continue
        editor = text.editor
        editor.document().contentsChanged.connect(view.schedule)
        editor.cursorPositionChanged.connect(view.schedule)
        text.document_replaced.connect(view.schedule)
        story.changed.connect(view.schedule)
        story.replaced.connect(view.schedule)
        panel.generator_changed.connect(lambda _: self._watch_form())
        view.planned.connect(self._show_fired)
        self.chat: "ChatView | None" = None
        self.views: QStackedWidget | None = None  # the Text tab's Story | Chat stack
        self._watch_form()

    def watch_chat(self, chat: "ChatView", views: QStackedWidget) -> None:
        """While ``views`` shows ``chat``, the view plans the chat's next reply; a change to the
        conversation (a message sent, edited, deleted, a reply finished, the system prompt)
        and the switch re-plan."""
        self.chat, self.views = chat, views
        chat.changed.connect(self.view.schedule)
        chat.replaced.connect(self.view.schedule)
        views.currentChanged.connect(lambda _: self.view.schedule())
        self.view.schedule()

    def chat_showing(self) -> bool:
        return self.chat is not None and self.views is not None and self.views.currentWidget() is self.chat

    def _watch_form(self) -> None:
        """The new text's length takes room from the context: a new value re-plans."""
        form = self.panel.form
        if form is not None and id(form) not in self._forms:
            self._forms.add(id(form))
            spin = getattr(form.widgets.get("max_new_tokens"), "spin", None)
            if spin is not None:
                spin.valueChanged.connect(self.view.schedule)
        self.view.schedule()

    def _show_fired(self, plan: ContextPlan | None) -> None:
        """The Story panel shows what its notes cost now, and which lore entries are in (a chat's
        plan says nothing of them: the panel keeps what it showed for the story)."""
        if self.chat is not None and self.chat_showing():
            self._show_read_from(plan)
            return
        parts = plan.parts if plan is not None else ()
        self.story.lorebook.show_fired({p.name: p.reason for p in parts if p.kind == "lore"})

        def cost(kind: str) -> str:
            tokens = [p.tokens for p in parts if p.kind == kind]
            return f"{thousands(sum(tokens))} tokens" if tokens else ""

        memory = cost("memory")
        if plan is not None and plan.memory_cut_chars:  # the Context view says how much
            memory += ", cut"
        self.story.notes_tab.show_tokens(memory, cost("note"))

    def _show_read_from(self, plan: ContextPlan | None) -> None:
        """In the chat, a line above the first message the model still reads (none when it reads all)."""
        sent, origins = self.chat.log.sent_messages()
        first = (1 if sent and sent[0]["role"] == "system" else 0) + (plan.messages_left_out if plan is not None else 0)
        self.chat.mark_read_from(origins[first] if plan is not None and plan.messages_left_out and first < len(origins) else 0)

    def next_continue(self) -> tuple[Generator, dict] | str | None:
        """The generator and values of the next Continue, or in the chat of the next reply."""
        generator = self.panel.current()
        values = self.panel.form.values() if generator is not None and self.panel.form is not None else {}
        if generator is None or generator.kind != "text":  # the Text tab offers one; elsewhere: the built-in
            texts = sorted((g for g in self.panel.generators.values() if g.kind == "text"), key=lambda g: (g.id != "shakespeare", g.id))
            generator, values = (texts[0] if texts else None), {}
        if generator is None:
            return None
        if self.chat_showing():
            return self.next_reply(generator, values)
        values = with_notes(generator, values, self.story.notes())
        values["prompt"] = self.text.prompt_before_cursor()  # what Continue reads
        return generator, values

    def next_reply(self, generator: Generator, values: dict) -> tuple[Generator, dict] | str:
        """What the chat's next reply reads: the conversation as it stands (a last reply is
        continued, as Generate does), with the form's sampling values, as the chat sends them."""
        messages = self.chat.log.as_messages() if self.chat is not None else []
        if not any(m["role"] != "system" for m in messages):
            return ("The chat is empty: write a message below, and this shows what the model reads "
                    "for its reply (the system prompt, then the conversation).")
        names = {param.name for param in generator.params}
        values = {name: value for name, value in values.items() if name in names}
        values.update(prompt="", instruction="", messages=json.dumps(messages, ensure_ascii=False))
        return generator, values
