"""The transport row: play/pause, stop, loop, position, tempo, metre, snap, zoom, files.

It shows the workspace's state and calls its methods; it holds no state of its own.
"""

from __future__ import annotations

import functools

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap, QPolygonF
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QToolBar, QToolButton, QWidget

from studio.ui.plain import plain_tip
from studio.ui.slots import connect_command
from studio.ui.timeline.grid import DIVISIONS, clock

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace


@functools.lru_cache(maxsize=None)
def transport_icon(name: str, size: int = 16, colour: str = "#e6e6ea") -> QIcon:
    """Play, pause, stop and to-start drawn light on dark (the style's own icons are dark grey)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colour))
    s = float(size)
    if name == "play":
        painter.drawPolygon(QPolygonF([QPointF(s * 0.25, s * 0.15), QPointF(s * 0.85, s * 0.5), QPointF(s * 0.25, s * 0.85)]))
    elif name == "pause":
        painter.drawRect(QRectF(s * 0.22, s * 0.18, s * 0.2, s * 0.64))
        painter.drawRect(QRectF(s * 0.58, s * 0.18, s * 0.2, s * 0.64))
    elif name == "stop":
        painter.drawRect(QRectF(s * 0.22, s * 0.22, s * 0.56, s * 0.56))
    elif name == "start":
        painter.drawRect(QRectF(s * 0.18, s * 0.2, s * 0.12, s * 0.6))
        painter.drawPolygon(QPolygonF([QPointF(s * 0.82, s * 0.2), QPointF(s * 0.34, s * 0.5), QPointF(s * 0.82, s * 0.8)]))
    painter.end()
    return QIcon(pixmap)


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with "…" to the room it has."""

    def __init__(self) -> None:
        super().__init__()
        self.full_text = ""
        self.setTextFormat(Qt.TextFormat.PlainText)  # it shows why playback is off: a library's words
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self._elide()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideRight, max(40, self.width())))


def summary(timeline) -> str:
    tracks, clips = len(timeline.tracks), len(timeline.clips)
    length = clock(timeline.end, timeline.sample_rate, decimals=1)
    return f"{tracks} track{'s' * (tracks != 1)} · {clips} clip{'s' * (clips != 1)} · {length} · {timeline.sample_rate // 1000} kHz"


class PlaybackFooter(QWidget):
    """The strip under the arrangement: what the song holds, and how playback is doing."""

    def __init__(self, workspace: "AudioWorkspace", zoom_buttons=()) -> None:
        super().__init__()
        self.setObjectName("playback_footer")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.setStyleSheet("#playback_footer { background: #232328; border-top: 1px solid #15151a; } QLabel { font-size: 11px; }")
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.summary.setStyleSheet("color: #85858d;")
        self.status = ElidedLabel()
        self.status.setObjectName("playback_status")
        self.status.setStyleSheet("color: #e0a040;")
        self.status.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 2, 10, 2)
        layout.setSpacing(14)
        layout.addWidget(self.summary)
        layout.addWidget(self.status, 1)
        zoom = QHBoxLayout()
        zoom.setSpacing(0)
        for button in zoom_buttons:
            button.setMinimumSize(22, 18)
            zoom.addWidget(button)
        layout.addLayout(zoom)


