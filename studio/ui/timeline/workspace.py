"""The Audio workspace: the arrangement, its track headers, the transport, and every edit.

The arrangement is one immutable ``Timeline`` value. Every edit computes the next value and
pushes one ``SetTimeline`` undo step holding the value before and after; a drag shows
intermediate values (``preview``) and pushes its single step when the mouse is released.
Playback hands each new value to the ``Transport``, whose mixer thread reads it without a
lock (nothing in it can change). Expected failures — a bad file, an unwritable path, no audio
device — go out through ``message`` for the status bar; nothing is lost.
"""

from __future__ import annotations

import threading

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QVBoxLayout, QWidget

from studio.core.audio import Transport
from studio.core.audio_files import read_audio, resample, write_audio
from studio.core.generators import Result
from studio.core.mixer import render
from studio.core.project_results import result_name
from studio.core.timeline import Audio, Clip, Timeline, TimelineError, Track
from studio.errors import StudioError
from studio.ui.timeline.arrangement import Arrangement
from studio.ui.timeline.commands import SetTimeline
from studio.ui.timeline.grid import DEFAULT_DIVISION, Grid
from studio.ui.timeline.track_header import TrackHeaders
from studio.ui.slots import connect_command
from studio.ui.timeline.transport_bar import TransportBar

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
AUDIO_FILTER = "Audio (*.wav *.flac *.ogg);;WAV (*.wav);;FLAC (*.flac);;Ogg Vorbis (*.ogg);;All files (*)"
MIX_FILTER = "WAV, 32-bit float (*.wav);;FLAC, 24-bit (*.flac)"
POLL_MS = 30  # how often the playhead follows the transport while playing


