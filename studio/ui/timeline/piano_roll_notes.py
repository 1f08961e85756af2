"""The note clips' side of the Audio workspace: their edits as undo steps, their audio rendered
again in the background, and the Edit notes action.

Why the audio is derived rather than part of each undo step: an edit must land at once (the
piano roll and the clip show the new notes the moment a key is pressed) but a render takes a
good part of a second. So an edit pushes ONE ``SetTimeline`` step whose clip holds the new
notes and still the old audio, its info saying which notes that audio was made from
(``note_takes.RENDERED``). Whenever the timeline changes (the edit, an undo, a redo, a project
opened) ``reconcile`` looks for such stale note clips: their audio comes from the render
cache at once when those notes were played before (undo and redo never render twice), else
from the render queue's worker thread. A landed render is swapped in with ``workspace.swap``,
no undo step, only if the clip still holds the notes it was rendered for: a render for a clip
deleted, or for an edit undone meanwhile, is dropped (it stays in the cache for a redo). Per
clip only the newest request renders, so the latest edit wins. Nothing of this blocks the GUI
thread, and nothing is swapped mid-drag (the drag's own step would swallow it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from PySide6.QtCore import QObject, Signal

from studio.core.audio import note_takes as takes
from studio.core.audio.midi import Note
from studio.core.audio.timeline import Clip, Timeline, TimelineError

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace


class NoteClips(QObject):
    """Edits of note clips for the piano roll, and their audio kept in step with their notes."""

    _landed = Signal(object)  # (clip id, take, Audio or TakeError) from the render thread
    rendered = Signal(int)  # a clip's new audio was swapped in

    def __init__(self, workspace: "AudioWorkspace") -> None:
        super().__init__(workspace)
        self.workspace = workspace
        self.queue = takes.RenderQueue(self._deliver, workspace.timeline.sample_rate)
        self._landed.connect(self._on_landed)
        self._reconciling = False
        workspace.timeline_changed.connect(self.reconcile)
        workspace.gesture_closed.connect(self.reconcile)

    def _deliver(self, clip_id: int, take: takes.NoteTake, audio) -> None:
        """On the render thread: queued to the GUI thread through the signal."""
        try:
            self._landed.emit((clip_id, take, audio))
        except RuntimeError:  # the workspace was closed meanwhile
            pass

    # -- reading -------------------------------------------------------------------------

    def take(self, clip_id: int) -> takes.NoteTake:
        """The clip's notes; ``TakeError`` with a plain reason when it has none or bad ones."""
        return takes.read_take(self.workspace.timeline.clip(clip_id).info)

    def unavailable(self, clip: Clip | None) -> str:
        """Why ``clip`` cannot open in the piano roll, or "" when it can."""
        if clip is None:
            return "Select a clip made from notes (a chorale sketch or an imported MIDI file) to edit its notes"
        if not takes.has_notes(clip.info):
            return f"“{clip.name}” is audio only: it has no notes to edit"
        return ""

    def pending(self) -> bool:
        """Whether any note clip still plays audio older than its notes."""
        return any(takes.is_stale(c.info) for c in self.workspace.timeline.clips) or not self.queue.idle

    # -- edits (one undo step each) ------------------------------------------------------

    def with_notes(self, base: Timeline, clip_id: int, notes: Sequence[Note]) -> Timeline:
        clip = base.clip(clip_id)
        return base.update_clip(clip_id, info=takes.with_notes(clip.info, notes))

    def set_notes(self, clip_id: int, notes: Sequence[Note], text: str) -> None:
        self.workspace.apply(self.with_notes(self.workspace.timeline, clip_id, notes), text)

    def set_instrument(self, clip_id: int, instrument: str) -> None:
        timeline = self.workspace.timeline
        clip = timeline.clip(clip_id)
        if takes.read_take(clip.info).instrument == instrument:
            return
        after = timeline.update_clip(clip_id, info=takes.with_instrument(clip.info, instrument))
        self.workspace.apply(after, f"Instrument: {instrument}")

    # -- audio following the notes -------------------------------------------------------

    def reconcile(self) -> None:
        """Give every stale note clip its audio: from the cache now, else rendered in the background."""
        ws = self.workspace
        if self._reconciling or ws.in_gesture:
            return
        self._reconciling = True
        try:
            for clip in ws.timeline.clips:
                if not takes.is_stale(clip.info):
                    self.queue.cancel(clip.id)  # undone before its render began: none is wanted
                    continue
                take = takes.read_take(clip.info)
                audio = takes.cached_render(take, ws.timeline.sample_rate)
                if audio is not None:
                    self.queue.cancel(clip.id)
                    self._swap(clip.id, take, audio)
                else:
                    self.queue.request(clip.id, take)
        finally:
            self._reconciling = False

    def _on_landed(self, item: tuple[int, takes.NoteTake, Any]) -> None:
        clip_id, take, audio = item
        if isinstance(audio, takes.TakeError):
            self.workspace.message.emit(f"Cannot play the new notes: {audio}")
            return
        if self.workspace.in_gesture:
            return  # the drag's end reconciles again, and finds this render in the cache
        self._swap(clip_id, take, audio)

    def _swap(self, clip_id: int, take: takes.NoteTake, audio) -> None:
        ws = self.workspace
        try:
            clip = ws.timeline.clip(clip_id)
        except TimelineError:
            return  # deleted, or its creation undone, meanwhile
        try:
            if not takes.is_stale(clip.info) or takes.read_take(clip.info).key != take.key:
                return  # edited again or undone meanwhile: another render (or none) is wanted
        except takes.TakeError:
            return
        whole = clip.offset == 0 and clip.length == clip.audio.frames
        offset = min(clip.offset, audio.frames - 1)
        length = audio.frames - offset if whole else min(clip.length, audio.frames - offset)
        ws.swap(ws.timeline.update_clip(clip_id, audio=audio, offset=offset, length=length, info=takes.rendered_info(clip.info, take)))
        self.rendered.emit(clip_id)

    def shutdown(self) -> None:
        self.queue.close()
