"""``GeneratedSpans.between`` finds the spans in a range by bisection (the highlighter asks once
per paragraph of a long manuscript): the same spans, in the same order, as a look at every one."""

from __future__ import annotations

import random

from studio.core.text.document import GeneratedSpans, Span


def every_span_between(spans: list[Span], start: int, end: int) -> list[Span]:
    return [s for s in spans if s.start < end and s.end > start]


def test_between_finds_what_a_look_at_every_span_finds():
    rng = random.Random(7)
    spans = GeneratedSpans()
    for job in range(1, 400):  # generations streamed in, edited around and into, as a book is written
        length = rng.randint(0, 2000) if spans.spans else 0
        position = rng.randint(0, length + sum(len(s) for s in spans.spans))
        spans.edit(position, 0, rng.randint(1, 300), job)
        if rng.random() < 0.3:
            spans.edit(rng.randint(0, position + 10), rng.randint(0, 40), rng.randint(0, 40))  # the writer's edit
    assert len(spans.spans) > 50
    last = max(s.end for s in spans.spans)
    for _ in range(3000):
        start = rng.randint(0, last + 5)
        end = start + rng.randint(0, 700)
        assert spans.between(start, end) == every_span_between(spans.spans, start, end), (start, end)
    assert spans.between(0, 0) == [] and spans.between(last, last + 10) == []
    assert spans.between(0, last + 1) == spans.spans


def test_between_at_the_edges_of_a_span():
    spans = GeneratedSpans([Span(10, 20, 1), Span(20, 30, 2), Span(40, 41, 3)])
    assert spans.between(0, 10) == [] and spans.between(30, 40) == []
    assert spans.between(19, 21) == [Span(10, 20, 1), Span(20, 30, 2)]
    assert spans.between(20, 20) == [] and spans.between(40, 41) == [Span(40, 41, 3)]
