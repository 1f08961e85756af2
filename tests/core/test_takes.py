"""The takes model without a window: made, retried, stopped, following edits, undone, saved."""

from __future__ import annotations

import json

from studio.core.text import takes as takes_module
from studio.core.text.takes import MAX_TAKES_PER_SET, Take, Takes, utf16_len


def streamed(takes: Takes, job: int, words: list[str], page: list[str]) -> None:
    """A generation ``job`` streams ``words`` into ``page`` (a one-item list), each chunk
    reported as the editor reports it; then the page's texts are copied into the takes."""
    for word in words:
        place = next(s for s in takes.sets if any(t.job == job for t in s.takes))
        replacing = place.pending is not None and place.takes[place.pending].job == job
        at = place.start if replacing else place.end
        removed = place.end - place.start if replacing else 0
        page[0] = page[0][:at] + word + page[0][at + removed :]
        takes.edit(at, removed, len(word), job)
    takes.sync_current(lambda start, end: page[0][start:end])


def test_a_continue_a_retry_and_a_stopped_take():
    page = ["Once"]
    takes = Takes()
    place = takes.start_continue(4, job=1)
    streamed(takes, 1, [" upon", " a"], page)
    takes.end_job(1, stopped=True)
    assert (place.start, place.end) == (4, 11) and place.take.stopped and place.take.label() == "first take · stopped"
    takes.start_retry(place, 2, page[0][4:11])
    assert place.current == 0 and place.pending == 1  # the old take stays on the page until the first word
    streamed(takes, 2, [" time"], page)
    assert place.current == 1 and place.pending is None and (place.start, place.end) == (4, 9)
    takes.end_job(2, stopped=False)
    assert page[0] == "Once time" and [t.text for t in place.takes] == [" upon a", " time"]
    assert place.position_label() == "2 / 2" and place.take.label() == "retry"


def test_a_generation_that_wrote_nothing_leaves_no_take():
    takes = Takes()
    place = takes.start_continue(0, job=1)
    takes.end_job(1, stopped=True)
    assert takes.sets == []
    place = takes.start_continue(0, job=2)
    takes.edit(0, 0, 3, 2)
    takes.end_job(2, stopped=False)
    takes.start_retry(place, 3, "abc")
    takes.end_job(3, stopped=True)  # a Retry stopped before its first word: nothing changes
    assert takes.sets == [place] and len(place.takes) == 1 and place.pending is None


def test_takes_follow_the_writers_edits():
    takes = Takes()
    place = takes.start_continue(10, job=1)
    takes.edit(10, 0, 5, 1)  # [10, 15)
    takes.edit(0, 0, 3)  # typed before it: it moves
    assert (place.start, place.end) == (13, 18)
    takes.edit(18, 0, 2)  # typed right after it: not part of it
    takes.edit(13, 0, 1)  # typed right before it: not part of it either
    assert (place.start, place.end) == (14, 19) and not place.take.edited
    touched = takes.edit(16, 1, 4)  # inside: the take is the writer's now
    assert touched == [place] and (place.start, place.end) == (14, 22) and place.take.edited
    assert place.take.label() == "first take · edited by you" and not place.take.generated
    takes.edit(10, 6, 0)  # a deletion across its start: no telling which words are the take
    assert takes.sets == []


def test_a_rewrite_keeps_the_writers_original_as_a_take():
    takes = Takes()
    place = takes.start_rewrite(5, 9, job=1, original="dark", instruction="darker")
    assert [t.kind for t in place.takes] == ["original", "rewrite"] and place.pending == 1
    takes.edit(5, 4, 6, 1)  # the first chunk replaces the selection
    assert place.current == 1 and (place.start, place.end) == (5, 11)
    assert place.takes[0].label() == "your original" and place.source == "dark" and place.instruction == "darker"
    other = takes.start_rewrite(20, 22, job=2, original="ab", instruction="x")
    takes.end_job(2, stopped=True)  # it failed before its first word: only the original was left
    assert other not in takes.sets and takes.sets == [place]


