"""The arrangement view: ruler, beat grid, clips with waveforms, loop region and playhead.

One painted widget (a QAbstractScrollArea) rather than an item per clip: a song of a few
hundred clips repaints in one pass over what is visible, and hit-testing is arithmetic.
Waveforms come from each buffer's cached min/max peaks (``Audio.peaks.span``), so a paint
reads a few hundred numbers per clip and never touches the samples.

Gestures (each one undo step, pushed at release): drag a clip to move it (also onto another
track), drag its edges to trim, drag the small squares at its top corners to fade, drag on the
ruler to draw a loop region, click the ruler or an empty lane to move the playhead. Positions
snap to the grid unless Shift or Alt is held. Ctrl+wheel zooms around the cursor, Shift+wheel
scrolls sideways. Audio files dropped on a lane are imported there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QAbstractScrollArea, QInputDialog, QMenu

from studio.core.timeline import PEAK_BLOCK, Clip, Timeline, TimelineError, Track
from studio.ui.plain import plain_tip
from studio.ui.timeline.grid import clock

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace

RULER_H = 30
TRACK_H = 84
EDGE_PX = 6  # how close to a clip's edge a press trims instead of moving
HANDLE_PX = 8  # the fade handles' size
CLIP_TITLE_H = 15
MIN_FPP, MAX_FPP = 8.0, 48_000.0  # frames per pixel: about 6000 px/s .. 1 px/s at 48 kHz

#: Track colours (Bitwig-like, muted for a dark theme); a track keeps its colour when moved.
PALETTE = ("#d9824a", "#5fa8d3", "#8bc16a", "#c97bd1", "#e0c14f", "#4fc1b0", "#e06a7a", "#8f8fe0")
BACKGROUND = QColor("#1c1c20")
LANE, LANE_ALT, LANE_SELECTED = QColor("#212126"), QColor("#242429"), QColor("#2b2b33")
RULER_BG, RULER_TEXT = QColor("#2a2a30"), QColor("#a9a9b3")
BAR_LINE, BEAT_LINE, SUB_LINE = QColor("#3a3a44"), QColor("#2c2c34"), QColor("#26262d")
PLAYHEAD = QColor("#ff5a4f")
LOOP_ON, LOOP_OFF = QColor(80, 150, 240, 110), QColor(140, 140, 150, 70)


def track_colour(track: Track) -> QColor:
    return QColor(PALETTE[track.colour % len(PALETTE)])


@dataclass
class Hit:
    """What is under a point: ``kind`` is ruler | clip | trim_left | trim_right | fade_in |
    fade_out | lane | empty."""

    kind: str
    track: Track | None = None
    clip: Clip | None = None


#: The undo step each kind of drag makes.
GESTURE_NAMES = {"clip": "Move clip", "trim_left": "Trim clip", "trim_right": "Trim clip", "fade_in": "Fade in", "fade_out": "Fade out"}


@dataclass
class Drag:
    """A gesture under way: where it started and the timeline value it started from."""

    kind: str
    base: Timeline
    press_x: float
    press_frame: int
    clip: Clip | None = None
    moved: bool = False


class Arrangement(QAbstractScrollArea):
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

    # -- coordinates ---------------------------------------------------------------------

    @property
    def timeline(self) -> Timeline:
        return self.workspace.timeline

    def x_of(self, frame: float) -> float:
        return frame / self.frames_per_pixel - self.horizontalScrollBar().value()

    def frame_of(self, x: float) -> float:
        return max(0.0, (x + self.horizontalScrollBar().value()) * self.frames_per_pixel)

    def row_top(self, index: int) -> int:
        return RULER_H + index * TRACK_H - self.verticalScrollBar().value()

    def row_at(self, y: float) -> int | None:
        if y < RULER_H:
            return None
        index = int((y - RULER_H + self.verticalScrollBar().value()) // TRACK_H)
        return index if 0 <= index < len(self.timeline.tracks) else None

    def clip_rect(self, index: int, clip: Clip) -> QRectF:
        left, right = self.x_of(clip.start), self.x_of(clip.end)
        return QRectF(left, self.row_top(index) + 2, max(2.0, right - left), TRACK_H - 4)

    def hit(self, pos: QPointF) -> Hit:
        if pos.y() < RULER_H:
            return Hit("ruler")
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
        vbar.setRange(0, max(0, len(self.timeline.tracks) * TRACK_H + TRACK_H // 2 - rows))
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
        top = self.timeline.track_index(track.id) * TRACK_H
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

    # -- painting ------------------------------------------------------------------------

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        rect = self.viewport().rect()
        self._area = event.rect()  # while playing, only the strips around the playhead
        painter.fillRect(self._area, BACKGROUND)
        first, last = self.frame_of(self._area.left() - 1), self.frame_of(self._area.right() + 1)
        self._paint_lanes(painter, rect.width())
        self._paint_grid(painter, first, last, RULER_H, rect.height())
        painter.setClipRect(QRectF(0, RULER_H, rect.width(), rect.height() - RULER_H))
        audible = {t.id for t in self.timeline.audible()}  # once per paint, not per clip
        for index, track in enumerate(self.timeline.tracks):
            top = self.row_top(index)
            if top + TRACK_H < RULER_H or top > rect.height():
                continue
            for clip in track.clips:
                if clip.end >= first and clip.start <= last:
                    self._paint_clip(painter, index, track, clip, track.id not in audible)
        painter.setClipping(False)
        self._paint_loop_shade(painter, rect.height())
        self._paint_ruler(painter, first, last, rect.width())
        self._paint_playhead(painter, rect.height())
        if not self.timeline.tracks:
            painter.setPen(QColor("#85858d"))
            painter.drawText(  # wrapped where the lanes are narrower than its lines (a small screen)
                QRectF(8, RULER_H, rect.width() - 16, rect.height() - RULER_H),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "No tracks yet.\nAdd one (Ctrl+T), import audio (Ctrl+I) or drop audio files here,\n"
                "or pick an audio generator on the left and press Generate.",
            )
        painter.end()

    def _paint_lanes(self, painter: QPainter, width: int) -> None:
        selected = self.workspace.selected_track_id
        for index, track in enumerate(self.timeline.tracks):
            top = self.row_top(index)
            colour = LANE_SELECTED if track.id == selected else (LANE if index % 2 == 0 else LANE_ALT)
            painter.fillRect(QRectF(0, top, width, TRACK_H), colour)
            painter.fillRect(QRectF(0, top + TRACK_H - 1, width, 1), QColor("#17171a"))

    def _grid_levels(self) -> list[tuple[float, QColor]]:
        """Grid spacings (frames) worth drawing at this zoom, coarse to fine, with their pens."""
        beat = self.timeline.frames_per_beat
        bar = self.timeline.frames_per_bar
        levels, px = [], lambda frames: frames / self.frames_per_pixel
        bars = bar
        while px(bars) < 40:  # far out: every 2, 4, 8 … bars
            bars *= 2
        levels.append((bars, BAR_LINE))
        if bars == bar and px(beat) >= 8:
            levels.append((beat, BEAT_LINE))
            step = self.workspace.grid.step
            if step < beat and px(step) >= 8:
                levels.append((step, SUB_LINE))
        return levels

    def _paint_grid(self, painter: QPainter, first: float, last: float, top: int, bottom: int) -> None:
        for spacing, colour in reversed(self._grid_levels()):  # fine lines first, bars on top
            painter.setPen(QPen(colour, 1))
            n = int(first // spacing)
            while n * spacing <= last:
                x = round(self.x_of(n * spacing))
                painter.drawLine(x, top, x, bottom)
                n += 1

    def _paint_ruler(self, painter: QPainter, first: float, last: float, width: int) -> None:
        painter.fillRect(QRectF(0, 0, width, RULER_H), RULER_BG)
        if self.workspace.loop is not None:
            start, end = self.workspace.loop
            left, right = self.x_of(start), self.x_of(end)
            painter.fillRect(QRectF(left, 0, right - left, RULER_H), LOOP_ON if self.workspace.loop_enabled else LOOP_OFF)
        beat = self.timeline.frames_per_beat
        bar = self.timeline.frames_per_bar
        levels = self._grid_levels()
        bars = levels[0][0]
        painter.setFont(self._fonts()[0])
        if len(levels) > 1:  # beat ticks
            painter.setPen(QPen(QColor("#55555f"), 1))
            n = int(first // beat)
            while n * beat <= last:
                x = round(self.x_of(n * beat))
                painter.drawLine(x, RULER_H - 6, x, RULER_H - 1)
                n += 1
        n = int(first // bars)
        while n * bars <= last:
            frame = n * bars
            x = round(self.x_of(frame))
            painter.setPen(QPen(QColor("#6a6a75"), 1))
            painter.drawLine(x, 10, x, RULER_H - 1)
            painter.setPen(RULER_TEXT)
            painter.drawText(QPointF(x + 4, 13), str(int(round(frame / bar)) + 1))
            n += 1
        # seconds, quietly, along the bottom edge of the ruler
        painter.setPen(QColor("#6f6f79"))
        seconds_step = _nice_step(70 * self.frames_per_pixel / self.timeline.sample_rate)
        s = int(first / self.timeline.sample_rate // seconds_step)
        while s * seconds_step * self.timeline.sample_rate <= last:
            seconds = s * seconds_step
            x = self.x_of(seconds * self.timeline.sample_rate)
            label = clock(seconds * self.timeline.sample_rate, self.timeline.sample_rate, 1 if seconds_step < 1 else 0)
            painter.drawText(QPointF(x + 3, RULER_H - 4), label)
            s += 1
        painter.fillRect(QRectF(0, RULER_H - 1, width, 1), QColor("#15151a"))

    def _paint_loop_shade(self, painter: QPainter, height: int) -> None:
        if self.workspace.loop is None or not self.workspace.loop_enabled:
            return
        start, end = self.workspace.loop
        left, right = self.x_of(start), self.x_of(end)
        painter.fillRect(QRectF(left, RULER_H, right - left, height - RULER_H), QColor(80, 150, 240, 22))
        painter.setPen(QPen(QColor(80, 150, 240, 120), 1))
        painter.drawLine(QPointF(left, RULER_H), QPointF(left, height))
        painter.drawLine(QPointF(right, RULER_H), QPointF(right, height))

    def _paint_playhead(self, painter: QPainter, height: int) -> None:
        x = self._playhead_x = round(self.x_of(self.workspace.playhead))
        if not -8 <= x <= self.viewport().width() + 8:
            return
        painter.setPen(QPen(PLAYHEAD, 1))
        painter.drawLine(x, 0, x, height)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(PLAYHEAD)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawPolygon(QPolygonF([QPointF(x - 6, 0), QPointF(x + 6, 0), QPointF(x, 8)]))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def _fonts(self) -> tuple[QFont, QFont, QFontMetrics]:
        """The ruler's small font, the clip titles' bold one and its metrics: made once per
        widget font, not per clip per paint."""
        key = self.font().key()
        if getattr(self, "_font_key", None) != key:
            small = QFont(self.font())
            small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
            bold = QFont(small)
            bold.setBold(True)
            self._font_key, self._font_cache = key, (small, bold, QFontMetrics(bold))
        return self._font_cache

    def _paint_clip(self, painter: QPainter, index: int, track: Track, clip: Clip, muted: bool) -> None:
        rect = self.clip_rect(index, clip)
        colour = track_colour(track)
        if muted:
            colour = QColor.fromHsvF(colour.hsvHueF(), 0.15, 0.55)
        selected = clip.id == self.workspace.selected_clip_id
        # plain fills: antialiased alpha paths cost ~10x more and a song repaints every frame while playing
        body = QColor(colour)
        body.setAlphaF(0.30 if not selected else 0.42)
        painter.fillRect(rect.adjusted(1, 1, -1, -1), body)
        strip = QColor(colour)
        strip.setAlphaF(0.85)
        painter.fillRect(QRectF(rect.left() + 1, rect.top() + 1, rect.width() - 2, CLIP_TITLE_H - 1), strip)
        # waveform: only the visible columns, from the buffer's cached peaks
        wave = QRectF(rect.left(), rect.top() + CLIP_TITLE_H, rect.width(), rect.height() - CLIP_TITLE_H)
        self._paint_waveform(painter, wave, clip, colour.lighter(150) if not muted else colour.lighter(120))
        self._paint_fades(painter, wave, clip, colour)
        # name
        if rect.width() > 24:
            painter.setPen(QColor("#16161a"))
            _small, bold, metrics = self._fonts()
            painter.setFont(bold)
            visible_left = max(rect.left(), 0.0) + HANDLE_PX + 4  # clear of the fade-in handle
            text = metrics.elidedText(clip.name, Qt.TextElideMode.ElideRight, int(rect.right() - visible_left - HANDLE_PX - 4))
            painter.drawText(QPointF(visible_left, rect.top() + CLIP_TITLE_H - 4), text)
        # outline and fade handles
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor("#f2f2f5") if selected else colour.darker(130), 2 if selected else 1))
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 3, 3)
        if rect.width() > 4 * HANDLE_PX:
            painter.setPen(QPen(QColor("#16161a"), 1))
            painter.setBrush(QColor("#f2f2f5"))
            for x in (rect.left() + clip.fade_in / self.frames_per_pixel, rect.right() - clip.fade_out / self.frames_per_pixel):
                x = min(max(x, rect.left() + HANDLE_PX / 2), rect.right() - HANDLE_PX / 2)
                painter.drawRect(QRectF(x - HANDLE_PX / 2 + 0.5, rect.top() + 1.5, HANDLE_PX - 1, HANDLE_PX - 1))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def _paint_waveform(self, painter: QPainter, wave: QRectF, clip: Clip, colour: QColor) -> None:
        left = max(wave.left(), float(self._area.left()))
        right = min(wave.right(), float(self._area.right() + 1))
        columns = int(right - left)
        if columns < 1 or wave.height() < 6:
            return
        # the clip frames under the visible columns, then the audio frames behind them
        first = int(self.frame_of(left)) - clip.start
        last = int(self.frame_of(right)) - clip.start
        first, last = max(0, first), min(clip.length, last)
        if last <= first:
            return
        peaks = _columns(clip, first, last, columns)
        centres = first + (np.arange(columns) + 0.5) * (last - first) / columns
        peaks = peaks * clip.gain_at(centres)[:, None]  # drawn as heard: fades and clip gain
        # rasterised with numpy, one column per pixel: no Python loop over columns
        top_y, height = int(wave.top()), int(wave.height())
        mid, half = height / 2.0, height / 2.0 - 2
        tops = np.floor(mid - np.clip(peaks[:, 1], -1, 1) * half)
        bottoms = np.ceil(mid - np.clip(peaks[:, 0], -1, 1) * half)
        rows = np.arange(height, dtype=np.float32)[:, None]
        inside = (rows >= tops[None, :]) & (rows <= np.maximum(bottoms, tops)[None, :])
        pixels = np.where(inside, np.uint32(colour.rgba()), np.uint32(0)).astype(np.uint32)
        image = QImage(pixels.data, columns, height, columns * 4, QImage.Format.Format_ARGB32)
        painter.drawImage(int(left), top_y, image)  # drawn before ``pixels`` can go away
        painter.setPen(QPen(colour.darker(160), 1))
        painter.drawLine(QPointF(left, top_y + mid), QPointF(right, top_y + mid))

    def _paint_fades(self, painter: QPainter, wave: QRectF, clip: Clip, colour: QColor) -> None:
        shade = QColor(0, 0, 0, 90)
        line = QPen(QColor("#e8e8ee"), 1)
        for length, at_start in ((clip.fade_in, True), (clip.fade_out, False)):
            if not length:
                continue
            width = length / self.frames_per_pixel
            if at_start:
                corner, edge = QPointF(wave.left(), wave.bottom()), QPointF(wave.left() + width, wave.top())
                shaded = QPolygonF([QPointF(wave.left(), wave.top()), edge, corner])
            else:
                corner, edge = QPointF(wave.right(), wave.bottom()), QPointF(wave.right() - width, wave.top())
                shaded = QPolygonF([QPointF(wave.right(), wave.top()), edge, corner])
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(shade)
            painter.drawPolygon(shaded)
            painter.setPen(line)
            painter.drawLine(corner, edge)

    # -- gestures ------------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        pos = event.position()
        hit = self.hit(pos)
        ws = self.workspace
        if event.button() == Qt.MouseButton.RightButton:
            if hit.clip is not None:
                ws.select_clip(hit.clip.id)
                self._clip_menu(hit.clip, event.globalPosition().toPoint())
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        frame = int(self.frame_of(pos.x()))
        if hit.kind == "ruler":
            self.drag = Drag("ruler", self.timeline, pos.x(), frame)
            ws.set_playhead(ws.snap(frame, _bypass(event)))
            return
        if hit.track is not None:
            ws.select_track(hit.track.id)
        if hit.clip is None:
            ws.select_clip(None)
            if hit.kind == "lane":
                ws.set_playhead(ws.snap(frame, _bypass(event)))
            return
        ws.select_clip(hit.clip.id)
        self.drag = Drag(hit.kind, self.timeline, pos.x(), frame, hit.clip)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        pos = event.position()
        drag = self.drag
        if drag is not None and not event.buttons() & Qt.MouseButton.LeftButton:
            # the release went elsewhere (a menu or dialog took it): the drag ends here
            self.drag = drag = None
            self.workspace.commit_gesture()
        if drag is None:
            self._set_cursor(self.hit(pos))
            return
        if not drag.moved and abs(pos.x() - drag.press_x) < 3 and drag.kind != "clip":
            return
        if drag.kind == "clip" and not drag.moved and abs(pos.x() - drag.press_x) < 3 and self.row_at(pos.y()) == self._row_of(drag.clip):
            return
        ws = self.workspace
        if not drag.moved and drag.kind != "ruler":
            ws.begin_gesture(GESTURE_NAMES[drag.kind])
            drag.base = ws.timeline  # what the gesture starts from, should it have changed since the press
        drag.moved = True
        bypass = _bypass(event)
        frame = self.frame_of(pos.x())
        if drag.kind == "ruler":
            start = ws.snap(min(drag.press_frame, frame), bypass)
            end = ws.snap(max(drag.press_frame, frame), bypass)
            if end > start:
                ws.set_loop(start, end)
            return
        try:
            ws.preview(self._dragged(drag, frame, pos.y(), bypass))
        except TimelineError:
            pass  # e.g. a trim past the audio: keep the last valid shape

    def _dragged(self, drag: Drag, frame: float, y: float, bypass: bool) -> Timeline:
        """The timeline ``drag`` makes with the mouse at ``frame`` (always from its base)."""
        clip, base, ws = drag.clip, drag.base, self.workspace
        if drag.kind == "clip":
            start = ws.snap(clip.start + frame - drag.press_frame, bypass)
            row = self.row_at(y)
            track_id = base.tracks[row].id if row is not None else base.track_of(clip.id).id
            return base.move_clip(clip.id, track_id, start)
        if drag.kind == "trim_left":
            return base.trim_clip(clip.id, start=ws.snap(frame, bypass))
        if drag.kind == "trim_right":
            return base.trim_clip(clip.id, end=ws.snap(frame, bypass))
        if drag.kind == "fade_in":
            return base.update_clip(clip.id, fade_in=max(0, ws.snap(frame, bypass) - clip.start))
        if drag.kind == "fade_out":
            return base.update_clip(clip.id, fade_out=max(0, clip.end - ws.snap(frame, bypass)))
        return base

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.button() != Qt.MouseButton.LeftButton:
            return  # another button let go: the left-button drag goes on
        self.drag = None
        self.workspace.commit_gesture()

    def _drag_ended(self) -> None:
        self.drag = None

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Esc during a drag puts everything back where it was; no undo step is made."""
        if event.key() == Qt.Key.Key_Escape and self.drag is not None:
            self.drag = None
            self.workspace.cancel_gesture()
            return
        super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        hit = self.hit(event.position())
        if hit.kind == "clip" and hit.clip is not None:
            self._rename(hit.clip)
        elif hit.kind == "empty" and event.position().y() >= RULER_H:
            self.workspace.add_track()

    def _row_of(self, clip: Clip) -> int:
        return self.timeline.track_index(self.timeline.track_of(clip.id).id)

    def _set_cursor(self, hit: Hit) -> None:
        shapes = {"trim_left": Qt.CursorShape.SizeHorCursor, "trim_right": Qt.CursorShape.SizeHorCursor, "fade_in": Qt.CursorShape.PointingHandCursor, "fade_out": Qt.CursorShape.PointingHandCursor, "clip": Qt.CursorShape.OpenHandCursor}
        self.viewport().setCursor(shapes.get(hit.kind, Qt.CursorShape.ArrowCursor))
        if hit.clip is not None:
            self.viewport().setToolTip(plain_tip(_clip_tooltip(hit.clip, self.timeline.sample_rate)))
        else:
            self.viewport().setToolTip("")

    # -- menus ---------------------------------------------------------------------------

    def _clip_menu(self, clip: Clip, where) -> None:
        ws = self.workspace
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self._rename(clip))
        split = menu.addAction("Split at playhead\tS", ws.split_at_playhead)
        split.setEnabled(clip.start < ws.playhead < clip.end)
        menu.addAction("Duplicate\tCtrl+D", ws.duplicate_selected)
        menu.addAction("Delete\tDel", ws.delete_selected)
        menu.addSeparator()
        beat = int(self.timeline.frames_per_beat)
        lengths = (("None", 0), ("1/4 beat", beat // 4), ("1 beat", beat), ("1 bar", int(self.timeline.frames_per_bar)))
        for field, title in (("fade_in", "Fade in"), ("fade_out", "Fade out")):
            fades = menu.addMenu(title)
            for label, frames in lengths:
                fades.addAction(label, lambda f=frames, k=field: ws.set_fades(clip.id, **{k: f}))
        menu.addSeparator()
        menu.addAction("Loop this clip", lambda: ws.set_loop(clip.start, clip.end))
        midi = menu.addAction("Export notes as MIDI…", ws.choose_export_midi)
        midi.setEnabled(bool(clip.info.get("score")))
        menu.popup(where)

    def _rename(self, clip: Clip) -> None:
        name, ok = QInputDialog.getText(self, "Rename clip", "Name:", text=clip.name)
        if ok:
            self.workspace.rename_clip(clip.id, name)

    # -- dropping files ------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if _audio_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if _audio_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        paths = _audio_paths(event.mimeData())
        if not paths:
            return
        event.acceptProposedAction()
        pos = event.position()
        row = self.row_at(pos.y())
        track_id = self.timeline.tracks[row].id if row is not None else None
        start = self.workspace.snap(self.frame_of(pos.x()), _bypass(event))
        self.workspace.import_files(paths, track_id, start)


def _columns(clip: Clip, first: int, last: int, columns: int) -> np.ndarray:
    """(columns, 2) [min, max] of the clip's frames ``first..last``.

    From the buffer's cached peaks, except in close-up (fewer frames than a peak block per
    column), where the few visible samples themselves are read so the wave is smooth.
    """
    start, stop = clip.offset + first, clip.offset + last
    if (stop - start) / columns >= PEAK_BLOCK:
        return clip.audio.peaks.span(start, stop, columns)
    samples = clip.audio.samples[start:stop]
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    edges = np.minimum((np.arange(columns + 1) * (mono.size / columns)).astype(np.int64), mono.size - 1)
    low = np.minimum.reduceat(mono, edges[:-1])
    high = np.maximum.reduceat(mono, edges[:-1])
    # reach to the next column's first sample, so a steep wave is one line, not loose dots
    following = mono[edges[1:]]
    return np.stack([np.minimum(low, following), np.maximum(high, following)], axis=1)


def _bypass(event) -> bool:
    """Shift or Alt held: place freely, off the grid."""
    return bool(event.modifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier))


def _audio_paths(mime) -> list[str]:
    from studio.ui.timeline.workspace import AUDIO_SUFFIXES

    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in AUDIO_SUFFIXES]


def _clip_tooltip(clip: Clip, rate: int) -> str:
    lines = [clip.name, f"{clip.length / rate:.2f} s from {clip.start / rate:.2f} s"]
    if clip.generator:
        lines.append(f"made by {clip.generator}")
    lines += [f"{k}: {v}" for k, v in clip.params.items() if k != "prompt" or v]
    return "\n".join(lines)


def _nice_step(seconds: float) -> float:
    """The first of 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60 … seconds at least ``seconds`` long."""
    for step in (0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if step >= seconds:
            return float(step)
    return 600.0
