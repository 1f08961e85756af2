"""The master strip at the foot of the track headers: the master fader and the master meter.

The fader is ``Timeline.master_gain_db``: a drag is one undo step (pushed at release, as the
track headers' sliders are), key presses and the wheel merge into one, a double-click on the
value resets it to 0 dB. ``attach_levels`` puts the strip under the headers and starts the
workspace's ``Metering`` (``studio.ui.timeline.metering``), which feeds every meter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSlider

from studio.ui.timeline.level_meter import LevelMeter

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace

MASTER_MIN, MASTER_MAX = -60.0, 12.0  # dB, as the track faders; the bottom is silence
STEP_NAME = "Change master volume"


def master_label(db: float) -> str:
    return "-inf dB" if db <= MASTER_MIN else f"{db:+.1f} dB"


class MasterStrip(QFrame):
    def __init__(self, workspace: "AudioWorkspace") -> None:
        super().__init__()
        self.workspace = workspace
        self._sliding = False
        self.setObjectName("master_strip")
        self.setStyleSheet("#master_strip { background: #26262c; border-top: 1px solid #101013; }")
        title = QLabel("Master")
        title.setStyleSheet("font-weight: bold; color: #d8d8de;")
        self.fader = QSlider(Qt.Orientation.Horizontal)
        self.fader.setObjectName("master_fader")
        self.fader.setRange(int(MASTER_MIN * 10), int(MASTER_MAX * 10))  # tenths of a dB
        self.fader.setSingleStep(5)  # an arrow key: half a dB
        self.fader.setPageStep(30)
        self.fader.setToolTip("Master volume: the whole mix, in playback and export (double-click the value to reset)")
        self.fader.setFixedHeight(16)
        self.value = QLabel()
        self.value.setObjectName("master_value")
        self.value.setMinimumWidth(52)
        self.value.setStyleSheet("color: #a9a9b3; font-size: 11px;")
        self.meter = LevelMeter(Qt.Orientation.Horizontal, scale=True)
        self.meter.setObjectName("master_meter")
        layout = QGridLayout(self)
        layout.setContentsMargins(12, 4, 6, 4)
        layout.setHorizontalSpacing(6)
        layout.setVerticalSpacing(2)
        layout.addWidget(title, 0, 0)
        layout.addWidget(self.fader, 0, 1)
        layout.addWidget(self.value, 0, 2)
        layout.addWidget(self.meter, 1, 0, 1, 3)
        self.fader.sliderPressed.connect(self._begin_drag)
        self.fader.sliderReleased.connect(self._end_drag)
        self.fader.valueChanged.connect(self._slid)
        workspace.timeline_changed.connect(self.refresh)
        workspace.gesture_closed.connect(self._gesture_closed)
        self.refresh()

    def refresh(self) -> None:
        db = self.workspace.timeline.master_gain_db
        if not self._sliding:
            self.fader.blockSignals(True)
            self.fader.setValue(int(round(max(MASTER_MIN, db) * 10)))
            self.fader.blockSignals(False)
        self.value.setText(master_label(db))

    def _begin_drag(self) -> None:
        self.workspace.begin_gesture(STEP_NAME)
        self._sliding = True

    def _slid(self, value: int) -> None:
        db = value / 10.0
        db = -120.0 if db <= MASTER_MIN else db  # the bottom of the fader is silence, not -60 dB
        ws = self.workspace
        after = ws.timeline.with_settings(master_gain_db=db)
        if self._sliding:
            ws.preview(after)
        else:
            ws.apply(after, STEP_NAME, "master_gain_db")

    def _end_drag(self) -> None:
        if self._sliding:
            self.workspace.commit_gesture()

    def _gesture_closed(self) -> None:
        self._sliding = False

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """The lanes end where the headers do, above this strip: a track scrolled to the bottom
        is never left without its header (the lanes' own scroll bar sits beside the strip)."""
        super().resizeEvent(event)
        arrangement = self.workspace.arrangement
        bar = arrangement.horizontalScrollBar().sizeHint().height()
        arrangement.setViewportMargins(0, 0, 0, max(0, self.height() - bar))
        arrangement.refresh()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.value.geometry().contains(event.position().toPoint()):
            self.workspace.apply(self.workspace.timeline.with_settings(master_gain_db=0.0), "Reset master volume")


def attach_levels(workspace: "AudioWorkspace") -> None:
    """The master strip under the track headers, and the metering that feeds every meter."""
    from studio.ui.timeline.metering import Metering

    workspace.master_strip = MasterStrip(workspace)
    workspace.headers.layout().addWidget(workspace.master_strip)
    workspace.metering = Metering(workspace)
