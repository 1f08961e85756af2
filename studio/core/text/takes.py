"""Takes: every generation at one place of the text keeps its alternatives.

A ``TakeSet`` is one place of the document (``[start, end)``, counted in UTF-16 units as
Qt's document and ``GeneratedSpans`` count) and the takes made there: the first generation,
each Retry, a stopped generation, and for a rewrite the writer's original words. One take
is on the page (``current``); the others wait to be chosen again (NovelAI's retry history,
the "swipes" of chat tools).

The sets follow every edit of the document (``Takes.edit``, fed what ``GeneratedSpans.edit``
is fed):

- an edit before a set shifts it; an edit after it leaves it alone; typing right at its
  start or end is not part of it (as for the generated colour);
- an edit inside the take on the page makes that take the writer's: it stays in the set,
  marked ``edited`` ("edited by you" under the text), so choosing another take and coming
  back brings the writer's version, never the generated one it replaced;
- an edit across the edge of a set (half in, half out) ends the set: there is no telling
  which words are the take, so its alternatives are let go rather than pasted back wrong.

Qt-free: the editor keeps the texts of takes that are not on the page; the text of the take
on the page is the document's, copied into the take (``sync_current``) before it is left
or saved.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable

#: Kinds of take: the first generation at a place, a Retry, a rewrite of a selection, and
#: the writer's own words a rewrite replaced.
KINDS = ("first", "retry", "rewrite", "original")
KIND_LABELS = {"first": "first take", "retry": "retry", "rewrite": "rewrite", "original": "your original"}
#: Bounds on what a project may hold, so a hostile file cannot make the editor hoard memory.
MAX_SETS = 5000
MAX_TAKES_PER_SET = 100
MAX_TAKE_UNITS = 1_000_000  # UTF-16 units of one take (about 300 pages)
MAX_TOTAL_UNITS = 32_000_000  # of all takes together
#: Places that undo took off the page, kept so that redo brings them back with every take.
MAX_RETIRED = 500
_set_ids = itertools.count(1)


def utf16_len(text: str) -> int:
    """The length of ``text`` as Qt counts document positions (a character beyond U+FFFF is two)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


@dataclass(frozen=True)
class Take:
    """One alternative at a place: its text (while it is not the one on the page, or as saved),
    the job that made it (the key of its generated colour; 0 for the writer's words), its kind,
    and whether it was stopped before it ended or edited by the writer."""

    text: str = ""
    job: int = 0
    kind: str = "first"
    stopped: bool = False
    edited: bool = False

    def label(self) -> str:
        words = [KIND_LABELS.get(self.kind, self.kind)]
        if self.stopped:
            words.append("stopped")
        if self.edited and self.kind != "original":
            words.append("edited by you")
        return " · ".join(words)

    @property
    def generated(self) -> bool:
        """Whether its text is a generator's as it made it (coloured as generated on the page)."""
        return self.job > 0 and not self.edited and self.kind != "original"


@dataclass
class TakeSet:
    """The takes made at ``[start, end)``; ``takes[current]`` is on the page.

    ``pending`` is the index of a take whose generation has been asked for but has not yet
    put its first word on the page (a Retry, a rewrite): the take on the page stays until then,
    so a Retry that fails or is stopped before its first token changes nothing.
    """

    start: int
    end: int
    takes: list[Take] = field(default_factory=list)
    current: int = 0
    pending: int | None = None
    mode: str = "continue"  # or "rewrite": its takes rewrite ``source`` following ``instruction``
    instruction: str = ""
    source: str = ""
    id: int = field(default_factory=lambda: next(_set_ids))  # the same place across undo and redo (not saved)

    def __len__(self) -> int:
        return self.end - self.start

    @property
    def take(self) -> Take:
        return self.takes[self.current]

    def position_label(self) -> str:
        return f"{self.current + 1} / {len(self.takes)}"

    def index_of_job(self, job: int) -> int | None:
        return next((i for i, take in enumerate(self.takes) if take.job == job and job > 0), None)

    def copy(self) -> "TakeSet":
        return dataclasses.replace(self, takes=list(self.takes))


