"""The generation history: every generation of a project, with what it takes to make it again.

An entry records the generator, the model it ran, the parameters (seed included) and
where its output went: the id of the layer or clip it made, or, for text, the key under
which the text editor marks the generated words (``studio.core.text.document.GeneratedSpans``).
The history is a log, not part of undo: undoing a generation keeps its entry, whose target
is then simply gone (the panel says so), so the parameters of a take you threw away can
still be reused.

An entry made from a passage of the text (Illustrate selection, Score this scene) carries
that passage as its ``source`` (``Passage``): where it lay and how it began, so the History
can name it and find it again after the text was edited. A reply written in the Text tab's
chat carries the reply instead (``ChatReplyLink``): its place in the conversation, its take
and how it began, so the History can name it, show it and ask for a new take of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from studio.core.base.ids import new_id
from studio.core.media.text import well_formed
from studio.core.project.outputs import plain_value

#: The parameters whose words name a generation in a list, best first.
_SUMMARY_KEYS = ("prompt", "key", "instruction")
#: Those that hold the user's own words (quoted in a list); the others are settings.
_QUOTED_KEYS = ("prompt", "instruction")
#: How much of a passage an entry keeps to name it and find it again: a project's history
#: is a small log, never a second copy of the manuscript.
EXCERPT_CHARS = 200
#: The furthest position a passage may name (a Qt text position is a 32-bit int).
MOST_POSITION = 2**31 - 1


@dataclass(frozen=True)
class Passage:
    """The passage of the text a generation was made from: ``[start, end)`` in the editor's
    positions when it was last seen, and its first ``EXCERPT_CHARS`` characters."""

    start: int
    end: int
    excerpt: str
    kind: ClassVar[str] = "text"

    @staticmethod
    def of(start: int, end: int, text: str) -> "Passage":
        """The passage ``text`` at ``[start, end)``, its excerpt cut to ``EXCERPT_CHARS``."""
        return Passage(int(start), int(end), well_formed(text[:EXCERPT_CHARS]))

    def label(self, limit: int = 32) -> str:
        """How a list names it: the opening words, quoted (“It was a dark and stormy…”)."""
        words = " ".join(self.excerpt.split())
        if len(words) > limit:  # cut between words, without the punctuation left hanging
            return f"“{words[:limit].rsplit(' ', 1)[0].rstrip(',;:.!?—–- ')}…”"
        return f"“{words}…”" if self.end - self.start > len(self.excerpt) else f"“{words}”"  # the excerpt is its start

    def record(self) -> dict[str, Any]:
        """The passage as a project stores it (``passage_from_record`` reads it back)."""
        return {"kind": "text", "start": self.start, "end": self.end, "excerpt": self.excerpt}


@dataclass(frozen=True)
class ChatReplyLink:
    """The chat reply a generation wrote: the reply's place in the conversation (its index among
    the messages, the system prompt counted) and its take when it finished, and the take's first
    ``EXCERPT_CHARS`` characters, by which it is found again after messages before it went."""

    message: int
    take: int
    excerpt: str
    kind: ClassVar[str] = "chat"

    @staticmethod
    def of(message: int, take: int, text: str) -> "ChatReplyLink":
        return ChatReplyLink(int(message), int(take), well_formed(text[:EXCERPT_CHARS]))

    def label(self, limit: int = 32) -> str:
        """How a list names it: its opening words, quoted (“Love is a star…”)."""
        words = " ".join(self.excerpt.split())
        if not words:
            return "(empty)"
        if len(words) > limit:
            return f"“{words[:limit].rsplit(' ', 1)[0].rstrip(',;:.!?—–- ')}…”"
        return f"“{words}”"

    def record(self) -> dict[str, Any]:
        return {"kind": "chat", "message": self.message, "take": self.take, "excerpt": self.excerpt}


Source = Passage | ChatReplyLink


def passage_from_record(value: Any, what: str, problems: list[str]) -> Source | None:
    """The ``source`` of a history entry read from a project file (a passage of the text, or a
    chat reply): None when there is none; a malformed one (from a damaged or hostile file) is
    dropped with a sentence in ``problems``, and the entry keeps everything else."""
    if value is None:
        return None
    if isinstance(value, dict) and value.get("kind") == "chat":
        why = _wrong_chat_link(value)
        if why:
            problems.append(f"{what}: the link to the chat reply it wrote was left out ({why})")
            return None
        return ChatReplyLink(value["message"], value["take"], well_formed(value["excerpt"][:EXCERPT_CHARS]))
    why = _wrong_passage(value)
    if why:
        problems.append(f"{what}: the link to the passage it was made from was left out ({why})")
        return None
    return Passage(value["start"], value["end"], well_formed(value["excerpt"][:EXCERPT_CHARS]))


def _wrong_passage(value: Any) -> str:
    """What is wrong with a stored passage, or "" when nothing is."""
    if not isinstance(value, dict):
        return "it is not a JSON object"
    if value.get("kind") != "text":
        return f"it links to a {str(value.get('kind'))[:40]!r}, not a passage of the text"
    start, end = value.get("start"), value.get("end")
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MOST_POSITION for n in (start, end)):
        return f"its place {str(start)[:20]!r}..{str(end)[:20]!r} is not two positions in the text"
    if end < start:
        return f"it ends ({end}) before it starts ({start})"
    if not isinstance(value.get("excerpt"), str):
        return "its excerpt is not text"
    return ""


def _wrong_chat_link(value: dict) -> str:
    """What is wrong with a stored chat link, or "" when nothing is."""
    message, take = value.get("message"), value.get("take")
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MOST_POSITION for n in (message, take)):
        return f"its place {str(message)[:20]!r}, take {str(take)[:20]!r} is not a message and a take"
    if not isinstance(value.get("excerpt"), str):
        return "its excerpt is not text"
    return ""


@dataclass
class HistoryEntry:
    """One generation. ``target`` is the id of the layer or clip it made (text: its span key)."""

    kind: str  # "image" | "text" | "audio"
    generator: str  # the generator id, e.g. "cppn" or "stable-diffusion:/models/sd15"
    title: str  # the generator's title when it ran
    params: dict[str, Any]  # JSON-plain values that reproduce the output, seed included
    model: str = ""  # the model folder it ran from ("" for a built-in model)
    target: int | None = None
    created: float = field(default_factory=time.time)  # seconds since the epoch
    seconds: float = 0.0  # how long it ran
    id: int = field(default_factory=new_id)
    source: Source | None = None  # the passage of the text it was made from, or the chat reply it wrote, if any

    @property
    def seed(self) -> Any:
        return self.params.get("seed")

    def summary(self, limit: int = 70) -> str:
        """One line for a list: the prompt (or key), else the generator's title; and the seed."""
        name = next((k for k in _SUMMARY_KEYS if str(self.params.get(k) or "").strip()), "")
        words = " ".join(str(self.params[name]).split()) if name else ""
        if len(words) > limit:
            words = words[: limit - 1] + "…"
        # Words the user wrote are quoted; a setting (a chorale's key, "C major") is not.
        head = (f"“{words}”" if name in _QUOTED_KEYS else words) if words else self.title or self.generator
        return f"{head} · seed {self.seed}" if self.seed is not None else head


def plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as JSON-plain values (see ``plain_data``).

    Parameters whose values are the user's work (pictures, masks, audio prompts) are
    described, not copied: the history is small JSON, never a second copy of the documents.
    A described input (``"<image 512x512>"``) cannot be fed back; reusing the entry leaves
    that input to the workspace, as the Generate panel does anyway.
    """
    return {str(name): plain_data(value) for name, value in params.items()}


def plain_data(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-plain data: containers kept, numbers as they are, text well-formed
    (``studio.core.media.text.well_formed``), numpy scalars as numbers, the rest (pictures, audio,
    objects) described as a string."""
    value = plain_value(value)
    if isinstance(value, str):
        return well_formed(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth > 32:
        return well_formed(str(value))
    if isinstance(value, Mapping):
        return {well_formed(str(k)): plain_data(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v, depth + 1) for v in value]
    return well_formed(str(value))


def entry_for(
    kind: str,
    generator: str,
    title: str,
    params: Mapping[str, Any],
    target: int | None,
    model: str = "",
    seconds: float = 0.0,
    source: Source | None = None,
) -> HistoryEntry:
    """A new entry for a finished generation (its parameters made JSON-plain)."""
    return HistoryEntry(kind, generator, title, plain_params(params), model, target, seconds=float(seconds), source=source)

