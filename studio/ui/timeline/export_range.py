"""Which part of the piece "Export mix…" writes: the whole piece, the loop region, or the
selected clip's span.

Asked only when there is a choice (a loop region drawn, or a clip selected), in one small
list before the file dialog, as Audacity asks about a selection and Reaper offers its "time
selection" and "project" bounds; with neither, the whole piece is exported without a question.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QInputDialog

from studio.ui.timeline.grid import clock

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace

WHOLE, LOOP, SELECTION = "whole", "loop", "selection"


def export_ranges(ws: "AudioWorkspace") -> list[tuple[str, str, int, int]]:
    """(kind, label, start, end) of each part that can be exported, the whole piece first."""
    rate = ws.timeline.sample_rate

    def span(start: int, end: int) -> str:
        return f"{clock(start, rate, 1)} – {clock(end, rate, 1)}"

    ranges = [(WHOLE, f"The whole piece ({span(0, ws.timeline.end)})", 0, ws.timeline.end)]
    if ws.loop is not None:
        start, end = ws.loop
        ranges.append((LOOP, f"The loop region ({span(start, end)})", start, end))
    clip = ws.selected_clip()
    if clip is not None:
        ranges.append((SELECTION, f"The selected clip “{clip.name}” ({span(clip.start, clip.end)})", clip.start, clip.end))
    return ranges


def choose_export_range(ws: "AudioWorkspace") -> tuple[int, int] | None:
    """The (start, end) the user picks, the whole piece without asking when there is no other
    choice; None when the question is cancelled."""
    ranges = export_ranges(ws)
    if len(ranges) == 1:
        return ranges[0][2], ranges[0][3]
    labels = [label for _kind, label, _start, _end in ranges]
    default = next((i for i, r in enumerate(ranges) if r[0] == LOOP and ws.loop_enabled), 0)  # a loop that is on: likely wanted
    label, ok = QInputDialog.getItem(ws, "Export mix", "Export:", labels, default, False)
    if not ok:
        return None
    _kind, _label, start, end = ranges[labels.index(label)]
    return start, end
