"""The piano roll: a note clip's notes on a grid of pitches (rows) and beats (columns).

One painted widget, as the arrangement is: a keyboard down the left with the C of every octave
named (C4 is middle C, MIDI 60), a ruler of the timeline's bars and beats along the top, the
notes coloured per voice (the voice being edited bright, the others dim behind it), the
selection outlined, and the timeline's playhead. Its gestures are in ``piano_roll_gestures``;
the pane around it (voice, instrument, draw tool, close) is ``piano_roll_pane``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QAbstractScrollArea

from studio.core.audio import note_takes as takes
from studio.core.audio.timeline import TimelineError
from studio.ui.timeline.grid import DIVISIONS
from studio.ui.timeline.piano_roll_gestures import KEYS_W, ROW_H, RULER_H, PianoRollGestures

if TYPE_CHECKING:
    from studio.ui.timeline.piano_roll_pane import PianoRollPane

__all__ = ["KEYS_W", "ROW_H", "RULER_H", "PianoRoll", "note_name", "voice_colour"]

PITCHES = 128
NAMES = ("C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B")
BLACK = {1, 3, 6, 8, 10}
#: Soprano, alto, tenor, bass, then more voices of an imported file.
VOICE_COLOURS = ("#e8705f", "#e6b54a", "#6cc46e", "#5c9ee6", "#b67be0", "#4fc9c0", "#e07ab0", "#a0a0e8")
BACKGROUND, WHITE_ROW, BLACK_ROW = QColor("#1c1c20"), QColor("#25252b"), QColor("#1f1f24")
BAR_LINE, BEAT_LINE, SUB_LINE, OCTAVE_LINE = QColor("#4a4a56"), QColor("#33333c"), QColor("#2a2a31"), QColor("#3a3a44")
RULER_BG, RULER_TEXT, PLAYHEAD = QColor("#2a2a30"), QColor("#b9b9c3"), QColor("#ff5a4f")
OUTSIDE = QColor(0, 0, 0, 90)  # past the take's end, or outside the clip's window: not heard


def note_name(pitch: int) -> str:
    """``C4`` for 60, as most DAWs name middle C."""
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def voice_colour(voice: int) -> QColor:
    return QColor(VOICE_COLOURS[voice % len(VOICE_COLOURS)])


class PianoRoll(PianoRollGestures, QAbstractScrollArea):
    """The notes of the pane's clip: painted here, edited through ``PianoRollGestures``."""

    def __init__(self, pane: "PianoRollPane") -> None:
        super().__init__(pane)
        self.setObjectName("piano_roll")
        self.pane = pane
        self.pixels_per_beat = 48.0
        self.selection: frozenset[int] = frozenset()
        self.drag = None
        self.band: QRectF | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFrameShape(QAbstractScrollArea.Shape.NoFrame)
        self.viewport().setMouseTracking(True)
        self.setMinimumHeight(RULER_H + 8 * ROW_H)
        self.horizontalScrollBar().valueChanged.connect(self.viewport().update)
        self.verticalScrollBar().valueChanged.connect(self.viewport().update)

    # -- what is shown -------------------------------------------------------------------

    @property
    def workspace(self):
        return self.pane.workspace

    def current(self) -> takes.NoteTake | None:
        try:
            return self.pane.notes.take(self.pane.clip_id) if self.pane.clip_id is not None else None
        except (takes.TakeError, TimelineError):
            return None

    def editable_voices(self, take: takes.NoteTake) -> set[int]:
        voice = self.pane.voice
        return set(range(max(take.voice_count, 64))) if voice is None else {voice}

    def grid_beats(self) -> float:
        """The arrangement's snap division, in beats (a bar: the timeline's beats per bar)."""
        beats = DIVISIONS.get(self.workspace.division, 1.0)
        return float(self.workspace.timeline.beats_per_bar) if beats == 0.0 else beats

    def origin_beats(self, take: takes.NoteTake) -> float:
        """The timeline beat at which the take's beat 0 sits, so the ruler shows the timeline's
        bars (at another tempo than the timeline's the take counts its own bars from 1)."""
        timeline = self.workspace.timeline
        try:
            clip = timeline.clip(self.pane.clip_id)
        except TimelineError:
            return 0.0
        if abs(take.tempo - timeline.tempo) > 1e-6:
            return 0.0
        return (clip.start - clip.offset) / timeline.frames_per_beat

    # -- coordinates ---------------------------------------------------------------------

    def x_of(self, beat: float) -> float:
        return KEYS_W + beat * self.pixels_per_beat - self.horizontalScrollBar().value()

    def beat_of(self, x: float) -> float:
        return (x - KEYS_W + self.horizontalScrollBar().value()) / self.pixels_per_beat

    def y_of(self, pitch: int) -> float:
        return RULER_H + (PITCHES - 1 - pitch) * ROW_H - self.verticalScrollBar().value()

    def pitch_of(self, y: float) -> int:
        row = math.floor((y - RULER_H + self.verticalScrollBar().value()) / ROW_H)
        return max(0, min(PITCHES - 1, PITCHES - 1 - row))

    def note_rect(self, note) -> QRectF:
        return QRectF(self.x_of(note.start), self.y_of(note.pitch), max(3.0, note.duration * self.pixels_per_beat), ROW_H)

    def refresh(self) -> None:
        take = self.current()
        if take is not None:
            self.selection = frozenset(i for i in self.selection if i < len(take.notes))
        width = self.viewport().width() - KEYS_W
        beats = (take.beats if take else 16.0) + 8.0
        bar = self.horizontalScrollBar()
        bar.setRange(0, max(0, int(beats * self.pixels_per_beat - width)))
        bar.setPageStep(max(1, width))
        rows = self.viewport().height() - RULER_H
        vbar = self.verticalScrollBar()
        vbar.setRange(0, max(0, PITCHES * ROW_H - rows))
        vbar.setPageStep(max(1, rows))
        vbar.setSingleStep(ROW_H * 2)
        self.viewport().update()

    def fit(self) -> None:
        """The whole take across the width, its notes in the middle of the height."""
        take = self.current()
        if take is None:
            return
        width = max(100, self.viewport().width() - KEYS_W - 12)
        self.pixels_per_beat = max(4.0, min(160.0, width / max(take.beats, 1.0)))
        self.refresh()
        self.horizontalScrollBar().setValue(0)
        if take.notes:
            high, low = max(n.pitch for n in take.notes), min(n.pitch for n in take.notes)
            rows = (self.viewport().height() - RULER_H) / ROW_H
            # All of it in the middle when it fits, else from the top voice down: the melody
            # is what a musician looks for first.
            top = high + 2 if high - low + 4 > rows else (high + low) / 2 + rows / 2
            self.verticalScrollBar().setValue(int((PITCHES - 1 - top) * ROW_H))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.refresh()

    # -- painting ------------------------------------------------------------------------

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self.viewport())
        rect = self.viewport().rect()
        painter.fillRect(rect, BACKGROUND)
        take = self.current()
        if take is None:
            painter.setPen(RULER_TEXT)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "No note clip open")
            painter.end()
            return
        painter.setClipRect(QRectF(KEYS_W, RULER_H, rect.width() - KEYS_W, rect.height() - RULER_H))
        self._paint_rows(painter, rect.width())
        self._paint_grid(painter, take, rect.height())
        self._paint_unheard(painter, take, rect.height())
        self._paint_notes(painter, take)
        if self.band is not None:
            painter.setPen(QPen(QColor("#9ecbff"), 1, Qt.PenStyle.DashLine))
            painter.setBrush(QColor(120, 170, 255, 40))
            painter.drawRect(self.band.normalized())
        painter.setClipping(False)
        self._paint_ruler(painter, take, rect.width())
        self._paint_keys(painter, rect.height())
        self._paint_playhead(painter, take, rect.height())
        painter.fillRect(QRectF(0, 0, KEYS_W, RULER_H), RULER_BG)
        painter.end()

    def _paint_rows(self, painter: QPainter, width: int) -> None:
        for pitch in range(PITCHES):
            y = self.y_of(pitch)
            if y + ROW_H < RULER_H or y > self.viewport().height():
                continue
            painter.fillRect(QRectF(KEYS_W, y, width - KEYS_W, ROW_H), BLACK_ROW if pitch % 12 in BLACK else WHITE_ROW)
            if pitch % 12 == 0:
                painter.setPen(OCTAVE_LINE)
                painter.drawLine(QRectF(KEYS_W, y, width, ROW_H).bottomLeft(), QRectF(KEYS_W, y, width, ROW_H).bottomRight())

    def _lines(self, take: takes.NoteTake):
        """(beat, kind) of each grid line in view: kind 2 a bar, 1 a beat, 0 a grid step."""
        grid, per_bar = self.grid_beats(), self.workspace.timeline.beats_per_bar
        step = grid if grid * self.pixels_per_beat >= 6 else 1.0
        if step * self.pixels_per_beat < 6:
            step = float(per_bar)
        origin = self.origin_beats(take)
        first = math.floor(self.beat_of(KEYS_W) / step) * step
        last = self.beat_of(self.viewport().width())
        beat = max(0.0, first)
        while beat <= last:
            at = beat + origin
            kind = 2 if abs(at / per_bar - round(at / per_bar)) < 1e-6 else 1 if abs(at - round(at)) < 1e-6 else 0
            yield beat, kind
            beat += step

    def _paint_grid(self, painter: QPainter, take: takes.NoteTake, height: int) -> None:
        for beat, kind in self._lines(take):
            painter.setPen((SUB_LINE, BEAT_LINE, BAR_LINE)[kind])
            x = round(self.x_of(beat))
            painter.drawLine(x, RULER_H, x, height)

    def _paint_unheard(self, painter: QPainter, take: takes.NoteTake, height: int) -> None:
        """Shade what the clip does not play: before its window, after it, past the take."""
        timeline = self.workspace.timeline
        try:
            clip = timeline.clip(self.pane.clip_id)
        except TimelineError:
            return
        frames_per_beat = timeline.sample_rate * 60.0 / take.tempo
        first, last = clip.offset / frames_per_beat, min((clip.offset + clip.length) / frames_per_beat, take.beats)
        if first > 0:
            painter.fillRect(QRectF(KEYS_W, RULER_H, self.x_of(first) - KEYS_W, height), OUTSIDE)
        painter.fillRect(QRectF(self.x_of(last), RULER_H, max(0.0, self.viewport().width() - self.x_of(last)), height), OUTSIDE)

    def _paint_notes(self, painter: QPainter, take: takes.NoteTake) -> None:
        editable = self.editable_voices(take)
        order = sorted(range(len(take.notes)), key=lambda i: (take.notes[i].voice in editable, i in self.selection))
        left, right = self.beat_of(KEYS_W), self.beat_of(self.viewport().width())
        for i in order:
            note = take.notes[i]
            if note.end < left or note.start > right:
                continue
            rect = self.note_rect(note).adjusted(0.5, 0.5, -0.5, -0.5)
            colour = voice_colour(note.voice)
            if note.voice not in editable:
                if not self.pane.others_button.isChecked():
                    continue  # only the voice being edited is shown
                colour.setAlpha(70)
                painter.setPen(Qt.PenStyle.NoPen)
            elif i in self.selection:
                colour = colour.lighter(150)
                painter.setPen(QPen(QColor("#ffffff"), 1.5))
            else:
                colour.setAlpha(120 + note.velocity)  # louder notes brighter, as velocity shades in a DAW
                painter.setPen(QPen(colour.darker(170), 1))
            painter.setBrush(colour)
            painter.drawRoundedRect(rect, 2, 2)

    def _paint_ruler(self, painter: QPainter, take: takes.NoteTake, width: int) -> None:
        painter.fillRect(QRectF(KEYS_W, 0, width - KEYS_W, RULER_H), RULER_BG)
        font = QFont(painter.font())
        font.setPointSizeF(8)
        painter.setFont(font)
        origin, per_bar = self.origin_beats(take), self.workspace.timeline.beats_per_bar
        painter.setClipRect(QRectF(KEYS_W, 0, width - KEYS_W, RULER_H))
        for beat, kind in self._lines(take):
            x = round(self.x_of(beat))
            if kind == 2:
                painter.setPen(RULER_TEXT)
                painter.drawLine(x, 4, x, RULER_H)
                painter.drawText(x + 3, 13, str(int(round((beat + origin) / per_bar)) + 1))
            elif kind == 1:
                painter.setPen(BAR_LINE)
                painter.drawLine(x, RULER_H - 6, x, RULER_H)
        painter.setClipping(False)

    def _paint_keys(self, painter: QPainter, height: int) -> None:
        painter.setClipRect(QRectF(0, RULER_H, KEYS_W, height - RULER_H))
        font = QFont(painter.font())
        font.setPointSizeF(7)
        painter.setFont(font)
        for pitch in range(PITCHES):
            y = self.y_of(pitch)
            if y + ROW_H < RULER_H or y > height:
                continue
            black = pitch % 12 in BLACK
            painter.fillRect(QRectF(0, y, KEYS_W, ROW_H), QColor("#e9e9ee") if not black else QColor("#2b2b31"))
            if black:
                painter.fillRect(QRectF(KEYS_W * 0.62, y, KEYS_W * 0.38, ROW_H), QColor("#e9e9ee"))
            painter.setPen(QColor("#9a9aa3"))
            painter.drawLine(0, round(y + ROW_H), KEYS_W, round(y + ROW_H))
            if pitch % 12 == 0:
                painter.setPen(QColor("#202024"))
                painter.drawText(QRectF(2, y - 1, KEYS_W - 6, ROW_H + 2), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, note_name(pitch))
        painter.setPen(QColor("#3a3a44"))
        painter.drawLine(KEYS_W - 1, RULER_H, KEYS_W - 1, height)
        painter.setClipping(False)

    def _paint_playhead(self, painter: QPainter, take: takes.NoteTake, height: int) -> None:
        timeline = self.workspace.timeline
        try:
            clip = timeline.clip(self.pane.clip_id)
        except TimelineError:
            return
        beat = (self.workspace.playhead - clip.start + clip.offset) / (timeline.sample_rate * 60.0 / take.tempo)
        x = self.x_of(beat)
        if KEYS_W <= x <= self.viewport().width():
            painter.setPen(QPen(PLAYHEAD, 1))
            painter.drawLine(round(x), 0, round(x), height)
