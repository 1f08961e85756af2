"""Track heights: drag a header's bottom edge to make that track taller or shorter, Ctrl+wheel
over the headers to change them all.

A height is a view of the track, as in Reaper, Ableton Live or Audacity: it is kept with the
track in the project, but it is not an edit of the music, so it makes no undo step, and undoing
an edit never puts back an old height (``keep_heights``: a restored timeline takes the heights
the tracks have now).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

from studio.core.audio.timeline import Timeline, TimelineError
from studio.ui.timeline.arrangement_geometry import MAX_TRACK_H, MIN_TRACK_H, track_height

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace

GRIP_H = 5  # the strip along a header's bottom edge that resizes its track


def set_track_height(ws: "AudioWorkspace", track_id: int, height: int) -> None:
    """Track ``track_id`` ``height`` pixels tall (kept within the allowed range); no undo step."""
    try:
        timeline = ws.timeline.update_track(track_id, height=min(max(int(height), MIN_TRACK_H), MAX_TRACK_H))
    except TimelineError:
        return
    _show(ws, timeline)


def scale_heights(ws: "AudioWorkspace", factor: float) -> None:
    """Every track ``factor`` times as tall (Ctrl+wheel over the headers)."""
    tracks = tuple(replace(t, height=min(max(round(track_height(t) * factor), MIN_TRACK_H), MAX_TRACK_H)) for t in ws.timeline.tracks)
    if tracks:
        _show(ws, replace(ws.timeline, tracks=tracks))


def _show(ws: "AudioWorkspace", timeline: Timeline) -> None:
    if ws.in_gesture:
        return  # a drag holds the timeline it started from; resize after it
    ws._timeline = timeline  # taken as the heights the tracks have now (see keep_heights)
    ws.swap(timeline)
    ws.arrangement.refresh()


def keep_heights(current: Timeline, restored: Timeline) -> Timeline:
    """``restored`` (an undo, a redo) with the heights its tracks have in ``current``."""
    heights = {t.id: t.height for t in current.tracks}
    if all(heights.get(t.id, t.height) == t.height for t in restored.tracks):
        return restored
    return replace(restored, tracks=tuple(replace(t, height=heights.get(t.id, t.height)) for t in restored.tracks))


class HeightGrip(QWidget):
    """A header's bottom edge: dragged, it resizes the track."""

    def __init__(self, header: QWidget, workspace: "AudioWorkspace", track_id: int) -> None:
        super().__init__(header)
        self.workspace, self.track_id = workspace, track_id
        self.setObjectName("height_grip")
        self.setCursor(Qt.CursorShape.SizeVerCursor)
        self.setToolTip("Drag to make this track taller or shorter (Ctrl+wheel over the headers: all tracks)")
        self._press: tuple[float, int] | None = None

    def place(self) -> None:
        header = self.parentWidget()
        self.setGeometry(0, header.height() - GRIP_H, header.width(), GRIP_H)
        self.raise_()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = (event.globalPosition().y(), self.parentWidget().height())

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._press is not None:
            y, height = self._press
            set_track_height(self.workspace, self.track_id, height + event.globalPosition().y() - y)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._press = None

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.width() // 2 - 12, 2, 24, 1, QColor("#4a4a55"))  # a small grip line: it can be dragged
        painter.end()
