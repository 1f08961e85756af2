"""Where things are in the arrangement: rows and pixels to frames and back, and hit-testing.

Hit-testing is arithmetic over the timeline (no item per clip), so it is the same code the
painting uses to place a clip: ``clip_rect``. ``ArrangementGeometry`` is a part of
``Arrangement`` (a mixin): it reads the widget's scroll bars and ``frames_per_pixel``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF

from studio.core.audio.timeline import Clip, Marker, Timeline, Track

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace

MARKER_LANE = 14  # the markers' lane along the ruler's top
RULER_H = 30 + MARKER_LANE
TRACK_H = 84
MIN_TRACK_H, MAX_TRACK_H = 56, 320  # what a track may be resized to: its header's controls fit
EDGE_PX = 6  # how close to a clip's edge a press trims instead of moving
HANDLE_PX = 8  # the fade handles' size


def track_height(track: Track) -> int:
    """A track's row height in pixels: the one the user set, else the default."""
    return min(max(track.height, MIN_TRACK_H), MAX_TRACK_H) if track.height else TRACK_H


def row_offset(timeline: Timeline, index: int) -> int:
    """The top of row ``index`` below the ruler (rows past the tracks, such as a take still
    being generated, are of the default height)."""
    tracks = timeline.tracks
    return sum(track_height(t) for t in tracks[:index]) + max(0, index - len(tracks)) * TRACK_H


@dataclass
class Hit:
    """What is under a point: ``kind`` is ruler | marker | clip | trim_left | trim_right |
    fade_in | fade_out | lane | empty."""

    kind: str
    track: Track | None = None
    clip: Clip | None = None
    marker: Marker | None = None


class ArrangementGeometry:
    """The arrangement's coordinates: frames <-> x, rows <-> y, and what lies under a point."""

    workspace: "AudioWorkspace"
    frames_per_pixel: float

    @property
    def timeline(self) -> Timeline:
        return self.workspace.timeline

    def x_of(self, frame: float) -> float:
        return frame / self.frames_per_pixel - self.horizontalScrollBar().value()

    def frame_of(self, x: float) -> float:
        return max(0.0, (x + self.horizontalScrollBar().value()) * self.frames_per_pixel)

    def row_top(self, index: int) -> int:
        return RULER_H + row_offset(self.timeline, index) - self.verticalScrollBar().value()

    def row_height(self, index: int) -> int:
        tracks = self.timeline.tracks
        return track_height(tracks[index]) if 0 <= index < len(tracks) else TRACK_H

    def row_at(self, y: float) -> int | None:
        if y < RULER_H:
            return None
        below = y - RULER_H + self.verticalScrollBar().value()
        top = 0
        for index, track in enumerate(self.timeline.tracks):
            top += track_height(track)
            if below < top:
                return index
        return None

    def flag_rect(self, marker: Marker) -> QRectF:
        """Where ``marker``'s flag is drawn and hit: from its frame rightwards, as wide as its name."""
        width = self.fontMetrics().horizontalAdvance(marker.name) + 10 if marker.name else 10
        return QRectF(self.x_of(marker.frame), 0, min(width, 160), MARKER_LANE)

    def marker_at(self, pos: QPointF) -> Marker | None:
        if pos.y() >= MARKER_LANE + 2:
            return None
        for marker in reversed(self.timeline.markers):  # the later one is drawn on top
            if self.flag_rect(marker).adjusted(-3, 0, 0, 2).contains(pos):
                return marker
        return None

    def clip_rect(self, index: int, clip: Clip) -> QRectF:
        left, right = self.x_of(clip.start), self.x_of(clip.end)
        return QRectF(left, self.row_top(index) + 2, max(2.0, right - left), self.row_height(index) - 4)

    def hit(self, pos: QPointF) -> Hit:
        if pos.y() < RULER_H:
            marker = self.marker_at(pos)
            return Hit("marker", marker=marker) if marker is not None else Hit("ruler")
        index = self.row_at(pos.y())
        if index is None:
            return Hit("empty")
        track = self.timeline.tracks[index]
        for clip in reversed(track.clips):  # the later clip is drawn on top
            rect = self.clip_rect(index, clip)
            if not rect.adjusted(-2, 0, 2, 0).contains(pos):
                continue
            if pos.y() < rect.top() + HANDLE_PX + 2 and rect.width() > 4 * HANDLE_PX:
                if abs(pos.x() - (rect.left() + clip.fade_in / self.frames_per_pixel)) <= HANDLE_PX:
                    return Hit("fade_in", track, clip)
                if abs(pos.x() - (rect.right() - clip.fade_out / self.frames_per_pixel)) <= HANDLE_PX:
                    return Hit("fade_out", track, clip)
            edge = min(EDGE_PX, rect.width() / 4)
            if pos.x() <= rect.left() + edge:
                return Hit("trim_left", track, clip)
            if pos.x() >= rect.right() - edge:
                return Hit("trim_right", track, clip)
            return Hit("clip", track, clip)
        return Hit("lane", track)
