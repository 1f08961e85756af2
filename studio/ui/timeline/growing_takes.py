"""A take that is still being generated: seen growing on the timeline, and kept if stopped.

An audio generator that streams (MusicGen sends each decoded segment as an audio ``Preview``)
shows its take while it works: a ghost clip at the place the take will land, filling in
segment by segment with the waveform heard so far. The previews add up to the result (the
runner holds generators to that), so when the user cancels, what streamed IS what was made:
it lands as a clip named "… (stopped at 0:32)", one undo step, instead of being thrown away.

``GrowingTakes`` belongs to the ``AudioWorkspace``; ``paint_growing`` draws its takes in the
arrangement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from studio.core.audio.timeline import Clip, TimelineError, Track
from studio.core.engine.generators import Result
from studio.core.media.sound import Audio
from studio.core.media.sound_files import resample

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace

GHOST = QColor("#7fa7d9")


def clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


@dataclass
class GrowingTake:
    """The audio a job has streamed so far, at its own rate, and a copy at the timeline's rate
    to draw (resampled chunk by chunk: a drawing needs no seamless join, the landing does)."""

    title: str
    seconds: float  # the length asked for; 0: unknown
    rate: int
    start: int  # where it lands on the timeline (frames)
    chunks: list[np.ndarray] = field(default_factory=list)
    shown: list[np.ndarray] = field(default_factory=list)

    @property
    def made(self) -> float:
        return sum(chunk.shape[0] for chunk in self.chunks) / self.rate


class GrowingTakes:
    """The takes of the audio jobs now streaming, by job id."""

    def __init__(self, workspace: "AudioWorkspace") -> None:
        self.workspace = workspace
        self.takes: dict[int, GrowingTake] = {}

    def grow(self, job_id: int, title: str, params: dict[str, Any], chunk: np.ndarray, rate: int, continues: int | None = None) -> None:
        """One more streamed chunk (frames, channels) of job ``job_id``'s take."""
        workspace = self.workspace
        timeline = workspace.timeline
        take = self.takes.get(job_id)
        if take is None:
            start = workspace.playhead
            if continues is not None:
                try:
                    start = timeline.clip(continues).end
                except TimelineError:
                    pass  # the clip it continues was deleted meanwhile: the playhead it is
            seconds = params.get("duration")
            take = self.takes[job_id] = GrowingTake(title, float(seconds) if isinstance(seconds, (int, float)) else 0.0, int(rate), start)
        samples = np.asarray(chunk, dtype=np.float32)
        samples = samples[:, None] if samples.ndim == 1 else samples
        take.chunks.append(samples)
        shown = samples if take.rate == timeline.sample_rate else resample(samples, take.rate, timeline.sample_rate)
        take.shown.append(shown)
        workspace.arrangement.viewport().update()

    def drop(self, job_id: int) -> None:
        if self.takes.pop(job_id, None) is not None:
            self.workspace.arrangement.viewport().update()

    def land_stopped(self, job_id: int, generator_id: str, params: dict[str, Any], continues: int | None = None) -> tuple[Clip, Result] | None:
        """What job ``job_id`` streamed before it was stopped, landed as a take (one undo step):
        the clip and the result it holds; None when it had streamed nothing."""
        take = self.takes.pop(job_id, None)
        if take is None or not take.chunks:
            return None
        self.workspace.arrangement.viewport().update()
        samples = np.concatenate(take.chunks)
        result = Result("audio", samples, generator_id, dict(params), sample_rate=take.rate,
                        info={"stopped_at_s": round(take.made, 3), "notes": [f"stopped at {clock(take.made)}: what was made is kept"]})
        clip = self.workspace.add_generated(result, take.title, continues=continues, name_suffix=f"(stopped at {clock(take.made)})")
        return None if clip is None else (clip, result)

    def clip_of(self, take: GrowingTake) -> Clip | None:
        """The take so far as a clip to draw (None before its first chunk)."""
        if not take.shown:
            return None
        if len(take.shown) > 1:  # joined once per chunk, kept joined
            take.shown[:] = [np.concatenate(take.shown)]
        return Clip(take.title, Audio(take.shown[0], self.workspace.timeline.sample_rate), start=take.start)


def paint_growing(arrangement, painter: QPainter) -> None:
    """Each growing take as a ghost clip in a lane below the tracks (where a take of its own
    lands), with how much of it is made."""
    growing = arrangement.workspace.growing
    if not growing.takes:
        return
    timeline = arrangement.timeline
    taken = {track.colour for track in timeline.tracks}
    colour = next(c for c in range(len(taken) + 1) if c not in taken)  # the colour its own track will get
    for offset, take in enumerate(growing.takes.values()):
        clip = growing.clip_of(take)
        index = len(timeline.tracks) + offset
        top = arrangement.row_top(index)
        if clip is not None:
            arrangement._paint_clip(painter, index, Track(take.title, colour=colour), clip, False)
        full = round(take.seconds * timeline.sample_rate) if take.seconds else 0
        left = arrangement.x_of(take.start)
        right = arrangement.x_of(take.start + max(full, clip.length if clip is not None else 0))
        outline = QRectF(left, top + 2, max(2.0, right - left), arrangement.row_top(index + 1) - top - 4)
        painter.setPen(QPen(GHOST, 1, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(outline)
        painter.setPen(QColor("#d8e4f2"))
        total = f" of {clock(take.seconds)}" if take.seconds else ""
        painter.drawText(outline.adjusted(6, 0, -6, -4), Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft,
                         f"Generating {take.title} · {clock(take.made)}{total}")
