"""Beat arithmetic the arrangement, the transport bar and the workspace share (no Qt).

Frames are the timeline's unit; a musician reads bars and beats. ``Grid`` converts between
the two at the timeline's tempo and metre and snaps to a chosen division.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.timeline import Timeline

#: Snap divisions offered to the user: label -> beats per grid step (a beat is a quarter note).
DIVISIONS: dict[str, float] = {"Bar": 0.0, "1/4": 1.0, "1/8": 0.5, "1/16": 0.25, "1/32": 0.125}
DEFAULT_DIVISION = "1/4"


@dataclass(frozen=True)
class Grid:
    sample_rate: int
    tempo: float
    beats_per_bar: int
    division: str = DEFAULT_DIVISION

    @classmethod
    def of(cls, timeline: Timeline, division: str = DEFAULT_DIVISION) -> "Grid":
        return cls(timeline.sample_rate, timeline.tempo, timeline.beats_per_bar, division)

    @property
    def frames_per_beat(self) -> float:
        return self.sample_rate * 60.0 / self.tempo

    @property
    def frames_per_bar(self) -> float:
        return self.frames_per_beat * self.beats_per_bar

    @property
    def step(self) -> float:
        """Frames per snap step: a bar, or a fraction of a beat."""
        beats = DIVISIONS.get(self.division, 1.0)
        return self.frames_per_bar if beats == 0.0 else self.frames_per_beat * beats

    def snap(self, frame: float) -> int:
        return max(0, int(round(round(frame / self.step) * self.step)))

    def bars_beats(self, frame: float) -> str:
        """``bar.beat.sixteenth``, counted from 1 as sequencers show it (1.1.1 is the start)."""
        sixteenths = int(max(0.0, frame) / (self.frames_per_beat / 4) + 1e-6)
        beat, sixteenth = divmod(sixteenths, 4)
        bar, beat = divmod(beat, self.beats_per_bar)
        return f"{bar + 1}.{beat + 1}.{sixteenth + 1}"

    def clock(self, frame: float) -> str:
        """``m:ss.mmm``."""
        millis = int(round(max(0.0, frame) * 1000 / self.sample_rate))
        minutes, millis = divmod(millis, 60_000)
        return f"{minutes}:{millis // 1000:02d}.{millis % 1000:03d}"
