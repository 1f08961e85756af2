"""MIDI files in and out of the Audio workspace: Import MIDI… places a note track, Export
arrangement as MIDI… writes every note clip's notes, and both actions say why they are greyed.

An imported file becomes a NOTE TRACK: a new track named after the file holding one note clip
(its ``info`` as the chorale sketcher's: score, tempo, beats, instrument, voices, programs),
so it opens in the piano roll and exports again. Reading and rendering run on a worker thread
(a ten-minute file takes seconds to play through the synthesizer); the clip lands, as one
undo step, when its audio is ready, and the status bar says what is happening meanwhile.

``MidiFiles`` is a part of ``AudioWorkspace`` (through ``ImportExport``, a mixin); the
workspace's ``_decoded`` signal brings each rendered file back to the GUI thread.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from studio.core.audio import note_takes as takes
from studio.core.audio.arrangement_midi import arrangement_parts, write_arrangement_midi
from studio.core.audio.midi_read import GM_NAMES, MidiPiece, read_midi
from studio.core.audio.timeline import Clip, Track
from studio.errors import StudioError

MIDI_SUFFIXES = (".mid", ".midi")
MIDI_FILTER = "MIDI (*.mid *.midi);;All files (*)"


class MidiImport:
    """What a worker thread hands back for one MIDI file: its notes and their audio."""

    def __init__(self, piece: MidiPiece, take: takes.NoteTake, audio) -> None:
        self.piece, self.take, self.audio = piece, take, audio


class MidiFiles:
    """Import MIDI files as note tracks; export the arrangement's notes; grey what cannot run."""

    def import_midi_files(self, paths: list[Path], start: int | None = None) -> None:
        """Read and render each file off the GUI thread; each lands on a track of its own."""
        rate, batch = self._timeline.sample_rate, {"track": None, "start": start, "midi": True}
        self.message.emit(f"Importing {', '.join(p.name for p in paths)}…")

        def work() -> None:
            for path in paths:
                try:
                    piece = read_midi(path)
                    take = takes.read_take(piece.take_info())
                    self.message.emit(f"Playing {path.name}: {len(piece.notes):,} notes on the {take.instrument}…")
                    result: MidiImport | StudioError = MidiImport(piece, take, takes.render_take(take, rate))
                except StudioError as exc:
                    result = exc
                except MemoryError:
                    result = StudioError("not enough memory to play its notes")
                try:
                    self._decoded.emit((batch, path, result))
                except RuntimeError:  # the workspace was closed meanwhile
                    return

        threading.Thread(target=work, name="studio-midi-import", daemon=True).start()

    def _place_midi(self, batch: dict, path: Path, result: MidiImport) -> Clip | None:
        """A new track named after the file, below the selected one, with the note clip: one step."""
        piece, take = result.piece, result.take
        start = self._playhead if batch["start"] is None else max(0, int(batch["start"]))
        clip = Clip(path.stem, result.audio, start=start, info=piece.take_info(take.instrument))
        base = self._timeline
        if not base.clips:  # the piece's first clip sets its tempo, so the file's bars sit on the grid
            base = base.with_settings(tempo=piece.tempo)
        own_tempo = abs(base.tempo - piece.tempo) > 1e-6  # it plays at its own; later clips never retime the piece
        track = Track(path.stem)
        selected = self.selected_track()
        base = base.add_track(track, base.track_index(selected.id) + 1 if selected is not None else None)
        placed = self.add_clip(clip, track.id, text=f"Import MIDI “{path.name}”", base=base)
        if placed is not None:
            text = _imported_text(path, piece, take)
            if own_tempo:
                text += f"; it plays at its own {piece.tempo:g} bpm, off the piece's {base.tempo:g} bpm grid"
            self.message.emit(text)
        return placed

    def export_arrangement_midi(self, path: str | Path) -> Path | None:
        """Every audible note clip's notes, where they play, as one MIDI file."""
        path = Path(path)
        if path.suffix.lower() not in MIDI_SUFFIXES:
            path = path.with_suffix(".mid")
        try:
            write_arrangement_midi(path, self._timeline)
        except StudioError as exc:
            self.message.emit(f"Cannot export the arrangement as MIDI: {exc}")
            return None
        parts = arrangement_parts(self._timeline)
        self.message.emit(f"Exported {sum(len(p.notes) for p in parts):,} notes in {len(parts)} MIDI tracks to {path}")
        return path

    # -- the actions ---------------------------------------------------------------------

    def choose_import_midi(self) -> QFileDialog:
        """Qt's file dialog for one or more MIDI files; its answer imports them at the playhead."""
        dialog = QFileDialog(self.window(), "Import MIDI", "", MIDI_FILTER)
        dialog.setObjectName("midi_file_dialog")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.filesSelected.connect(lambda paths: self.import_files([p for p in paths if p]))
        dialog.open()
        return dialog

    def choose_export_arrangement_midi(self) -> None:
        reason = self.arrangement_midi_unavailable()
        if reason:
            self.message.emit(reason)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export arrangement as MIDI", "arrangement.mid", "MIDI (*.mid)")
        if path:
            self.export_arrangement_midi(path)

    def arrangement_midi_unavailable(self) -> str:
        if not any(takes.has_notes(c.info) for t in self._timeline.audible() for c in t.clips):
            return "No audible clip is made from notes: generate a chorale sketch or import a MIDI file first"
        return ""

    def clip_midi_unavailable(self) -> str:
        clip = self.selected_clip()
        if clip is None:
            return "Select a clip made from notes (a chorale sketch or an imported MIDI file) to export its notes"
        if not clip.info.get("score"):
            return f"“{clip.name}” is audio only: it has no notes to export"
        return ""

    def watch_midi_actions(self) -> None:
        """Keep the MIDI export actions greyed, with the reason, while there is nothing to export."""
        self.timeline_changed.connect(self.update_midi_actions)
        self.selection_changed.connect(self.update_midi_actions)
        self.update_midi_actions()

    def update_midi_actions(self) -> None:
        actions = getattr(self, "actions_by_name", {})
        for name, reason, tip in (
            ("export_midi", self.clip_midi_unavailable(), "Write the selected clip's notes as a standard MIDI file"),
            ("export_arrangement_midi", self.arrangement_midi_unavailable(), "Write every audible note clip's notes, where they play, as one MIDI file"),
        ):
            action = actions.get(name)
            if action is None:
                continue
            action.setProperty("unavailable", bool(reason))
            action.setEnabled(not reason and self.isVisible())
            action.setToolTip(reason or tip)
            action.setStatusTip(reason or tip)


def _imported_text(path: Path, piece: MidiPiece, take: takes.NoteTake) -> str:
    voices = len(piece.voices)
    program = piece.program  # the instrument of the voice with the most notes
    sound = f"the {take.instrument}, nearest to its {GM_NAMES[program]}" if program is not None else f"the {take.instrument}"
    text = f"Imported {path.name}: {len(piece.notes):,} notes in {voices} voice{'s' if voices != 1 else ''} at {piece.tempo:g} bpm, played on {sound}"
    return "; ".join([text, *piece.remarks])