@dataclass
class Takes:
    """Every take set of the document, in the order of their places."""

    sets: list[TakeSet] = field(default_factory=list)
    _retired: dict[int, TakeSet] = field(default_factory=dict, repr=False, compare=False)

    # -- making takes ----------------------------------------------------------------------

    def start_continue(self, position: int, job: int) -> TakeSet:
        """A generation begins at ``position``: a new place with its first take (empty until it streams)."""
        take_set = TakeSet(position, position, [Take(job=job, kind="first")])
        self._add(take_set)
        return take_set

    def start_rewrite(self, start: int, end: int, job: int, original: str, instruction: str) -> TakeSet:
        """A rewrite of ``[start, end)`` begins: the place keeps the writer's words as a take
        (or, when the selection is exactly a place's take, that place gets one more take)."""
        same = next((s for s in self.sets if s.start == start and s.end == end and s.pending is None), None)
        if same is not None:
            same.takes[same.current] = dataclasses.replace(same.take, text=original)
            same.takes.append(Take(job=job, kind="rewrite"))
            same.pending = len(same.takes) - 1
            same.mode, same.instruction, same.source = "rewrite", instruction, same.source or original
            return same
        self.sets = [s for s in self.sets if s.end <= start or s.start >= end]  # the rewrite covers them
        take_set = TakeSet(start, end, [Take(original, 0, "original"), Take(job=job, kind="rewrite")], 0, 1, "rewrite", instruction, original)
        self._add(take_set)
        return take_set

    def start_retry(self, take_set: TakeSet, job: int, current_text: str) -> None:
        """A Retry of ``take_set`` begins: its new take replaces the one on the page at its first word."""
        take_set.takes[take_set.current] = dataclasses.replace(take_set.take, text=current_text)
        take_set.takes.append(Take(job=job, kind="retry" if take_set.mode == "continue" else "rewrite"))
        take_set.pending = len(take_set.takes) - 1

    def end_job(self, job: int, stopped: bool) -> None:
        """The generation ``job`` ended (``stopped``: cancelled or failed on the way).

        A take that never put a word on the page is dropped (nothing to keep; a place left
        with no generated take goes too); one that did is kept, marked stopped when it did not
        finish.
        """
        for take_set in list(self.sets):
            index = take_set.index_of_job(job)
            if index is None:
                continue
            empty = take_set.pending == index or (index == take_set.current and take_set.start == take_set.end and not take_set.take.edited)
            if empty:
                del take_set.takes[index]
                if take_set.pending is not None:
                    take_set.pending = None if take_set.pending == index else take_set.pending - (take_set.pending > index)
                take_set.current = max(0, take_set.current - (1 if index < take_set.current else 0))
                take_set.current = min(take_set.current, max(len(take_set.takes) - 1, 0))
            elif stopped:
                take_set.takes[index] = dataclasses.replace(take_set.takes[index], stopped=True)
            if not take_set.takes or all(t.kind == "original" for t in take_set.takes):
                self.sets.remove(take_set)

    def _add(self, take_set: TakeSet) -> None:
        if len(self.sets) >= MAX_SETS:
            self.sets.pop(0)  # the oldest place lets its alternatives go; its text stays
        self.sets.append(take_set)
        self.sets.sort(key=lambda s: (s.start, s.end))

    # -- finding and choosing --------------------------------------------------------------

    def at(self, position: int) -> TakeSet | None:
        """The place whose take holds ``position`` (its start and end included), the innermost first."""
        found = [s for s in self.sets if s.start <= position <= s.end]
        return min(found, key=len) if found else None

    def of_job(self, job: int) -> tuple[TakeSet, int] | None:
        for take_set in self.sets:
            index = take_set.index_of_job(job)
            if index is not None:
                return take_set, index
        return None

    def sync_current(self, text_between: Callable[[int, int], str]) -> None:
        """Copy the page's text of each take on the page into its take (before saving)."""
        for take_set in self.sets:
            take_set.takes[take_set.current] = dataclasses.replace(take_set.take, text=text_between(take_set.start, take_set.end))

    def chosen(self, take_set: TakeSet, index: int, current_text: str) -> Take:
        """``take_set`` now shows its take ``index`` (the editor replaces the text as one undo step).

        ``current_text`` is what the page held for the take it leaves (the writer may have
        edited it). Returns the take to put on the page.
        """
        take_set.takes[take_set.current] = dataclasses.replace(take_set.take, text=current_text)
        take_set.current = index
        take_set.end = take_set.start + utf16_len(take_set.take.text)
        return take_set.take

    # -- following the document --------------------------------------------------------------

    def edit(self, position: int, removed: int, added: int, job: int | None = None, skip: TakeSet | None = None) -> list[TakeSet]:
        """The document changed as ``GeneratedSpans.edit`` is told; ``skip``: a set the editor
        moves itself. Returns the places whose take on the page changed its words (the editor
        copies them into the take, so that leaving it by undo or a choice keeps them)."""
        end_removed = position + removed
        shift = added - removed
        kept: list[TakeSet] = []
        touched: list[TakeSet] = []
        for s in self.sets:
            if s is skip:
                kept.append(s)
                continue
            pending = s.takes[s.pending].job if s.pending is not None else None
            if job is not None and job == pending and position == s.start and end_removed == s.end:
                s.current, s.pending = s.pending, None  # the new take's first words replace the take on the page
                s.end = s.start + added
                touched.append(s)
            elif job is not None and job == s.take.job and position == s.end and (removed == 0 or s.start == s.end):
                s.end = position + added  # the generation streams on (a rewrite's first chunk replaces the selection)
                touched.append(s)
            elif s.end <= position:
                pass  # before the change
            elif s.start >= end_removed:
                s.start += shift
                s.end += shift
            elif s.start <= position and end_removed <= s.end:
                s.end += shift  # inside the take on the page: the writer's edit makes it theirs
                if job is None or job != s.take.job:
                    s.takes[s.current] = dataclasses.replace(s.take, edited=True)
                touched.append(s)
            else:
                continue  # across the edge: no telling which words are the take; the set ends
            kept.append(s)
        self.sets = kept
        return touched

    def copy(self) -> "Takes":
        """The places and their takes as they are now (the takes themselves are immutable)."""
        return Takes([s.copy() for s in self.sets])

    def restore(self, saved: "Takes", running: set[int]) -> None:
        """Undo or redo brought the page back to the state ``saved`` was copied in.

        The places and the take on the page at each are ``saved``'s; the takes made since at
        a place stay browsable (a Retry undone keeps its take), with what each was last seen
        to hold, and whether it was stopped. A take that waits for a generation no longer
        ``running`` is dropped, and a place whose take on the page was a generation that
        never put a word there is kept aside, off the page (redo brings it back).
        """
        known = {**self._retired, **{s.id: s for s in self.sets}}
        restored: list[TakeSet] = []
        for old in saved.sets:
            s = old.copy()
            live = known.get(s.id)
            if live is not None:
                on_page = s.take
                takes = list(live.takes)
                index = next((i for i, t in enumerate(takes) if t.job == on_page.job and t.kind == on_page.kind), None)
                if index is None:
                    takes.append(on_page)
                    index = len(takes) - 1
                else:  # its words and the writer's edit as they were then; stopped once, stopped for good
                    takes[index] = dataclasses.replace(takes[index], text=on_page.text, edited=on_page.edited)
                waiting = live.takes[live.pending].job if live.pending is not None else None  # still waiting now
                s.takes, s.current = takes, index
                s.pending = next((i for i, t in enumerate(takes) if waiting is not None and t.job == waiting), None)
            if s.pending is not None and s.takes[s.pending].job not in running:
                del s.takes[s.pending]
                s.current -= 1 if s.pending < s.current else 0
                s.pending = None
            if not s.take.text and s.take.generated and s.take.job not in running and s.start == s.end:
                self._retired[s.id] = s  # its generation is undone: nothing of it is on the page
                continue
            restored.append(s)
        kept = {s.id for s in restored}
        for s in self.sets:
            if s.id not in kept:
                self._retired[s.id] = s
        for s in restored:
            self._retired.pop(s.id, None)
        while len(self._retired) > MAX_RETIRED:
            self._retired.pop(next(iter(self._retired)))
        self.sets = restored

    def clear(self) -> None:
        self.sets = []
        self._retired.clear()

    # -- saving ----------------------------------------------------------------------------

    def to_json(self) -> list:
        """JSON-plain: one object per place (the editor syncs the page's texts first)."""
        saved = [_without_pending(s) for s in self.sets]
        return [
            {
                "start": s.start,
                "end": s.end,
                "current": s.current,
                "mode": s.mode,
                "instruction": s.instruction,
                "source": s.source,
                "takes": [{"text": t.text, "job": t.job, "kind": t.kind, "stopped": t.stopped, "edited": t.edited} for t in s.takes],
            }
            for s in saved
            if s.takes and not (len(s.takes) == 1 and s.takes[0].kind == "original")  # only the writer's words: no takes
        ]

    @classmethod
    def from_json(cls, data: Any, text_units: int) -> tuple["Takes", list[str]]:
        """The takes of a saved project whose text is ``text_units`` UTF-16 units long, and the
        problems found, as sentences. A place that does not fit the text, overlaps another, or
        breaks a bound is left out with a note; the text itself is never touched."""
        problems: list[str] = []
        if data is None:
            return cls(), problems
        if not isinstance(data, list):
            return cls(), [f"The saved takes are not a list ({type(data).__name__}), so none were loaded."]
        if len(data) > MAX_SETS:
            problems.append(f"The project has {len(data):,} places with takes; the first {MAX_SETS:,} were loaded.")
            data = data[:MAX_SETS]
        sets: list[TakeSet] = []
        total = 0
        for number, item in enumerate(data, 1):
            take_set, problem = _set_from_json(item, text_units)
            if problem:
                problems.append(f"Takes at place {number}: {problem}; they were left out.")
                continue
            units = sum(utf16_len(t.text) for t in take_set.takes)
            if total + units > MAX_TOTAL_UNITS:
                problems.append(f"Takes at place {number} and after: the takes hold more than {MAX_TOTAL_UNITS:,} characters in all; the rest were left out.")
                break
            total += units
            sets.append(take_set)
        sets.sort(key=lambda s: (s.start, s.end))
        kept: list[TakeSet] = []
        for take_set in sets:
            if kept and take_set.start < kept[-1].end:
                problems.append(f"Takes at {take_set.start}–{take_set.end} overlap those at {kept[-1].start}–{kept[-1].end}; they were left out.")
                continue
            kept.append(take_set)
        return cls(kept), problems


