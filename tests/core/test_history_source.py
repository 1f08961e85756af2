"""A history entry's link to the passage it was made from: saved, read back, bounded, and a
damaged or hostile link dropped with a note while the entry itself stays."""

from __future__ import annotations

import json

import pytest

from studio.core.project.format import Project
from studio.core.project.history import EXCERPT_CHARS, HistoryEntry, Passage, entry_for, passage_from_record
from studio.core.project.load import load_project, read_project
from studio.core.project.save import save_project
from test_project_samples import members_of, rebuild

TEXT = "It was a dark and stormy night; the rain fell in torrents. " * 10


def _project(*entries: HistoryEntry) -> Project:
    return Project(text=TEXT, history=list(entries))


def _saved(tmp_path, project: Project) -> bytes:
    path = save_project(project, tmp_path / "linked.studio")
    return path.read_bytes()


def _with_history(data: bytes, change) -> bytes:
    """The archive with its history.json's entries changed by ``change`` (the manifest's size kept true)."""
    body = {info.filename: body for info, body in members_of(data)}["history.json"]
    record = json.loads(body)
    for entry in record["entries"]:
        change(entry)
    new = json.dumps(record).encode()
    return rebuild(data, lambda name, old: new if name == "history.json" else old,
                   manifest=lambda m: {**m, "members": {**m["members"], "history.json": len(new)}})


def test_a_passage_keeps_its_place_and_a_bounded_excerpt():
    passage = Passage.of(5, 5 + len(TEXT), TEXT)
    assert len(passage.excerpt) == EXCERPT_CHARS and TEXT.startswith(passage.excerpt)
    assert passage.label() == "“It was a dark and stormy night…”"
    short = Passage.of(0, 13, "It was a dark")
    assert short.label() == "“It was a dark”"  # the whole passage: no ellipsis
    # The excerpt is the start of a longer passage: the label says there is more.
    assert Passage(0, 500, "Rain.").label() == "“Rain.…”"


def test_the_link_survives_save_and_load(tmp_path):
    linked = entry_for("image", "cppn", "CPPN", {"seed": 7}, 11, source=Passage.of(7, 40, TEXT[7:40]))
    plain = entry_for("text", "shakespeare", "Shakespeare", {"prompt": "To be"}, 12)
    path = save_project(_project(linked, plain), tmp_path / "linked.studio")
    loaded = load_project(path)
    assert loaded.problems == []
    first, second = loaded.project.history
    assert first.source == Passage(7, 40, TEXT[7:40]) and second.source is None
    assert first.params == {"seed": 7} and first.kind == "image"


def test_a_project_saved_before_links_loads_without_them(tmp_path):
    data = _saved(tmp_path, _project(entry_for("image", "cppn", "CPPN", {"seed": 1}, 3, source=Passage.of(0, 4, "It w"))))
    loaded = read_project(_with_history(data, lambda entry: entry.pop("source")))
    assert loaded.problems == [] and loaded.project.history[0].source is None


@pytest.mark.parametrize(
    "source, why",
    [
        ("chapter one", "not a JSON object"),
        ({"kind": "image", "start": 0, "end": 4, "excerpt": "x"}, "not a passage of the text"),
        ({"kind": "text", "start": -1, "end": 4, "excerpt": "x"}, "not two positions"),
        ({"kind": "text", "start": 0, "end": 10**30, "excerpt": "x"}, "not two positions"),
        ({"kind": "text", "start": True, "end": 4, "excerpt": "x"}, "not two positions"),
        ({"kind": "text", "start": 0.5, "end": 4, "excerpt": "x"}, "not two positions"),
        ({"kind": "text", "start": 9, "end": 4, "excerpt": "x"}, "ends (4) before it starts (9)"),
        ({"kind": "text", "start": 0, "end": 4, "excerpt": ["x"]}, "excerpt is not text"),
        ({"kind": "text", "start": 0, "end": 4}, "excerpt is not text"),
    ],
)
def test_a_hostile_link_is_dropped_with_a_note_and_the_entry_stays(tmp_path, source, why):
    data = _saved(tmp_path, _project(entry_for("image", "cppn", "CPPN", {"seed": 1}, 3, source=Passage.of(0, 4, "It w"))))
    loaded = read_project(_with_history(data, lambda entry: entry.update(source=source)))
    (entry,) = loaded.project.history
    assert entry.source is None and entry.params == {"seed": 1}
    (problem,) = loaded.problems
    assert problem.startswith("history entry 1: the link to the passage it was made from was left out") and why in problem


def test_an_overlong_or_malformed_excerpt_is_cut_and_made_well_formed():
    problems: list[str] = []
    passage = passage_from_record({"kind": "text", "start": 0, "end": 5, "excerpt": "a\ud800" + "b" * 10_000}, "entry", problems)
    assert problems == [] and passage is not None
    assert len(passage.excerpt) == EXCERPT_CHARS and "\ud800" not in passage.excerpt
    assert passage_from_record(None, "entry", problems) is None and problems == []
