"""The track headers beside the arrangement: name, mute, solo, gain, pan, order, remove.

One ``TrackHeader`` per track, stacked at the arrangement's row height and scrolled with it.
A slider dragged is one undo step (pushed when it is released); turned with the keyboard or
the wheel, its steps merge into one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QSlider, QToolButton, QVBoxLayout, QWidget

from studio.core.audio.timeline import TimelineError, Track
from studio.ui.slots import connect_command
from studio.ui.timeline.arrangement_geometry import RULER_H, row_offset, track_height
from studio.ui.timeline.arrangement_painting import track_colour
from studio.ui.timeline.level_meter import LevelMeter
from studio.ui.timeline.track_heights import HeightGrip, scale_heights

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace

HEADER_W = 236
GAIN_MIN, GAIN_MAX = -60.0, 12.0  # dB; the slider's bottom is silence


def gain_label(db: float) -> str:
    return "-inf dB" if db <= GAIN_MIN else f"{db:+.1f} dB"


def _step_name(field: str) -> str:
    return "Change track volume" if field == "gain_db" else "Pan track"


def pan_label(pan: float) -> str:
    amount = round(abs(pan) * 100)
    return "C" if amount == 0 else f"{'L' if pan < 0 else 'R'}{amount}"


class TrackHeader(QFrame):
    def __init__(self, workspace: "AudioWorkspace", track: Track) -> None:
        super().__init__()
        self.workspace, self.track_id = workspace, track.id
        self._sliding = False  # a slider drag: its values preview, one undo step at release
        workspace.gesture_closed.connect(self._gesture_closed)
        self.setObjectName("track_header")
        self.grip = HeightGrip(self, workspace, track.id)  # the bottom edge resizes the track
        self.colour = track_colour(track)

        self.name = QLineEdit(track.name)
        self.name.setCursorPosition(0)
        self.name.setObjectName("track_name")
        self.name.setFrame(False)
        self.name.setToolTip("Track name (click to edit)")
        self.name.editingFinished.connect(self._rename)
        self.mute = self._toggle("M", "Mute this track", "#e0a040")
        self.mute.toggled.connect(lambda on: self._set("Mute" if on else "Unmute", mute=on))
        self.solo = self._toggle("S", "Solo: hear only the soloed tracks", "#5fb3ff")
        self.solo.toggled.connect(lambda on: self._set("Solo" if on else "Unsolo", solo=on))
        up = self._button("▲", "Move track up", lambda: workspace.move_track(self.track_id, -1))
        down = self._button("▼", "Move track down", lambda: workspace.move_track(self.track_id, +1))
        remove = self._button("✕", "Remove track", lambda: workspace.remove_track(self.track_id))
        up.setObjectName("move_up")
        down.setObjectName("move_down")
        remove.setObjectName("remove_track")

        self.gain = QSlider(Qt.Orientation.Horizontal)
        self.gain.setObjectName("track_gain")
        self.gain.setRange(int(GAIN_MIN * 10), int(GAIN_MAX * 10))  # tenths of a dB
        self.gain.setToolTip("Track gain (double-click the value to reset)")
        self.gain_value = QLabel()
        self.gain_value.setMinimumWidth(52)
        self.pan = QSlider(Qt.Orientation.Horizontal)
        self.pan.setObjectName("track_pan")
        self.pan.setRange(-100, 100)
        self.pan.setToolTip("Pan, left to right")
        self.pan_value = QLabel()
        self.pan_value.setMinimumWidth(30)
        for slider, field, scale in ((self.gain, "gain_db", 10.0), (self.pan, "pan", 100.0)):
            slider.setFixedHeight(16)
            slider.sliderPressed.connect(lambda f=field: self._begin_drag(f))
            slider.sliderReleased.connect(self._end_drag)
            slider.valueChanged.connect(lambda value, f=field, s=scale: self._slid(f, value / s))
        for label in (self.gain_value, self.pan_value):
            label.setStyleSheet("color: #a9a9b3; font-size: 11px;")

        top = QHBoxLayout()
        top.setSpacing(3)
        top.addWidget(self.name, 1)
        for widget in (self.mute, self.solo, up, down, remove):
            top.addWidget(widget)
        sliders = QGridLayout()
        sliders.setHorizontalSpacing(6)
        sliders.setVerticalSpacing(2)
        for row, (title, slider, value) in enumerate((("Vol", self.gain, self.gain_value), ("Pan", self.pan, self.pan_value))):
            label = QLabel(title)
            label.setStyleSheet("color: #85858d; font-size: 11px;")
            sliders.addWidget(label, row, 0)
            sliders.addWidget(slider, row, 1)
            sliders.addWidget(value, row, 2)
        layout = QVBoxLayout()
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addLayout(sliders)
        self.meter = LevelMeter(Qt.Orientation.Vertical)  # fed by the workspace's Metering
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 5, 4, 5)
        row.setSpacing(4)
        row.addLayout(layout, 1)
        row.addWidget(self.meter)
        self.show_track(track)

    def _toggle(self, text: str, tip: str, on_colour: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(True)
        button.setFixedSize(22, 20)
        button.setStyleSheet(f"QToolButton {{ font-weight: bold; }} QToolButton:checked {{ background: {on_colour}; color: #111; border-radius: 3px; }}")
        return button

    def _button(self, text: str, tip: str, slot) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setFixedSize(20, 20)
        button.setAutoRaise(True)
        connect_command(button.clicked, slot)
        return button

    def show_track(self, track: Track) -> None:
        """Show ``track``'s values without turning them into edits."""
        self.colour = track_colour(track)
        for widget, value in ((self.mute, track.mute), (self.solo, track.solo)):
            widget.blockSignals(True)
            widget.setChecked(value)
            widget.blockSignals(False)
        if not self.name.hasFocus() and self.name.text() != track.name:
            self.name.setText(track.name)
            self.name.setCursorPosition(0)  # a long name shows its beginning
            self.name.setToolTip(f"{track.name} (click to rename)")  # all of it, where the field cuts it
        if not self._sliding:
            for slider, value in ((self.gain, round(max(GAIN_MIN, track.gain_db) * 10)), (self.pan, round(track.pan * 100))):
                slider.blockSignals(True)
                slider.setValue(int(value))
                slider.blockSignals(False)
        self.gain_value.setText(gain_label(track.gain_db))
        self.pan_value.setText(pan_label(track.pan))
        selected = self.workspace.selected_track_id == track.id
        if selected != getattr(self, "_selected", None):  # restyling is slow: only on a change
            self._selected = selected
            self.setStyleSheet(
                "#track_header { background: %s; border-bottom: 1px solid #17171a; }"
                "#track_name { background: transparent; font-weight: %s; }" % ("#2f2f38" if selected else "#27272d", "bold" if selected else "normal")
            )
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        painter = QPainter(self)
        painter.fillRect(0, 0, 5, self.height(), self.colour)
        painter.end()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.grip.place()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.workspace.select_track(self.track_id)
        super().mousePressEvent(event)

    def _rename(self) -> None:
        name = self.name.text().strip()
        try:
            track = self.workspace.timeline.track(self.track_id)
        except TimelineError:
            return  # the track was removed while its name was being edited
        if name and name != track.name:
            self.workspace.update_track(self.track_id, f"Rename track to “{name}”", name=name)
        else:
            self.name.setText(track.name)
        self.name.setCursorPosition(0)

    def _set(self, text: str, **fields) -> None:
        self.workspace.select_track(self.track_id)
        self.workspace.update_track(self.track_id, text, **fields)

    def _begin_drag(self, field: str) -> None:
        self.workspace.begin_gesture(_step_name(field))
        self._sliding = True

    def _slid(self, field: str, value: float) -> None:
        ws = self.workspace
        if self._sliding:  # a drag shows its values and commits at release
            ws.preview(ws.timeline.update_track(self.track_id, **{field: value}))
        else:
            ws.update_track(self.track_id, _step_name(field), f"{field}:{self.track_id}", **{field: value})

    def _end_drag(self) -> None:
        if self._sliding:
            self.workspace.commit_gesture()

    def _gesture_closed(self) -> None:
        self._sliding = False

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.gain_value.geometry().contains(event.position().toPoint()):
            self.workspace.update_track(self.track_id, "Reset track volume", gain_db=0.0)
        elif self.pan_value.geometry().contains(event.position().toPoint()):
            self.workspace.update_track(self.track_id, "Centre track pan", pan=0.0)


