"""The Audio workspace's edit commands: tracks, clips, tempo and time signature.

Each edit computes the next immutable ``Timeline`` and hands it to ``AudioWorkspace.apply``,
which pushes it as one undo step. ``TimelineEdits`` is a part of ``AudioWorkspace`` (a
mixin): it reads the workspace's timeline, selection and playhead.
"""

from __future__ import annotations

from typing import Any

from studio.core.audio.timeline import Clip, Timeline, TimelineError, Track


class TimelineEdits:
    """Add, remove, move and change tracks; add, split, duplicate, fade, rename and delete clips."""

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
