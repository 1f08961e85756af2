"""A conversation with a chat model as plain data: messages, a reply's takes, saving.

Qt-free so the rules are tested without a window: the chat view shows a ``ChatLog`` and
changes it only through the methods here; the project file stores ``to_json()`` and reads
it back with ``from_json`` (which never raises on hostile data: it keeps what it can and
says what it dropped).

A reply keeps every take the model gave at its place (retries, stopped takes) in ``takes``;
``text`` is always the chosen take, so editing a reply edits that take and browsing away
and back keeps the edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant")
#: Bounds on what a project file may hold: past these a hostile file is cut, never loaded whole.
MAX_MESSAGES = 5_000
MAX_TAKES = 100
MAX_TEXT_CHARS = 1_000_000
FORMAT_VERSION = 1


@dataclass
class ChatMessage:
    """One message; for a reply, ``takes`` are its alternatives and ``chosen`` the one shown."""

    role: str
    text: str
    takes: list[str] = field(default_factory=list)
    chosen: int = 0
    generated: bool = False

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"A chat message's role is one of {', '.join(ROLES)}, not {self.role!r}.")
        if not self.takes:
            self.takes = [self.text]
        self.chosen = min(max(0, self.chosen), len(self.takes) - 1)
        self.takes[self.chosen] = self.text

    def set_text(self, text: str) -> None:
        self.text = text
        self.takes[self.chosen] = text

    def choose(self, take: int) -> None:
        """Show take ``take`` (clamped to the takes there are)."""
        self.chosen = min(max(0, take), len(self.takes) - 1)
        self.text = self.takes[self.chosen]

    def add_take(self, text: str = "") -> int:
        """A new take, chosen; past ``MAX_TAKES`` the oldest other take is dropped."""
        if len(self.takes) >= MAX_TAKES:
            del self.takes[0]
        self.takes.append(text)
        self.chosen = len(self.takes) - 1
        self.text = text
        return self.chosen


class ChatLog:
    """The conversation, oldest first; a system prompt, when set, is the first message."""

    def __init__(self, messages: list[ChatMessage] | None = None) -> None:
        self.messages: list[ChatMessage] = list(messages or [])

    def __len__(self) -> int:
        return len(self.messages)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChatLog) and self.messages == other.messages

    def __repr__(self) -> str:
        return f"ChatLog({self.messages!r})"

    # -- the system prompt ---------------------------------------------------------------
    @property
    def system(self) -> str:
        if self.messages and self.messages[0].role == "system":
            return self.messages[0].text
        return ""

    def set_system(self, text: str) -> None:
        """Set the system prompt; an empty one removes the system message."""
        has = bool(self.messages) and self.messages[0].role == "system"
        if text and has:
            self.messages[0].set_text(text)
        elif text:
            self.messages.insert(0, ChatMessage("system", text))
        elif has:
            del self.messages[0]

    # -- changes -------------------------------------------------------------------------
    def append(self, role: str, text: str, generated: bool = False) -> int:
        """Add a message at the end; returns its index."""
        if role == "system":
            raise ValueError("The system prompt is set with set_system, not appended.")
        self.messages.append(ChatMessage(role, text, generated=generated))
        return len(self.messages) - 1

    def edit(self, index: int, text: str) -> None:
        """The writer changed message ``index``: a reply's edit lands in its chosen take."""
        message = self.messages[index]
        message.set_text(text)
        if message.role == "assistant" and not text:
            message.generated = False

    def replace_reply(self, index: int, text: str, generated: bool = True) -> None:
        """Put ``text`` in reply ``index``'s chosen take (a streaming or finished generation)."""
        message = self._reply(index)
        message.set_text(text)
        message.generated = generated

    def add_take(self, index: int, text: str = "") -> int:
        """A retry: a new take of reply ``index``, chosen; the earlier ones stay browsable."""
        message = self._reply(index)
        take = message.add_take(text)
        message.generated = True
        return take

    def choose_take(self, index: int, take: int) -> None:
        self._reply(index).choose(take)

    def delete(self, index: int) -> None:
        del self.messages[index]

    def _reply(self, index: int) -> ChatMessage:
        message = self.messages[index]
        if message.role != "assistant":
            raise ValueError(f"Message {index + 1} is the {message.role}'s, not a reply.")
        return message

    def find_reply(self, index: int, take: int, opening: str) -> tuple[int, int] | None:
        """Where a reply that was at ``index`` (take ``take``) and began with ``opening`` is now:
        ``(index, take)`` of the take that begins so, the one at its old place first, then the
        nearest; None when no take does (the reply deleted, or its opening edited away). An
        empty ``opening`` (a reply that wrote nothing) is only found at its old place."""
        words = " ".join(opening.split())[:60]

        def begins(text: str) -> bool:
            return " ".join(text[: len(opening) * 2 + 64].split()).startswith(words)

        if not words:
            if 0 <= index < len(self.messages) and self.messages[index].role == "assistant" and take < len(self.messages[index].takes):
                return index, take
            return None
        for place in sorted(range(len(self.messages)), key=lambda i: abs(i - index)):
            message = self.messages[place]
            if message.role != "assistant":
                continue
            order = ([take] if take < len(message.takes) else []) + [t for t in range(len(message.takes)) if t != take]
            found = next((t for t in order if begins(message.takes[t])), None)
            if found is not None:
                return place, found
        return None

    # -- what the model sees -------------------------------------------------------------
    def as_messages(self, upto: int | None = None) -> list[dict[str, str]]:
        """The messages before ``upto`` (all when None) as chat-template ``{role, content}`` dicts.

        Empty user messages are left out (they would only confuse a template); an empty
        reply is kept only in the last place, where the model writes it. Two messages of the
        user's in a row (a reply deleted, or one that failed) are sent as one: many templates
        refuse turns that do not alternate.
        """
        return self.sent_messages(upto)[0]

    def sent_messages(self, upto: int | None = None) -> tuple[list[dict[str, str]], list[int]]:
        """``as_messages(upto)``, and for each the index of the message it begins with."""
        chosen = self.messages if upto is None else self.messages[:upto]
        out: list[dict[str, str]] = []
        origins: list[int] = []
        for position, message in enumerate(chosen):
            last = position == len(chosen) - 1
            if not message.text and not (last and message.role == "assistant"):
                continue
            if out and message.role == "user" and out[-1]["role"] == "user":
                out[-1]["content"] += "\n\n" + message.text
                continue
            out.append({"role": message.role, "content": message.text})
            origins.append(position)
        return out, origins

    # -- saving --------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "messages": [
                {
                    "role": m.role,
                    "text": m.text,
                    "takes": list(m.takes),
                    "chosen": m.chosen,
                    "generated": m.generated,
                }
                for m in self.messages
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> tuple["ChatLog", list[str]]:
        """The log ``to_json`` wrote, and the problems found as sentences (never raises).

        Whatever is malformed is dropped or cut to the bounds above and named in the
        problems, so a hostile or damaged project still opens with the rest of its chat.
        """
        problems: list[str] = []
        if data is None:
            return cls(), problems
        if isinstance(data, list):  # a bare list of messages is read too
            data = {"messages": data}
        if not isinstance(data, dict):
            return cls(), [f"The chat is not a JSON object (it is {type(data).__name__}); it was left empty."]
        raw = data.get("messages", [])
        if not isinstance(raw, list):
            return cls(), ["The chat's messages are not a list; the chat was left empty."]
        if len(raw) > MAX_MESSAGES:
            problems.append(f"The chat has {len(raw):,} messages; only the last {MAX_MESSAGES:,} were kept.")
            raw = raw[-MAX_MESSAGES:]
        messages: list[ChatMessage] = []
        dropped = 0
        for position, item in enumerate(raw):
            message = _message_from_json(item, position, problems)
            if message is None:
                dropped += 1
                continue
            if message.role == "system" and messages:
                message.role = "user"
                problems.append(f"Chat message {position + 1} is a second system prompt; it was kept as a user message.")
            messages.append(message)
        if dropped:
            problems.append(f"{dropped} chat message{'s' if dropped != 1 else ''} could not be read and {'were' if dropped != 1 else 'was'} left out.")
        return cls(messages), problems