class TrackHeaders(QWidget):
    """The column of headers: a corner over the ruler, then one row per track, scrolled."""

    def __init__(self, workspace: "AudioWorkspace") -> None:
        super().__init__()
        self.workspace = workspace
        self.rows: dict[int, TrackHeader] = {}
        self._scroll = 0
        self.setFixedWidth(HEADER_W)
        corner = QWidget()
        corner.setFixedHeight(RULER_H)
        corner.setStyleSheet("background: #2a2a30; border-bottom: 1px solid #15151a;")
        add = QToolButton(corner)
        add.setObjectName("add_track")
        add.setText("+ Track")
        add.setToolTip("Add a track (Ctrl+T)")
        add.setAutoRaise(True)
        add.clicked.connect(lambda: workspace.add_track())
        corner_layout = QHBoxLayout(corner)
        corner_layout.setContentsMargins(6, 2, 6, 2)
        corner_layout.setSpacing(2)
        corner_layout.addWidget(add)
        corner_layout.addStretch(1)
        for text, tip, slot in (
            ("Import…", "Import WAV, FLAC or OGG at the playhead on the selected track (Ctrl+I)", workspace.choose_import),
            ("Export…", "Render the mix to WAV or FLAC (Ctrl+Shift+E)", workspace.choose_export_mix),
        ):
            button = QToolButton(corner)
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            connect_command(button.clicked, slot)
            corner_layout.addWidget(button)
        self.add_button = add
        self.area = QWidget()  # rows live here; it clips them to the space under the corner
        self.area.setStyleSheet("background: #1c1c20;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(corner)
        layout.addWidget(self.area, 1)
        workspace.timeline_changed.connect(self.refresh)
        workspace.selection_changed.connect(self.refresh)

    def refresh(self) -> None:
        tracks = self.workspace.timeline.tracks
        wanted = {t.id for t in tracks}
        for track_id in list(self.rows):
            if track_id not in wanted:
                self.rows.pop(track_id).deleteLater()
        for track in tracks:
            row = self.rows.get(track.id)
            if row is None:
                row = self.rows[track.id] = TrackHeader(self.workspace, track)
                row.setParent(self.area)
                row.show()
            row.show_track(track)
        self._place()

    def set_scroll(self, value: int) -> None:
        self._scroll = value
        self._place()

    def _place(self) -> None:
        timeline = self.workspace.timeline
        for index, track in enumerate(timeline.tracks):
            self.rows[track.id].setGeometry(0, row_offset(timeline, index) - self._scroll, self.width(), track_height(track))

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Ctrl+wheel: every track taller or shorter; else the tracks scroll, as in the lanes."""
        steps = event.angleDelta().y() / 120.0
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier and steps:
            scale_heights(self.workspace, 1.15**steps)
        else:
            bar = self.workspace.arrangement.verticalScrollBar()
            bar.setValue(int(bar.value() - steps * bar.singleStep()))
        event.accept()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._place()
