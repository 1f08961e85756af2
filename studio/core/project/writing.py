"""The writing state of a project, the member ``writing.json``: the story notes (memory, author's
note, lorebook), the takes at each place of the text, and the chat.

``{"notes": StoryNotes.to_json(), "takes": Takes.to_json(), "chat": ChatLog.to_json()}``. A
project with none of them (every project saved before they existed, and any project that never
used them) has no such member and loads with empty ones. Reading trusts nothing: each of the
three is read on its own, and what is damaged in one is left out and named in the load's
problems while the rest, and the rest of the project, loads.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any

from studio.core.text.chat import ChatLog
from studio.core.text.story import StoryNotes
from studio.core.text.takes import Takes, utf16_len
from studio.errors import StudioError

if TYPE_CHECKING:
    from studio.core.project.format import Project

MEMBER = "writing.json"


def is_blank(project: "Project") -> bool:
    """Nothing to write: no notes, no takes, no chat (the member is then left out)."""
    return project.notes == StoryNotes() and not project.takes.sets and not project.chat.messages


def writing_record(project: "Project") -> dict[str, Any]:
    return {"notes": project.notes.to_json(), "takes": project.takes.to_json(), "chat": project.chat.to_json()}


def frozen_writing(project: "Project") -> tuple[StoryNotes, Takes, ChatLog]:
    """Copies of the notes, takes and chat that a background save can write while the writer
    goes on (all three change in place)."""
    return copy.deepcopy(project.notes), project.takes.copy(), copy.deepcopy(project.chat)


def read_writing(reader: Any, project: "Project") -> "Project":
    """``project`` with the notes, takes and chat of the file ``reader`` reads (load.py's
    ``_Reader``: its ``listed`` members, ``part`` and ``json``); each part that cannot be read
    is left out, and said, in ``reader.problems``. Returns ``project``."""
    if MEMBER not in reader.listed:  # saved before writing.json, or with nothing to keep there
        return project
    record = reader.part("the writing state (story notes, takes, chat)", lambda: _record(reader.json(MEMBER)))
    if record is None:
        return project
    if "notes" in record:
        notes = reader.part("the story notes (memory, author's note, lorebook)", lambda: _read(StoryNotes.from_json, record["notes"], reader))
        project.notes = notes if notes is not None else StoryNotes()
    if "takes" in record:
        units = utf16_len(project.text)
        takes = reader.part("the takes", lambda: _read(lambda data: Takes.from_json(data, units), record["takes"], reader))
        project.takes = _fresh_jobs(takes, reader.ids) if takes is not None else Takes()
    if "chat" in record:
        chat = reader.part("the chat", lambda: _read(ChatLog.from_json, record["chat"], reader))
        project.chat = chat if chat is not None else ChatLog()
    return project


def _fresh_jobs(takes: Takes, ids: Any) -> Takes:
    """A take's job is the key of its generated colour (a span's, a history entry's id): it
    follows them to their fresh ids, as every id in a loaded file does."""
    for take_set in takes.sets:
        take_set.takes = [dataclasses.replace(t, job=ids.ref(t.job)) if t.job > 0 else t for t in take_set.takes]
    return takes


def _record(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise StudioError(f"{MEMBER} is {type(data).__name__}, not a JSON object")
    return data


def _read(build: Any, data: Any, reader: Any) -> Any:
    value, problems = build(data)
    reader.problems.extend(problems)
    return value