class AudioWorkspace(QWidget):
    message = Signal(str)  # for the status bar: bad files, unwritable paths, no playback device
    document_replaced = Signal()  # a project was opened: jobs started for the old timeline must not land here
    timeline_changed = Signal()
    selection_changed = Signal()
    playhead_changed = Signal(int)
    playing_changed = Signal(bool)
    gesture_closed = Signal()  # a drag ended (committed, cancelled, or cut short by another edit)
    _decoded = Signal(object)  # (batch, path, Audio or StudioError) from the import thread

    def __init__(self, undo_stack: QUndoStack, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("audio_workspace")
        self.undo_stack = undo_stack
        self._gesture: tuple[Timeline, str] | None = None  # (timeline before, step name) while dragging
        undo_stack.indexChanged.connect(self._history_moved)
        self._timeline = Timeline()
        self._playhead = 0
        self.selected_track_id: int | None = None
        self.selected_clip_id: int | None = None
        self.snap_enabled = True
        self.division = DEFAULT_DIVISION
        self.loop: tuple[int, int] | None = None  # the region drawn on the ruler
        self.loop_enabled = False
        self.playback_error = ""  # why playback is off, once play() has said so
        self._play_started_at = 0  # stop returns here, as in most sequencers
        self.transport = Transport()  # never raises; play() says why when there is no device
        self._decoded.connect(self._on_decoded)
        self.transport.set_timeline(self._timeline)
        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self._follow_transport)

        self.transport_bar = TransportBar(self)
        self.arrangement = Arrangement(self)
        self.headers = TrackHeaders(self)
        self.arrangement.verticalScrollBar().valueChanged.connect(self.headers.set_scroll)
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        body.addWidget(self.headers)
        body.addWidget(self.arrangement, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.transport_bar)
        layout.addLayout(body, 1)
        layout.addWidget(self.transport_bar.footer)
        self.setFocusProxy(self.arrangement)  # keys go to the arrangement, not the tempo box
        self._make_actions()
        self._refresh()

    # -- the public face -----------------------------------------------------------------

    @property
    def timeline(self) -> Timeline:
        return self._timeline

    @property
    def playhead(self) -> int:
        return self._playhead

    @property
    def grid(self) -> Grid:
        return Grid.of(self._timeline, self.division)

    def selected_track(self) -> Track | None:
        try:
            return self._timeline.track(self.selected_track_id) if self.selected_track_id is not None else None
        except TimelineError:
            return None

    def selected_clip(self) -> Clip | None:
        try:
            return self._timeline.clip(self.selected_clip_id) if self.selected_clip_id is not None else None
        except TimelineError:
            return None

    def selected_audio(self) -> Audio | None:
        """The selected clip as heard (fades and gain applied): an audio prompt for a generator."""
        clip = self.selected_clip()
        return Audio(clip.rendered(), clip.sample_rate) if clip is not None else None

    # -- state changes -------------------------------------------------------------------

    def apply(self, after: Timeline, text: str, merge_key: str = "") -> None:
        """Make ``after`` the timeline as one undo step (nothing pushed when nothing changed).

        An edit that arrives mid-drag (a generation landing, a file imported, a key) first
        turns the drag so far into its own step, so neither is lost and undo stays in order.
        """
        self.commit_gesture()
        before = self._timeline
        if after is before:
            return
        self.undo_stack.push(SetTimeline(self._restore, before, after, text, merge_key))

    # A gesture (a clip or slider drag) shows previews and becomes one undo step at its end.
    # The workspace owns it, so anything else that changes the timeline can end it first.

    def begin_gesture(self, text: str) -> None:
        """A drag starts; ``preview`` shows it and ``commit_gesture`` makes it the step ``text``."""
        self.commit_gesture()
        self._gesture = (self._timeline, text)

    def preview(self, timeline: Timeline) -> None:
        """Show ``timeline`` while the gesture is under way (no undo step yet)."""
        if self._gesture is not None:
            self._restore(timeline)

    def commit_gesture(self) -> None:
        if self._gesture is None:
            return
        (before, text), self._gesture = self._gesture, None
        after = self._timeline
        if after is not before:
            self._timeline = before  # the step's redo sets ``after`` again, through the same path
            self.undo_stack.push(SetTimeline(self._restore, before, after, text))
        self.gesture_closed.emit()

    def cancel_gesture(self) -> None:
        """Esc: the timeline as it was when the gesture began; no undo step."""
        if self._gesture is None:
            return
        (before, _text), self._gesture = self._gesture, None
        self._restore(before)
        self.gesture_closed.emit()

    def _history_moved(self) -> None:
        """Undo or redo mid-drag replaced the timeline under it: the drag is dropped."""
        if self._gesture is not None:
            self._gesture = None
            self.gesture_closed.emit()

    def _restore(self, timeline: Timeline) -> None:
        self._timeline = timeline
        self.transport.set_timeline(timeline)
        self._refresh()

    def _refresh(self) -> None:
        if self.selected_track() is None:
            self.selected_track_id = self._timeline.tracks[0].id if self._timeline.tracks else None
        if self.selected_clip() is None:
            self.selected_clip_id = None
        self.timeline_changed.emit()

    def select_track(self, track_id: int | None) -> None:
        if track_id != self.selected_track_id:
            self.selected_track_id = track_id
            self.selection_changed.emit()

    def select_clip(self, clip_id: int | None) -> None:
        if clip_id is not None:
            self.selected_track_id = self._timeline.track_of(clip_id).id
        self.selected_clip_id = clip_id
        self.selection_changed.emit()

    def snap(self, frame: float, bypass: bool = False) -> int:
        """``frame`` on the grid when snapping is on (and not bypassed with Shift or Alt)."""
        if self.snap_enabled and not bypass:
            return self.grid.snap(frame)
        return max(0, int(round(frame)))

    def set_snap(self, enabled: bool, division: str | None = None) -> None:
        self.snap_enabled = enabled
        if division is not None:
            self.division = division
        self.arrangement.viewport().update()

    # -- tracks --------------------------------------------------------------------------

    def add_track(self, name: str = "") -> Track:
        track = Track(name or self._free_track_name())
        index = self._timeline.track_index(self.selected_track_id) + 1 if self.selected_track() else None
        self.apply(self._timeline.add_track(track, index), f"Add track “{track.name}”")
        self.select_track(track.id)
        return track

    def _free_track_name(self) -> str:
        names = {t.name for t in self._timeline.tracks}
        n = len(self._timeline.tracks) + 1
        while f"Track {n}" in names:
            n += 1
        return f"Track {n}"

    def remove_track(self, track_id: int | None = None) -> None:
        track_id = self.selected_track_id if track_id is None else track_id
        if track_id is None:
            return
        index = self._timeline.track_index(track_id)
        name = self._timeline.track(track_id).name
        after = self._timeline.remove_track(track_id)
        if after.tracks and track_id == self.selected_track_id:  # the neighbour takes the selection, as in a list
            self.selected_track_id = after.tracks[min(index, len(after.tracks) - 1)].id
        self.apply(after, f"Remove track “{name}”")

    def update_track(self, track_id: int, text: str, merge_key: str = "", **fields: Any) -> None:
        """Rename, mute, solo, gain or pan: ``update_track(id, "Mute", mute=True)``."""
        self.apply(self._timeline.update_track(track_id, **fields), text, merge_key)

    def move_track(self, track_id: int, delta: int) -> None:
        index = self._timeline.track_index(track_id) + delta
        if 0 <= index < len(self._timeline.tracks):
            self.apply(self._timeline.move_track(track_id, index), "Move track " + ("up" if delta < 0 else "down"))

    # -- clips ---------------------------------------------------------------------------

    def add_clip(self, clip: Clip, track_id: int | None = None, text: str = "", track_name: str = "", base: Timeline | None = None) -> Clip | None:
        """Place ``clip`` on ``track_id`` (the selected track, or a new one), one undo step
        (from ``base``, the current timeline with settings that come in the same step)."""
        timeline = base or self._timeline
        if track_id is None:
            track_id = self.selected_track_id
        if track_id is None:  # no track yet: the clip brings its own, in the same step
            track = Track(track_name or self._free_track_name())
            timeline, track_id = timeline.add_track(track), track.id
        try:
            after = timeline.add_clip(track_id, clip)
        except TimelineError as exc:
            self.message.emit(str(exc))
            return None
        self.apply(after, text or f"Add clip “{clip.name}”")
        self.select_clip(clip.id)
        if not timeline.clips:  # the piece's first clip: show all of it, whatever the old zoom
            self.arrangement.zoom_to_fit()
        return clip

    def set_fades(self, clip_id: int, fade_in: int | None = None, fade_out: int | None = None) -> None:
        fields = {k: int(v) for k, v in (("fade_in", fade_in), ("fade_out", fade_out)) if v is not None}
        self.apply(self._timeline.update_clip(clip_id, **fields), "Fade clip")

    def rename_clip(self, clip_id: int, name: str) -> None:
        if name.strip():
            self.apply(self._timeline.update_clip(clip_id, name=name.strip()), "Rename clip")

    def split_at_playhead(self) -> None:
        clip = self.selected_clip() or self._clip_under_playhead()
        if clip is None or not clip.start < self._playhead < clip.end:
            self.message.emit("To split, put the playhead inside a clip (on the selected track)")
            return
        after, _left, right = self._timeline.split_clip(clip.id, self._playhead)
        self.apply(after, f"Split “{clip.name}”")
        self.select_clip(right.id)

    def _clip_under_playhead(self) -> Clip | None:
        track = self.selected_track()
        return next((c for c in track.clips if c.start < self._playhead < c.end), None) if track else None

    def duplicate_selected(self) -> None:
        clip = self.selected_clip()
        if clip is None:
            self.message.emit("Select a clip to duplicate")
            return
        after, copy = self._timeline.duplicate_clip(clip.id)
        self.apply(after, f"Duplicate “{clip.name}”")
        self.select_clip(copy.id)

    def delete_selected(self) -> None:
        clip = self.selected_clip()
        if clip is None:
            return
        self.selected_clip_id = None
        self.apply(self._timeline.remove_clip(clip.id), f"Delete “{clip.name}”")
        self.selection_changed.emit()

    def set_tempo(self, bpm: float) -> None:
        if bpm > 0 and bpm != self._timeline.tempo:
            self.apply(self._timeline.with_settings(tempo=float(bpm)), "Change tempo", merge_key="tempo")

    def set_beats_per_bar(self, beats: int) -> None:
        if beats > 0 and beats != self._timeline.beats_per_bar:
            self.apply(self._timeline.with_settings(beats_per_bar=int(beats)), "Change time signature", merge_key="metre")

    # -- files and generators ------------------------------------------------------------

    def import_file(self, path: str | Path, track_id: int | None = None, start: int | None = None) -> Clip | None:
        """Read an audio file onto a track (the selected one) at ``start`` (the playhead), now."""
        path = Path(path)
        try:
            audio = read_audio(path, self._timeline.sample_rate)
        except StudioError as exc:
            self.message.emit(f"Cannot import {path.name}: {exc}")
            return None
        return self._place_import(path, audio, track_id, start)

    def _place_import(self, path: Path, audio: Audio, track_id: int | None, start: int | None) -> Clip | None:
        clip = Clip(path.stem, audio, start=self._playhead if start is None else max(0, int(start)))
        return self.add_clip(clip, track_id, f"Import “{path.name}”", track_name=path.stem)

    def import_files(self, paths: list[str], track_id: int | None = None, start: int | None = None) -> None:
        """Several files one after another on the same track, as a drop of many files lands.

        Decoding, resampling and the waveform peaks of a whole song take a good part of a
        second, so they run off the GUI thread; each file lands, in order, when it is ready.
        """
        paths = [Path(p) for p in paths]
        if not paths:
            return
        self.message.emit(f"Importing {', '.join(p.name for p in paths)}…")
        rate, batch = self._timeline.sample_rate, {"track": track_id, "start": start}

        def decode() -> None:
            for path in paths:
                try:
                    audio: Audio | StudioError = read_audio(path, rate)
                    audio.peaks  # computed here, not at the first paint
                except StudioError as exc:
                    audio = exc
                try:
                    self._decoded.emit((batch, path, audio))
                except RuntimeError:  # the workspace was closed meanwhile
                    return

        threading.Thread(target=decode, name="studio-import", daemon=True).start()

    def _on_decoded(self, item: tuple) -> None:
        batch, path, audio = item
        if isinstance(audio, StudioError):
            self.message.emit(f"Cannot import {path.name}: {audio}")
            return
        if batch["track"] is not None and batch["track"] not in {t.id for t in self._timeline.tracks}:
            batch["track"] = None  # its track was removed or undone meanwhile: the selected one, or a new one
        clip = self._place_import(path, audio, batch["track"], batch["start"])
        if clip is not None:  # the next file of the same drop follows this one
            batch["track"], batch["start"] = self._timeline.track_of(clip.id).id, clip.end

    def add_generated(self, result: Result, title: str = "", continues: int | None = None) -> Clip | None:
        """A generator's audio at the playhead on the selected track (a new track if none).

        A continuation of clip ``continues`` lands right after that clip, on its track, so
        the prompt and what grew from it play as one phrase.
        """
        start, track_id = self._playhead, None
        if continues is not None:
            try:
                prompt = self._timeline.clip(continues)
                start, track_id = prompt.end, self._timeline.track_of(continues).id
            except TimelineError:
                pass  # the prompt clip was deleted meanwhile: the playhead it is
        samples = np.asarray(result.value, dtype=np.float32)
        if samples.ndim == 1:
            samples = samples[:, None]
        rate = int(result.sample_rate or self._timeline.sample_rate)
        try:
            if rate != self._timeline.sample_rate:
                samples = resample(samples, rate, self._timeline.sample_rate)
            audio = Audio(samples, self._timeline.sample_rate)
            name = result_name(title or result.generator, result.params, prompt=True)
            clip = Clip(name, audio, start=start, generator=result.generator, params=dict(result.params), info=dict(result.info))
        except (StudioError, ValueError) as exc:
            self.message.emit(f"{title or result.generator} gave audio Studio cannot place: {exc}")
            return None
        base = self._timeline
        tempo = result.info.get("tempo")
        if not base.clips and isinstance(tempo, (int, float)) and tempo > 0:
            # The first clip of a piece made at a tempo sets the piece's tempo: its bars then
            # sit on the grid (later clips never retime what is there).
            base = base.with_settings(tempo=float(tempo))
        track_id = self.selected_track_id if track_id is None else track_id
        if track_id is not None and _occupied(base.track(track_id), clip.start, clip.end):
            # Another take at the same place: on a track of its own just below, so it is
            # seen and heard apart, never hidden under (and summed with) what is there.
            take = Track(title or result.generator)
            base = base.add_track(take, base.track_index(track_id) + 1)
            track_id = take.id
        return self.add_clip(clip, track_id, text=f"Generate “{name}”", track_name=title or result.generator, base=base)

    def export_mix(self, path: str | Path) -> Path | None:
        """The whole mix (every audible track, fades, gains, pans) to WAV or FLAC."""
        path = Path(path)
        if not self._timeline.end:
            self.message.emit("Nothing to export: the timeline is empty")
            return None
        if path.suffix.lower() not in (".wav", ".flac"):
            path = path.with_suffix(".wav")
        try:
            write_audio(path, render(self._timeline), self._timeline.sample_rate)
        except StudioError as exc:
            self.message.emit(f"Cannot export the mix: {exc}")
            return None
        self.message.emit(f"Exported the mix to {path}")
        return path

    def export_midi(self, path: str | Path, clip_id: int | None = None) -> Path | None:
        """The notes of a clip a symbolic generator made, as a standard MIDI file."""
        from studio.core.midi import write_score

        clip = self._timeline.clip(clip_id) if clip_id is not None else self.selected_clip()
        if clip is None or not clip.info.get("score"):
            self.message.emit("Only a clip made from notes (like the chorale sketcher's) exports as MIDI")
            return None
        path = Path(path)
        try:
            write_score(path, clip.info)
        except (StudioError, OSError) as exc:
            self.message.emit(f"Cannot export MIDI: {exc}")
            return None
        self.message.emit(f"Exported the notes of “{clip.name}” to {path}")
        return path

    def choose_import(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import audio", "", AUDIO_FILTER)
        if paths:
            self.import_files(paths)

    def choose_export_mix(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, "Export mix", "mix.wav", MIX_FILTER)
        if path:
            if not Path(path).suffix:
                path += ".flac" if "FLAC" in chosen else ".wav"
            self.export_mix(path)

    def choose_export_midi(self) -> None:
        clip = self.selected_clip()
        if clip is None or not clip.info.get("score"):
            self.message.emit("Only a clip made from notes (like the chorale sketcher's) exports as MIDI")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export MIDI", f"{clip.name}.mid", "MIDI (*.mid)")
        if path:
            self.export_midi(path)

    # -- transport -----------------------------------------------------------------------

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
            self.playback_error = str(exc)
            reason = str(exc)  # it already says "audio playback is off: …": once is enough
            self.message.emit(reason[:1].upper() + reason[1:])
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
        from studio.core.audio import output_device

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

    def load_timeline(self, timeline: Timeline) -> None:
        """Show ``timeline`` (a project was opened): playback stops, the view fits the piece.

        The caller clears the undo history, which described the old timeline.
        """
        self._gesture = None
        self.stop()
        self.selected_track_id = self.selected_clip_id = None
        self.loop, self.loop_enabled = None, False
        self._apply_loop()
        self._set_playhead(0)
        self._restore(timeline)
        self.arrangement.zoom_to_fit()
        self.document_replaced.emit()

    def shutdown(self) -> None:
        """Stop playback and release the audio device (the window calls this as it closes)."""
        self.poll.stop()
        self.transport.close()

    # -- actions and shortcuts -----------------------------------------------------------

    def _make_actions(self) -> None:
        """Workspace-wide keys; they work while focus is anywhere in the Audio workspace."""
        self.actions_by_name: dict[str, QAction] = {}
        for name, text, keys, slot in (
            ("play", "Play / pause", "Space", self.toggle_play),
            ("stop", "Stop", "Shift+Space", self.stop),
            ("start", "Go to start", "Home", lambda: self.set_playhead(0)),
            ("end", "Go to end", "End", lambda: self.set_playhead(self._timeline.end)),
            ("loop", "Loop on/off", "L", lambda: self.set_loop_enabled(not self.loop_enabled)),
            ("split", "Split at playhead", "S", self.split_at_playhead),
            ("duplicate", "Duplicate clip", "Ctrl+D", self.duplicate_selected),
            ("delete", "Delete clip", "Delete", self.delete_selected),
            ("delete_back", "Delete clip", "Backspace", self.delete_selected),
            ("add_track", "Add track", "Ctrl+T", lambda: self.add_track()),
            ("import", "Import audio…", "Ctrl+I", self.choose_import),
            ("export_mix", "Export mix…", "Ctrl+Shift+E", self.choose_export_mix),
            ("export_midi", "Export clip as MIDI…", "", self.choose_export_midi),
            ("zoom_in", "Zoom in", "Ctrl+=", lambda: self.arrangement.zoom_by(1.25)),
            ("zoom_out", "Zoom out", "Ctrl+-", lambda: self.arrangement.zoom_by(0.8)),
            ("zoom_fit", "Zoom to fit", "Ctrl+0", self.arrangement.zoom_to_fit),
            ("snap", "Snap to grid", "N", lambda: self.set_snap(not self.snap_enabled)),
        ):
            action = QAction(text, self)
            if keys:
                action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            connect_command(action.triggered, slot)
            self.addAction(action)
            self.actions_by_name[name] = action


def _occupied(track: Track, start: int, end: int) -> bool:
    """Whether any clip on ``track`` sounds somewhere in ``start .. end``."""
    return any(clip.start < end and start < clip.end for clip in track.clips)
