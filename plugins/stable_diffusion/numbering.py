"""One run's events passed on as part of several (a batch's images, a picture's tiles)."""

from __future__ import annotations

from typing import Any, Generator, Iterator

import studio


def numbered(events: Iterator[Any], number: int, count: int, noun: str) -> Generator[Any, None, Any]:
    """Pass run ``number`` of ``count``'s events on, its progress counted across all of them
    ("Image 2 of 4 · …"); return the run's output.

    Progress is counted in thousandths of a run: a run's total may change once its steps are
    known (strength cuts them), and the bar must never go backwards from one run to the next.
    """
    while True:
        try:
            event = next(events)
        except StopIteration as done:
            return done.value
        if isinstance(event, studio.Progress) and count > 1:
            done = min(1.0, event.step / event.total) if event.total > 0 else 0.0
            event = studio.Progress(round((number + done) * 1000), count * 1000, f"{noun} {number + 1} of {count} · {event.message}")
        yield event
