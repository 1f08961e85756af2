"""Playback in the Audio workspace: the playhead, play/pause/stop, the loop region, and
following the transport while it plays.

The ``Transport`` (``studio.core.audio.playback``) plays the timeline on its own mixer thread; this
moves the playhead with what is heard and says why when there is no audio device.
``Playback`` is a part of ``AudioWorkspace`` (a mixin): the workspace makes the transport
and the ``poll`` timer that calls ``_follow_transport``.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer

from studio.errors import StudioError

POLL_MS = 30  # how often the playhead follows the transport while playing


class Playback:
    """The transport's controls and the playhead that follows it."""

    def set_playhead(self, frame: int) -> None:
        frame = max(0, int(frame))
        self.transport.seek(frame)
        self._set_playhead(frame)

    def _set_playhead(self, frame: int) -> None:
        if frame != self._playhead:
            self._playhead = frame
            self.playhead_changed.emit(frame)

    @property
    def playing(self) -> bool:
        return bool(self.transport.playing)

    def play(self) -> bool:
        if self.playing:
            return True
        self.transport.seek(self._playhead)
        try:
            self.transport.play()
        except StudioError as exc:
            # Said once, in the footer under the arrangement (the library's words in its
            # tooltip): a status-bar message as well would say the same thing twice.
            self.playback_error = str(exc)
            self.transport_bar.refresh()
            self.playing_changed.emit(False)
            return False
        self.playback_error = ""
        self._play_started_at = self._playhead
        self.poll.start()
        self.playing_changed.emit(True)
        return True

    def pause(self) -> None:
        self.transport.pause()
        self.poll.stop()
        self._set_playhead(int(self.transport.position))
        self.playing_changed.emit(False)

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def stop(self) -> None:
        """Stop and go back to where playback started (pressed again: to the start)."""
        was_playing = self.playing
        self.transport.stop()
        self.poll.stop()
        self.set_playhead(self._play_started_at if was_playing else 0)
        self.playing_changed.emit(False)

    def set_loop(self, start: int | None, end: int | None = None, enabled: bool = True) -> None:
        """Loop ``start..end`` (frames), or no loop region with ``start=None``."""
        if start is None or end is None or end - start < 1:
            self.loop, self.loop_enabled = None, False
        else:
            self.loop, self.loop_enabled = (int(min(start, end)), int(max(start, end))), enabled
        self._apply_loop()

    def set_loop_enabled(self, enabled: bool) -> None:
        if enabled and self.loop is None:  # loop the selected clip, or the first four bars
            clip = self.selected_clip()
            self.loop = (clip.start, clip.end) if clip else (0, int(self.grid.frames_per_bar * 4))
        self.loop_enabled = enabled and self.loop is not None
        self._apply_loop()

    def _apply_loop(self) -> None:
        if self.loop_enabled and self.loop is not None:
            self.transport.set_loop(*self.loop)
        else:
            self.transport.set_loop(None)
        self.transport_bar.refresh()
        self.arrangement.viewport().update()

    def _follow_transport(self) -> None:
        self._set_playhead(self._heard_frame())
        self.transport_bar.show_underruns(int(self.transport.underruns))
        if not self.transport.playing:  # ran off the end
            self.poll.stop()
            self.playing_changed.emit(False)

    def _heard_frame(self) -> int:
        """The frame coming out of the speakers: the transport's position less what the
        device still holds in its buffers (tens of ms), so the playhead is not ahead of the
        sound. Inside a loop, a frame before the loop's start is the end of the loop."""
        position = int(self.transport.position)
        heard = position - int(self.transport.output_latency * self._timeline.sample_rate)
        if self.loop_enabled and self.loop is not None:
            start, end = self.loop
            if heard < start <= position:
                heard += end - start
        return max(0, heard)

    def check_playback(self) -> None:
        """Find out once, quietly, whether there is a device: the transport bar says if not."""
        from studio.core.audio.playback import output_device

        try:
            output_device()
        except StudioError as exc:
            self.playback_error = str(exc)
        self.transport_bar.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not getattr(self, "_checked_playback", False):
            self._checked_playback = True
            self.arrangement.setFocus()
            QTimer.singleShot(0, self.check_playback)


    def shutdown(self) -> None:
        """Stop playback and release the audio device (the window calls this as it closes)."""
        self.poll.stop()
        self.transport.close()

