"""Several runs' events as one job's: progress across them all, never backwards."""

from __future__ import annotations

import numpy as np

import studio
from studio_plugins.stable_diffusion.numbering import numbered


def run(steps: int, output: str):
    for step in range(steps + 1):
        yield studio.Progress(step, steps, f"Step {step} of {steps}")
        yield studio.Preview("image", np.zeros((2, 2, 4), np.uint8))
    return output


def test_progress_is_counted_across_runs_of_different_lengths_and_never_goes_back():
    outputs = []

    def job():
        for number, steps in enumerate((10, 3, 7)):  # image to image: strength cuts each run's steps
            outputs.append((yield from numbered(run(steps, f"picture {number}"), number, 3, "Tile")))

    events = list(job())
    seen = [(e.step, e.total, e.message) for e in events if isinstance(e, studio.Progress)]
    assert sum(isinstance(e, studio.Preview) for e in events) == 11 + 4 + 8
    assert all(total == 3000 for _, total, _ in seen)
    fractions = [step for step, _, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 3000
    assert seen[-1][2] == "Tile 3 of 3 · Step 7 of 7"
    assert outputs == ["picture 0", "picture 1", "picture 2"]


def test_a_single_run_passes_its_events_unchanged_with_its_previews():
    events = list(numbered(run(2, "x"), 0, 1, "Image"))
    assert [(e.step, e.total) for e in events if isinstance(e, studio.Progress)] == [(0, 2), (1, 2), (2, 2)]
    assert sum(isinstance(e, studio.Preview) for e in events) == 3
