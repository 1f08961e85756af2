"""Feeding the meters: the track headers' and the master's, during playback and while rendering.

A ``QTimer`` at ~30 Hz runs only while something sounds: while playing it reads the
transport's levels of the frames heard since the last tick (``Transport.levels``, between
the last and the current heard frame, so no peak between two ticks is missed); when playback
stops it feeds silence until every meter has fallen to the floor, then stops. An export feeds
the master meter the render's levels as it goes (``show_render``).

When the master goes over 0 dBFS the master meter's clip LED lights (it stays lit until
clicked) and the status bar says where, once per playback run, in words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from studio.core.audio.levels import SILENT, Levels

if TYPE_CHECKING:
    from studio.ui.timeline.level_meter import LevelMeter
    from studio.ui.timeline.workspace import AudioWorkspace

METER_MS = 33


def time_label(seconds: float) -> str:
    """1:23.4 — minutes, seconds and tenths, as a transport shows a position."""
    tenths = int(round(max(0.0, seconds) * 10))
    return f"{tenths // 600}:{tenths % 600 // 10:02d}.{tenths % 10}"


def clip_warning(frame: int, sample_rate: int) -> str:
    return f"The mix clips at {time_label(frame / sample_rate)} — lower the master fader or a track"


class Metering(QObject):
    def __init__(self, workspace: "AudioWorkspace") -> None:
        super().__init__(workspace)
        self.workspace = workspace
        self.timer = QTimer(self)
        self.timer.setInterval(METER_MS)
        self.timer.timeout.connect(self._tick)
        self._last_heard = 0
        self.warned = False  # the clipping warning was said in this playback run
        workspace.playing_changed.connect(self._playing_changed)

    def meters(self) -> list[tuple[int | None, "LevelMeter"]]:
        """(track id, meter) for every track header, and (None, the master meter)."""
        rows = [(track_id, row.meter) for track_id, row in self.workspace.headers.rows.items() if hasattr(row, "meter")]
        return rows + [(None, self.workspace.master_strip.meter)]

    def _playing_changed(self, playing: bool) -> None:
        if playing:
            self._last_heard = self.workspace._heard_frame()
            self.warned = False
        self.timer.start()  # playing: to follow; stopped: to let the meters fall

    def _tick(self) -> None:
        ws = self.workspace
        if ws.playing:
            heard = ws._heard_frame()
            levels = ws.transport.levels(self._last_heard, heard)
            self._last_heard = heard
            self.show(levels)
        else:
            self.show(Levels())
            if not any(meter.lit for _, meter in self.meters()):
                self.timer.stop()

    def show(self, levels: Levels) -> None:
        for track_id, meter in self.meters():
            meter.show_level(levels.master if track_id is None else levels.track(track_id))
        if levels.over_frame is not None:
            self.warn_clipping(levels.over_frame)

    def warn_clipping(self, frame: int) -> None:
        if not self.warned:
            self.warned = True
            self.workspace.message.emit(clip_warning(frame, self.workspace.timeline.sample_rate))

    def show_render(self, levels: Levels) -> None:
        """A block of an export was rendered: the master meter shows it (the tracks stay dark)."""
        self.workspace.master_strip.meter.show_level(levels.master)
        for track_id, meter in self.meters():
            if track_id is not None:
                meter.show_level(SILENT)
        if not self.timer.isActive():
            self.timer.start()  # falls back to silence once the render is over
