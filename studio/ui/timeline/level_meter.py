"""A stereo level meter as DAWs draw one: an RMS bar, a peak line, a peak hold, a clip LED.

The scale runs from ``FLOOR_DB`` (-60 dB, silence) to +6 dBFS, linear in decibels, coloured
green below -12 dB, yellow to -3 dB and red above. The bar shows RMS (what the ear calls
loudness), the thin bright line over it the peak, and a short line the highest peak of the
last ``HOLD_S`` seconds. The clip LED lights when a sample goes over 0 dBFS and stays lit
until it is clicked, so a clip a musician did not see is not forgotten.

Ballistics live here, not in the core: a reading higher than what is shown is shown at once
(attack), a lower one falls at ``FALL_DB_PER_S`` (release), as Reaper's and Ableton's meters
do; ``show`` takes the time, so the falling is the same at any timer rate.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.core.audio.levels import FLOOR_DB, SILENT, Level, to_db

TOP_DB = 6.0
HOLD_S = 1.5
FALL_DB_PER_S = 24.0
ZONES = ((-12.0, QColor("#3fbf5f")), (-3.0, QColor("#e0c040")), (TOP_DB, QColor("#e8503c")))
TICKS = (0, -6, -12, -24, -48)
LED = 8  # the clip LED's side, pixels


def _clamp_db(db: float) -> float:
    return FLOOR_DB if db == -math.inf else min(TOP_DB, max(FLOOR_DB, db))


class LevelMeter(QWidget):
    """Two channels, vertical (a track header) or horizontal (the master strip)."""

    clip_cleared = Signal()

    def __init__(self, orientation: Qt.Orientation = Qt.Orientation.Vertical, scale: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("level_meter")
        self.orientation = orientation
        self.scale = scale  # dB numbers beside the bars (the master's meter has room for them)
        self.rms = [FLOOR_DB, FLOOR_DB]  # what is shown, in dB
        self.peak = [FLOOR_DB, FLOOR_DB]
        self.hold = [FLOOR_DB, FLOOR_DB]
        self._hold_at = [0.0, 0.0]
        self._shown_at: float | None = None
        self.clipped = False
        self.setToolTip("Level: bar RMS, line peak, tick the peak of the last 1.5 s. The red light: the signal went over 0 dBFS (click to clear)")
        vertical = orientation == Qt.Orientation.Vertical
        if vertical:
            self.setFixedWidth(22 if scale else 11)
            self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        else:
            self.setFixedHeight(28 if scale else 12)
            self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    # -- readings ----------------------------------------------------------------------------

    def show_level(self, level: Level = SILENT, now: float | None = None) -> None:
        """Show ``level`` with attack at once and a falling release since the last reading."""
        now = time.monotonic() if now is None else now
        elapsed = 0.0 if self._shown_at is None else max(0.0, now - self._shown_at)
        self._shown_at = now
        fall = FALL_DB_PER_S * elapsed
        for channel in (0, 1):
            peak, rms = _clamp_db(to_db(level.peak[channel])), _clamp_db(to_db(level.rms[channel]))
            self.rms[channel] = max(rms, self.rms[channel] - fall)
            self.peak[channel] = max(peak, self.peak[channel] - fall)
            if peak >= self.hold[channel]:
                self.hold[channel], self._hold_at[channel] = peak, now
            elif now - self._hold_at[channel] > HOLD_S:  # held long enough: it falls with the peak
                self.hold[channel] = max(self.peak[channel], self.hold[channel] - fall)
            if level.peak[channel] > 1.0:
                self.clipped = True
        self.update()

    @property
    def lit(self) -> bool:
        """Anything above the floor still shown (the meter has not yet fallen to silence)."""
        return any(v > FLOOR_DB for v in (*self.rms, *self.peak, *self.hold))

    def reset(self) -> None:
        self.rms, self.peak, self.hold = [FLOOR_DB] * 2, [FLOOR_DB] * 2, [FLOOR_DB] * 2
        self._shown_at = None
        self.update()

    def clear_clip(self) -> None:
        if self.clipped:
            self.clipped = False
            self.clip_cleared.emit()
            self.update()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton and self.clipped:
            self.clear_clip()
            event.accept()
            return
        super().mousePressEvent(event)

    # -- painting ----------------------------------------------------------------------------

    def _bars(self) -> tuple[QRectF, float]:
        """The rectangle the two bars share (LED and scale outside it), and its length in px."""
        w, h = self.width(), self.height()
        if self.orientation == Qt.Orientation.Vertical:
            bars = QRectF(0, LED + 2, 9 if self.scale else w, h - LED - 2)
            return bars, bars.height()
        bars = QRectF(0, 0, w - LED - 3, 14 if self.scale else h)
        return bars, bars.width()

    def _along(self, db: float, length: float) -> float:
        return (_clamp_db(db) - FLOOR_DB) / (TOP_DB - FLOOR_DB) * length

    def _segment(self, bars: QRectF, channel: int, low: float, high: float) -> QRectF:
        """The part of ``channel``'s bar between ``low`` and ``high`` pixels from the floor."""
        if self.orientation == Qt.Orientation.Vertical:
            half = bars.width() / 2
            return QRectF(bars.left() + channel * half, bars.bottom() - high, half - 1, high - low)
        half = bars.height() / 2
        return QRectF(bars.left() + low, bars.top() + channel * half, high - low, half - 1)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        bars, length = self._bars()
        painter.fillRect(bars, QColor("#101013"))
        for channel in (0, 1):
            shown = self._along(self.rms[channel], length)
            low = 0.0
            for top_db, colour in ZONES:  # the bar in its zones' colours
                high = min(shown, self._along(top_db, length))
                if high > low:
                    painter.fillRect(self._segment(bars, channel, low, high), colour)
                low = max(low, self._along(top_db, length))
            for db, colour in ((self.peak[channel], QColor("#f0f0f0")), (self.hold[channel], QColor("#ffb040"))):
                if db > FLOOR_DB:
                    at = self._along(db, length)
                    painter.fillRect(self._segment(bars, channel, max(0.0, at - 2), at), colour)
        zero = self._along(0.0, length)  # 0 dBFS marked across both bars
        painter.setPen(QColor("#6a6a72"))
        if self.orientation == Qt.Orientation.Vertical:
            painter.drawLine(int(bars.left()), int(bars.bottom() - zero), int(bars.right()), int(bars.bottom() - zero))
            led = QRectF((bars.width() - LED) / 2 if not self.scale else 0.5, 0.5, LED, LED)
        else:
            painter.drawLine(int(bars.left() + zero), int(bars.top()), int(bars.left() + zero), int(bars.bottom()))
            led = QRectF(bars.right() + 3, (bars.height() - LED) / 2, LED, LED)
        painter.setBrush(QColor("#ff2a2a") if self.clipped else QColor("#3a2020"))
        painter.setPen(QColor("#15151a"))
        painter.drawRect(led)
        if self.scale:
            self._paint_scale(painter, bars, length)
        painter.end()

    def _paint_scale(self, painter: QPainter, bars: QRectF, length: float) -> None:
        font = painter.font()
        font.setPixelSize(9)
        painter.setFont(font)
        painter.setPen(QColor("#8a8a92"))
        for db in TICKS:
            at = self._along(db, length)
            if self.orientation == Qt.Orientation.Vertical:
                painter.drawText(QRectF(bars.right() + 1, bars.bottom() - at - 6, 14, 12), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, str(abs(db)))
            else:
                painter.drawText(QRectF(bars.left() + at - 10, bars.bottom() + 1, 20, 12), Qt.AlignmentFlag.AlignCenter, str(db))
