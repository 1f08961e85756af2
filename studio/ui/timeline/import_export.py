"""Audio files in and out of the Audio workspace: import (off the GUI thread), export of the
mix and of a clip's notes as MIDI, and the file dialogs that ask for them.

Expected failures (a bad file, an unwritable path) go out through the workspace's
``message`` for the status bar; nothing is lost. ``ImportExport`` is a part of
``AudioWorkspace`` (a mixin); the workspace's ``_decoded`` signal brings each decoded file
back to the GUI thread. MIDI files (imported as note tracks, the arrangement's notes exported)
are ``midi_files``'s part.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from studio.core.audio.timeline import Clip
from studio.core.media.sound import Audio
from studio.core.media.sound_files import read_audio
from studio.errors import StudioError
from studio.ui.timeline.export_range import choose_export_range
from studio.ui.timeline.metering import time_label
from studio.ui.timeline.mix_export import render_to_file
from studio.ui.timeline.midi_files import MIDI_SUFFIXES, MidiFiles, MidiImport

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg") + MIDI_SUFFIXES  # what Import audio… and a drop take
AUDIO_FILTER = "Audio and MIDI (*.wav *.flac *.ogg *.mid *.midi);;WAV (*.wav);;FLAC (*.flac);;Ogg Vorbis (*.ogg);;MIDI (*.mid *.midi);;All files (*)"
MIX_FILTER = "WAV, 32-bit float (*.wav);;FLAC, 24-bit (*.flac)"


class ImportExport(MidiFiles):
    """Importing audio files onto tracks; exporting the mix and MIDI."""


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
        midi = [p for p in paths if p.suffix.lower() in MIDI_SUFFIXES]
        if midi:  # notes, not audio: each on a note track of its own
            self.import_midi_files(midi, start)
            paths = [p for p in paths if p not in midi]
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
        if isinstance(audio, StudioError) and batch.get("midi"):
            self.message.emit(f"Cannot import MIDI: {audio}")  # the reason names the file
            return
        if isinstance(audio, StudioError):
            self.message.emit(f"Cannot import {path.name}: {audio}")
            return
        if isinstance(audio, MidiImport):
            self._place_midi(batch, path, audio)
            return
        if batch["track"] is not None and batch["track"] not in {t.id for t in self._timeline.tracks}:
            batch["track"] = None  # its track was removed or undone meanwhile: the selected one, or a new one
        clip = self._place_import(path, audio, batch["track"], batch["start"])
        if clip is not None:  # the next file of the same drop follows this one
            batch["track"], batch["start"] = self._timeline.track_of(clip.id).id, clip.end

    def export_mix(self, path: str | Path, start: int = 0, end: int | None = None) -> Path | None:
        """The mix (every audible track, fades, gains, pans) of ``start .. end`` (the whole
        piece by default) to WAV or FLAC."""
        path = Path(path)
        end = self._timeline.end if end is None else int(end)
        if not self._timeline.end or end <= start:
            self.message.emit("Nothing to export: the timeline is empty")
            return None
        if path.suffix.lower() not in (".wav", ".flac"):
            path = path.with_suffix(".wav")
        if getattr(self, "_exporting", False):  # the render runs while the window stays live
            self.message.emit("The mix is being exported already")
            return None
        self._exporting = True
        try:  # off the GUI thread; the master meter follows it (mix_export)
            over = render_to_file(self, path, self._timeline, int(start), end)
        except StudioError as exc:
            self.message.emit(f"Cannot export the mix: {exc}")
            return None
        finally:
            self._exporting = False
        clips = f" — it clips at {time_label(over / self._timeline.sample_rate)}: lower the master fader or a track" if over is not None else ""
        self.message.emit(f"Exported the mix to {path}{clips}")
        return path

    def export_midi(self, path: str | Path, clip_id: int | None = None) -> Path | None:
        """The notes of a clip a symbolic generator made, as a standard MIDI file."""
        from studio.core.audio.midi import write_score

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
        span = choose_export_range(self)  # the whole piece, the loop region or the selected clip
        if span is None:
            return
        path, chosen = QFileDialog.getSaveFileName(self, "Export mix", "mix.wav", MIX_FILTER)
        if path:
            if not Path(path).suffix:
                path += ".flac" if "FLAC" in chosen else ".wav"
            self.export_mix(path, *span)

    def choose_export_midi(self) -> None:
        clip = self.selected_clip()
        if clip is None or not clip.info.get("score"):
            self.message.emit("Only a clip made from notes (like the chorale sketcher's) exports as MIDI")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export MIDI", f"{clip.name}.mid", "MIDI (*.mid)")
        if path:
            self.export_midi(path)
