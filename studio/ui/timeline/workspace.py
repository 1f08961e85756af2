"""The Audio workspace: the arrangement, its track headers, the transport bar, and the state
every edit goes through.

The arrangement is one immutable ``Timeline`` value. Every edit computes the next value and
pushes one ``SetTimeline`` undo step holding the value before and after; a drag shows
intermediate values (``preview``) and pushes its single step when the mouse is released.
Playback hands each new value to the ``Transport``, whose mixer thread reads it without a
lock (nothing in it can change). Expected failures — a bad file, an unwritable path, no audio
device — go out through ``message`` for the status bar; nothing is lost.

This module holds the widget, its state (timeline, selection, snapping, the gesture under
way), opening a project's timeline and the keyboard actions; the rest is in its parts:
``edits`` (tracks and clips), ``playback`` (transport, playhead, loop), ``import_export``
(audio files in, the mix and MIDI out) and ``generation_landing`` (a generator's audio).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from studio.core.audio.playback import Transport
from studio.core.audio.timeline import Clip, Timeline, TimelineError, Track
from studio.core.media.sound import Audio
from studio.ui.slots import connect_command
from studio.ui.timeline.arrangement import Arrangement
from studio.ui.timeline.commands import SetTimeline
from studio.ui.timeline.edits import TimelineEdits
from studio.ui.timeline.generation_landing import GenerationLanding
from studio.ui.timeline.growing_takes import GrowingTakes
from studio.ui.timeline.grid import DEFAULT_DIVISION, Grid
from studio.ui.timeline.import_export import AUDIO_FILTER, AUDIO_SUFFIXES, MIX_FILTER, ImportExport
from studio.ui.timeline.markers import MarkerEdits
from studio.ui.timeline.master_strip import attach_levels
from studio.ui.timeline.piano_roll_pane import attach_piano_roll
from studio.ui.timeline.playback import POLL_MS, Playback
from studio.ui.timeline.track_header import TrackHeaders
from studio.ui.timeline.track_heights import keep_heights
from studio.ui.timeline.transport_bar import TransportBar

__all__ = ["AUDIO_FILTER", "AUDIO_SUFFIXES", "MIX_FILTER", "POLL_MS", "AudioWorkspace"]


class AudioWorkspace(TimelineEdits, MarkerEdits, ImportExport, GenerationLanding, Playback, QWidget):
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
        self.growing = GrowingTakes(self)  # takes still being generated, drawn as they stream
        self._decoded.connect(self._on_decoded)
        self.transport.set_timeline(self._timeline)
        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self._follow_transport)

        self.transport_bar = TransportBar(self)
        self.arrangement = Arrangement(self)
        self.headers = TrackHeaders(self)
        attach_levels(self)  # the master strip under the headers; the meters' feed
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
        layout.addWidget(attach_piano_roll(self, body), 1)  # the piano roll opens under the arrangement
        layout.addWidget(self.transport_bar.footer)
        self.setFocusProxy(self.arrangement)  # keys go to the arrangement, not the tempo box
        self._make_actions()
        self.watch_midi_actions()  # the MIDI exports greyed, with the reason, while nothing has notes
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

    @property
    def in_gesture(self) -> bool:
        return self._gesture is not None

    def swap(self, timeline: Timeline) -> None:
        """Show ``timeline`` without an undo step: only for what is derived from the timeline
        already there (a note clip's audio rendered from its notes, ``piano_roll_notes``)."""
        if self._gesture is None:
            self._restore(timeline)

    def _restore(self, timeline: Timeline) -> None:
        self._timeline = timeline = keep_heights(self._timeline, timeline)  # a height is a view: undo keeps it
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
        self._timeline = timeline  # the project's own track heights, not those shown before
        self._restore(timeline)
        self.arrangement.zoom_to_fit()
        self.document_replaced.emit()

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
            ("import_midi", "Import MIDI…", "", self.choose_import_midi),
            ("export_mix", "Export mix…", "Ctrl+Shift+E", self.choose_export_mix),
            ("export_midi", "Export clip as MIDI…", "", self.choose_export_midi),
            ("export_arrangement_midi", "Export arrangement as MIDI…", "", self.choose_export_arrangement_midi),
            ("edit_notes", "Edit notes…", "Ctrl+Shift+P", lambda: self.piano_roll.open_selected()),
            ("zoom_in", "Zoom in", "Ctrl+=", lambda: self.arrangement.zoom_by(1.25)),
            ("zoom_out", "Zoom out", "Ctrl+-", lambda: self.arrangement.zoom_by(0.8)),
            ("zoom_fit", "Zoom to fit", "Ctrl+0", self.arrangement.zoom_to_fit),
            ("snap", "Snap to grid", "N", lambda: self.set_snap(not self.snap_enabled)),
            ("add_marker", "Add marker at playhead", "M", self.add_marker_at_playhead),
            ("previous_marker", "Go to previous marker", "Alt+Left", lambda: self.go_to_marker(-1)),
            ("next_marker", "Go to next marker", "Alt+Right", lambda: self.go_to_marker(1)),
        ):
            action = QAction(text, self)
            if keys:
                action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            connect_command(action.triggered, slot)
            self.addAction(action)
            self.actions_by_name[name] = action