def _without_pending(s: TakeSet) -> TakeSet:
    """``s`` as saved: a take still waiting for its first word is not a take yet."""
    if s.pending is None:
        return s
    copy = s.copy()
    del copy.takes[s.pending]
    copy.pending = None
    return copy


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _set_from_json(item: Any, text_units: int) -> tuple[TakeSet, str]:
    if not isinstance(item, dict):
        return TakeSet(0, 0), f"not an object but {type(item).__name__}"
    start, end, current = _int(item.get("start")), _int(item.get("end")), _int(item.get("current"))
    if start is None or end is None or current is None:
        return TakeSet(0, 0), "its start, end or current take is not a whole number"
    if not 0 <= start <= end <= text_units:
        return TakeSet(0, 0), f"its place {start}–{end} is outside the text ({text_units:,} characters)"
    raw = item.get("takes")
    if not isinstance(raw, list) or not raw:
        return TakeSet(0, 0), "it lists no takes"
    if len(raw) > MAX_TAKES_PER_SET:
        return TakeSet(0, 0), f"it lists {len(raw):,} takes, more than {MAX_TAKES_PER_SET}"
    if not 0 <= current < len(raw):
        return TakeSet(0, 0), f"its current take {current} is not one of its {len(raw)}"
    takes: list[Take] = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            return TakeSet(0, 0), "a take is not an object with a text"
        if len(entry["text"]) > MAX_TAKE_UNITS:
            return TakeSet(0, 0), f"a take is longer than {MAX_TAKE_UNITS:,} characters"
        kind = entry.get("kind")
        job = _int(entry.get("job"))
        takes.append(Take(entry["text"], max(job or 0, 0), kind if kind in KINDS else "first", entry.get("stopped") is True, entry.get("edited") is True))
    if utf16_len(takes[current].text) != end - start:
        return TakeSet(0, 0), "the take on the page does not match the length of its place"
    mode = item.get("mode") if item.get("mode") in ("continue", "rewrite") else "continue"
    instruction = item.get("instruction") if isinstance(item.get("instruction"), str) else ""
    source = item.get("source") if isinstance(item.get("source"), str) else ""
    return TakeSet(start, end, takes, current, None, mode, instruction[:10_000], source[:MAX_TAKE_UNITS]), ""