def test_undo_keeps_the_takes_made_since_and_redo_brings_them_back():
    takes = Takes()
    place = takes.start_continue(0, job=1)
    takes.edit(0, 0, 3, 1)
    place.takes[0] = Take("abc", 1, "first")
    before_retry = takes.copy()
    takes.start_retry(place, 2, "abc")
    takes.edit(0, 3, 4, 2)
    place.takes[1] = Take("wxyz", 2, "retry")
    takes.end_job(2, stopped=True)
    after_retry = takes.copy()
    takes.restore(before_retry, running=set())  # Ctrl+Z: the first take is on the page again
    (back,) = takes.sets
    assert back.id == place.id and back.current == 0 and (back.start, back.end) == (0, 3)
    assert [t.text for t in back.takes] == ["abc", "wxyz"] and back.takes[1].stopped  # the retry is still a take
    takes.restore(Takes(), running=set())  # undone to before the first generation: off the page
    assert takes.sets == []
    takes.restore(after_retry, running=set())  # redo, redo: back with every take
    (again,) = takes.sets
    assert again.current == 1 and [t.text for t in again.takes] == ["abc", "wxyz"] and again.takes[1].stopped


def test_json_round_trip_with_characters_beyond_the_basic_plane():
    takes = Takes()
    place = takes.start_continue(2, job=7)
    text = " a 🐉 flew"
    takes.edit(2, 0, utf16_len(text), 7)
    takes.end_job(7, stopped=False)
    takes.start_retry(place, 8, text)
    takes.edit(2, utf16_len(text), 4, 8)
    takes.end_job(8, stopped=True)
    place.takes[1] = Take(" end", 8, "retry", stopped=True)
    data = json.loads(json.dumps(takes.to_json()))
    again, problems = Takes.from_json(data, text_units=2 + 4)
    assert problems == [] and len(again.sets) == 1
    loaded = again.sets[0]
    assert (loaded.start, loaded.end, loaded.current) == (2, 6, 1)
    assert [(t.text, t.kind, t.stopped) for t in loaded.takes] == [(text, "first", False), (" end", "retry", True)]
    assert utf16_len(text) == len(text) + 1


def test_hostile_takes_are_left_out_with_a_sentence_each(monkeypatch):
    good = {"start": 0, "end": 2, "current": 0, "takes": [{"text": "ab", "job": 1}]}
    data = [
        good,
        "not an object",
        {"start": True, "end": 2, "current": 0, "takes": [{"text": "ab"}]},
        {"start": 3, "end": 99, "current": 0, "takes": [{"text": "x" * 96}]},
        {"start": 3, "end": 4, "current": 5, "takes": [{"text": "x"}]},
        {"start": 3, "end": 4, "current": 0, "takes": [{"text": "xyz"}]},
        {"start": 3, "end": 4, "current": 0, "takes": [{"text": "x"}] * (MAX_TAKES_PER_SET + 1)},
        {"start": 3, "end": 4, "current": 0, "takes": [{"text": 5}]},
        {"start": 1, "end": 3, "current": 0, "takes": [{"text": "bc", "kind": "evil", "job": -4}]},  # overlaps the first
        {"start": 5, "end": 6, "current": 0, "takes": [{"text": "z", "kind": "evil", "job": -4, "stopped": "yes"}]},
    ]
    takes, problems = Takes.from_json(data, text_units=10)
    assert [(s.start, s.end) for s in takes.sets] == [(0, 2), (5, 6)]
    assert takes.sets[1].take == Take("z", 0, "first", False, False)  # unknown kind and a negative job made harmless
    assert len(problems) == 8 and all(p.endswith("left out.") for p in problems)
    assert "outside the text" in problems[2] and "overlap" in problems[-1]
    assert Takes.from_json({"a": 1}, 10)[1] == ["The saved takes are not a list (dict), so none were loaded."]
    assert Takes.from_json(None, 10) == (Takes(), [])
    monkeypatch.setattr(takes_module, "MAX_SETS", 2)
    many, problems = Takes.from_json([good] * 5, 10)
    assert len(many.sets) == 1 and "the first 2 were loaded" in problems[0] and "overlap" in problems[1]
    monkeypatch.setattr(takes_module, "MAX_TOTAL_UNITS", 3)
    capped, problems = Takes.from_json([good, {"start": 4, "end": 6, "current": 0, "takes": [{"text": "qq"}]}], 10)
    assert len(capped.sets) == 1 and "more than 3 characters in all" in problems[0]
