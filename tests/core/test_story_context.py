"""Memory, author's note and lorebook (studio.core.text.story) and the context a language model
reads (studio.core.text.context): counted with a plain word counter, where every figure can be
checked by hand, and with a real tokenizer (the llama fixture's tokenizer.json)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from studio.core.text.context import SCAN_CHARS, fired_lore, format_plan, join_parts, plan_context
from studio.core.text.story import MAX_LORE_ENTRIES, MAX_NOTE_CHARS, LoreEntry, StoryNotes, parse_lorebook
from studio.errors import StudioError

TOKENIZER = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models" / "llama" / "tokenizer.json"


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def real_count():
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def chapter(lines: int, start: int = 0) -> str:
    return "".join(f"Line {n} of the tale. The rain kept on. " + ("\n" if n % 3 == 2 else "") for n in range(start, start + lines))


# -- the notes as data ----------------------------------------------------------------------------


def test_notes_round_trip_and_give_the_generator_its_values():
    notes = StoryNotes("Mira is a witch.", "[Style: dark]", 5, [
        LoreEntry(["Mira", "the witch"], "Mira lives in the north.", 3, True, "Mira"),
        LoreEntry(["dragon"], "There are no dragons.", -1, False),
    ])
    back, problems = StoryNotes.from_json(json.loads(json.dumps(notes.to_json())))
    assert problems == [] and back == notes
    values = notes.as_values()
    assert values["memory"] == "Mira is a witch." and values["authors_note"] == "[Style: dark]" and values["note_depth"] == 5
    assert parse_lorebook(values["lorebook"]) == notes.lore
    assert StoryNotes().as_values()["lorebook"] == ""
    assert StoryNotes().is_empty and not notes.is_empty
    assert StoryNotes(lore=[LoreEntry(["x"], "text", enabled=False)]).is_empty  # nothing can fire
    assert notes.lore[1].label == "dragon" and LoreEntry([], "").label == "(unnamed entry)"


def test_hostile_notes_leave_out_the_bad_part_and_name_it():
    with pytest.raises(StudioError, match="not a JSON object"):
        StoryNotes.from_json(["memory"])
    notes, problems = StoryNotes.from_json({
        "memory": 42, "authors_note": "x" * (MAX_NOTE_CHARS + 1), "note_depth": 10**9,
        "lore": [
            {"name": "good", "keys": "Mira, witch", "text": "kept"},
            {"name": "bad keys", "keys": [1, 2], "text": "t"},
            {"name": "bad priority", "keys": ["a"], "text": "t", "priority": 1.5},
            {"keys": ["a"], "text": "t", "enabled": "yes"},
            "not an entry",
        ],
    })
    assert notes.memory == "" and notes.authors_note == "" and notes.note_depth == 3
    assert [(e.name, e.keys) for e in notes.lore] == [("good", ["Mira", "witch"])]
    text = " ".join(problems)
    assert "The memory was left out" in text and "author's note" in text and "1000000000" in text
    assert "The memory was left out: it is int, not text." in problems
    assert "Lore entry 2 ('bad keys')" in text and "Lore entry 3 ('bad priority')" in text
    assert "Lore entry 4 was left out: 'enabled' is 'yes'" in text and "Lore entry 5" in text and len(problems) == 7
    _, problems = StoryNotes.from_json({"lore": [{}] * (MAX_LORE_ENTRIES + 1)})
    assert problems == [f"The lorebook was left out: the lorebook has {MAX_LORE_ENTRIES + 1:,} entries; at most {MAX_LORE_ENTRIES:,} are kept."]
    _, problems = StoryNotes.from_json({"lore": {"keys": []}})
    assert "not a list" in problems[0]


def test_the_lorebook_parameter_is_read_strictly():
    assert parse_lorebook("  ") == []
    assert parse_lorebook('{"entries": [{"keys": ["a"], "text": "b"}]}') == [LoreEntry(["a"], "b")]
    with pytest.raises(StudioError, match="not valid JSON"):
        parse_lorebook("[{")
    with pytest.raises(StudioError, match="lore entry 2"):
        parse_lorebook('[{"keys": ["a"], "text": "b"}, {"keys": "a", "text": 5}]')
    with pytest.raises(StudioError, match="nested too deeply|not a list"):
        parse_lorebook("[" * 100_000 + "]" * 100_000)
    with pytest.raises(StudioError, match="at most"):
        parse_lorebook(" " * (9 * 1024**2) + "[]")


# -- the lorebook firing ----------------------------------------------------------------------------


def test_keys_match_whole_words_and_phrases_case_insensitively_in_the_recent_text():
    lore = [
        LoreEntry(["mira"], "witch"), LoreEntry(["Miranda"], "sister"), LoreEntry(["old tower"], "tower"),
        LoreEntry(["Mira"], "disabled", enabled=False), LoreEntry(["king", "crown"], "once"), LoreEntry(["ir"], "part of a word"),
    ]
    story = "Long ago. " * 300 + "The KING sent MIRA to the Old\nTower; the crown waited."
    fired = {entry.text: (key, distance) for entry, key, distance in fired_lore(story, lore)}
    assert set(fired) == {"witch", "tower", "once"}
    assert fired["once"] == ("crown", len("crown waited."))  # the key nearest the end, and the entry only once
    # Scripts written without spaces (or with particles attached) match inside a run of letters.
    cjk = [LoreEntry(["東京"], "Tokyo"), LoreEntry(["미라"], "Mira (ko)"), LoreEntry(["Élodie"], "accented")]
    fired = [entry.text for entry, _, _ in fired_lore("彼女は東京都に住む。미라는 웃었다. ÉLODIE rit.", cjk)]
    assert fired == ["Tokyo", "Mira (ko)", "accented"]
    assert fired_lore("Élodies", cjk) == []
    # Outside the scan window, a key is not seen.
    assert fired_lore("Mira left. " + "x" * SCAN_CHARS, lore) == []


def test_lore_enters_by_priority_and_the_lowest_is_left_out_first():
    lore = [LoreEntry(["a"], "one two three four", priority=1, name="low"),
            LoreEntry(["b"], "five six seven eight", priority=5, name="high"),
            LoreEntry(["c"], "nine ten", priority=3, name="middle")]
    story = "a b c " * 4
    plan = plan_context(story, StoryNotes(lore=lore), words, 40, 10)
    assert [p.name for p in plan.parts if p.kind == "lore"] == ["high", "middle", "low"]
    # 30 tokens of room: the story keeps a quarter (7), the lore gets 23 -> high (4) + middle (2) + low (4) fit.
    # With 12 tokens of room, the story keeps 3, lore 9: high and middle fit, low (4 more) does not.
    plan = plan_context(story, StoryNotes(lore=lore), words, 22, 10)
    assert [p.name for p in plan.parts if p.kind == "lore"] == ["high", "middle"]
    assert plan.lore_left_out == ("low",) and any("“low” fired but was left out" in n for n in plan.notes)
    assert plan.tokens <= plan.limit == 12
    reason = next(p.reason for p in plan.parts if p.name == "high")
    assert "“b”" in reason and "characters before the end" in reason


# -- the plan -----------------------------------------------------------------------------------


def test_the_prompt_is_memory_lore_then_the_story_with_the_note_before_its_last_lines():
    notes = StoryNotes("  Memory text.\n", "[Note]", 2, [LoreEntry(["Mira"], "Mira is a witch.")])
    story = "First line.\nSecond, with Mira.\nThird.\nFourth"
    plan = plan_context(story, notes, words, 1000, 100)
    assert plan.prompt == "Memory text.\nMira is a witch.\nFirst line.\nSecond, with Mira.\n[Note]\nThird.\nFourth"
    assert [p.kind for p in plan.parts] == ["memory", "lore", "story", "note", "story"]
    assert join_parts([p.text for p in plan.parts]) == plan.prompt
    assert plan.tokens == words(plan.prompt) and plan.limit == 900 and plan.story_cut_chars == 0
    assert [p.tokens for p in plan.parts] == [2, 4, 5, 1, 2]
    # Depth 0: after the story; deeper than the story: before all of it.
    assert plan_context(story, StoryNotes(authors_note="[Note]", note_depth=0), words, 1000, 100).prompt == story + "\n[Note]"
    deep = plan_context(story, StoryNotes(authors_note="[Note]", note_depth=9), words, 1000, 100)
    assert deep.prompt == "[Note]\n" + story and [p.kind for p in deep.parts] == ["note", "story"]
    # No notes at all: the prompt is the story.
    assert plan_context(story, StoryNotes(), words, 1000, 100).prompt == story
    empty = plan_context("", StoryNotes(memory="M"), words, 1000, 100)
    assert empty.prompt == "M\n" and empty.parts[-1].reason == "the story (the page is empty)"


def test_a_long_story_is_cut_from_the_left_at_a_line_or_sentence_start_and_said():
    story = chapter(300)
    plan = plan_context(story, StoryNotes(memory="Remember this."), words, 200, 40)
    assert plan.tokens <= plan.limit == 160
    kept = story[plan.story_cut_chars:]
    assert plan.prompt == "Remember this.\n" + kept
    assert story[plan.story_cut_chars - 1] in "\n " and kept[0].isupper()  # a line or a sentence starts there
    assert plan.story_cut_tokens == words(story[: plan.story_cut_chars]) or plan.story_cut_chars > 160 * 16
    assert any("left out to fit the context" in note for note in plan.notes)
    text = format_plan(plan)
    assert "memory" in text and f"{plan.tokens:,} of 160 tokens" in text and kept[-40:] in text


@pytest.mark.parametrize("story", [
    "雨が降り続いた。ミラは日記を書いた。" * 300,  # sentences without spaces
    "abcdefghij" * 3000,  # not even a space: any character
    "word " * 3000,  # no sentence ends: a word's start
])
def test_text_without_sentences_or_spaces_is_cut_where_it_can_be(story, real_count):
    plan = plan_context(story, StoryNotes(memory="M."), real_count, 256, 56)
    kept = story[plan.story_cut_chars:]
    assert plan.tokens <= plan.limit and real_count(kept) > plan.limit // 2  # never emptied for want of a boundary
    assert plan.prompt == "M.\n" + kept


def test_the_cut_stays_put_while_the_story_grows_so_the_prompt_keeps_its_start():
    """Continuing word by word: the story's cut moves a quarter of the room at a time, not a
    word at a time, so consecutive prompts share their start (what prefix reuse needs)."""
    story = chapter(60)
    notes = StoryNotes(memory="A tale of rain.")
    cuts, shared = [], 0
    previous = None
    for n in range(200):
        story += f" word{n}"
        plan = plan_context(story, notes, words, 300, 60)
        assert plan.tokens <= plan.limit
        cuts.append(plan.story_cut_chars)
        if previous is not None and previous.story_cut_chars == plan.story_cut_chars:
            shared += 1
            assert plan.prompt.startswith(previous.prompt)
        previous = plan
    moves = sum(1 for a, b in zip(cuts, cuts[1:]) if a != b)
    # 200 words through a room of 240: a quarter is 60, so the cut moves 3 or 4 times.
    assert 1 <= moves <= 5 and shared >= 190, (moves, shared)
    assert cuts == sorted(cuts)


def test_memory_that_alone_overflows_is_cut_and_the_story_keeps_a_quarter():
    memory = " ".join(f"m{n}" for n in range(500))
    plan = plan_context(chapter(40), StoryNotes(memory=memory, authors_note="[Note]"), words, 100, 20)
    assert plan.tokens <= plan.limit == 80
    story_tokens = sum(p.tokens for p in plan.parts if p.kind == "story")
    assert story_tokens >= 80 // 4 - 80 // 16  # a quarter of the room, less the stable cut's rounding
    assert plan.memory_cut_chars > 0 and plan.memory_cut_tokens == 500 - plan.parts[0].tokens
    assert plan.parts[0].text.startswith("m0 m1 ") and any("memory was cut" in note for note in plan.notes)
    info = plan.to_info()
    assert json.loads(json.dumps(info)) == info and info["memory_cut_chars"] == plan.memory_cut_chars


def test_more_new_tokens_than_the_context_leaves_half_for_the_prompt():
    plan = plan_context("a b c", StoryNotes(), words, 100, 500)
    assert plan.max_new_tokens == 50 and plan.limit == 50 and "at most 50 new tokens" in plan.notes[0]
    with pytest.raises(StudioError):
        plan_context("a", StoryNotes(), words, 1, 1)


# -- with a real tokenizer ----------------------------------------------------------------------------


def test_a_real_tokenizer_fits_the_whole_prompt_and_keeps_the_start_while_continuing(real_count):
    lore = [LoreEntry(["rain"], "The rain has fallen for forty days.", 2, name="Rain"),
            LoreEntry(["tower"], "The tower is older than the town.", 1)]
    notes = StoryNotes("Mira, a young witch, keeps a diary.", "[Tone: quiet, sad]", 3, lore)
    story = chapter(80)
    previous = None
    moves = shared = 0
    for n in range(60):
        story += " and then the tower" if n % 7 == 0 else " more rain"
        plan = plan_context(story, notes, real_count, 512, 100)
        assert plan.tokens == real_count(plan.prompt) <= plan.limit == 412
        assert plan.prompt.startswith("Mira, a young witch, keeps a diary.\nThe rain has fallen")
        if previous is not None:
            if previous.story_cut_chars == plan.story_cut_chars and [p.name for p in previous.parts] == [p.name for p in plan.parts]:
                shared += 1
                note_at = previous.prompt.index("[Tone")
                assert plan.prompt[:note_at] == previous.prompt[:note_at]
            elif previous.story_cut_chars != plan.story_cut_chars:
                moves += 1
        previous = plan
    assert moves <= 4 and shared >= 45, (moves, shared)


def test_token_offsets_find_the_same_cut_with_one_tokenization():
    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    calls = []

    def count(text: str) -> int:
        calls.append(len(text))
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    def ends(text: str) -> list[int]:
        return [end for _, end in tokenizer.encode(text, add_special_tokens=False).offsets]

    notes = StoryNotes("Mira keeps a diary.", "[Tone: quiet]", 3)
    for lines in (200, 2_000):
        story = chapter(lines)
        calls.clear()
        slow = plan_context(story, notes, count, 1024, 100)
        slow_calls = sum(1 for n in calls if n > 1000)
        calls.clear()
        fast = plan_context(story, notes, count, 1024, 100, ends)
        assert fast == slow and fast.story_cut_chars > 0
        assert sum(1 for n in calls if n > 1000) < slow_calls / 2, (calls, slow_calls)


def test_a_megabyte_story_is_planned_quickly_and_only_its_end_is_tokenized(real_count):
    story = chapter(20_000)
    assert len(story) > 800_000
    started = time.perf_counter()
    plan = plan_context(story, StoryNotes(memory="M.", lore=[LoreEntry(["rain"], "Rain.")]), real_count, 2048, 200)
    seconds = time.perf_counter() - started
    assert plan.tokens == real_count(plan.prompt) <= plan.limit
    assert plan.story_cut_chars > len(story) - 2048 * 16 and "too far back to be counted" in " ".join(plan.notes)
    assert seconds < 5, seconds