def _bounded_text(value: Any, what: str, problems: list[str]) -> str | None:
    if not isinstance(value, str):
        return None
    if len(value) > MAX_TEXT_CHARS:
        problems.append(f"{what} is {len(value):,} characters; it was cut to {MAX_TEXT_CHARS:,}.")
        return value[:MAX_TEXT_CHARS]
    return value


def _message_from_json(item: Any, position: int, problems: list[str]) -> ChatMessage | None:
    if not isinstance(item, dict):
        return None
    role = item.get("role")
    what = f"Chat message {position + 1}"
    if role not in ROLES:
        return None
    text = _bounded_text(item.get("text", ""), what, problems)
    if text is None:
        return None
    takes_raw = item.get("takes", [])
    takes: list[str] = []
    if isinstance(takes_raw, list):
        if len(takes_raw) > MAX_TAKES:
            problems.append(f"{what} has {len(takes_raw):,} takes; only the last {MAX_TAKES} were kept.")
            takes_raw = takes_raw[-MAX_TAKES:]
        for take in takes_raw:
            bounded = _bounded_text(take, f"A take of {what.lower()}", problems)
            if bounded is not None:
                takes.append(bounded)
    if role != "assistant":
        takes = []
    chosen = item.get("chosen", 0)
    if isinstance(chosen, bool) or not isinstance(chosen, int) or not 0 <= chosen < max(1, len(takes)):
        chosen = len(takes) - 1 if takes else 0
    generated = item.get("generated", False) is True and role == "assistant"
    if takes:
        takes[chosen] = text  # the shown text wins over a stale copy of the take
    return ChatMessage(role, text, takes=takes, chosen=chosen, generated=generated)
