"""A history entry's link to the chat reply it wrote: named by its opening words, saved and read
back with the project, bounded, a hostile link dropped with a note while the entry stays; and the
reply found again in the conversation after messages before it went, or not at all once gone."""

from __future__ import annotations

import pytest

from studio.core.project.format import Project
from studio.core.project.history import EXCERPT_CHARS, ChatReplyLink, entry_for, passage_from_record
from studio.core.project.load import load_project, read_project
from studio.core.project.save import save_project
from studio.core.text.chat import ChatLog
from test_history_source import _with_history

REPLY = "Love is a star to every wandering bark, whose worth's unknown although his height be taken. " * 4


def test_a_link_is_named_by_its_opening_words_and_keeps_a_bounded_excerpt():
    link = ChatReplyLink.of(2, 1, REPLY)
    assert (link.message, link.take, link.kind) == (2, 1, "chat")
    assert len(link.excerpt) == EXCERPT_CHARS and REPLY.startswith(link.excerpt)
    assert link.label() == "“Love is a star to every…”"
    assert ChatReplyLink.of(0, 0, "Yes.").label() == "“Yes.”"
    assert ChatReplyLink.of(0, 0, "").label() == "(empty)"


def test_the_link_survives_save_and_load(tmp_path):
    entry = entry_for("text", "lm:llama", "Text (llama)", {"messages": "[]", "seed": 4}, 77, source=ChatReplyLink.of(2, 1, REPLY))
    path = save_project(Project(text="", history=[entry]), tmp_path / "chat.studio")
    loaded = load_project(path)
    assert loaded.problems == []
    (back,) = loaded.project.history
    assert back.source == ChatReplyLink(2, 1, REPLY[:EXCERPT_CHARS]) and back.target is not None


@pytest.mark.parametrize(
    "source, why",
    [
        ({"kind": "chat", "message": -1, "take": 0, "excerpt": "x"}, "is not a message and a take"),
        ({"kind": "chat", "message": 0, "take": 10**30, "excerpt": "x"}, "is not a message and a take"),
        ({"kind": "chat", "message": True, "take": 0, "excerpt": "x"}, "is not a message and a take"),
        ({"kind": "chat", "message": 1, "take": "2", "excerpt": "x"}, "is not a message and a take"),
        ({"kind": "chat", "message": 1, "take": 0, "excerpt": None}, "excerpt is not text"),
        ({"kind": "chat", "message": 1, "take": 0}, "excerpt is not text"),
    ],
)
def test_a_hostile_chat_link_is_dropped_with_a_note_and_the_entry_stays(tmp_path, source, why):
    entry = entry_for("text", "lm:llama", "Text (llama)", {"seed": 4}, 77, source=ChatReplyLink.of(1, 0, "Yes."))
    data = save_project(Project(text="", history=[entry]), tmp_path / "chat.studio").read_bytes()
    loaded = read_project(_with_history(data, lambda record: record.update(source=source)))
    (back,) = loaded.project.history
    assert back.source is None and back.params == {"seed": 4}
    (problem,) = loaded.problems
    assert problem.startswith("history entry 1: the link to the chat reply it wrote was left out") and why in problem


def test_an_overlong_excerpt_is_cut_and_made_well_formed():
    problems: list[str] = []
    link = passage_from_record({"kind": "chat", "message": 3, "take": 0, "excerpt": "a\ud800" + "b" * 10_000}, "entry", problems)
    assert problems == [] and isinstance(link, ChatReplyLink)
    assert len(link.excerpt) == EXCERPT_CHARS and "\ud800" not in link.excerpt


def conversation() -> ChatLog:
    log = ChatLog()
    log.set_system("You speak like a sonnet.")
    log.append("user", "What is love?")
    first = log.append("assistant", "A star to every wandering bark.", generated=True)
    log.add_take(first, "An ever-fixed mark.")
    log.append("user", "And time?")
    log.append("assistant", "Time is a thief.", generated=True)
    return log


def test_a_reply_is_found_at_its_place_then_nearby_and_not_once_gone():
    log = conversation()
    assert log.find_reply(2, 0, "A star to every wandering bark.") == (2, 0)
    assert log.find_reply(2, 1, "An ever-fixed mark.") == (2, 1)  # the take it was, though another is shown
    assert log.find_reply(4, 0, "Time is a thief.") == (4, 0)
    log.delete(1)  # a message before it went: it is found where it is now
    assert log.find_reply(4, 0, "Time is a thief.") == (3, 0)
    log.edit(3, "Time is a thief. It steals our days.")  # continued, or edited after its opening: the same reply
    assert log.find_reply(4, 0, "Time is a thief.") == (3, 0)
    log.edit(3, "Hours flee.")  # its opening edited away
    assert log.find_reply(4, 0, "Time is a thief.") is None
    log.delete(1)
    assert log.find_reply(2, 0, "A star to every wandering bark.") is None
    assert log.find_reply(1, 0, "") is None  # an empty reply is only found at its own place
