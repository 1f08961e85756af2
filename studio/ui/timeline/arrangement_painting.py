"""Painting the arrangement: lanes, the beat grid, the ruler, clips with waveforms and fades,
the loop region and the playhead.

One pass over what is visible, not an item per clip: a song of a few hundred clips repaints
at once. Waveforms come from each buffer's cached min/max peaks (``Audio.peaks.span``), so a
paint reads a few hundred numbers per clip and never touches the samples.
``ArrangementPainting`` is a part of ``Arrangement`` (a mixin): its ``paintEvent``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen, QPolygonF

from studio.core.audio.timeline import Clip, Track
from studio.core.media.sound import PEAK_BLOCK
from studio.ui.timeline.arrangement_geometry import HANDLE_PX, MARKER_LANE, RULER_H
from studio.ui.timeline.grid import clock
from studio.ui.timeline.markers import paint_markers
from studio.ui.timeline.growing_takes import paint_growing
from studio.ui.timeline.piano_roll_clip import paint_clip_notes
from studio.ui.timeline.clip_gain import clip_title

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace

CLIP_TITLE_H = 15

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


class ArrangementPainting:
    """The arrangement's ``paintEvent`` and the pieces it paints, back to front."""

    workspace: "AudioWorkspace"
    frames_per_pixel: float
    _area: QRect  # the part of the viewport being repainted
    _playhead_x: int | None

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
            if top + self.row_height(index) < RULER_H or top > rect.height():
                continue
            for clip in track.clips:
                if clip.end >= first and clip.start <= last:
                    self._paint_clip(painter, index, track, clip, track.id not in audible)
        paint_growing(self, painter)  # takes still being generated, in a lane below the tracks
        painter.setClipping(False)
        self._paint_loop_shade(painter, rect.height())
        self._paint_ruler(painter, first, last, rect.width())
        paint_markers(self, painter, rect.height())  # flags in the ruler's top lane, faint lines below
        self._paint_playhead(painter, rect.height())
        if not self.timeline.tracks and not self.workspace.growing.takes:
            painter.setPen(QColor("#85858d"))
            painter.drawText(  # wrapped where the lanes are narrower than its lines (a small screen)
                QRectF(8, RULER_H, rect.width() - 16, rect.height() - RULER_H),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                "No tracks yet.\nAdd one (Ctrl+T), import audio (Ctrl+I) or drop audio files here,\n"
                "or pick an audio generator in the Generate panel and press Generate.",
            )
        painter.end()

    def _paint_lanes(self, painter: QPainter, width: int) -> None:
        selected = self.workspace.selected_track_id
        for index, track in enumerate(self.timeline.tracks):
            top = self.row_top(index)
            colour = LANE_SELECTED if track.id == selected else (LANE if index % 2 == 0 else LANE_ALT)
            height = self.row_height(index)
            painter.fillRect(QRectF(0, top, width, height), colour)
            painter.fillRect(QRectF(0, top + height - 1, width, 1), QColor("#17171a"))

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
            painter.drawLine(x, MARKER_LANE + 10, x, RULER_H - 1)
            painter.setPen(RULER_TEXT)
            painter.drawText(QPointF(x + 4, MARKER_LANE + 13), str(int(round(frame / bar)) + 1))
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
        shade = colour.lighter(150) if not muted else colour.lighter(120)
        if not paint_clip_notes(painter, wave, clip, self.frames_per_pixel, (self._area.left(), self._area.right() + 1), shade):
            self._paint_waveform(painter, wave, clip, shade)  # a note clip shows its notes instead
        self._paint_fades(painter, wave, clip, colour)
        # name
        if rect.width() > 24:
            painter.setPen(QColor("#16161a"))
            _small, bold, metrics = self._fonts()
            painter.setFont(bold)
            visible_left = max(rect.left(), 0.0) + HANDLE_PX + 4  # clear of the fade-in handle
            text = metrics.elidedText(clip_title(clip), Qt.TextElideMode.ElideRight, int(rect.right() - visible_left - HANDLE_PX - 4))
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



def _nice_step(seconds: float) -> float:
    """The first of 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60 … seconds at least ``seconds`` long."""
    for step in (0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if step >= seconds:
            return float(step)
    return 600.0
