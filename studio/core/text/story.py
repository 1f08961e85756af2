"""What a writer tells the model besides the page: memory, the author's note and the lorebook.

Plain data, Qt-free, shared by the writing panel, the language-model plugins (through their
``memory`` / ``authors_note`` / ``note_depth`` / ``lorebook`` parameters, see ``as_values``) and
the project file (``writing.json``). How they enter the model's context is
``studio.core.text.context``.

Reading (``StoryNotes.from_json``, ``parse_lorebook``) trusts nothing: a wrong type or an
absurd size is a ``StudioError`` for the whole, or leaves out one lore entry and names it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from studio.errors import StudioError

#: Memory and the author's note: far more than any model's context, far less than a novel.
MAX_NOTE_CHARS = 200_000
#: One lore entry's text, its keys, and the whole lorebook.
MAX_LORE_TEXT_CHARS = 50_000
MAX_KEYS = 64
MAX_KEY_CHARS = 200
MAX_NAME_CHARS = 200
MAX_LORE_ENTRIES = 2_000
#: The lorebook as one JSON string (a parameter value): entries at their largest would not fit,
#: a lorebook a writer keeps does by far.
MAX_LOREBOOK_CHARS = 8 * 1024**2
MAX_NOTE_DEPTH = 100
PRIORITY_RANGE = (-1_000_000, 1_000_000)
DEFAULT_NOTE_DEPTH = 3


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise StudioError(f"{what} is {type(value).__name__}, not text")
    if len(value) > limit:
        raise StudioError(f"{what} has {len(value):,} characters; at most {limit:,} are kept")
    return value


@dataclass
class LoreEntry:
    """A lorebook entry: its ``text`` enters the context when one of its ``keys`` (words or
    phrases, matched whole and case-insensitively) appears in the recent story text."""

    keys: list[str]
    text: str
    priority: int = 0  # when they do not all fit, the lowest priority is left out first
    enabled: bool = True
    name: str = ""

    @property
    def label(self) -> str:
        """What the writer calls it: its name, else its first key."""
        return self.name.strip() or next((k.strip() for k in self.keys if k.strip()), "") or "(unnamed entry)"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "keys": list(self.keys), "text": self.text, "priority": self.priority, "enabled": self.enabled}

    @classmethod
    def from_json(cls, data: Any) -> "LoreEntry":
        """One entry from its JSON object; ``keys`` may also be one comma-separated string (as
        KoboldAI's world info writes them). ``StudioError`` says what is wrong."""
        if not isinstance(data, dict):
            raise StudioError(f"it is {type(data).__name__}, not an object with keys and text")
        keys = data.get("keys", data.get("key", []))
        if isinstance(keys, str):
            keys = keys.split(",")
        if not isinstance(keys, list):
            raise StudioError(f"its keys are {type(keys).__name__}, not a list of words")
        if len(keys) > MAX_KEYS:
            raise StudioError(f"it has {len(keys):,} keys; at most {MAX_KEYS} are kept")
        keys = [_text(key, "a key", MAX_KEY_CHARS).strip() for key in keys]
        keys = [key for key in keys if key]
        text = _text(data.get("text", ""), "its text", MAX_LORE_TEXT_CHARS)
        priority = data.get("priority", 0)
        if not _is_int(priority) or not PRIORITY_RANGE[0] <= priority <= PRIORITY_RANGE[1]:
            raise StudioError(f"its priority is {str(priority)[:40]!r}, not a whole number from "
                              f"{PRIORITY_RANGE[0]:,} to {PRIORITY_RANGE[1]:,}")
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            raise StudioError(f"'enabled' is {str(enabled)[:40]!r}, not true or false")
        name = _text(data.get("name", ""), "its name", MAX_NAME_CHARS)
        return cls(keys, text, priority, enabled, name)


def parse_lore(items: Any) -> tuple[list[LoreEntry], list[str]]:
    """Lore entries from a JSON list, and one sentence for each entry left out (bad entries do
    not take the good ones with them). Not a list, or too many: ``StudioError``."""
    if not isinstance(items, list):
        raise StudioError(f"the lorebook is {type(items).__name__}, not a list of entries")
    if len(items) > MAX_LORE_ENTRIES:
        raise StudioError(f"the lorebook has {len(items):,} entries; at most {MAX_LORE_ENTRIES:,} are kept")
    entries, problems = [], []
    for number, item in enumerate(items, start=1):
        try:
            entries.append(LoreEntry.from_json(item))
        except StudioError as exc:
            name = item.get("name") if isinstance(item, dict) else None
            title = f"lore entry {number}" + (f" ({name[:40]!r})" if isinstance(name, str) and name.strip() else "")
            problems.append(f"{title} was left out: {exc}")
    return entries, problems


def parse_lorebook(text: str) -> list[LoreEntry]:
    """The ``lorebook`` parameter (a JSON list of entries) read strictly: it is typed or pasted
    by the user, so any bad entry is a ``StudioError`` naming it. Empty text: no entries."""
    if not isinstance(text, str):
        raise StudioError(f"the lorebook is {type(text).__name__}, not JSON text")
    if not text.strip():
        return []
    if len(text) > MAX_LOREBOOK_CHARS:
        raise StudioError(f"the lorebook is {len(text):,} characters; at most {MAX_LOREBOOK_CHARS:,} are read")
    try:
        data = json.loads(text)
    except RecursionError:
        raise StudioError("the lorebook is nested too deeply to be a list of entries") from None
    except ValueError as exc:
        raise StudioError(f"the lorebook is not valid JSON ({str(exc)[:120]})") from None
    if isinstance(data, dict) and isinstance(data.get("lore", data.get("entries")), list):
        data = data.get("lore", data.get("entries"))  # a whole notes file, or {"entries": [...]}
    entries, problems = parse_lore(data)
    if problems:
        raise StudioError("; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""))
    return entries


@dataclass
class StoryNotes:
    """Memory (always at the top of the context), the author's note (inserted ``note_depth``
    lines before the end of the story) and the lorebook."""

    memory: str = ""
    authors_note: str = ""
    note_depth: int = DEFAULT_NOTE_DEPTH
    lore: list[LoreEntry] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Nothing that changes the context: no memory, no note, no enabled entry with keys."""
        return (not self.memory.strip() and not self.authors_note.strip()
                and not any(e.enabled and e.keys and e.text.strip() for e in self.lore))

    def as_values(self) -> dict[str, Any]:
        """The values of a language-model generator's parameters ``memory``, ``authors_note``,
        ``note_depth`` and ``lorebook`` (the lorebook as a JSON string, "" when there is none)."""
        lorebook = json.dumps([e.to_json() for e in self.lore], ensure_ascii=False) if self.lore else ""
        return {"memory": self.memory, "authors_note": self.authors_note, "note_depth": self.note_depth, "lorebook": lorebook}

    def to_json(self) -> dict[str, Any]:
        return {"memory": self.memory, "authors_note": self.authors_note, "note_depth": self.note_depth,
                "lore": [e.to_json() for e in self.lore]}

    @classmethod
    def from_json(cls, data: Any) -> tuple["StoryNotes", list[str]]:
        """Notes from ``to_json``'s object and one sentence per part left out; missing fields
        take their defaults. Not an object: ``StudioError``. A wrong memory, note or depth is
        left out (empty / the default) and named; a bad lore entry is left out and named."""
        if not isinstance(data, dict):
            raise StudioError(f"the notes are {type(data).__name__}, not a JSON object")
        problems: list[str] = []
        notes = cls()
        for key, what in (("memory", "the memory"), ("authors_note", "the author's note")):
            try:
                setattr(notes, key, _text(data.get(key, ""), "it", MAX_NOTE_CHARS))
            except StudioError as exc:
                problems.append(f"{what[0].upper()}{what[1:]} was left out: {exc}.")
        depth = data.get("note_depth", DEFAULT_NOTE_DEPTH)
        if _is_int(depth) and 0 <= depth <= MAX_NOTE_DEPTH:
            notes.note_depth = depth
        else:
            problems.append(f"The author's note depth {str(depth)[:40]!r} is not a whole number from 0 to "
                            f"{MAX_NOTE_DEPTH}; it is {DEFAULT_NOTE_DEPTH}.")
        try:
            notes.lore, left_out = parse_lore(data.get("lore", []))
            problems += [p[0].upper() + p[1:] + "." for p in left_out]
        except StudioError as exc:
            problems.append(f"The lorebook was left out: {exc}.")
        return notes, problems
