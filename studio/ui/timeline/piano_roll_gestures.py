"""Mouse and keys on the piano roll, as in a DAW's note editor.

Click a note to select it (Ctrl adds or removes it), drag it to move (the whole selection, by grid
steps and semitones), drag its right edge to lengthen or shorten it, drag on the empty grid to
select with a rubber band; double-click the grid, or click it with the Draw tool, to add a note
(drag on to give it its length). Positions snap to the arrangement's grid unless Alt or Shift
is held. Up/Down transpose the selection a semitone, Shift+Up/Down an octave; Delete removes;
Ctrl+A selects every note of the voices being edited; Esc cancels a drag, else closes the pane.
Every change is one undo step (a drag is one step, pushed at the release).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QRectF, Qt

from studio.core.audio import note_edits as edits
from studio.core.audio.timeline import Timeline

KEYS_W, RULER_H, ROW_H = 56, 22, 10  # the keyboard's width, the ruler's height, a pitch's row
EDGE_PX = 5  # how near a note's right end the cursor lengthens it instead of moving it
HANDLED_KEYS = {Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_Escape, Qt.Key.Key_Left, Qt.Key.Key_Right}


@dataclass
class NoteDrag:
    kind: str  # "move", "resize", "band", "draw"
    base: Timeline  # the timeline the gesture started from
    notes: tuple  # the notes then
    press_beat: float
    press_pitch: int
    index: int | None = None  # the note pressed (or drawn)
    moved: bool = False


def _bypass(event) -> bool:
    return bool(event.modifiers() & (Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ShiftModifier))


class PianoRollGestures:
    """Press, drag, release, double-click and keys of ``PianoRoll``."""

    def hit(self, pos):
        """(index of the editable note under ``pos`` or None, whether it is at its right edge)."""
        take = self.current()
        if take is None or pos.x() < KEYS_W or pos.y() < RULER_H:
            return None, False
        editable = self.editable_voices(take)
        pitch, beat = self.pitch_of(pos.y()), self.beat_of(pos.x())
        index = edits.note_at(take.notes, beat, pitch, editable)
        if index is None:  # the last pixels past a short note's end still grab its edge
            near = [i for i, n in enumerate(take.notes) if n.pitch == pitch and n.voice in editable
                    and 0 <= pos.x() - self.x_of(n.end) <= EDGE_PX]
            if near:
                return near[-1], True
            return None, False
        return index, self.x_of(take.notes[index].end) - pos.x() <= EDGE_PX

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self.setFocus()
        pos = event.position()
        take = self.current()
        if take is None or pos.y() < RULER_H or pos.x() < KEYS_W:
            return
        index, edge = self.hit(pos)
        base = self.workspace.timeline
        beat, pitch = self.beat_of(pos.x()), self.pitch_of(pos.y())
        if index is not None:
            if event.modifiers() & Qt.KeyboardModifier.ControlModifier:  # Shift is for dragging off the grid
                self.selection = self.selection ^ {index}
            elif index not in self.selection:
                self.selection = frozenset({index})
            self.drag = NoteDrag("resize" if edge else "move", base, take.notes, beat, pitch, index)
        elif self.pane.draw_button.isChecked():
            self._start_drawing(take, base, beat, pitch, _bypass(event))
        else:
            if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                self.selection = frozenset()
            self.drag = NoteDrag("band", base, take.notes, beat, pitch)
            self.band = QRectF(pos, pos)
        self.viewport().update()

    def _start_drawing(self, take, base: Timeline, beat: float, pitch: int, bypass: bool) -> None:
        grid = 0.0 if bypass else self.grid_beats()
        start = edits.snap_down(beat, grid)
        notes, index = edits.add(take.notes, pitch, start, grid or 1.0, self.pane.draw_voice())
        self.workspace.begin_gesture("Draw note")
        self.workspace.preview(self.pane.notes.with_notes(base, self.pane.clip_id, notes))
        self.selection = frozenset({index})
        self.drag = NoteDrag("draw", base, notes, start, pitch, index, moved=True)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        pos = event.position()
        drag = self.drag
        if drag is not None and not event.buttons() & Qt.MouseButton.LeftButton:
            self._finish()  # the release went elsewhere
            drag = None
        if drag is None:
            index, edge = self.hit(pos)
            shape = Qt.CursorShape.SizeHorCursor if edge else Qt.CursorShape.OpenHandCursor if index is not None else Qt.CursorShape.ArrowCursor
            self.viewport().setCursor(shape)
            return
        beat, pitch = self.beat_of(pos.x()), self.pitch_of(pos.y())
        if drag.kind == "band":
            self.band = QRectF(self.band.topLeft(), pos)
            take = self.current()
            if take is not None:
                inside = edits.select_rect(take.notes, drag.press_beat, beat, drag.press_pitch, pitch, self.editable_voices(take))
                self.selection = inside | (self.selection if event.modifiers() & Qt.KeyboardModifier.ControlModifier else frozenset())
            self.viewport().update()
            return
        if not drag.moved:
            if abs(beat - drag.press_beat) * self.pixels_per_beat < 3 and pitch == drag.press_pitch:
                return
            self.workspace.begin_gesture("Move notes" if drag.kind == "move" else "Lengthen notes")
            drag.moved = True
        grid = 0.0 if _bypass(event) else self.grid_beats()
        note = drag.notes[drag.index]
        if drag.kind == "move":
            start = edits.snap(note.start + beat - drag.press_beat, grid)
            notes = edits.move(drag.notes, self.selection, start - note.start, pitch - drag.press_pitch)
        elif drag.kind == "resize":
            notes = edits.resize(drag.notes, self.selection, beat - drag.press_beat, grid)
        else:  # draw: the new note follows the mouse to its end
            end = max(edits.snap(beat, grid), note.start + (grid or edits.MIN_DURATION))
            notes = edits.resize(drag.notes, {drag.index}, end - note.end, grid)
        self.workspace.preview(self.pane.notes.with_notes(drag.base, self.pane.clip_id, notes))

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton:
            self._finish()

    def _finish(self) -> None:
        drag, self.drag = self.drag, None
        self.band = None
        if drag is not None and drag.moved:
            self.workspace.commit_gesture()
        self.viewport().update()

    def gesture_closed(self) -> None:
        """Undo, another edit or Esc ended the workspace's gesture under our drag."""
        if self.drag is not None and self.drag.kind != "band":
            self.drag = None
            self.viewport().update()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        pos = event.position()
        take = self.current()
        if take is None or event.button() != Qt.MouseButton.LeftButton or pos.y() < RULER_H or pos.x() < KEYS_W:
            return
        if self.hit(pos)[0] is None:
            self._finish()
            grid = 0.0 if _bypass(event) else self.grid_beats()
            notes, index = edits.add(take.notes, self.pitch_of(pos.y()), edits.snap_down(self.beat_of(pos.x()), grid), grid or 1.0, self.pane.draw_voice())
            self.pane.notes.set_notes(self.pane.clip_id, notes, "Draw note")
            self.selection = frozenset({index})

    # -- keys ----------------------------------------------------------------------------

    def event(self, event) -> bool:
        # The workspace's Delete (delete the clip) and the window's Ctrl+A are shortcuts: a
        # key the piano roll handles is claimed first, so it edits notes, not the arrangement.
        if event.type() == QEvent.Type.ShortcutOverride and (
            event.key() in HANDLED_KEYS or (event.key() == Qt.Key.Key_A and event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        key, modifiers = event.key(), event.modifiers()
        take = self.current()
        if key == Qt.Key.Key_Escape:
            if self.drag is not None:
                self.drag, self.band = None, None
                self.workspace.cancel_gesture()
                self.viewport().update()
            else:
                self.pane.close_pane()
            return
        if take is None:
            return super().keyPressEvent(event)
        clip_id, notes = self.pane.clip_id, self.pane.notes
        if key == Qt.Key.Key_A and modifiers & Qt.KeyboardModifier.ControlModifier:
            self.selection = edits.select_all(take.notes, self.editable_voices(take))
            self.viewport().update()
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self.selection:
            octave = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
            step = (12 if octave else 1) * (1 if key == Qt.Key.Key_Up else -1)
            text = ("Octave " if octave else "Transpose ") + ("up" if step > 0 else "down")
            notes.set_notes(clip_id, edits.transpose(take.notes, self.selection, step), text)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right) and self.selection:
            step = self.grid_beats() * (1 if key == Qt.Key.Key_Right else -1)
            notes.set_notes(clip_id, edits.move(take.notes, self.selection, step), "Move notes")
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selection:
            count = len(self.selection)
            notes.set_notes(clip_id, edits.delete(take.notes, self.selection), f"Delete {count} note{'s' if count > 1 else ''}")
            self.selection = frozenset()
        else:
            super().keyPressEvent(event)

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        delta = event.angleDelta()
        steps = (delta.y() or delta.x()) / 120.0
        modifiers = event.modifiers()
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            anchor = event.position().x()
            beat = self.beat_of(anchor)
            self.pixels_per_beat = max(4.0, min(400.0, self.pixels_per_beat * 1.2**steps))
            self.refresh()
            self.horizontalScrollBar().setValue(int(beat * self.pixels_per_beat - anchor + KEYS_W))
        elif modifiers & Qt.KeyboardModifier.ShiftModifier or delta.x():
            bar = self.horizontalScrollBar()
            bar.setValue(int(bar.value() - steps * 60))
        else:
            bar = self.verticalScrollBar()
            bar.setValue(int(bar.value() - steps * bar.singleStep() * 3))
        event.accept()
