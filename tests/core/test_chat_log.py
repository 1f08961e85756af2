"""The chat as plain data: a reply's takes, the system prompt, what the model reads, and the
project's copy read back, hostile copies included (bounded, named, never raising)."""

from __future__ import annotations

import json

import pytest

from studio.core.text.chat import MAX_MESSAGES, MAX_TAKES, MAX_TEXT_CHARS, ChatLog, ChatMessage


def conversation() -> ChatLog:
    log = ChatLog()
    log.set_system("Be brief.")
    log.append("user", "What is love?")
    reply = log.append("assistant", "A star", generated=True)
    log.add_take(reply, "A wandering bark")
    return log


def test_editing_a_reply_edits_its_chosen_take_and_browsing_keeps_the_edit():
    log = conversation()
    reply = log.messages[2]
    assert (reply.takes, reply.chosen, reply.text) == (["A star", "A wandering bark"], 1, "A wandering bark")
    log.edit(2, "A wandering bark, mended")
    log.choose_take(2, 0)
    assert reply.text == "A star"
    log.choose_take(2, 5)  # past the last: the last
    assert reply.text == "A wandering bark, mended" and reply.chosen == 1
    log.replace_reply(2, "A wandering bark, mended, and more")
    assert reply.takes == ["A star", "A wandering bark, mended, and more"]
    with pytest.raises(ValueError, match="not a reply"):
        log.add_take(1)


def test_the_system_prompt_is_the_first_message_while_it_has_text():
    log = conversation()
    assert log.system == "Be brief." and log.messages[0].role == "system"
    log.set_system("Be kind.")
    assert log.system == "Be kind." and len(log) == 3
    log.set_system("")
    assert log.system == "" and [m.role for m in log.messages] == ["user", "assistant"]
    with pytest.raises(ValueError):
        log.append("system", "twice")


def test_what_the_model_reads_before_a_reply_and_for_its_continuation():
    log = conversation()
    log.append("user", "")  # an empty message the writer left: not sent
    log.append("user", "And time?")
    empty = log.append("assistant", "", generated=True)
    assert log.as_messages(empty) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is love?"},
        {"role": "assistant", "content": "A wandering bark"},
        {"role": "user", "content": "And time?"},
    ]
    assert log.as_messages(empty + 1)[-1] == {"role": "assistant", "content": ""}  # the reply being written


def test_two_messages_of_the_users_in_a_row_are_sent_as_one():
    log = ChatLog()
    log.append("user", "Hello?")
    log.append("user", "Are you there?")
    assert log.as_messages() == [{"role": "user", "content": "Hello?\n\nAre you there?"}]
    assert len(log) == 2  # shown as the writer wrote them


def test_a_log_comes_back_from_its_json_equal():
    log = conversation()
    data = json.loads(json.dumps(log.to_json()))
    again, problems = ChatLog.from_json(data)
    assert problems == [] and again == log and again.messages[2].generated


@pytest.mark.parametrize("data, problem", [
    ("a string", "not a JSON object"),
    ({"messages": {"role": "user"}}, "not a list"),
    ({"messages": [1, {"role": "wizard", "text": "x"}, {"role": "user", "text": 5}]}, "3 chat messages could not be read"),
])
def test_a_damaged_chat_opens_empty_or_in_part_and_says_why(data, problem):
    log, problems = ChatLog.from_json(data)
    assert any(problem in p for p in problems) and len(log) == 0


def test_a_hostile_chat_is_held_to_its_bounds():
    huge = "x" * (MAX_TEXT_CHARS + 10)
    data = {"messages": [{"role": "user", "text": "hi"}] * (MAX_MESSAGES + 3) + [
        {"role": "system", "text": "sneaky"},
        {"role": "assistant", "text": huge, "takes": ["t"] * (MAX_TAKES + 50), "chosen": 10**9, "generated": "yes"},
    ]}
    log, problems = ChatLog.from_json(data)
    assert len(log) == MAX_MESSAGES
    reply = log.messages[-1]
    assert len(reply.text) == MAX_TEXT_CHARS and len(reply.takes) == MAX_TAKES
    assert reply.chosen == MAX_TAKES - 1 and reply.takes[reply.chosen] == reply.text and reply.generated is False
    assert log.messages[-2].role == "user"  # a second system prompt is kept as the writer's words
    assert any("only the last" in p for p in problems) and any("cut to" in p for p in problems)
    assert any("second system prompt" in p for p in problems)


def test_a_message_has_a_known_role():
    with pytest.raises(ValueError, match="role"):
        ChatMessage("wizard", "hi")
