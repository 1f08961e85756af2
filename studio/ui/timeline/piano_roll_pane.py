"""The piano roll's pane under the arrangement: the note clip being edited, which voice is
edited (and gets the notes drawn), the instrument that plays it, the Draw tool and Close.

It opens with a note clip (double-click it in the arrangement, its menu's Edit notes…, or
Audio ▸ Edit notes…) and closes with its button or Esc; it follows the clip through undo and
redo and closes if the clip goes away. ``attach_piano_roll`` puts it in a splitter under the
arrangement; ``NoteClips`` (``piano_roll_notes``) makes its edits and keeps the audio in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLayout, QSplitter, QToolButton, QVBoxLayout, QWidget

from studio.core.audio import note_edits as edits
from studio.core.audio import note_takes as takes
from studio.core.audio import synth
from studio.core.audio.timeline import TimelineError
from studio.ui.timeline.piano_roll import PianoRoll, voice_colour
from studio.ui.timeline.piano_roll_notes import NoteClips

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace

ALL_VOICES = "All voices"


class PianoRollPane(QWidget):
    def __init__(self, workspace: "AudioWorkspace") -> None:
        super().__init__(workspace)
        self.setObjectName("piano_roll_pane")
        self.workspace = workspace
        self.notes = NoteClips(workspace)
        self.clip_id: int | None = None
        self.voice: int | None = None  # the voice edited; None: all of them

        self.title = QLabel()
        self.title.setObjectName("piano_roll_title")
        self.voice_combo = QComboBox()
        self.voice_combo.setObjectName("piano_roll_voice")
        self.voice_combo.setToolTip("The voice you edit and draw notes in (its notes are selected); the others stay in view, dimmed")
        self.voice_combo.activated.connect(self._voice_chosen)
        self.instrument_combo = QComboBox()
        self.instrument_combo.setObjectName("piano_roll_instrument")
        self.instrument_combo.addItems(list(synth.INSTRUMENTS))
        self.instrument_combo.setToolTip("The sound that plays this take: changing it plays the same notes again, no new generation")
        self.instrument_combo.activated.connect(self._instrument_chosen)
        self.others_button = QToolButton()
        self.others_button.setObjectName("piano_roll_others")
        self.others_button.setText("Others")
        self.others_button.setCheckable(True)
        self.others_button.setChecked(True)
        self.others_button.setToolTip("Show the other voices, dimmed, behind the one you edit")
        self.others_button.toggled.connect(lambda _on: self.view.viewport().update())
        self.draw_button = QToolButton()
        self.draw_button.setObjectName("piano_roll_draw")
        self.draw_button.setText("✎ Draw")
        self.draw_button.setCheckable(True)
        self.draw_button.setToolTip("Draw tool: click the grid to add a note, drag to give it its length (double-click adds one with any tool)")
        self.status = QLabel()
        self.status.setObjectName("piano_roll_status")
        self.status.setStyleSheet("color: #9a9aa3")
        self.close_button = QToolButton()
        self.close_button.setObjectName("piano_roll_close")
        self.close_button.setText("✕")
        self.close_button.setToolTip("Close the piano roll (Esc)")
        self.close_button.clicked.connect(self.close_pane)

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 3, 4, 3)
        bar.addWidget(self.title)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Voice"))
        bar.addWidget(self.voice_combo)
        bar.addWidget(self.others_button)
        bar.addWidget(self.draw_button)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Instrument"))
        bar.addWidget(self.instrument_combo)
        bar.addSpacing(12)
        bar.addWidget(self.status, 1)
        bar.addWidget(self.close_button)
        self.view = PianoRoll(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        self.hide()

        workspace.timeline_changed.connect(self._timeline_changed)
        workspace.selection_changed.connect(self.update_action)
        workspace.selection_changed.connect(self._follow_selection)
        workspace.gesture_closed.connect(self.view.gesture_closed)
        workspace.playhead_changed.connect(lambda _frame: self.isVisible() and self.view.viewport().update())
        self.notes.rendered.connect(lambda _clip: self._show_status())

    # -- opening and closing -------------------------------------------------------------

    def open_selected(self) -> bool:
        return self.open_clip(self.workspace.selected_clip_id)

    def open_clip(self, clip_id: int | None) -> bool:
        """Show the notes of clip ``clip_id``; a clip without readable notes says why instead."""
        ws = self.workspace
        try:
            clip = ws.timeline.clip(clip_id) if clip_id is not None else None
        except TimelineError:
            clip = None
        reason = self.notes.unavailable(clip)
        if not reason:
            try:
                take = takes.read_take(clip.info)
            except takes.TakeError as exc:
                reason = f"Cannot edit the notes of “{clip.name}”: {exc}"
        if reason:
            ws.message.emit(reason)
            return False
        if clip_id != self.clip_id:
            self.view.selection = frozenset()
        self.clip_id, self.voice = clip_id, None
        self._fill(take)
        self.show()
        splitter = self.parentWidget()
        if isinstance(splitter, QSplitter) and splitter.sizes()[-1] < 120:
            total = sum(splitter.sizes()) or 600
            splitter.setSizes([int(total * 0.35), total - int(total * 0.35)])  # the notes need the room
        self.view.refresh()
        self.view.fit()
        self.view.setFocus()
        ws.message.emit(f"Editing the notes of “{clip.name}”: Up/Down transpose, Shift an octave; double-click adds a note; Esc closes")
        return True

    def _follow_selection(self) -> None:
        """While open, the piano roll shows the note clip selected in the arrangement, as a
        DAW's note editor follows the clip you click."""
        clip = self.workspace.selected_clip()
        if self.clip_id is None or clip is None or clip.id == self.clip_id or not takes.has_notes(clip.info):
            return
        focus = self.workspace.focusWidget()
        self.open_clip(clip.id)
        if focus is not None:
            focus.setFocus()  # a click in the arrangement keeps the keys there

    def close_pane(self) -> None:
        self.view.drag = None
        self.clip_id = None
        self.hide()
        self.workspace.arrangement.setFocus()

    # -- the controls --------------------------------------------------------------------

    def _fill(self, take: takes.NoteTake) -> None:
        clip = self.workspace.timeline.clip(self.clip_id)
        self.title.setText(f"<b>{_escape(clip.name)}</b>")
        self.voice_combo.blockSignals(True)
        self.voice_combo.clear()
        self.voice_combo.addItem(ALL_VOICES)
        for voice in range(take.voice_count):
            self.voice_combo.addItem(take.voice_name(voice))
            self.voice_combo.setItemData(voice + 1, voice_colour(voice), Qt.ItemDataRole.DecorationRole)
        self.voice_combo.setCurrentIndex(0 if self.voice is None else self.voice + 1)
        self.voice_combo.blockSignals(False)
        self._show_instrument(take)
        self._show_status()

    def _show_instrument(self, take: takes.NoteTake) -> None:
        self.instrument_combo.blockSignals(True)
        self.instrument_combo.setCurrentText(take.instrument)
        self.instrument_combo.blockSignals(False)

    def _show_status(self) -> None:
        if self.clip_id is None:
            return
        try:
            clip = self.workspace.timeline.clip(self.clip_id)
            take = takes.read_take(clip.info)
        except (TimelineError, takes.TakeError):
            return
        rendering = "  ·  playing the new notes shortly…" if takes.is_stale(clip.info) else ""
        self.status.setText(f"{len(take.notes)} notes · {take.beats / 4:g} bars at {take.tempo:g} bpm{rendering}")

    def draw_voice(self) -> int:
        """The voice a drawn note goes to: the one being edited, else the selection's, else the first."""
        if self.voice is not None:
            return self.voice
        take = self.view.current()
        if take is not None and self.view.selection:
            return take.notes[min(self.view.selection)].voice
        return 0

    def _voice_chosen(self, index: int) -> None:
        self.voice = None if index <= 0 else index - 1
        take = self.view.current()
        if take is not None:
            voices = self.view.editable_voices(take)
            self.view.selection = edits.select_all(take.notes, voices) if self.voice is not None else frozenset()
        self.view.viewport().update()
        self.view.setFocus()

    def _instrument_chosen(self, index: int) -> None:
        if self.clip_id is not None:
            self.notes.set_instrument(self.clip_id, self.instrument_combo.itemText(index))
        self.view.setFocus()

    # -- following the timeline ----------------------------------------------------------

    def _timeline_changed(self) -> None:
        self.update_action()
        if self.clip_id is None:
            return
        try:
            take = takes.read_take(self.workspace.timeline.clip(self.clip_id).info)
        except (TimelineError, takes.TakeError):
            self.close_pane()  # the clip was deleted, or its creation undone
            return
        self._show_instrument(take)
        self._show_status()
        self.view.refresh()

    def update_action(self) -> None:
        """Audio ▸ Edit notes… is greyed, with the reason, when the selection has no notes."""
        action = getattr(self.workspace, "actions_by_name", {}).get("edit_notes")
        if action is None:
            return
        reason = self.notes.unavailable(self.workspace.selected_clip())
        action.setProperty("unavailable", bool(reason))
        action.setEnabled(not reason and self.workspace.isVisible())
        tip = reason or "Open the selected clip's notes in the piano roll"
        action.setToolTip(tip)
        action.setStatusTip(tip)


def attach_piano_roll(workspace: "AudioWorkspace", body: QLayout) -> QSplitter:
    """The arrangement (``body``) over the piano roll, in a splitter the user can drag."""
    top = QWidget()
    top.setLayout(body)
    splitter = QSplitter(Qt.Orientation.Vertical)
    splitter.setObjectName("notes_splitter")
    splitter.setChildrenCollapsible(False)
    splitter.addWidget(top)
    workspace.piano_roll = PianoRollPane(workspace)
    splitter.addWidget(workspace.piano_roll)
    splitter.setStretchFactor(0, 1)
    splitter.setStretchFactor(1, 1)
    return splitter


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
