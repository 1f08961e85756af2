"""The Text tab's chat view driven as a writer would: the Story | Chat switch clicked, a message
typed and sent with Enter, a reply from the real llama fixture (which has a chat template)
edited in place, continued, retried and its takes browsed; a slow reply stopped with Esc; the
switch greyed, with the reason, for the built-in Shakespeare model (no chat template)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

import studio
from studio.core.text.chat import ChatLog

LLAMA = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models" / "llama"
CLICK = Qt.MouseButton.LeftButton


class SlowChat(studio.Generator):
    """A chat generator as the LM plugin's contract has it (``messages``, ``chat_template``),
    writing a word every 50 ms so a reply can be stopped mid-way."""

    id = "test-slow-chat"
    title = "Slow chat"
    kind = "text"
    chat_template = True
    params = (
        studio.Param("prompt", "text", ""),
        studio.Param("instruction", "text", ""),
        studio.Param("messages", "text", ""),
        studio.Param("max_new_tokens", "int", 200, min=1, max=400),
        studio.Param("seed", "seed"),
    )

    def generate(self, request, ctx):
        out = ""
        for i in range(request["max_new_tokens"]):
            ctx.check_cancelled()
            time.sleep(0.05)
            out += f" word{i}"
            yield studio.Preview("text", f" word{i}")
        yield studio.Result("text", out, self.id, dict(request.params))


@pytest.fixture
def window(open_window):
    win = open_window(SlowChat())
    assert win.add_model_folder_path(str(LLAMA))
    win.tabs.setCurrentWidget(win.text)
    return win


def open_chat(qtbot, window, generator_id):
    assert window.generate_panel.select(generator_id)
    chat = window.chatting
    qtbot.mouseClick(chat.switch.chat_button, CLICK)
    assert chat.stack.currentWidget() is chat.view
    return chat.view


def send(qtbot, view, text):
    view.input.setFocus()
    qtbot.keyClicks(view.input, text)
    qtbot.keyClick(view.input, Qt.Key.Key_Return)


def wait_reply(qtbot, view, timeout=60000):
    qtbot.waitUntil(lambda: not view.running, timeout=timeout)


def reply_block(view):
    block = view.blocks[-1]
    assert block.message.role == "assistant"
    return block


def test_a_reply_is_generated_edited_continued_and_retried(window, qtbot):
    view = open_chat(qtbot, window, "lm:llama")
    assert not view.banner.isVisible() and view.send_button.isEnabled()
    qtbot.mouseClick(view.system, CLICK)
    qtbot.keyClicks(view.system, "You speak like a sonnet.")
    jobs = []
    window.bridge.state_changed.connect(lambda job, state, message: jobs.append(job) if job not in jobs else None)

    send(qtbot, view, "What is love?")
    assert view.running and view.send_button.text() == "Stop"  # it streams: Stop is offered
    assert view.input.toPlainText() == ""
    wait_reply(qtbot, view)
    user, reply = view.blocks
    assert user.text.toPlainText() == "What is love?" and user.message.role == "user"
    first = reply.text.toPlainText()
    assert first and reply.message.text == first and reply.message.generated
    asked = json.loads(jobs[-1].request.params["messages"])
    assert asked == [{"role": "system", "content": "You speak like a sonnet."}, {"role": "user", "content": "What is love?"}]

    # Edited in place: the reply's own text box, as the writer types into it.
    reply.text.setFocus()
    qtbot.keyClick(reply.text, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(reply.text, "Love is a star")
    assert view.log.messages[-1].text == "Love is a star"

    # Continued: the model goes on after the edited text.
    qtbot.mouseClick(reply.continue_button, CLICK)
    wait_reply(qtbot, view)
    continued = reply.text.toPlainText()
    assert continued.startswith("Love is a star") and len(continued) > len("Love is a star")
    asked = json.loads(jobs[-1].request.params["messages"])
    assert asked[-1] == {"role": "assistant", "content": "Love is a star"}
    assert reply.message.takes == [continued]  # a continuation grows the take, it is not a new one

    # Retried: a new take; the earlier one is kept and browsed with ‹ ›.
    qtbot.mouseClick(reply.retry_button, CLICK)
    wait_reply(qtbot, view)
    assert len(reply.message.takes) == 2 and reply.take_label.text() == "2 / 2" and reply.take_label.isVisible()
    second = reply.text.toPlainText()
    assert second and json.loads(jobs[-1].request.params["messages"])[-1]["role"] == "user"  # a new reply to the question
    qtbot.mouseClick(reply.previous_take, CLICK)
    assert reply.text.toPlainText() == continued and reply.take_label.text() == "1 / 2"
    assert not reply.previous_take.isEnabled() and reply.next_take.isEnabled()
    qtbot.mouseClick(reply.next_take, CLICK)
    assert reply.text.toPlainText() == second
    assert window.project.modified  # the conversation is part of the project


def test_enter_sends_and_shift_enter_starts_a_new_line(window, qtbot):
    view = open_chat(qtbot, window, "lm:llama")
    view.input.setFocus()
    qtbot.keyClicks(view.input, "Two")
    qtbot.keyClick(view.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(view.input, "lines")
    assert view.input.toPlainText() == "Two\nlines" and not view.log.messages
    qtbot.keyClick(view.input, Qt.Key.Key_Return)
    wait_reply(qtbot, view)
    assert view.log.messages[0].text == "Two\nlines" and view.log.messages[1].text


def test_esc_stops_a_reply_at_once_and_keeps_it_as_a_take(window, qtbot):
    view = open_chat(qtbot, window, "test-slow-chat")
    send(qtbot, view, "Talk to me")
    reply = reply_block(view)
    qtbot.waitUntil(lambda: "word2" in reply.text.toPlainText(), timeout=10000)
    assert reply.text.isReadOnly()  # no typing into a reply while it streams
    qtbot.keyClick(view.input, Qt.Key.Key_Escape)
    wait_reply(qtbot, view, 5000)
    kept = reply.text.toPlainText()
    assert kept.startswith(" word0") and "word199" not in kept
    qtbot.wait(200)
    assert reply.text.toPlainText() == kept == view.log.messages[-1].text  # nothing arrives after Stop
    assert not reply.text.isReadOnly() and reply.status.text() == "stopped"

    # Retried and stopped again with the Stop button: both takes are kept.
    qtbot.mouseClick(reply.retry_button, CLICK)
    qtbot.waitUntil(lambda: "word1" in reply.text.toPlainText(), timeout=10000)
    assert view.send_button.text() == "Stop"
    qtbot.mouseClick(view.send_button, CLICK)
    wait_reply(qtbot, view, 5000)
    assert len(reply.message.takes) == 2 and reply.message.takes[0] == kept and reply.message.takes[1]


def test_the_chat_switch_is_greyed_for_a_model_without_a_chat_template(window, qtbot):
    switch = window.chatting.switch
    assert window.generate_panel.select("shakespeare")
    assert not switch.chat_button.isEnabled()
    tip = switch.chat_button.toolTip()
    assert "has no chat template: it cannot chat" in tip and "Text (llama)" in tip
    qtbot.mouseClick(switch.chat_button, CLICK)
    assert window.chatting.stack.currentWidget() is not window.chatting.view  # a greyed switch does nothing
    assert window.generate_panel.select("lm:llama")
    assert switch.chat_button.isEnabled()
    view = open_chat(qtbot, window, "lm:llama")
    # Chatting, the writer picks the built-in model: the view says which models can chat.
    assert window.generate_panel.select("shakespeare")
    assert view.banner.isVisible() and "Text (llama)" in view.banner.text()
    assert not view.input.isEnabled()
    qtbot.mouseClick(switch.story_button, CLICK)
    assert window.chatting.stack.currentWidget() is not view


def test_the_chat_log_is_shown_and_given_back_whole(window, qtbot):
    data = {"messages": [
        {"role": "system", "text": "Be brief."},
        {"role": "user", "text": "Hello"},
        {"role": "assistant", "text": "Hi there", "takes": ["Hey", "Hi there"], "chosen": 1, "generated": True},
    ]}
    log, problems = ChatLog.from_json(data)
    assert problems == []
    view = open_chat(qtbot, window, "lm:llama")
    view.set_chat_log(log)
    assert view.system.toPlainText() == "Be brief."
    assert [b.text.toPlainText() for b in view.blocks] == ["Hello", "Hi there"]
    assert reply_block(view).take_label.text() == "2 / 2"
    assert view.chat_log().to_json() == ChatLog.from_json(data)[0].to_json()


def test_the_chat_is_saved_with_the_project_and_comes_back(window, qtbot, tmp_path, monkeypatch, choose):
    view = open_chat(qtbot, window, "lm:llama")
    qtbot.mouseClick(view.system, CLICK)
    qtbot.keyClicks(view.system, "Be brief.")
    send(qtbot, view, "Hello there")
    wait_reply(qtbot, view)
    reply = reply_block(view)
    qtbot.mouseClick(reply.retry_button, CLICK)
    wait_reply(qtbot, view)
    before = view.chat_log().to_json()
    assert len(before["messages"]) == 3 and len(before["messages"][2]["takes"]) == 2
    assert window.isWindowModified()

    path = tmp_path / "talk.studio"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Save project")
    qtbot.waitUntil(lambda: not window.project.saving and path.is_file(), timeout=20000)
    qtbot.wait(50)  # the save's report is queued to the GUI thread
    choose(window, "File", "New project")
    assert view.blocks == [] and view.system.toPlainText() == "" and view.empty_hint.isVisible()

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    choose(window, "File", "Open project…")
    qtbot.waitUntil(lambda: len(view.blocks) == 2, timeout=20000)
    assert view.chat_log().to_json() == before
    assert view.system.toPlainText() == "Be brief." and view.blocks[1].take_label.text() == "2 / 2"


def test_the_generate_panels_button_answers_in_the_chat_and_leaves_the_page_alone(window, qtbot):
    view = open_chat(qtbot, window, "lm:llama")
    window.text.editor.setPlainText("The page stays as it is.")
    view.input.setFocus()
    qtbot.keyClicks(view.input, "Hello")
    qtbot.mouseClick(window.generate_panel.button, CLICK)  # typed: sent
    wait_reply(qtbot, view)
    assert [m.role for m in view.log.messages] == ["user", "assistant"] and view.log.messages[1].text
    reply = view.log.messages[1].text
    qtbot.mouseClick(window.generate_panel.button, CLICK)  # nothing typed: the last reply goes on
    wait_reply(qtbot, view)
    assert len(view.log.messages) == 2 and view.log.messages[1].text.startswith(reply)
    assert window.text.editor.toPlainText() == "The page stays as it is."
    window.text.editor.document().setModified(False)


def test_a_reply_holds_exactly_what_its_box_shows_even_with_odd_characters(qtbot):
    """A small random model writes control characters; Qt shows some of them otherwise (a
    no-break space as a space, a line separator as a new line). The reply keeps the text as
    shown, so an edit, a save or a continuation never finds two versions of it."""
    from studio.core.text.chat import ChatMessage
    from studio.ui.editor.chat_message import MessageBlock
    from studio.ui.editor.chat_view import showable

    odd = "a\x0cb\r\nc\xa0d\u2028e\u2029f\tg\x00h\x1e\x7f end"
    block = MessageBlock(ChatMessage("assistant", showable(odd)))
    qtbot.addWidget(block)
    assert block.text.toPlainText() == block.message.text == "ab\nc d\ne\nf\tgh end"


def test_text_stop_in_the_menu_stops_a_chat_reply(window, qtbot, choose):
    view = open_chat(qtbot, window, "test-slow-chat")
    send(qtbot, view, "Talk to me")
    reply = reply_block(view)
    qtbot.waitUntil(lambda: "word1" in reply.text.toPlainText(), timeout=10000)
    choose(window, "Text", "Stop")
    wait_reply(qtbot, view, 5000)
    assert "word199" not in reply.text.toPlainText() and reply.status.text() == "stopped"


def test_a_deleted_message_can_be_put_back(window, qtbot):
    log, _ = ChatLog.from_json({"messages": [
        {"role": "user", "text": "Hello"},
        {"role": "assistant", "text": "Hi there", "takes": ["Hey", "Hi there"], "chosen": 1},
        {"role": "user", "text": "Bye"},
    ]})
    view = open_chat(qtbot, window, "lm:llama")
    view.set_chat_log(log)
    qtbot.mouseClick(view.blocks[1].delete_button, CLICK)
    assert [m.text for m in view.log.messages] == ["Hello", "Bye"]
    assert view.undo_bar.isVisible() and "the reply and its 2 takes" in view.undo_label.text()
    qtbot.mouseClick(view.undo_button, CLICK)
    assert [m.text for m in view.log.messages] == ["Hello", "Hi there", "Bye"] and view.log.messages[1].takes == ["Hey", "Hi there"]
    assert not view.undo_bar.isVisible() and [b.text.toPlainText() for b in view.blocks] == ["Hello", "Hi there", "Bye"]
