"""The Context view while the Text tab shows the chat, driven as a writer would: the Story | Chat
switch clicked, the system prompt typed, messages typed and sent with Enter, a reply deleted and
continued with its buttons; the view says what the real llama fixture (128 tokens of context,
a chat template) reads for its next reply: each message kept with its tokens, the oldest left out,
a last reply that Continue goes on from; and the tokens are those the reply's job reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from studio.host import Host
from studio.ui.app import create_window

LLAMA = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models" / "llama"
CLICK = Qt.MouseButton.LeftButton


@pytest.fixture
def window(qtbot):
    host = Host()
    win = create_window(host=host)
    qtbot.addWidget(win)
    win.show()
    assert win.add_model_folder_path(str(LLAMA))
    win.tabs.setCurrentWidget(win.text)
    yield win
    win._closing = True  # no unsaved-changes question at teardown
    win.probe_thread.join(20)
    host.shutdown()


def heading(window) -> str:
    return window.context_view.heading.text()


def planned(window, qtbot, check, timeout=15000):
    view = window.context_view
    qtbot.waitUntil(lambda: view.plan is not None and check(view.plan), timeout=timeout)
    return view.plan


def send(qtbot, view, text):
    view.input.setFocus()
    qtbot.keyClicks(view.input, text)
    qtbot.keyClick(view.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not view.running, timeout=60000)


def set_new_tokens(window, value):
    window.generate_panel.form.widgets["max_new_tokens"].spin.setValue(value)


def test_the_context_view_shows_the_next_reply_while_the_chat_is_in_front(window, qtbot, choose):
    assert window.generate_panel.select("lm:llama")
    set_new_tokens(window, 8)
    choose(window, "Text", "Show context")
    editor = window.text.editor
    editor.setFocus()
    qtbot.keyClicks(editor, "The rain had not stopped for days.")
    planned(window, qtbot, lambda plan: plan.parts[-1].kind == "story")
    assert heading(window) == "Next Continue · Text (llama)"

    chat = window.chatting
    qtbot.mouseClick(chat.switch.chat_button, CLICK)
    view = chat.view
    qtbot.waitUntil(lambda: "The chat is empty" in heading(window))
    assert window.context_view.plan is None and not window.context_view.bar.isVisible()

    qtbot.mouseClick(view.system, CLICK)
    qtbot.keyClicks(view.system, "You speak like a sonnet.")
    send(qtbot, view, "What is love?")
    reply = view.log.messages[-1]
    expected = [("system", "You speak like a sonnet."), ("user", "What is love?"), ("assistant", reply.text)]
    plan = planned(window, qtbot, lambda plan: [(p.kind, p.text) for p in plan.parts] == expected)
    assert heading(window) == "Next reply · Text (llama)"
    assert plan.continues_reply and plan.prompt.endswith(reply.text)
    assert window.context_view.cut.text() == "Nothing is cut: all of it fits."
    about = window.context_view.about.text()
    assert "Continue (or Generate) goes on from the model's last reply" in about
    assert f"markup between the messages: {plan.tokens - sum(p.tokens for p in plan.parts)} tokens" in about
    assert window.context_view.bar.format() == f"{plan.tokens} / 120 tokens"
    assert not view.left_out_line.isVisible()  # it reads the whole chat
    shown = window.context_view.body.toPlainText()
    assert "SYSTEM PROMPT" in shown and f"YOU  ·  {plan.parts[1].tokens} tokens" in shown and "What is love?" in shown

    # What the view says the Continue reads is what the job reads.
    tokens = plan.tokens
    qtbot.mouseClick(view.blocks[-1].continue_button, CLICK)
    job = next(r.job for r in view.replies.values())
    qtbot.waitUntil(lambda: not view.running, timeout=60000)
    assert job.result.info["prompt_tokens"] == tokens

    # The system prompt typed, and the reply deleted: the view follows.
    view.system.setFocus()
    qtbot.keyClicks(view.system, " Briefly.")
    planned(window, qtbot, lambda plan: plan.parts[0].text == "You speak like a sonnet. Briefly.")
    qtbot.mouseClick(view.blocks[-1].delete_button, CLICK)
    plan = planned(window, qtbot, lambda plan: [p.kind for p in plan.parts] == ["system", "user"])
    assert not plan.continues_reply and plan.parts[-1].reason == "your message: the model answers it"
    assert "goes on from" not in window.context_view.about.text() and window.context_view.about.isVisible()

    # Back to the story: the next Continue again.
    qtbot.mouseClick(chat.switch.story_button, CLICK)
    plan = planned(window, qtbot, lambda plan: plan.parts[-1].kind == "story")
    assert heading(window) == "Next Continue · Text (llama)"
    assert plan.parts[-1].text == "The rain had not stopped for days." and not window.context_view.about.isVisible()


def test_a_chat_that_outgrew_the_context_shows_its_oldest_messages_left_out(window, qtbot, choose):
    assert window.generate_panel.select("lm:llama")
    set_new_tokens(window, 8)
    choose(window, "Text", "Show context")
    chat = window.chatting
    qtbot.mouseClick(chat.switch.chat_button, CLICK)
    view = chat.view
    for number in range(4):
        send(qtbot, view, f"Question {number}: tell me of the sea, the sky and the long grey road home.")

    def shows_the_chat(plan):  # the plan made after the last reply finished (not while it streamed)
        kept = view.log.as_messages()[plan.messages_left_out:]
        return [(p.kind, p.text) for p in plan.parts] == [(m["role"], m["content"]) for m in kept]

    plan = planned(window, qtbot, lambda plan: plan.messages_left_out > 0 and shows_the_chat(plan))
    assert plan.continues_reply and plan.parts[0].kind == "user"
    assert plan.tokens <= plan.limit == 120
    oldest = "message is" if plan.messages_left_out == 1 else f"{plan.messages_left_out} messages are"
    assert f"The oldest {oldest} left out: the chat outgrew the context." in window.context_view.cut.text()
    # In the chat, a line above the first message the model still reads.
    line = view.left_out_line
    assert line.isVisible() and "no longer reads the messages above" in line.text()
    after = view.list_layout.itemAt(view.list_layout.indexOf(line) + 1).widget()
    assert after.message.text == plan.parts[0].text and view.log.messages.index(after.message) == plan.messages_left_out

    # The next message sent: the job reads what the view showed for it.
    view.input.setFocus()
    qtbot.keyClicks(view.input, "And the stars?")
    qtbot.keyClick(view.input, Qt.Key.Key_Return)
    job = next(r.job for r in view.replies.values())
    qtbot.waitUntil(lambda: not view.running, timeout=60000)
    last = view.log.messages[-1]
    view.blocks[-1].text.setFocus()
    qtbot.keyClick(view.blocks[-1].text, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(view.blocks[-1].text, Qt.Key.Key_Delete)  # the reply emptied: the next reply is a new one
    assert last.text == ""
    plan = planned(window, qtbot, lambda plan: plan.parts[-1].text == "And the stars?")
    assert plan.tokens == job.result.info["prompt_tokens"]


def test_the_story_panel_says_the_chat_does_not_read_its_notes(window, qtbot):
    assert window.generate_panel.select("lm:llama")
    note = window.story_panel.chat_note
    assert note.isHidden()
    qtbot.mouseClick(window.chatting.switch.chat_button, CLICK)
    assert not note.isHidden() and "reads its own system prompt, not these notes" in note.text()
    qtbot.mouseClick(window.chatting.switch.story_button, CLICK)
    assert note.isHidden()
