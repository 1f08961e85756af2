"""The writing state in a project file (writing.json): story notes, takes and chat saved and read
back; projects without it open as before; a damaged or hostile writing.json is named in the
load's problems and the rest of the project opens."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from studio.core.project.format import Project
from studio.core.project.history import HistoryEntry
from studio.core.project.load import load_project, read_project
from studio.core.project.save import save_project
from studio.core.project.writing import MEMBER
from studio.core.text.chat import ChatLog, ChatMessage
from studio.core.text.document import Span
from studio.core.text.story import MAX_LORE_ENTRIES, LoreEntry, StoryNotes
from studio.core.text.takes import Take, Takes, TakeSet

TEXT = "The rain kept on. Mira wrote it down, and then the tower fell."
JOB = 7_000_123


def writing_project() -> Project:
    start = TEXT.index("Mira")
    end = len(TEXT)
    project = Project(text=TEXT, text_spans=[Span(start, end, JOB)])
    project.history = [HistoryEntry("text", "lm:llama", "Text", {"seed": 1}, id=JOB)]
    project.notes = StoryNotes("Mira is a witch.", "[Tone: quiet]", 4, [
        LoreEntry(["tower", "the old tower"], "The tower is older than the town.", 2, True, "Tower"),
        LoreEntry(["dragon"], "No dragons.", -3, False),
    ])
    project.takes = Takes([TakeSet(start, end, [
        Take("Mira slept.", JOB - 1, "first", stopped=True),
        Take(TEXT[start:], JOB, "retry"),
    ], current=1)])
    project.chat = ChatLog([ChatMessage("system", "You are terse."), ChatMessage("user", "Name a colour."),
                            ChatMessage("assistant", "Blue.", takes=["Red.", "Blue."], chosen=1, generated=True)])
    return project


def saved(project: Project) -> bytes:
    out = io.BytesIO()
    from studio.core.project.save import write_archive

    write_archive(project, out)
    return out.getvalue()


def with_writing(data: bytes, body: bytes) -> bytes:
    """The archive ``data`` with writing.json replaced by ``body`` (and listed at its size)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "manifest.json":
                manifest = json.loads(content)
                manifest["members"][MEMBER] = len(body)
                content = json.dumps(manifest).encode()
            elif info.filename == MEMBER:
                continue
            archive.writestr(info, content)
        archive.writestr(MEMBER, body)
    return out.getvalue()


def test_notes_takes_and_chat_round_trip(tmp_path):
    project = writing_project()
    save_project(project, tmp_path / "w.studio")
    loaded = load_project(tmp_path / "w.studio")
    assert loaded.problems == []
    back = loaded.project
    assert back.notes == project.notes and back.chat == project.chat
    # Ids are fresh in a loaded project; a take's job follows its span and history entry.
    new_job = back.history[0].id
    assert back.text_spans[0].job == new_job != JOB
    [take_set] = back.takes.sets
    assert (take_set.start, take_set.end, take_set.current) == (project.takes.sets[0].start, len(TEXT), 1)
    assert [(t.text, t.kind, t.stopped) for t in take_set.takes] == [("Mira slept.", "first", True), (TEXT[TEXT.index("Mira"):], "retry", False)]
    assert take_set.takes[1].job == new_job and take_set.takes[0].job not in (0, JOB - 1, new_job)
    # Saved again, the file says the same.
    assert json.loads(zipfile.ZipFile(io.BytesIO(saved(back))).read(MEMBER))["notes"] == project.notes.to_json()


def test_a_project_without_writing_has_no_member_and_loads_empty():
    data = saved(Project(text="Plain."))
    assert MEMBER not in zipfile.ZipFile(io.BytesIO(data)).namelist()  # older Studios see the same file as before
    loaded = read_project(data)
    assert loaded.problems == [] and loaded.project.notes == StoryNotes()
    assert loaded.project.takes.sets == [] and len(loaded.project.chat) == 0
    # Empty notes are not written either; a memory alone is.
    project = Project(text="x")
    project.notes.memory = "Remember."
    assert read_project(saved(project)).project.notes.memory == "Remember."


def test_a_background_save_writes_the_writing_as_it_was_when_copied():
    project = writing_project()
    frozen = project.frozen_copy()
    project.notes.memory = "changed"
    project.notes.lore[0].keys.append("changed")
    project.takes.sets[0].takes.append(Take("later", 1))
    project.chat.messages[1].set_text("changed")
    back = read_project(saved(frozen)).project
    assert back.notes == writing_project().notes and back.chat == writing_project().chat
    assert len(back.takes.sets[0].takes) == 2


@pytest.mark.parametrize("body, words", [
    (b"\xff\xfe not utf-8", "not UTF-8"),
    (b"{\"notes\": ", "not valid JSON"),
    (b"[1, 2]", "writing.json is list, not a JSON object"),
    (json.dumps({"notes": "memory"}).encode(), "the notes are str, not a JSON object"),
    (json.dumps({"notes": {"memory": ["x"], "note_depth": -1}}).encode(), "The memory was left out"),
    (json.dumps({"notes": {"lore": [{"keys": "a", "text": "ok"}, {"keys": [None], "text": "x"}]}}).encode(), "Lore entry 2 was left out"),
    (json.dumps({"notes": {"lore": [{}] * (MAX_LORE_ENTRIES + 1)}}).encode(), f"at most {MAX_LORE_ENTRIES:,}"),
    (json.dumps({"takes": {"start": 0}}).encode(), "takes are not a list"),
    (json.dumps({"takes": [{"start": 0, "end": 10**9, "current": 0, "takes": [{"text": "x"}]}]}).encode(), "outside the text"),
    (json.dumps({"chat": 5}).encode(), "The chat is not a JSON object"),
    (("[" * 50_000 + "]" * 50_000).encode(), "nested too deeply"),
])
def test_a_damaged_writing_member_is_named_and_the_rest_opens(body, words):
    loaded = read_project(with_writing(saved(writing_project()), body))
    assert any(words in problem for problem in loaded.problems), loaded.problems
    project = loaded.project
    assert project.text == TEXT and len(project.history) == 1 and len(project.text_spans) == 1  # the rest is there


def test_one_damaged_part_does_not_take_the_others():
    record = json.loads(zipfile.ZipFile(io.BytesIO(saved(writing_project()))).read(MEMBER))
    record["takes"] = "not takes"
    record["notes"]["lore"].append({"name": "broken", "keys": ["k"], "text": 42})
    loaded = read_project(with_writing(saved(writing_project()), json.dumps(record).encode()))
    assert len(loaded.problems) == 2, loaded.problems
    assert "Lore entry 3 ('broken') was left out" in loaded.problems[0]
    assert loaded.project.notes.lore == writing_project().notes.lore and loaded.project.notes.memory == "Mira is a witch."
    assert loaded.project.chat == writing_project().chat and loaded.project.takes.sets == []


def test_a_writing_member_the_manifest_does_not_list_is_not_read():
    data = saved(writing_project())
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "manifest.json":
                manifest = json.loads(content)
                del manifest["members"][MEMBER]
                content = json.dumps(manifest).encode()
            archive.writestr(info, content)
    loaded = read_project(out.getvalue())
    assert loaded.problems == [] and loaded.project.notes == StoryNotes()
