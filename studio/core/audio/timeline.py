"""The audio timeline as immutable data: tracks of clips over shared, read-only audio.

Every edit returns a new ``Timeline`` and leaves the old one untouched. That gives three
things for free: undo is keeping the previous value, the playback mixer reads whatever value
it was handed without a lock (nothing it holds can change under it), and a clip split in two
or duplicated ten times still shares one buffer of samples and one set of waveform peaks.

Positions and lengths are in frames at the timeline's ``sample_rate``: audio is resampled to
that rate when it enters the timeline (``studio.core.media.sound_files``), so nothing downstream
converts rates.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from studio.core.base.ids import new_id
from studio.core.media.sound import Audio

PROJECT_RATE = 48_000

def db_to_gain(db: float) -> float:
    """A level in decibels as a linear multiplier (0 dB = 1, -6 dB ~ 0.5)."""
    return float(10.0 ** (db / 20.0))


class TimelineError(ValueError):
    """An edit that does not apply: an unknown id, a trim past the clip's audio, ..."""


# -- clips and tracks ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Clip:
    """A window onto ``audio`` placed at ``start`` on a track.

    Plays ``audio.samples[offset : offset + length]`` from timeline frame ``start``, with
    linear fades of ``fade_in``/``fade_out`` frames and a gain in dB. ``generator``,
    ``params`` and ``info`` say how it was made (``info["score"]`` holds the notes of a
    symbolic generator, which is what exports as MIDI).
    """

    name: str
    audio: Audio = field(repr=False)
    start: int = 0
    offset: int = 0
    length: int = -1  # -1: to the end of the audio
    fade_in: int = 0
    fade_out: int = 0
    gain_db: float = 0.0
    generator: str = ""
    params: Mapping[str, Any] = field(default_factory=dict, repr=False)
    info: Mapping[str, Any] = field(default_factory=dict, repr=False)
    id: int = field(default_factory=new_id)

    def __post_init__(self) -> None:
        length = self.audio.frames - self.offset if self.length < 0 else self.length
        object.__setattr__(self, "length", int(length))
        if self.start < 0 or self.offset < 0 or self.length <= 0 or self.offset + self.length > self.audio.frames:
            raise TimelineError(
                f"clip {self.name!r}: offset {self.offset} + length {self.length} must lie inside its "
                f"{self.audio.frames} frames of audio, at a start >= 0"
            )
        fade_in = min(max(0, int(self.fade_in)), self.length)
        fade_out = min(max(0, int(self.fade_out)), self.length - fade_in)
        object.__setattr__(self, "fade_in", fade_in)
        object.__setattr__(self, "fade_out", fade_out)

    @classmethod
    def from_samples(cls, name: str, samples: np.ndarray, sample_rate: int, **fields: Any) -> "Clip":
        return cls(name, Audio(samples, sample_rate), **fields)

    @property
    def end(self) -> int:
        return self.start + self.length

    @property
    def channels(self) -> int:
        return self.audio.channels

    @property
    def sample_rate(self) -> int:
        return self.audio.sample_rate

    @property
    def seconds(self) -> float:
        return self.length / self.audio.sample_rate

    @property
    def samples(self) -> np.ndarray:
        """The frames this clip plays, before fades and gain (a read-only view)."""
        return self.audio.samples[self.offset : self.offset + self.length]

    def gain_at(self, positions: np.ndarray) -> np.ndarray:
        """float32 gain (fades x clip gain) at the clip's frame ``positions`` (may be fractional)."""
        pos = np.asarray(positions, dtype=np.float32)
        curve = np.full(pos.shape, db_to_gain(self.gain_db), dtype=np.float32)
        if self.fade_in:
            curve *= np.clip(pos / self.fade_in, 0.0, 1.0)
        if self.fade_out:
            curve *= np.clip((self.length - pos) / self.fade_out, 0.0, 1.0)
        return curve

    def gain_curve(self, first: int, count: int) -> np.ndarray:
        """float32 (count,) gain for the clip's frames ``first .. first + count``."""
        return self.gain_at(np.arange(first, first + count, dtype=np.float32))

    def rendered(self) -> np.ndarray:
        """The clip as heard on its own: float32 (length, channels), fades and gain applied."""
        return self.samples * self.gain_curve(0, self.length)[:, None]


@dataclass(frozen=True, eq=False)
class Track:
    name: str
    clips: tuple[Clip, ...] = field(default=(), repr=False)
    gain_db: float = 0.0
    pan: float = 0.0  # -1 left .. +1 right
    mute: bool = False
    solo: bool = False
    #: Which of the UI's track colours; -1 until ``Timeline.add_track`` gives the first free one.
    colour: int = -1
    #: The row's height in pixels as the user set it (a view of the track, kept with it in
    #: the project); 0: the default height.
    height: int = 0
    id: int = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if not -1.0 <= self.pan <= 1.0:
            raise TimelineError(f"track {self.name!r}: pan {self.pan} is outside -1 .. 1")

    @property
    def end(self) -> int:
        return max((clip.end for clip in self.clips), default=0)


