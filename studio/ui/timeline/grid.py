"""Beat arithmetic the arrangement, the transport bar and the workspace share (no Qt).

Frames are the timeline's unit; a musician reads bars and beats. ``Grid`` converts between
the two at the timeline's tempo and metre and snaps to a chosen division.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.audio.timeline import Timeline

#: Snap divisions offered to the user: label -> beats per grid step (a beat is a quarter note).
DIVISIONS: dict[str, float] = {"Bar": 0.0, "1/4": 1.0, "1/8": 0.5, "1/16": 0.25, "1/32": 0.125}
DEFAULT_DIVISION = "1/4"


@dataclass(frozen=True)
class Grid:
    """A timeline's beats seen through the snap division the user chose."""

    timeline: Timeline
    division: str = DEFAULT_DIVISION

    @classmethod
    def of(cls, timeline: Timeline, division: str = DEFAULT_DIVISION) -> "Grid":
        return cls(timeline, division)

    @property
    def frames_per_bar(self) -> float:
        return self.timeline.frames_per_bar

    @property
    def beats(self) -> float:
        """Beats per snap step: a bar, or a fraction of a beat."""
        beats = DIVISIONS.get(self.division, 1.0)
        return float(self.timeline.beats_per_bar) if beats == 0.0 else beats

    @property
    def step(self) -> float:
        """Frames per snap step."""
        return self.timeline.frames_per_beat * self.beats

    def snap(self, frame: float) -> int:
        return self.timeline.snap(frame, self.beats)

    def bars_beats(self, frame: float) -> str:
        """``bar.beat.sixteenth``, counted from 1 as sequencers show it (1.1.1 is the start)."""
        sixteenths = int(max(0.0, frame) / (self.timeline.frames_per_beat / 4) + 1e-6)
        beat, sixteenth = divmod(sixteenths, 4)
        bar, beat = divmod(beat, self.timeline.beats_per_bar)
        return f"{bar + 1}.{beat + 1}.{sixteenth + 1}"

    def clock(self, frame: float) -> str:
        """``m:ss.mmm``."""
        return clock(frame, self.timeline.sample_rate)


def clock(frame: float, sample_rate: int, decimals: int = 3) -> str:
    """``m:ss.mmm`` (or fewer decimals) of ``frame`` at ``sample_rate``: every time Studio shows."""
    scale = 10**decimals
    ticks = int(round(max(0.0, frame) * scale / sample_rate))
    minutes, ticks = divmod(ticks, 60 * scale)
    seconds, fraction = divmod(ticks, scale)
    return f"{minutes}:{seconds:02d}" + (f".{fraction:0{decimals}d}" if decimals else "")
