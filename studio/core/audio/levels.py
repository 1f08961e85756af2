"""Level metering: peak and RMS of mixed blocks, per track and for the master, kept with the
timeline frames they cover so a meter shows what is being HEARD, not what is being mixed.

The mixer fills one row per audible track and row 0 for the master (``Mixer.mix(levels=...)``)
into a ``LevelLog`` slot; the playback thread mixes a few blocks ahead of the sound card, so
the log keeps the last ``slots`` blocks (about 1.4 s at 1024 frames) and the GUI asks for the
levels of the frames it knows are coming out of the speakers now (``LevelLog.read``).

Lock-free as the playback ring is: only the producer writes a slot, and then moves
``written``; a reader takes the slots whose frames it asks for, which the producer reaches
again only ``slots`` blocks later (the producer runs at most a ring, 4 blocks, ahead of what is
heard). No allocation per block: the slots' arrays are made once (and grown, rarely, when a
timeline has more tracks than they hold).

Values are linear amplitudes (1.0 = 0 dBFS); ``to_db`` turns one into decibels, with silence
as ``-inf``. ``peak`` is the largest absolute sample; ``rms`` the root of the mean square, so
a full-scale sine reads peak 1.0 (0 dBFS) and RMS 0.707 (-3 dBFS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from studio.core.audio.timeline import Clip, db_to_gain

#: The bottom of a meter's scale: anything quieter shows as silence.
FLOOR_DB = -60.0


def to_db(amplitude: float) -> float:
    """A linear amplitude in dBFS (1.0 = 0 dB); silence is ``-inf``."""
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


def measure(block: np.ndarray, peaks: np.ndarray, power: np.ndarray) -> None:
    """Write ``block``'s per-channel peak and mean square into ``peaks`` and ``power`` (2,).

    ``block`` is float32 (frames, 2). Reductions over a column return scalars, so nothing the
    size of the block is allocated.
    """
    frames = block.shape[0]
    if frames == 0:
        peaks.fill(0.0)
        power.fill(0.0)
        return
    for channel in (0, 1):
        column = block[:, channel]
        peaks[channel] = max(float(column.max()), -float(column.min()))
        power[channel] = float(np.dot(column, column)) / frames


@dataclass(frozen=True)
class Level:
    """One meter's reading: per channel (left, right) peak and RMS, linear."""

    peak: tuple[float, float] = (0.0, 0.0)
    rms: tuple[float, float] = (0.0, 0.0)

    @property
    def peak_db(self) -> float:
        return to_db(max(self.peak))

    @property
    def rms_db(self) -> float:
        return to_db(max(self.rms))


SILENT = Level()


@dataclass(frozen=True)
class Levels:
    """The levels of a stretch of the timeline: the master, each audible track by id, and the
    first timeline frame where the master went over 0 dBFS (None when it did not)."""

    master: Level = SILENT
    tracks: dict[int, Level] = field(default_factory=dict)
    over_frame: int | None = None

    def track(self, track_id: int) -> Level:
        return self.tracks.get(track_id, SILENT)