class TransportBar(QToolBar):
    """A tool bar, so that in a narrow window what does not fit folds into its » menu."""

    def __init__(self, workspace: "AudioWorkspace") -> None:
        super().__init__()
        self.workspace = workspace
        self.setObjectName("transport_bar")
        self.setMovable(False)
        self.setFloatable(False)
        self.setStyleSheet("#transport_bar { background: #2a2a30; border-bottom: 1px solid #15151a; spacing: 4px; padding: 2px 6px; }")
        self.to_start = self._button("", "Go to start (Home)", lambda: workspace.set_playhead(0), "start")
        self.play_button = self._button("", "Play / pause (Space)", workspace.toggle_play, "play")
        self.play_button.setObjectName("play_button")
        self._showing_playing = False
        self.stop_button = self._button("", "Stop (Shift+Space): back to where playback started", workspace.stop, "stop")
        self.loop_button = self._button("⟲", "Loop the region drawn on the ruler (L)", None)
        self.loop_button.setCheckable(True)
        self.loop_button.toggled.connect(workspace.set_loop_enabled)
        self.loop_button.setStyleSheet("QToolButton:checked { background: #3d6fb0; border-radius: 3px; }")

        self.position = QLabel()
        self.position.setObjectName("position")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.position.setFont(mono)
        self.position.setStyleSheet("background: #19191d; color: #e6e6ea; padding: 2px 6px; border-radius: 3px;")
        self.position.setToolTip("Position: bar.beat.sixteenth and minutes:seconds")

        self.tempo = QDoubleSpinBox()
        self.tempo.setObjectName("tempo")
        self.tempo.setRange(20.0, 300.0)
        self.tempo.setDecimals(1)
        self.tempo.setSuffix(" BPM")
        self.tempo.setKeyboardTracking(False)  # one edit when the number is complete, not per digit
        self.tempo.setToolTip("Tempo: the ruler, grid and snapping follow it")
        self.tempo.valueChanged.connect(workspace.set_tempo)
        self.metre = QSpinBox()
        self.metre.setRange(1, 16)
        self.metre.setSuffix(" / 4")
        self.metre.setKeyboardTracking(False)
        self.metre.setToolTip("Beats per bar")
        self.metre.valueChanged.connect(workspace.set_beats_per_bar)

        self.snap = QCheckBox("Snap")
        self.snap.setObjectName("snap")
        self.snap.setToolTip("Snap to the grid (N); hold Shift or Alt while dragging to place freely")
        self.snap.toggled.connect(lambda on: workspace.set_snap(on))
        self.division = QComboBox()
        self.division.setObjectName("division")
        self.division.addItems(list(DIVISIONS))
        self.division.setToolTip("Grid division")
        self.division.currentTextChanged.connect(lambda text: workspace.set_snap(self.snap.isChecked(), text))

        zoom_out = self._button("−", "Zoom out (Ctrl+−, or Ctrl+wheel)", lambda: workspace.arrangement.zoom_by(0.8))
        zoom_in = self._button("+", "Zoom in (Ctrl+=, or Ctrl+wheel)", lambda: workspace.arrangement.zoom_by(1.25))
        fit = self._button("↔", "Zoom to fit the song (Ctrl+0)", lambda: workspace.arrangement.zoom_to_fit())

        self.footer = PlaybackFooter(workspace, (zoom_out, zoom_in, fit))  # zoom sits at the bottom, by the scroll bar
        self.status = self.footer.status

        for widget in (self.to_start, self.play_button, self.stop_button, self.loop_button, self.position):
            self.addWidget(widget)
        self.addSeparator()
        self.addWidget(self.tempo)
        self.addWidget(self.metre)
        self.addSeparator()
        self.addWidget(self.snap)
        self.addWidget(self.division)

        workspace.timeline_changed.connect(self.refresh)
        workspace.playhead_changed.connect(self._show_position)
        workspace.playing_changed.connect(lambda _playing: self.refresh())
        self.show_underruns(0)

    def _button(self, text: str, tip: str, slot, icon: str = "") -> QToolButton:
        button = QToolButton()
        if icon:
            button.setIcon(transport_icon(icon))
        else:
            button.setText(text)
        button.setToolTip(tip)
        button.setMinimumSize(28, 26)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space belongs to play, not to a focused button
        if slot is not None:
            connect_command(button.clicked, slot)
        return button

    def refresh(self) -> None:
        ws = self.workspace
        timeline = ws.timeline
        for box, value in ((self.tempo, timeline.tempo), (self.metre, timeline.beats_per_bar)):
            if box.value() != value:
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)
        self.snap.blockSignals(True)
        self.snap.setChecked(ws.snap_enabled)
        self.snap.blockSignals(False)
        self.division.blockSignals(True)
        self.division.setCurrentText(ws.division)
        self.division.blockSignals(False)
        self.loop_button.blockSignals(True)
        self.loop_button.setChecked(ws.loop_enabled)
        self.loop_button.blockSignals(False)
        if self._showing_playing != ws.playing:  # refresh runs on every drag preview: only on a change
            self._showing_playing = ws.playing
            self.play_button.setIcon(transport_icon("pause" if ws.playing else "play"))
        self.status.setToolTip(plain_tip(ws.playback_error))
        self.status.set_full_text(self.status_text())
        self.footer.summary.setText(summary(ws.timeline))
        self._show_position(ws.playhead)

    def status_text(self) -> str:
        """Why playback is off, in plain words ("No audio output device — playback is off"),
        or nothing while playback works; the library's own words are in the tooltip."""
        return plain_playback_reason(self.workspace.playback_error)

    def _show_position(self, frame: int) -> None:
        grid = self.workspace.grid
        self.position.setText(f"{grid.bars_beats(frame)}  {grid.clock(frame)}")

    def show_underruns(self, count: int) -> None:
        """The sound card's underruns, an engineer's counter: in the footer's details tooltip
        only, never as words on the bar."""
        if count == getattr(self, "_underruns_shown", None):
            return  # called on every playhead tick: only on a change
        self._underruns_shown = count
        self.footer.summary.setToolTip(
            f"Playback details — underruns: {count} (blocks the sound card asked for before the mixer had them ready)"
        )


#: The causes of a silent transport, as a musician would say them (the core's words start so).
_PLAIN_REASONS = (
    ("the portaudio library did not load", "The sound library (PortAudio) is not installed — playback is off"),
    ("no audio output device", "No audio output device — playback is off"),
    ("could not be opened", "The audio output device could not be opened — playback is off"),
)


def plain_playback_reason(error: str) -> str:
    """The transport's error in plain words; "" for none."""
    if not error:
        return ""
    lowered = error.lower()
    return next((plain for cause, plain in _PLAIN_REASONS if cause in lowered), "Playback is off")
