"""The arrangement view: one painted widget showing the timeline, scrolled and zoomed here.

One painted widget (a QAbstractScrollArea) rather than an item per clip: a song of a few
hundred clips repaints in one pass over what is visible, and hit-testing is arithmetic.
This module puts the widget together and owns scrolling and zoom (Ctrl+wheel zooms around
the cursor, Shift+wheel scrolls sideways) and following the playhead; its other parts are
``arrangement_geometry`` (coordinates, hit-testing), ``arrangement_painting`` (ruler, grid,
clips, waveforms, loop, playhead) and ``arrangement_gestures`` (drags, menus, dropped files).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QAbstractScrollArea

from studio.ui.timeline.arrangement_geometry import RULER_H, TRACK_H, ArrangementGeometry, Hit, row_offset
from studio.ui.timeline.arrangement_gestures import ArrangementGestures, Drag
from studio.ui.timeline.arrangement_painting import ArrangementPainting, track_colour

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace

__all__ = ["Arrangement", "Drag", "Hit", "RULER_H", "TRACK_H", "track_colour"]

MIN_FPP, MAX_FPP = 8.0, 48_000.0  # frames per pixel: about 6000 px/s .. 1 px/s at 48 kHz


class Arrangement(ArrangementPainting, ArrangementGestures, ArrangementGeometry, QAbstractScrollArea):
    """The arrangement of the Audio workspace: its parts are the mixins it is made of."""

    def __init__(self, workspace: "AudioWorkspace") -> None:
        super().__init__()
        self.setObjectName("arrangement")
        self.workspace = workspace
        self.frames_per_pixel = 480.0  # 100 px per second at 48 kHz
        self.drag: Drag | None = None
        self._area = QRect()  # the part of the viewport being repainted
        self._playhead_x: int | None = None
        self.setFrameShape(QAbstractScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.viewport().setMouseTracking(True)
        self.viewport().setAcceptDrops(True)
        self.setAcceptDrops(True)
        self.setMinimumHeight(RULER_H + TRACK_H)
        self.horizontalScrollBar().valueChanged.connect(self.viewport().update)
        self.verticalScrollBar().valueChanged.connect(self.viewport().update)
        workspace.timeline_changed.connect(self.refresh)
        workspace.gesture_closed.connect(self._drag_ended)
        workspace.selection_changed.connect(self.viewport().update)
        workspace.playhead_changed.connect(self._on_playhead)

    # -- scrolling and zoom --------------------------------------------------------------

    def refresh(self) -> None:
        self._update_scrollbars()
        self.viewport().update()

    def _update_scrollbars(self) -> None:
        width = self.viewport().width()
        # room to keep working past the last clip: a minute, or a screen, whichever is more
        content = max(self.timeline.end, self.workspace.playhead) / self.frames_per_pixel + max(width, 60 * self.timeline.sample_rate / self.frames_per_pixel)
        bar = self.horizontalScrollBar()
        bar.setRange(0, max(0, int(content - width)))
        bar.setPageStep(width)
        bar.setSingleStep(max(1, width // 20))
        rows = self.viewport().height() - RULER_H
        vbar = self.verticalScrollBar()
        vbar.setRange(0, max(0, row_offset(self.timeline, len(self.timeline.tracks)) + TRACK_H // 2 - rows))
        vbar.setPageStep(max(1, rows))
        vbar.setSingleStep(TRACK_H // 3)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._update_scrollbars()

    def zoom_by(self, factor: float, anchor_x: float | None = None) -> None:
        """Zoom keeping the frame under ``anchor_x`` (the cursor, else the playhead) in place."""
        if anchor_x is None:
            anchor_x = self.x_of(self.workspace.playhead)
            if not 0 <= anchor_x <= self.viewport().width():
                anchor_x = self.viewport().width() / 2
        frame = self.frame_of(anchor_x)
        self.frames_per_pixel = float(np.clip(self.frames_per_pixel / factor, MIN_FPP, MAX_FPP))
        self._update_scrollbars()
        self.horizontalScrollBar().setValue(int(round(frame / self.frames_per_pixel - anchor_x)))
        self.viewport().update()

    def zoom_to_fit(self) -> None:
        end = self.timeline.end or int(self.timeline.sample_rate * 30)
        self.frames_per_pixel = float(np.clip(end * 1.05 / max(100, self.viewport().width()), MIN_FPP, MAX_FPP))
        self._update_scrollbars()
        self.horizontalScrollBar().setValue(0)
        self.viewport().update()

    def ensure_visible(self, clip_id: int) -> None:
        """Scroll so that the clip's start and its track are in view (the history's "Show")."""
        clip, track = self.timeline.clip(clip_id), self.timeline.track_of(clip_id)
        x, width = self.x_of(clip.start), self.viewport().width()
        if not 0 <= x <= width - 40:
            bar = self.horizontalScrollBar()
            bar.setValue(int(bar.value() + x - width / 4))
        top = row_offset(self.timeline, self.timeline.track_index(track.id))
        vbar = self.verticalScrollBar()
        if not vbar.value() <= top <= vbar.value() + self.viewport().height() - RULER_H - TRACK_H:
            vbar.setValue(max(0, top - TRACK_H))
        self.viewport().update()

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        delta = event.angleDelta()
        steps = (delta.y() or delta.x()) / 120.0
        modifiers = event.modifiers()
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(1.2**steps, event.position().x())
        elif modifiers & Qt.KeyboardModifier.ShiftModifier or delta.x():
            bar = self.horizontalScrollBar()
            bar.setValue(int(bar.value() - steps * bar.singleStep() * 3))
        else:
            bar = self.verticalScrollBar()
            bar.setValue(int(bar.value() - steps * bar.singleStep()))
        event.accept()

    def _on_playhead(self, frame: int) -> None:
        """Keep the playhead in view while playing: page on when it passes the right edge.

        Only the strips under the old and the new playhead are repainted: 30 times a second
        a whole song would cost more than the mixer.
        """
        x, width = self.x_of(frame), self.viewport().width()
        if self.workspace.playing and self.drag is None and (x > width - 20 or x < 0):
            self._update_scrollbars()
            self.horizontalScrollBar().setValue(int(frame / self.frames_per_pixel - width * 0.1))
            return  # scrolling repaints everything
        height = self.viewport().height()
        for old_or_new in (self._playhead_x, round(x)):
            if old_or_new is not None:
                self.viewport().update(QRect(old_or_new - 8, 0, 17, height))
        self._playhead_x = round(x)