class LevelLog:
    """The levels of the last ``slots`` mixed blocks, each with the frames it covers."""

    def __init__(self, slots: int = 64, tracks: int = 8) -> None:
        self.slots = slots
        self._allocate(tracks)
        self.starts = [0] * slots
        self.frames = [0] * slots
        self.epochs = [-1] * slots
        self.track_ids: list[tuple[int, ...]] = [()] * slots
        self.over: list[int] = [-1] * slots  # the first frame over 0 dBFS in the master, or -1
        self.written = 0

    def _allocate(self, tracks: int) -> None:
        self.capacity = tracks
        self.peaks = np.zeros((self.slots, tracks + 1, 2), dtype=np.float32)  # row 0: the master
        self.power = np.zeros((self.slots, tracks + 1, 2), dtype=np.float32)

    def rows(self, tracks: int) -> tuple[np.ndarray, np.ndarray]:
        """(peaks, power) of the next slot, (tracks + 1, 2) each, for the mixer to fill."""
        if tracks > self.capacity:  # a bigger arrangement: once, never per block
            old_peaks, old_power = self.peaks, self.power
            self._allocate(max(tracks, self.capacity * 2))
            self.peaks[:, : old_peaks.shape[1]] = old_peaks
            self.power[:, : old_power.shape[1]] = old_power
        slot = self.written % self.slots
        return self.peaks[slot, : tracks + 1], self.power[slot, : tracks + 1]

    def publish(self, start: int, frames: int, epoch: int, track_ids: tuple[int, ...], over: int = -1) -> None:
        """The slot ``rows`` handed out now holds the block ``start .. start + frames``."""
        slot = self.written % self.slots
        self.starts[slot], self.frames[slot], self.epochs[slot] = start, frames, epoch
        self.track_ids[slot], self.over[slot] = track_ids, over
        self.written += 1

    def read(self, first: int, last: int, epoch: int) -> Levels:
        """The levels of the timeline frames ``first .. last`` mixed in ``epoch``: peaks are the
        largest, RMS the power averaged over the blocks. Blocks of an older epoch (mixed before a
        seek) do not count. When no block covers the range (a loop wrapped, a seek), the block
        holding ``last`` alone is read."""
        if last <= first:
            first = last - 1
        chosen = self._covering(first, last + 1, epoch) or self._covering(last - 1, last + 1, epoch)
        if not chosen:
            return Levels()
        master_peak = np.zeros(2, dtype=np.float64)
        master_power = np.zeros(2, dtype=np.float64)
        tracks: dict[int, list[np.ndarray]] = {}
        total = 0
        over: int | None = None
        for slot in chosen:
            count = self.frames[slot]
            total += count
            np.maximum(master_peak, self.peaks[slot, 0], out=master_peak)
            master_power += self.power[slot, 0] * count
            for row, track_id in enumerate(self.track_ids[slot], start=1):
                peak_power = tracks.setdefault(track_id, [np.zeros(2), np.zeros(2), 0])
                np.maximum(peak_power[0], self.peaks[slot, row], out=peak_power[0])
                peak_power[1] += self.power[slot, row] * count
                peak_power[2] += count
            if self.over[slot] >= 0 and (over is None or self.over[slot] < over):
                over = self.over[slot]
        master = _level(master_peak, master_power, total)
        return Levels(master, {tid: _level(p, w, n) for tid, (p, w, n) in tracks.items()}, over)

    def _covering(self, first: int, stop: int, epoch: int) -> list[int]:
        newest = self.written
        slots = []
        for index in range(max(0, newest - self.slots + 1), newest):
            slot = index % self.slots
            start = self.starts[slot]
            if self.epochs[slot] == epoch and self.frames[slot] and start < stop and start + self.frames[slot] > first:
                slots.append(slot)
        return slots


def _level(peak: np.ndarray, power: np.ndarray, frames: int) -> Level:
    rms = np.sqrt(power / frames) if frames else np.zeros(2)
    return Level((float(peak[0]), float(peak[1])), (float(rms[0]), float(rms[1])))


# -- normalising a clip ------------------------------------------------------------------------

#: Normalise brings a clip's peak here: a hair under full scale, as Audacity's default.
NORMALISE_DB = -1.0
_PEAK_CHUNK = 1 << 20


def clip_peak(clip: Clip) -> float:
    """The largest absolute sample the clip plays, after its fades and before its gain."""
    gain = db_to_gain(clip.gain_db)
    peak = 0.0
    for first in range(0, clip.length, _PEAK_CHUNK):
        count = min(_PEAK_CHUNK, clip.length - first)
        fades = clip.gain_curve(first, count) / np.float32(gain)  # the curve without the clip gain
        part = np.abs(clip.samples[first : first + count]).max(axis=1) * fades
        peak = max(peak, float(part.max()))
    return peak


def normalise_gain_db(clip: Clip, target_db: float = NORMALISE_DB) -> float | None:
    """The clip gain that puts its peak at ``target_db``; None for a silent clip."""
    peak = clip_peak(clip)
    if peak <= 1e-9:  # below any 32-bit float file's noise: nothing to bring up
        return None
    return round(target_db - to_db(peak), 2)
