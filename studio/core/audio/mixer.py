"""Mixing a ``Timeline`` to stereo, block by block, fast enough for the playback thread.

``mix(timeline, start, frames, out=None)`` returns float32 (frames, 2): the sum over the audible
tracks (``Timeline.audible``: the soloed ones if any, else the unmuted) of each clip's samples
x its fades and gain (``Clip.gain_curve``) x the track's gain x the track's pan, then x the
master fader (``Timeline.master_gain_db``). ``render`` mixes a whole range. Nothing is clipped
here: the mix stays float (PortAudio and the FLAC writer clip at the end of the chain).

Metering: ``mix(..., levels=(peaks, power))`` also measures each audible track (after its
fader and pan, before the master fader, as a DAW's channel meter reads) and the master, into
rows a ``studio.core.audio.levels.LevelLog`` hands out: the clips are then summed track by
track into one more scratch buffer, which costs an add and two reductions per track per block
(bench/mixer.py prints the block time with and without).

Pan law: linear balance, as Audacity's pan slider. ``pan`` in -1 .. +1 scales the channels by

    left  = min(1, 1 - pan)        right = min(1, 1 + pan)

so the centre is unity on both sides (a mono clip is copied to both channels unchanged, a
stereo clip plays as recorded), and panning only ever turns the far side down, to silence at
+-1. Nothing is boosted, so a mix of centred clips never gets louder than their sum. Stereo
clips pan as a balance control (each channel keeps its own side); mono clips go to both
channels first.

Speed: ``Mixer`` compiles a timeline once (identity-cached: a ``Timeline`` never changes) into
flat arrays of clip starts/ends and per-channel gains, so a block finds its clips with one
vectorised comparison and costs three in-place ufunc calls per clip that sounds in it (a few
more inside a fade). With ``out`` given it allocates no buffers: every ufunc writes into
preallocated scratch, channel by channel, because a broadcast multiply would make numpy
allocate a buffer per call. bench/mixer.py measures it. A ``Mixer`` is for one
thread at a time; the module-level ``mix`` keeps one per thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from studio.core.audio.levels import measure
from studio.core.audio.timeline import Clip, Timeline, db_to_gain

CHANNELS = 2
#: ``render`` mixes in chunks of this many frames, so its scratch memory stays small.
RENDER_CHUNK = 65_536


def pan_gains(pan: float) -> tuple[float, float]:
    """(left, right) multipliers of the linear balance law (see the module docstring)."""
    return min(1.0, 1.0 - pan), min(1.0, 1.0 + pan)


@dataclass(frozen=True)
class _Compiled:
    """A timeline flattened for block lookups: one row per clip on an audible track."""

    timeline: Timeline
    clips: tuple[Clip, ...]
    samples: tuple[np.ndarray, ...]  # each clip's frames, (length, 1 or 2)
    gains: tuple[tuple[np.float32, np.float32], ...]  # (left, right) per clip: clip x track gain x pan
    starts: np.ndarray  # (clips,) int64 timeline frame of each clip's first frame
    ends: np.ndarray  # (clips,) int64 one past its last frame
    rows: tuple[int, ...]  # each clip's track, as its row in the levels (1: the first audible track)
    track_ids: tuple[int, ...]  # the audible tracks' ids, in row order
    master: np.float32  # the master fader as a multiplier


def compile_timeline(timeline: Timeline) -> _Compiled:
    clips: list[Clip] = []
    gains: list[tuple[float, float]] = []
    rows: list[int] = []
    audible = timeline.audible()
    for row, track in enumerate(audible, start=1):
        left, right = pan_gains(track.pan)
        track_gain = db_to_gain(track.gain_db)
        for clip in track.clips:
            gain = track_gain * db_to_gain(clip.gain_db)
            clips.append(clip)
            gains.append((gain * left, gain * right))
            rows.append(row)
    return _Compiled(
        timeline=timeline,
        clips=tuple(clips),
        samples=tuple(clip.samples for clip in clips),
        gains=tuple((np.float32(left), np.float32(right)) for left, right in gains),
        starts=np.array([c.start for c in clips], dtype=np.int64),
        ends=np.array([c.end for c in clips], dtype=np.int64),
        rows=tuple(rows),
        track_ids=tuple(track.id for track in audible),
        master=np.float32(db_to_gain(timeline.master_gain_db)),
    )


class Mixer:
    """Mixes blocks of a timeline with preallocated scratch; reuse one per playback thread."""

    def __init__(self, block_frames: int = 4096) -> None:
        self._compiled: _Compiled | None = None
        self._allocate(max(1, int(block_frames)))

    def _allocate(self, frames: int) -> None:
        self._capacity = frames
        self._scratch = np.empty((frames, CHANNELS), dtype=np.float32)
        self._track = np.empty((frames, CHANNELS), dtype=np.float32)  # one track's sum, when metering
        self._curve = np.empty(frames, dtype=np.float32)
        self._fade = np.empty(frames, dtype=np.float32)
        self._ramp = np.arange(frames, dtype=np.float32)  # 0, 1, 2, ... for fade positions

    def compiled(self, timeline: Timeline) -> _Compiled:
        if self._compiled is None or self._compiled.timeline is not timeline:
            self._compiled = compile_timeline(timeline)
        return self._compiled

    def mix(
        self, timeline: Timeline, start: int, frames: int, out: np.ndarray | None = None,
        levels: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """float32 (frames, 2): timeline frames ``start .. start + frames`` mixed (overwrites ``out``).

        With ``levels`` (peaks, power), each (audible tracks + 1, 2), row 0 gets the master's
        peak and mean square per channel and row ``n`` the ``n``-th audible track's.
        """
        start, frames = int(start), int(frames)
        if frames < 0:
            raise ValueError(f"cannot mix a negative number of frames ({frames})")
        if out is None:
            out = np.empty((frames, CHANNELS), dtype=np.float32)
        elif out.shape != (frames, CHANNELS) or out.dtype != np.float32:
            raise ValueError(f"out must be float32 ({frames}, {CHANNELS}), not {out.dtype} {out.shape}")
        if frames > self._capacity:
            self._allocate(frames)  # once, for the largest block asked for; never per block
        out.fill(0.0)
        compiled = self.compiled(timeline)
        if levels is not None:
            levels[0].fill(0.0)
            levels[1].fill(0.0)
        if not compiled.clips:
            return out
        stop = start + frames
        sounding = np.flatnonzero((compiled.starts < stop) & (compiled.ends > start))
        if levels is None:
            for index in sounding:
                self._add_clip(out, compiled, int(index), start, stop)
        else:
            self._mix_metered(out, compiled, sounding, start, stop, levels)
        if compiled.master != 1.0:
            np.multiply(out, compiled.master, out=out)
        if levels is not None:
            measure(out, levels[0][0], levels[1][0])
        return out

    def _mix_metered(self, out, compiled: _Compiled, sounding: np.ndarray, start: int, stop: int, levels) -> None:
        """Sum the clips track by track (they are compiled in track order), measuring each sum."""
        peaks, power = levels
        track = self._track[: stop - start]
        row = 0
        for index in sounding:
            index = int(index)
            if compiled.rows[index] != row:
                if row:
                    measure(track, peaks[row], power[row])
                    np.add(out, track, out=out)
                row = compiled.rows[index]
                track.fill(0.0)
            self._add_clip(track, compiled, index, start, stop)
        if row:
            measure(track, peaks[row], power[row])
            np.add(out, track, out=out)

    def _add_clip(self, out: np.ndarray, compiled: _Compiled, index: int, start: int, stop: int) -> None:
        clip = compiled.clips[index]
        first = max(start, clip.start)  # timeline frames this clip covers in the block
        last = min(stop, clip.end)
        count = last - first
        offset = first - clip.start  # the clip's own frame index at ``first``
        source = compiled.samples[index][offset : offset + count]
        target = out[first - start : last - start]
        scratch = self._scratch[:count]
        left, right = compiled.gains[index]
        # Channel by channel with a scalar: a broadcast (frames, 1) x (2,) multiply would make
        # numpy allocate a buffer per call, and costs more than two strided ones.
        if source.shape[1] == 2 and left == right:
            np.multiply(source, left, out=scratch)
        else:
            np.multiply(source[:, 0], left, out=scratch[:, 0])
            np.multiply(source[:, -1], right, out=scratch[:, 1])  # a mono clip feeds both sides
        in_fade_in = clip.fade_in and offset < clip.fade_in
        in_fade_out = clip.fade_out and offset + count > clip.length - clip.fade_out
        if in_fade_in or in_fade_out:
            curve = self._fade_curve(clip, offset, count)
            np.multiply(scratch[:, 0], curve, out=scratch[:, 0])
            np.multiply(scratch[:, 1], curve, out=scratch[:, 1])
        np.add(target, scratch, out=target)

    def _fade_curve(self, clip: Clip, offset: int, count: int) -> np.ndarray:
        """(count,) fade gain for the clip's frames ``offset ..``, as ``Clip.gain_curve`` defines it.

        float32 throughout (a mixed-type ufunc would allocate a casting buffer). Each ramp is
        measured from its own edge, so the numbers stay small and exact in float32 however
        long the clip is.
        """
        ramp = self._ramp[:count]
        curve = self._curve[:count]
        fade = self._fade[:count]
        curve.fill(1.0)
        if clip.fade_in and offset < clip.fade_in:
            np.add(ramp, np.float32(offset), out=fade)  # the clip's frame index
            np.multiply(fade, np.float32(1.0 / clip.fade_in), out=fade)
            np.minimum(fade, np.float32(1.0), out=fade)
            np.multiply(curve, fade, out=curve)
        if clip.fade_out and offset + count > clip.length - clip.fade_out:
            np.subtract(np.float32(clip.length - offset), ramp, out=fade)  # frames left in the clip
            np.multiply(fade, np.float32(1.0 / clip.fade_out), out=fade)
            np.clip(fade, np.float32(0.0), np.float32(1.0), out=fade)
            np.multiply(curve, fade, out=curve)
        return curve

    def render(self, timeline: Timeline, start: int = 0, end: int | None = None) -> np.ndarray:
        """float32 (end - start, 2): the mix of ``start .. end`` (default: to the timeline's end)."""
        end = timeline.end if end is None else int(end)
        start = int(start)
        out = np.zeros((max(0, end - start), CHANNELS), dtype=np.float32)
        for first in range(0, out.shape[0], RENDER_CHUNK):
            chunk = out[first : first + RENDER_CHUNK]
            self.mix(timeline, start + first, chunk.shape[0], out=chunk)
        return out


_per_thread = threading.local()


def _mixer() -> Mixer:
    mixer = getattr(_per_thread, "mixer", None)
    if mixer is None:
        mixer = _per_thread.mixer = Mixer()
    return mixer


def mix(timeline: Timeline, start: int, frames: int, out: np.ndarray | None = None) -> np.ndarray:
    """float32 (frames, 2): the audible tracks of ``timeline`` from frame ``start``, mixed."""
    return _mixer().mix(timeline, start, frames, out)


def render(timeline: Timeline, start: int = 0, end: int | None = None) -> np.ndarray:
    """float32 (frames, 2): the whole mix from ``start`` to ``end`` (default: the timeline's end)."""
    return _mixer().render(timeline, start, end)
