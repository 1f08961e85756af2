"""Mouse and keyboard gestures on the arrangement, its context menu, and files dropped on it.

Each gesture is one undo step, pushed at release: drag a clip to move it (also onto another
track), drag its edges to trim, drag the small squares at its top corners to fade, drag on the
ruler to draw a loop region, click the ruler or an empty lane to move the playhead. Positions
snap to the grid unless Shift or Alt is held; Esc during a drag puts everything back. Audio
files dropped on a lane are imported there. ``ArrangementGestures`` is a part of
``Arrangement`` (a mixin): the workspace makes the edits, this turns the mouse into them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMenu

from studio.core.audio.note_takes import has_notes
from studio.core.audio.timeline import Clip, Marker, Timeline, TimelineError
from studio.ui.plain import plain_tip
from studio.ui.timeline.arrangement_geometry import RULER_H, Hit
from studio.ui.timeline.import_export import AUDIO_SUFFIXES
from studio.ui.timeline.clip_gain import add_gain_actions
from studio.ui.timeline.markers import marker_menu, rename_marker_dialog

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace

#: The undo step each kind of drag makes.
GESTURE_NAMES = {"marker": "Move marker", "clip": "Move clip", "trim_left": "Trim clip", "trim_right": "Trim clip", "fade_in": "Fade in", "fade_out": "Fade out"}


@dataclass
class Drag:
    """A gesture under way: where it started and the timeline value it started from."""

    kind: str
    base: Timeline
    press_x: float
    press_frame: int
    clip: Clip | None = None
    moved: bool = False
    marker: Marker | None = None


class ArrangementGestures:
    """Press, drag, release, double-click, Esc, the clip menu and dropped files."""

    workspace: "AudioWorkspace"
    drag: Drag | None

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        pos = event.position()
        hit = self.hit(pos)
        ws = self.workspace
        if event.button() == Qt.MouseButton.RightButton:
            if hit.clip is not None:
                ws.select_clip(hit.clip.id)
                self._clip_menu(hit.clip, event.globalPosition().toPoint())
            elif hit.marker is not None:
                self.menu = marker_menu(self, hit.marker, event.globalPosition().toPoint())
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        frame = int(self.frame_of(pos.x()))
        if hit.kind == "marker":  # a drag moves it; a click puts the playhead there
            self.drag = Drag("marker", self.timeline, pos.x(), frame, marker=hit.marker)
            ws.set_playhead(hit.marker.frame)
            return
        if hit.kind == "ruler":
            self.drag = Drag("ruler", self.timeline, pos.x(), frame)
            ws.set_playhead(ws.snap(frame, _bypass(event)))
            return
        if hit.track is not None:
            ws.select_track(hit.track.id)
        if hit.clip is None:
            ws.select_clip(None)
            if hit.kind == "lane":
                ws.set_playhead(ws.snap(frame, _bypass(event)))
            return
        ws.select_clip(hit.clip.id)
        self.drag = Drag(hit.kind, self.timeline, pos.x(), frame, hit.clip)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        pos = event.position()
        drag = self.drag
        if drag is not None and not event.buttons() & Qt.MouseButton.LeftButton:
            # the release went elsewhere (a menu or dialog took it): the drag ends here
            self.drag = drag = None
            self.workspace.commit_gesture()
        if drag is None:
            self._set_cursor(self.hit(pos))
            return
        if not drag.moved and abs(pos.x() - drag.press_x) < 3 and drag.kind != "clip":
            return
        if drag.kind == "clip" and not drag.moved and abs(pos.x() - drag.press_x) < 3 and self.row_at(pos.y()) == self._row_of(drag.clip):
            return
        ws = self.workspace
        if not drag.moved and drag.kind != "ruler":
            ws.begin_gesture(GESTURE_NAMES[drag.kind])
            drag.base = ws.timeline  # what the gesture starts from, should it have changed since the press
        drag.moved = True
        bypass = _bypass(event)
        frame = self.frame_of(pos.x())
        if drag.kind == "ruler":
            start = ws.snap(min(drag.press_frame, frame), bypass)
            end = ws.snap(max(drag.press_frame, frame), bypass)
            if end > start:
                ws.set_loop(start, end)
            return
        try:
            ws.preview(self._dragged(drag, frame, pos.y(), bypass))
        except TimelineError:
            pass  # e.g. a trim past the audio: keep the last valid shape

    def _dragged(self, drag: Drag, frame: float, y: float, bypass: bool) -> Timeline:
        """The timeline ``drag`` makes with the mouse at ``frame`` (always from its base)."""
        clip, base, ws = drag.clip, drag.base, self.workspace
        if drag.kind == "marker":
            return base.update_marker(drag.marker.id, frame=ws.snap(drag.marker.frame + frame - drag.press_frame, bypass))
        if drag.kind == "clip":
            start = ws.snap(clip.start + frame - drag.press_frame, bypass)
            row = self.row_at(y)
            track_id = base.tracks[row].id if row is not None else base.track_of(clip.id).id
            return base.move_clip(clip.id, track_id, start)
        if drag.kind == "trim_left":
            return base.trim_clip(clip.id, start=ws.snap(frame, bypass))
        if drag.kind == "trim_right":
            return base.trim_clip(clip.id, end=ws.snap(frame, bypass))
        if drag.kind == "fade_in":
            return base.update_clip(clip.id, fade_in=max(0, ws.snap(frame, bypass) - clip.start))
        if drag.kind == "fade_out":
            return base.update_clip(clip.id, fade_out=max(0, clip.end - ws.snap(frame, bypass)))
        return base

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.button() != Qt.MouseButton.LeftButton:
            return  # another button let go: the left-button drag goes on
        self.drag = None
        self.workspace.commit_gesture()

    def _drag_ended(self) -> None:
        self.drag = None

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Esc during a drag puts everything back where it was; no undo step is made."""
        if event.key() == Qt.Key.Key_Escape and self.drag is not None:
            self.drag = None
            self.workspace.cancel_gesture()
            return
        super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        hit = self.hit(event.position())
        if hit.kind == "marker":
            rename_marker_dialog(self, hit.marker)
        elif hit.kind == "clip" and hit.clip is not None and has_notes(hit.clip.info):
            self.workspace.piano_roll.open_clip(hit.clip.id)  # a note clip opens in the piano roll
        elif hit.kind == "clip" and hit.clip is not None:
            self._rename(hit.clip)
        elif hit.kind == "empty" and event.position().y() >= RULER_H:
            self.workspace.add_track()

    def _row_of(self, clip: Clip) -> int:
        return self.timeline.track_index(self.timeline.track_of(clip.id).id)

    def _set_cursor(self, hit: Hit) -> None:
        shapes = {"trim_left": Qt.CursorShape.SizeHorCursor, "trim_right": Qt.CursorShape.SizeHorCursor, "fade_in": Qt.CursorShape.PointingHandCursor, "fade_out": Qt.CursorShape.PointingHandCursor, "clip": Qt.CursorShape.OpenHandCursor}
        self.viewport().setCursor(shapes.get(hit.kind, Qt.CursorShape.ArrowCursor))
        if hit.clip is not None:
            self.viewport().setToolTip(plain_tip(_clip_tooltip(hit.clip, self.timeline.sample_rate)))
        else:
            self.viewport().setToolTip("")

    # -- menus ---------------------------------------------------------------------------

    def _clip_menu(self, clip: Clip, where) -> None:
        ws = self.workspace
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        notes = menu.addAction("Edit notes…\tCtrl+Shift+P", lambda: ws.piano_roll.open_clip(clip.id))
        notes.setEnabled(has_notes(clip.info))
        notes.setToolTip("" if notes.isEnabled() else "Audio only: this clip has no notes (a chorale sketch or an imported MIDI file has)")
        menu.addAction("Rename…", lambda: self._rename(clip))
        split = menu.addAction("Split at playhead\tS", ws.split_at_playhead)
        split.setEnabled(clip.start < ws.playhead < clip.end)
        menu.addAction("Duplicate\tCtrl+D", ws.duplicate_selected)
        menu.addAction("Delete\tDel", ws.delete_selected)
        menu.addSeparator()
        add_gain_actions(menu, self, ws, clip)  # Clip gain…, Normalise
        beat = int(self.timeline.frames_per_beat)
        lengths = (("None", 0), ("1/4 beat", beat // 4), ("1 beat", beat), ("1 bar", int(self.timeline.frames_per_bar)))
        for field, title in (("fade_in", "Fade in"), ("fade_out", "Fade out")):
            fades = menu.addMenu(title)
            for label, frames in lengths:
                fades.addAction(label, lambda f=frames, k=field: ws.set_fades(clip.id, **{k: f}))
        menu.addSeparator()
        menu.addAction("Loop this clip", lambda: ws.set_loop(clip.start, clip.end))
        midi = menu.addAction("Export notes as MIDI…", ws.choose_export_midi)
        midi.setEnabled(bool(clip.info.get("score")))
        menu.popup(where)

    def _rename(self, clip: Clip) -> None:
        name, ok = QInputDialog.getText(self, "Rename clip", "Name:", text=clip.name)
        if ok:
            self.workspace.rename_clip(clip.id, name)

    # -- dropping files ------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if _audio_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if _audio_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        paths = _audio_paths(event.mimeData())
        if not paths:
            return
        event.acceptProposedAction()
        pos = event.position()
        row = self.row_at(pos.y())
        track_id = self.timeline.tracks[row].id if row is not None else None
        start = self.workspace.snap(self.frame_of(pos.x()), _bypass(event))
        self.workspace.import_files(paths, track_id, start)


def _bypass(event) -> bool:
    """Shift or Alt held: place freely, off the grid."""
    return bool(event.modifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier))


def _audio_paths(mime) -> list[str]:
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in AUDIO_SUFFIXES]


def _clip_tooltip(clip: Clip, rate: int) -> str:
    lines = [clip.name, f"{clip.length / rate:.2f} s from {clip.start / rate:.2f} s"]
    if clip.generator:
        lines.append(f"made by {clip.generator}")
    lines += [f"{k}: {v}" for k, v in clip.params.items() if k != "prompt" or v]
    return "\n".join(lines)