@dataclass(frozen=True, eq=False)
class Marker:
    """A named place in the piece ("Verse", "Chorus"), at timeline frame ``frame``."""

    frame: int
    name: str = ""
    id: int = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.frame < 0:
            raise TimelineError(f"marker {self.name!r}: frame {self.frame} is before the start")


# -- the timeline ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Timeline:
    tracks: tuple[Track, ...] = ()
    sample_rate: int = PROJECT_RATE
    tempo: float = 120.0  # beats per minute
    beats_per_bar: int = 4
    master_gain_db: float = 0.0  # the master fader, applied to the whole mix (playback and export)
    markers: tuple[Marker, ...] = ()  # in order of frame

    # -- reading -----------------------------------------------------------------------------

    @property
    def end(self) -> int:
        """The last frame any clip plays: the length of the mix."""
        return max((track.end for track in self.tracks), default=0)

    @property
    def seconds(self) -> float:
        return self.end / self.sample_rate

    @property
    def clips(self) -> list[Clip]:
        return [clip for track in self.tracks for clip in track.clips]

    @property
    def frames_per_beat(self) -> float:
        return self.sample_rate * 60.0 / self.tempo

    def audible(self) -> list[Track]:
        """The tracks the mix plays: the soloed ones if any track is soloed, else the unmuted."""
        soloed = [t for t in self.tracks if t.solo]
        return soloed if soloed else [t for t in self.tracks if not t.mute]

    def track(self, track_id: int) -> Track:
        for track in self.tracks:
            if track.id == track_id:
                return track
        raise TimelineError(f"no track with id {track_id}")

    def track_index(self, track_id: int) -> int:
        return self.tracks.index(self.track(track_id))

    def clip(self, clip_id: int) -> Clip:
        return self._find_clip(clip_id)[1]

    def track_of(self, clip_id: int) -> Track:
        return self._find_clip(clip_id)[0]

    def _find_clip(self, clip_id: int) -> tuple[Track, Clip]:
        for track in self.tracks:
            for clip in track.clips:
                if clip.id == clip_id:
                    return track, clip
        raise TimelineError(f"no clip with id {clip_id}")

    @property
    def frames_per_bar(self) -> float:
        return self.frames_per_beat * self.beats_per_bar

    def snap(self, frame: float, beats: float = 1.0) -> int:
        """``frame`` rounded to the nearest grid line ``beats`` apart (0.25: sixteenth notes)."""
        grid = self.frames_per_beat * beats
        return max(0, int(round(round(frame / grid) * grid)))

    # -- tracks ------------------------------------------------------------------------------

    def with_settings(self, **fields: Any) -> "Timeline":
        """Tempo, beats per bar or the master fader changed (``tempo=``, ``beats_per_bar=``,
        ``master_gain_db=``)."""
        if fields.get("tempo", self.tempo) <= 0 or fields.get("beats_per_bar", self.beats_per_bar) <= 0:
            raise TimelineError("tempo and beats per bar must be positive")
        return replace(self, **fields)

    def add_track(self, track: Track, index: int | None = None) -> "Timeline":
        if track.colour < 0:  # the first colour no other track has, so neighbours tell apart
            taken = {t.colour for t in self.tracks}
            track = replace(track, colour=next(c for c in range(len(self.tracks) + 1) if c not in taken))
        tracks = list(self.tracks)
        tracks.insert(len(tracks) if index is None else index, track)
        return replace(self, tracks=tuple(tracks))

    def remove_track(self, track_id: int) -> "Timeline":
        self.track(track_id)
        return replace(self, tracks=tuple(t for t in self.tracks if t.id != track_id))

    def move_track(self, track_id: int, index: int) -> "Timeline":
        track = self.track(track_id)
        tracks = [t for t in self.tracks if t.id != track_id]
        tracks.insert(max(0, min(index, len(tracks))), track)
        return replace(self, tracks=tuple(tracks))

    def update_track(self, track_id: int, **fields: Any) -> "Timeline":
        """Rename, mute, solo, gain or pan a track: ``update_track(id, mute=True)``."""
        if "clips" in fields or "id" in fields:
            raise TimelineError("update_track changes a track's settings, not its clips or id")
        return self._replace_track(replace(self.track(track_id), **fields))

    def _replace_track(self, new: Track) -> "Timeline":
        return replace(self, tracks=tuple(new if t.id == new.id else t for t in self.tracks))

    # -- clips -------------------------------------------------------------------------------

    def add_clip(self, track_id: int, clip: Clip) -> "Timeline":
        if clip.sample_rate != self.sample_rate:
            raise TimelineError(f"clip {clip.name!r} is at {clip.sample_rate} Hz; the timeline runs at {self.sample_rate} Hz")
        track = self.track(track_id)
        return self._replace_track(replace(track, clips=_sorted(track.clips + (clip,))))

    def remove_clip(self, clip_id: int) -> "Timeline":
        track = self.track_of(clip_id)
        return self._replace_track(replace(track, clips=tuple(c for c in track.clips if c.id != clip_id)))

    def update_clip(self, clip_id: int, **fields: Any) -> "Timeline":
        """Change a clip in place on its track (start, fades, gain, name, ...)."""
        if "id" in fields:
            raise TimelineError("a clip keeps its id")
        track, clip = self._find_clip(clip_id)
        new = replace(clip, **fields)
        return self._replace_track(replace(track, clips=_sorted(tuple(new if c.id == clip_id else c for c in track.clips))))

    def move_clip(self, clip_id: int, track_id: int, start: int) -> "Timeline":
        """Move a clip to ``start`` on ``track_id`` (its own track or another)."""
        clip = self.clip(clip_id)
        self.track(track_id)
        moved = replace(clip, start=max(0, int(start)))
        return self.remove_clip(clip_id).add_clip(track_id, moved)

    def trim_clip(self, clip_id: int, start: int | None = None, end: int | None = None) -> "Timeline":
        """Move the clip's left edge to timeline frame ``start`` and/or its right edge to ``end``.

        The audio under the clip stays where it is: trimming the left edge moves ``offset``
        with it. Edges are limited to the audio the clip has (a trim never invents sound).
        """
        clip = self.clip(clip_id)
        new_start, new_end = clip.start, clip.end
        if start is not None:
            earliest = clip.start - clip.offset  # where the audio's first frame sits
            new_start = int(min(max(start, earliest, 0), new_end - 1))
        if end is not None:
            latest = clip.start - clip.offset + clip.audio.frames
            new_end = int(max(min(end, latest), new_start + 1))
        offset = clip.offset + (new_start - clip.start)
        return self.update_clip(clip_id, start=new_start, offset=offset, length=new_end - new_start)

    def split_clip(self, clip_id: int, at: int) -> tuple["Timeline", Clip, Clip]:
        """Cut the clip at timeline frame ``at``; returns the timeline and the two halves."""
        track, clip = self._find_clip(clip_id)
        if not clip.start < at < clip.end:
            raise TimelineError(f"frame {at} is not inside clip {clip.name!r}")
        cut = int(at) - clip.start
        left = replace(clip, length=cut, fade_out=0, id=clip.id)
        right = replace(clip, start=int(at), offset=clip.offset + cut, length=clip.length - cut, fade_in=0, id=new_id())
        clips = tuple(c for c in track.clips if c.id != clip_id) + (left, right)
        return self._replace_track(replace(track, clips=_sorted(clips))), left, right

    def duplicate_clip(self, clip_id: int) -> tuple["Timeline", Clip]:
        """A copy of the clip placed right after it on the same track."""
        track, clip = self._find_clip(clip_id)
        copy = replace(clip, start=clip.end, id=new_id())
        return self.add_clip(track.id, copy), copy


    # -- markers -----------------------------------------------------------------------------

    def marker(self, marker_id: int) -> Marker:
        for marker in self.markers:
            if marker.id == marker_id:
                return marker
        raise TimelineError(f"no marker with id {marker_id}")

    def add_marker(self, marker: Marker) -> "Timeline":
        return replace(self, markers=_by_frame(self.markers + (marker,)))

    def update_marker(self, marker_id: int, **fields: Any) -> "Timeline":
        """Move or rename a marker: ``update_marker(id, frame=96000)``, ``name="Chorus"``."""
        if "id" in fields:
            raise TimelineError("a marker keeps its id")
        new = replace(self.marker(marker_id), **fields)
        return replace(self, markers=_by_frame(tuple(new if m.id == marker_id else m for m in self.markers)))

    def remove_marker(self, marker_id: int) -> "Timeline":
        self.marker(marker_id)
        return replace(self, markers=tuple(m for m in self.markers if m.id != marker_id))


def _by_frame(markers: tuple[Marker, ...]) -> tuple[Marker, ...]:
    return tuple(sorted(markers, key=lambda m: (m.frame, m.id)))


def _sorted(clips: tuple[Clip, ...]) -> tuple[Clip, ...]:
    return tuple(sorted(clips, key=lambda c: (c.start, c.id)))
