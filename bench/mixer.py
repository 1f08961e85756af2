"""Mixer cost per 10 ms block: ours vs a naive numpy mix, vs the 1 ms goal and real time.

    python bench/mixer.py [--tracks 16] [--blocks 2000]
    python bench/mixer.py --smoke      # 2 tracks, 50 blocks: checks that the benchmark works

The session: 16 stereo tracks at 48 kHz, 30 s long; each track holds clips of 6 s placed every
2 s (so three overlap nearly everywhere), with 0.5 s fades in and out, its own
clip gains, track gain and pan. Every block of 480 frames (10 ms) is timed on its own, and the
median over many blocks spread through the session is printed, so fades, overlaps and
single clips are all in the figure.

The naive reference is the straightforward way: per block, per track, per clip, slice the
samples, multiply by ``Clip.gain_curve``, pan and gain them into a fresh array and sum. It runs
in the same process right after ours, so the ratio between them holds on a noisy machine.

"ours, metered" is the same mix with per-track and master levels measured into a
``LevelLog`` slot, as the playback thread does for the meters: its line beside the unmetered
one is the cost of metering.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.core.audio.levels import LevelLog  # noqa: E402
from studio.core.audio.mixer import Mixer, pan_gains  # noqa: E402
from studio.core.audio.timeline import PROJECT_RATE, Clip, Timeline, Track, db_to_gain  # noqa: E402

BLOCK = 480  # 10 ms at 48 kHz
GOAL_S = 1e-3
REAL_TIME_S = BLOCK / PROJECT_RATE


def session(tracks: int, seconds: float = 30.0, seed: int = 0) -> Timeline:
    rng = np.random.default_rng(seed)
    rate = PROJECT_RATE
    clip_frames, every, fade = 6 * rate, 2 * rate, rate // 2
    timeline = Timeline()
    for t in range(tracks):
        audio = (rng.standard_normal((clip_frames * 2, 2)) * 0.05).astype(np.float32)
        clips = []
        for k, start in enumerate(range(0, int(seconds * rate) - clip_frames, every)):
            clips.append(Clip.from_samples(f"t{t}c{k}", audio, rate, start=start, offset=(k % 3) * 1000,
                                           length=clip_frames, fade_in=fade, fade_out=fade, gain_db=-(k % 4)))
        # One buffer per track, shared by its clips (as duplicated clips share theirs).
        shared = clips[0].audio
        clips = [Clip(c.name, shared, c.start, c.offset, c.length, c.fade_in, c.fade_out, c.gain_db) for c in clips]
        track = Track(f"track {t}", tuple(clips), gain_db=-3.0 + t % 4, pan=((t % 5) - 2) / 2.5)
        timeline = timeline.add_track(track)
    return timeline


def naive_mix(timeline: Timeline, start: int, frames: int) -> np.ndarray:
    out = np.zeros((frames, 2), dtype=np.float32)
    for track in timeline.audible():
        left, right = pan_gains(track.pan)
        pan = np.array([left, right], dtype=np.float32) * db_to_gain(track.gain_db)
        for clip in track.clips:
            first, last = max(start, clip.start), min(start + frames, clip.end)
            if first >= last:
                continue
            offset = first - clip.start
            part = clip.samples[offset : offset + last - first] * clip.gain_curve(offset, last - first)[:, None]
            out[first - start : last - start] += part * pan
    return out


def time_blocks(fn, starts: list[int]) -> list[float]:
    times = []
    for start in starts:
        began = time.perf_counter()
        fn(start)
        times.append(time.perf_counter() - began)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="2 tracks, 50 blocks: checks that the benchmark works")
    args = parser.parse_args(argv)
    if args.smoke:
        args.tracks, args.blocks = 2, 50

    timeline = session(args.tracks)
    rng = np.random.default_rng(1)
    starts = sorted(int(s) for s in rng.integers(0, timeline.end - BLOCK, args.blocks))
    mixer = Mixer(BLOCK)
    out = np.empty((BLOCK, 2), dtype=np.float32)

    # Same numbers first: a fast mix of the wrong thing would be no result.
    for start in starts[:: max(1, len(starts) // 50)]:
        np.testing.assert_allclose(mixer.mix(timeline, start, BLOCK, out=out), naive_mix(timeline, start, BLOCK), atol=2e-6)

    for _ in range(3):  # warm caches and the compiled timeline
        mixer.mix(timeline, starts[0], BLOCK, out=out)
        naive_mix(timeline, starts[0], BLOCK)
    ours = time_blocks(lambda s: mixer.mix(timeline, s, BLOCK, out=out), starts)
    naive = time_blocks(lambda s: naive_mix(timeline, s, BLOCK), starts)
    log = LevelLog()
    rows = log.rows(args.tracks)
    metered = time_blocks(lambda s: mixer.mix(timeline, s, BLOCK, out=out, levels=rows), starts)
    ours_again = time_blocks(lambda s: mixer.mix(timeline, s, BLOCK, out=out), starts)  # noise check

    clips = len(timeline.clips)
    sounding = statistics.mean(sum(c.start < s + BLOCK and c.end > s for c in timeline.clips) for s in starts)
    print(f"mixer: {args.tracks} stereo tracks, {clips} clips ({sounding:.1f} sounding per block on average), "
          f"{BLOCK}-frame blocks at {PROJECT_RATE} Hz, median of {len(starts)} blocks")
    print(f"{'':24}{'median ms':>10}{'p99 ms':>9}{'x goal (1 ms)':>15}{'x real time':>13}{'x naive':>9}{'over goal':>11}")
    naive_median = statistics.median(naive)
    for name, times in (("ours (Mixer, out=)", ours), ("ours, metered", metered), ("ours, second pass", ours_again),
                        ("naive numpy per clip", naive)):
        median, p99 = statistics.median(times), sorted(times)[int(0.99 * (len(times) - 1))]
        over = sum(t > GOAL_S for t in times) / len(times)
        print(f"{name:24}{median * 1e3:10.3f}{p99 * 1e3:9.3f}{median / GOAL_S:15.3f}{median / REAL_TIME_S:13.4f}"
              f"{median / naive_median:9.2f}{over:10.1%}")
    # On a shared machine the p99 is the scheduler taking the core away (a time slice is about
    # 4 ms), which hits the naive loop the same: compare medians.


if __name__ == "__main__":
    main()
