"""Where a generator's audio lands in the Audio workspace: at the playhead on the selected
track, after the clip it continues, or on a track of its own below a clip it would cover.

``GenerationLanding`` is a part of ``AudioWorkspace`` (a mixin): the landing is one undo
step through ``add_clip``.
"""

from __future__ import annotations

import numpy as np

from studio.core.audio.timeline import Clip, TimelineError, Track
from studio.core.engine.generators import Result
from studio.core.media.sound import Audio
from studio.core.media.sound_files import resample
from studio.core.project.results import result_name, take_words
from studio.errors import StudioError


class GenerationLanding:
    """``add_generated``: a finished audio result becomes a clip on the timeline."""

    def add_generated(self, result: Result, title: str = "", continues: int | None = None, name_suffix: str = "") -> Clip | None:
        """A generator's audio at the playhead on the selected track (a new track if none).

        A continuation of clip ``continues`` lands right after that clip, on its track, so
        the prompt and what grew from it play as one phrase. ``name_suffix`` ends the take's
        name ("(stopped at 0:32)").
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
            take = result_name(title or result.generator, result.params, prompt=True)
            name = f"{take} {name_suffix}" if name_suffix else take
            clip = Clip(name, audio, start=start, generator=result.generator, params=dict(result.params), info=dict(result.info))
        except (StudioError, ValueError) as exc:
            self.message.emit(f"{title or result.generator} gave audio Studio cannot place: {exc}")
            return None
        # The track is named after its take ("C major · 4821"), so two takes read apart.
        track_name = take if take_words(result.params) else title or result.generator
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
            own = Track(track_name)
            base = base.add_track(own, base.track_index(track_id) + 1)
            track_id = own.id
        return self.add_clip(clip, track_id, text=f"Generate “{name}”", track_name=track_name, base=base)


def _occupied(track: Track, start: int, end: int) -> bool:
    """Whether any clip on ``track`` sounds somewhere in ``start .. end``."""
    return any(clip.start < end and start < clip.end for clip in track.clips)
