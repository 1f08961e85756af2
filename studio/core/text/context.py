"""What a language model reads for the next continuation: memory, lore, the story and the note.

``plan_context`` lays out the context the way NovelAI and KoboldAI Lite do and says why each
part is there; ``format_plan`` is its plain-text rendering (``studio generate --show-context``).

The prompt is the parts in order, a newline put between two parts unless the first already
ends with one:

1. the memory (its surrounding blank space stripped), always first;
2. the lore entries that fired, highest priority first (ties: lorebook order);
3. the story, its start cut when it does not fit, with the author's note (stripped) inserted as
   a line of its own before the last ``note_depth`` lines of the story (lines as the text holds
   them, blank ones included; 0: after the story; a story with fewer lines: before all of it).
   The story then shows as two parts, before and after the note.

Room: the context holds ``context_length`` tokens and ``max_new_tokens`` of them are kept for
the new text; the prompt gets the rest (``limit``). The story always keeps at least a quarter
of it (or all of itself, when shorter); the author's note and then the memory are cut (their
ends) only when they alone would leave the story less; lore entries fill what memory and note
leave of the rest, the lowest priority left out first; the story takes what remains.

The story is cut from the left at a *stable* point, so that two consecutive continuations
share their prompt's start and a plugin can reuse the computed part of it (KV-cache prefix
reuse): the tokens to drop are rounded up to a multiple of a quarter of the story's room and
the cut moves on to the next line or sentence start. While the story grows, the cut stays
where it is until a quarter of the room has filled, then jumps a quarter ahead. A story far
longer than the context is first reduced to its end on a grid of characters (also stable),
so megabytes are never tokenized for a context of a few thousand tokens.

Lorebook keys are matched whole (words or phrases, spacing free; in Chinese and Japanese,
written without spaces, and in Korean, whose particles join the word, inside a word too) and
case-insensitively in the last ``SCAN_CHARS`` characters of the story; disabled entries never fire; an entry fires once,
for the key found nearest the end.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from studio.core.text.story import LoreEntry, StoryNotes
from studio.errors import StudioError

#: Lorebook keys are looked for in the story's last this many characters (NovelAI's default
#: search range is 1,000; a page of prose is about 2,000).
SCAN_CHARS = 2_000
#: The most characters of the story ever tokenized per token of context (a token is rarely more
#: than a dozen characters), and the grid the window onto a longer story moves on.
CHARS_PER_TOKEN = 16
#: A chat's plan (a chat model reading a conversation) has a part per message instead, by role.
KINDS = ("memory", "lore", "story", "note", "system", "user", "assistant")

_SENTENCE_OR_LINE = re.compile(r"\n|[.!?…]+[\"'”’»)\]]*[ \t]+|[。！？]+[」』）]*")
_WORD_START = re.compile(r"\s+")


@dataclass(frozen=True)
class ContextPart:
    """One piece of the prompt: ``kind`` is ``memory``, ``lore``, ``story`` or ``note``; in a
    chat's plan, a message's role (``system``, ``user``, ``assistant``)."""

    kind: str
    text: str
    tokens: int
    reason: str
    name: str = ""  # a lore entry's label

    def to_info(self) -> dict[str, Any]:
        return {"kind": self.kind, "tokens": self.tokens, "reason": self.reason, "name": self.name, "chars": len(self.text)}


@dataclass(frozen=True)
class ContextPlan:
    """The context for the next generation: its parts in order, the exact ``prompt``, its
    ``tokens`` (the whole prompt counted once: the parts' counts need not add up to it) against
    ``limit`` (``context_length - max_new_tokens``), and what was cut."""

    parts: tuple[ContextPart, ...]
    prompt: str
    tokens: int
    limit: int
    context_length: int
    max_new_tokens: int
    story_cut_chars: int = 0  # characters of the story left out at its start
    story_cut_tokens: int = 0  # their tokens, of the part that was tokenized (see notes)
    memory_cut_chars: int = 0  # characters of the memory left out at its end
    memory_cut_tokens: int = 0
    lore_left_out: tuple[str, ...] = ()  # entries that fired but found no room, by label
    notes: tuple[str, ...] = field(default=())  # plain sentences: every cut, and why
    messages_left_out: int = 0  # a chat's oldest messages that found no room
    continues_reply: bool = False  # a chat whose last message is a reply the model goes on with

    def to_info(self) -> dict[str, Any]:
        """JSON-plain figures (no texts but the reasons), for a result's ``info["context"]``."""
        return {
            "tokens": self.tokens, "limit": self.limit, "context_length": self.context_length,
            "max_new_tokens": self.max_new_tokens, "parts": [p.to_info() for p in self.parts],
            "story_cut_chars": self.story_cut_chars, "story_cut_tokens": self.story_cut_tokens,
            "memory_cut_chars": self.memory_cut_chars, "memory_cut_tokens": self.memory_cut_tokens,
            "lore_left_out": list(self.lore_left_out), "notes": list(self.notes),
            "messages_left_out": self.messages_left_out, "continues_reply": self.continues_reply,
        }


def join_parts(texts: list[str]) -> str:
    """The texts in order, a newline between two unless the first already ends with one."""
    out = ""
    for number, text in enumerate(texts):
        if number and not out.endswith("\n"):
            out += "\n"
        out += text
    return out


#: From here on (CJK radicals, kana, ideographs, Hangul) words are not set apart by spaces, or
#: take their particles attached: a key there matches inside a longer run of letters.
_UNSPACED_SCRIPTS = 0x2E80


@functools.lru_cache(maxsize=4096)
def _key_pattern(key: str) -> re.Pattern[str]:
    words = key.split()
    body = r"\s+".join(re.escape(w) for w in words)
    start = r"(?<!\w)" if ord(words[0][0]) < _UNSPACED_SCRIPTS else ""
    end = r"(?!\w)" if ord(words[-1][-1]) < _UNSPACED_SCRIPTS else ""
    return re.compile(start + body + end, re.IGNORECASE)


def fired_lore(story: str, lore: list[LoreEntry]) -> list[tuple[LoreEntry, str, int]]:
    """The enabled entries one of whose keys is in the story's last ``SCAN_CHARS`` characters:
    ``(entry, key, characters from the match to the story's end)``, in lorebook order."""
    recent = story[-SCAN_CHARS:]
    fired = []
    for entry in lore:
        if not entry.enabled or not entry.text.strip():
            continue
        best: tuple[str, int] | None = None
        for key in entry.keys:
            if not key.split():
                continue
            last = None
            for last in _key_pattern(key).finditer(recent):
                pass
            if last is not None and (best is None or len(recent) - last.start() < best[1]):
                best = (key, len(recent) - last.start())
        if best is not None:
            fired.append((entry, *best))
    return fired


def _boundaries(text: str) -> list[int]:
    """Positions where a line or a sentence starts (0 and the end included)."""
    points = [0] + [m.end() for m in _SENTENCE_OR_LINE.finditer(text)]
    return points if points[-1] == len(text) else points + [len(text)]


def _first_reaching(points: Sequence[int], reached: Callable[[int], bool]) -> int:
    """The first of the sorted ``points`` for which ``reached`` (monotone) holds, else the last,
    found by galloping from the start: the search near the start does not depend on how long
    the story has grown past it."""
    if reached(points[0]):
        return points[0]
    low, high = 0, 1  # reached(points[low]) is false
    while high < len(points) and not reached(points[high]):
        low, high = high, high * 2
    if high >= len(points):
        high = len(points) - 1
        if not reached(points[high]):
            return points[high]
    while high - low > 1:  # reached(points[high]) is true
        middle = (low + high) // 2
        if reached(points[middle]):
            high = middle
        else:
            low = middle
    return points[high]


def _keep_start(text: str, count: Callable[[str], int], budget: int) -> str:
    """The longest start of ``text``, ended at a word, within ``budget`` tokens."""
    if budget <= 0:
        return ""
    if count(text) <= budget:
        return text
    ends = [m.start() for m in _WORD_START.finditer(text)] or [len(text)]
    low, high = 0, len(ends)  # ends[:low] fit
    while low < high:
        mid = (low + high + 1) // 2
        if count(text[: ends[mid - 1]]) <= budget:
            low = mid
        else:
            high = mid - 1
    return text[: ends[low - 1]].rstrip() if low else ""


def _window_start(length: int, chars: int) -> int:
    """Where the tokenized window onto a story of ``length`` characters starts: on a grid of a
    quarter of ``chars``, so that it moves only every quarter of the window as the story grows."""
    if length <= chars:
        return 0
    step = max(1, chars // 4)
    return -(-(length - chars) // step) * step


def _story_cut(window: str, count: Callable[[str], int], room: int, step: int,
               before: Callable[[int], int] | None = None) -> tuple[int, int]:
    """Where the window is cut (characters, tokens left out) so that the rest fits ``room``:
    the tokens to drop rounded up to a multiple of ``step``, then on to the next line or
    sentence start (a word's, when no sentence starts within a step). ``before(p)``: the
    tokens of ``window[:p]``, by default counted afresh each time."""
    before = before or (lambda p: count(window[:p]))
    total = count(window)
    if total <= room:
        return 0, 0
    if room <= 0:
        return len(window), total
    sentences = _boundaries(window)
    words: list[int] | None = None
    drop = -(-(total - room) // step) * step
    while drop < total:
        cut = _first_reaching(sentences, lambda p, drop=drop: before(p) >= drop)
        if before(cut) > drop + step:  # a long stretch without a sentence's end
            words = words if words is not None else [0] + [m.end() for m in _WORD_START.finditer(window)] + [len(window)]
            cut = _first_reaching(words, lambda p, drop=drop: before(p) >= drop)
            if before(cut) > drop + step:  # nor a space: any character
                cut = _first_reaching(range(len(window) + 1), lambda p, drop=drop: before(p) >= drop)
        while cut < len(window) and window[cut].isspace():  # no blank line or space to open the story with
            cut += 1
        if cut < len(window) and count(window[cut:]) <= room:
            return cut, before(cut)
        drop += step
    return len(window), total


def plan_context(story: str, notes: StoryNotes, count_tokens: Callable[[str], int], context_length: int, max_new_tokens: int,
                 token_ends: Callable[[str], list[int]] | None = None) -> ContextPlan:
    """The context the model reads to continue ``story`` (see the module's docstring);
    ``count_tokens`` is the model's tokenizer's count (no special tokens).

    ``token_ends`` (optional, for speed): where each token of a text ends, in characters (a
    tokenizer's offsets). The story is then tokenized once to find where to cut it, instead of
    a dozen times (a prefix's tokens are those ending in it); whether the rest fits is still
    counted exactly."""
    if context_length < 2:
        raise StudioError(f"a context of {context_length} tokens holds no prompt and no new text")
    said: list[str] = []
    max_new = max(1, max_new_tokens)
    if max_new >= context_length:
        max_new = max(1, context_length // 2)
        said.append(f"the model's context is {context_length} tokens: at most {max_new} new tokens this time")
    limit = context_length - max_new
    count = functools.lru_cache(maxsize=256)(count_tokens)

    start = _window_start(len(story), limit * CHARS_PER_TOKEN)
    if start:  # on to the next line or sentence start, as every cut
        boundary = _SENTENCE_OR_LINE.search(story, start, start + 4096)
        start = boundary.end() if boundary else start
    window = story[start:]
    story_tokens = count(window)
    floor = min(story_tokens, limit // 4)

    note = _keep_start(notes.authors_note.strip(), count, limit - floor)
    if note != notes.authors_note.strip():
        said.append(f"the author's note was cut to its first {len(note):,} characters: it alone would leave the story too little room")
    note_tokens = count(note) if note else 0
    full_memory = notes.memory.strip()
    memory = _keep_start(full_memory, count, limit - floor - note_tokens)
    memory_tokens = count(memory) if memory else 0
    memory_cut_chars = len(full_memory) - len(memory)
    memory_cut_tokens = (count(full_memory) - memory_tokens) if memory_cut_chars else 0
    if memory_cut_chars:
        said.append(f"the memory was cut: it alone overflows the room; its last {memory_cut_chars:,} characters "
                    f"({memory_cut_tokens:,} tokens) were left out")

    lore_room = limit - floor - memory_tokens - note_tokens
    chosen, left_out = [], []
    fired = sorted(enumerate(fired_lore(story, notes.lore)), key=lambda item: (-item[1][0].priority, item[0]))
    for _, (entry, key, distance) in fired:
        text = entry.text.strip()
        tokens = count(text)
        if tokens <= lore_room:
            lore_room -= tokens
            where = "at the very end" if distance <= len(key) else f"{distance:,} characters before the end"
            chosen.append(ContextPart("lore", text, tokens, f"key “{key}” in the story, {where}", entry.label))
        else:
            left_out.append(entry.label)
            said.append(f"the lore entry “{entry.label}” fired but was left out: it needs {tokens:,} tokens and "
                        f"only {max(lore_room, 0):,} were left for lore")

    header = ([ContextPart("memory", memory, memory_tokens, "memory: always at the top")] if memory else []) + chosen
    room = limit - sum(p.tokens for p in header) - note_tokens
    step = max(1, room // 4)  # fixed before the seams are paid for below: the cut's grid must not move
    before = None
    if token_ends is not None and story_tokens > room:
        ends = token_ends(window)
        before = functools.lru_cache(maxsize=None)(lambda p: bisect.bisect_right(ends, p))
    while True:
        cut, cut_tokens = _story_cut(window, count, room, step, before)
        kept = window[cut:]
        parts = header + _story_parts(kept, note, note_tokens, notes.note_depth, count)
        prompt = join_parts([p.text for p in parts])
        tokens = count(prompt)
        if tokens <= limit or not kept:
            break
        room -= max(1, tokens - limit)  # the joins and the seams between parts cost a few tokens
    if start or cut:
        said.append(f"the story's first {start + cut:,} characters were left out to fit the context ({cut_tokens:,} tokens"
                    + (f"; the {start:,} characters before those were too far back to be counted)" if start else ")"))
    if tokens > limit:
        said.append(f"the prompt is {tokens:,} tokens, over the room of {limit:,}: the model reads its end only")
    return ContextPlan(tuple(parts), prompt, tokens, limit, context_length, max_new, start + cut, cut_tokens,
                       memory_cut_chars, memory_cut_tokens, tuple(left_out), tuple(said))


def _story_parts(kept: str, note: str, note_tokens: int, depth: int, count: Callable[[str], int]) -> list[ContextPart]:
    """The kept story with the author's note inserted ``depth`` lines before its end."""
    reason = "the story" if kept else "the story (the page is empty)"
    if not note:
        return [ContextPart("story", kept, count(kept) if kept else 0, reason)]
    lines = kept.splitlines(keepends=True)
    at = sum(len(line) for line in lines[: max(len(lines) - depth, 0)])
    head, tail = kept[:at], kept[at:]
    where = "after the story" if not tail else (f"{depth} line{'s' if depth != 1 else ''} before the end of the story"
                                               if head else "before the story (it has fewer lines than the note's depth)")
    parts = [ContextPart("story", head, count(head), "the story, up to the author's note")] if head else []
    parts.append(ContextPart("note", note, note_tokens, f"author's note, {where}"))
    if tail or not head:
        parts.append(ContextPart("story", tail, count(tail) if tail else 0, "the story, after the author's note" if head else reason))
    return parts


def format_plan(plan: ContextPlan) -> str:
    """The plan as plain text: each part, its tokens and reason; the total against the limit;
    what was cut; then the prompt exactly as the model reads it."""
    lines = [f"Context: {plan.tokens:,} of {plan.limit:,} tokens "
             f"(the model reads {plan.context_length:,}; {plan.max_new_tokens:,} are kept for the new text)", ""]
    width = max((len(f"{p.tokens:,}") for p in plan.parts), default=1)
    kinds = max([6, *(len(p.kind) for p in plan.parts)])  # "assistant", in a chat's plan, is longer
    for part in plan.parts:
        preview = " ".join(part.text.split())
        preview = preview if len(preview) <= 60 else preview[:28] + " … " + preview[-28:]
        name = f"“{part.name}”: " if part.name else ""
        lines.append(f"  {part.kind:<{kinds}} {part.tokens:>{width},} tokens  {name}{part.reason}")
        if preview:
            lines.append(f"  {'':<{kinds}} {'':>{width}}         {preview}")
    lines.append("")
    if plan.continues_reply:
        lines.append("The last message is the model's reply: the model goes on from its end.")
    if plan.notes:
        lines += ["Cut and notes:"] + [f"  - {note}" for note in plan.notes]
    else:
        lines.append("Nothing was cut.")
    lines += ["", "----- the prompt, exactly as the model reads it -----", plan.prompt, "----- end of the prompt -----"]
    return "\n".join(lines)
