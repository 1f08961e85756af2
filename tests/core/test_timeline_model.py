"""The immutable timeline model: edits, their limits, and the waveform peaks."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.audio.timeline import Clip, Timeline, TimelineError, Track
from studio.core.media.sound import PEAK_BLOCK, Audio

RATE = 48_000


def ramp(frames: int, channels: int = 1) -> np.ndarray:
    """Every frame different, so any off-by-one in offsets shows."""
    data = np.arange(frames * channels, dtype=np.float32).reshape(frames, channels) / (frames * channels)
    return data


def timeline_with_clip(frames: int = 1000, start: int = 100) -> tuple[Timeline, Track, Clip]:
    track = Track("Piano")
    clip = Clip.from_samples("take", ramp(frames), RATE, start=start)
    timeline = Timeline().add_track(track).add_clip(track.id, clip)
    return timeline, track, clip


def test_audio_is_read_only_and_not_the_callers_array():
    samples = ramp(10)
    audio = Audio(samples, RATE)
    samples[0, 0] = 99.0  # the caller changing its array later must not change the clip
    assert audio.samples[0, 0] == 0.0
    with pytest.raises(ValueError):
        audio.samples[0, 0] = 1.0
    assert Audio(np.zeros(5), RATE).samples.shape == (5, 1)


@pytest.mark.parametrize("shape", [(10, 3), (2, 2, 2)])
def test_audio_refuses_other_shapes(shape):
    with pytest.raises(ValueError):
        Audio(np.zeros(shape, np.float32), RATE)


def test_edits_return_new_timelines_and_leave_the_old_one_alone():
    timeline, track, clip = timeline_with_clip()
    moved = timeline.move_clip(clip.id, track.id, 500)
    assert timeline.clip(clip.id).start == 100
    assert moved.clip(clip.id).start == 500
    assert moved.clip(clip.id).audio is clip.audio  # the samples are shared, never copied


def test_track_settings_reorder_and_remove():
    a, b, c = Track("A"), Track("B"), Track("C")
    timeline = Timeline().add_track(a).add_track(b).add_track(c)
    timeline = timeline.move_track(c.id, 0).update_track(a.id, name="Bass", mute=True, gain_db=-6.0, pan=0.5)
    assert [t.name for t in timeline.tracks] == ["C", "Bass", "B"]
    assert timeline.track(a.id).mute and timeline.track(a.id).pan == 0.5
    assert [t.name for t in timeline.audible()] == ["C", "B"]
    soloed = timeline.update_track(b.id, solo=True)
    assert [t.name for t in soloed.audible()] == ["B"]
    assert [t.name for t in timeline.remove_track(b.id).tracks] == ["C", "Bass"]
    with pytest.raises(TimelineError):
        timeline.update_track(a.id, pan=2.0)
    with pytest.raises(TimelineError):
        timeline.remove_track(12345678)


def test_move_between_tracks():
    timeline, track, clip = timeline_with_clip()
    other = Track("Strings")
    timeline = timeline.add_track(other).move_clip(clip.id, other.id, 2000)
    assert timeline.track(track.id).clips == ()
    assert timeline.track_of(clip.id).id == other.id
    assert timeline.clip(clip.id).start == 2000


def test_trim_keeps_the_audio_in_place_and_stops_at_its_edges():
    timeline, _, clip = timeline_with_clip(frames=1000, start=100)
    trimmed = timeline.trim_clip(clip.id, start=300, end=800)
    new = trimmed.clip(clip.id)
    assert (new.start, new.offset, new.length) == (300, 200, 500)
    np.testing.assert_array_equal(new.samples, clip.audio.samples[200:700])
    # Dragging the edges back out past the audio stops at the audio's ends.
    restored = trimmed.trim_clip(clip.id, start=0, end=5000).clip(clip.id)
    assert (restored.start, restored.offset, restored.length) == (100, 0, 1000)
    # A trim never makes a clip empty.
    assert trimmed.trim_clip(clip.id, start=10_000).clip(clip.id).length == 1


def test_split_gives_two_clips_that_play_the_same_samples():
    timeline, track, clip = timeline_with_clip(frames=1000, start=100)
    timeline = timeline.update_clip(clip.id, fade_in=50, fade_out=70)
    split, left, right = timeline.split_clip(clip.id, 400)
    assert [c.id for c in split.track(track.id).clips] == [left.id, right.id]
    assert (left.start, left.length, left.fade_in, left.fade_out) == (100, 300, 50, 0)
    assert (right.start, right.offset, right.length, right.fade_in, right.fade_out) == (400, 300, 700, 0, 70)
    joined = np.concatenate([left.samples, right.samples])
    np.testing.assert_array_equal(joined, clip.audio.samples)
    for outside in (100, 1100, 50):
        with pytest.raises(TimelineError):
            timeline.split_clip(clip.id, outside)


def test_duplicate_lands_right_after():
    timeline, track, clip = timeline_with_clip(frames=1000, start=100)
    timeline, copy = timeline.duplicate_clip(clip.id)
    assert copy.id != clip.id and copy.start == 1100 and copy.audio is clip.audio
    assert len(timeline.track(track.id).clips) == 2
    assert timeline.end == 2100


def test_clip_rate_must_match_the_timeline():
    track = Track("A")
    timeline = Timeline().add_track(track)
    with pytest.raises(TimelineError, match="44100 Hz"):
        timeline.add_clip(track.id, Clip.from_samples("x", ramp(10), 44_100))


def test_fades_and_gain_curve():
    clip = Clip.from_samples("x", np.ones(100, np.float32), RATE, fade_in=10, fade_out=20, gain_db=-6.0)
    curve = clip.gain_curve(0, 100)
    gain = 10 ** (-6 / 20)
    assert curve[0] == 0.0 and curve[5] == pytest.approx(0.5 * gain)
    assert curve[50] == pytest.approx(gain)
    assert curve[90] == pytest.approx(0.5 * gain)
    np.testing.assert_allclose(clip.rendered()[:, 0], curve)
    # Fades longer than the clip are limited to it.
    long = Clip.from_samples("y", np.ones(10, np.float32), RATE, fade_in=50, fade_out=50)
    assert long.fade_in + long.fade_out <= long.length


def test_bad_clip_windows_are_refused():
    audio = Audio(ramp(100), RATE)
    for fields in ({"offset": 90, "length": 20}, {"length": 0}, {"start": -1}):
        with pytest.raises(TimelineError):
            Clip("x", audio, **fields)


def test_snap_to_the_beat_grid():
    timeline = Timeline(tempo=120.0)  # a beat is half a second: 24000 frames
    assert timeline.snap(13_000) == 24_000
    assert timeline.snap(11_000) == 0
    assert timeline.snap(7_000, beats=0.25) == 6_000
    assert timeline.snap(70_000, beats=timeline.beats_per_bar) == 96_000  # to the bar
    with pytest.raises(TimelineError):
        timeline.with_settings(tempo=0)


def test_peaks_match_the_samples_at_every_zoom():
    rng = np.random.default_rng(1)
    samples = rng.standard_normal((100_003, 2)).astype(np.float32)
    mono = samples.mean(axis=1)
    peaks = Audio(samples, RATE).peaks
    for start, stop, columns in [(0, 100_003, 37), (5_000, 6_000, 200), (0, 100_003, 1), (64 * 10, 64 * 20, 10)]:
        span = peaks.span(start, stop, columns)
        edges = np.linspace(start, stop, columns + 1).astype(int)
        for col in range(columns):
            exact = mono[edges[col] : edges[col + 1]]
            # Peaks come from whole blocks, so each column covers at least its exact frames.
            assert span[col, 0] <= exact.min() + 1e-6
            assert span[col, 1] >= exact.max() - 1e-6
            # ... and at most one block of the coarsest level used beyond them.
            block = PEAK_BLOCK * 2 ** max(0, int(np.log2(max(1, (stop - start) / columns / PEAK_BLOCK))))
            near = mono[max(0, edges[col] - block) : edges[col + 1] + block]
            assert span[col, 0] >= near.min() - 1e-6 and span[col, 1] <= near.max() + 1e-6


def test_peaks_zoomed_in_past_the_finest_level():
    samples = np.zeros((PEAK_BLOCK * 4, 1), np.float32)
    samples[PEAK_BLOCK * 2 + 3] = 0.75  # one loud frame in the third block
    span = Audio(samples, RATE).peaks.span(0, PEAK_BLOCK * 4, 400)  # ~0.6 frames per column
    assert span[:, 1].max() == 0.75
    assert span[:200, 1].max() == 0.0 and span[300:, 1].max() == 0.0


def test_peaks_are_computed_once_per_buffer():
    timeline, _, clip = timeline_with_clip()
    timeline, left, right = timeline.split_clip(clip.id, 500)
    assert left.audio.peaks is right.audio.peaks is clip.audio.peaks


def test_each_new_track_takes_the_first_colour_no_other_track_has():
    timeline = Timeline()
    tracks = [Track(name) for name in "ABC"]
    for track in tracks:
        Clip.from_samples("take", ramp(10), RATE)  # ids drawn in between must not matter
        timeline = timeline.add_track(track)
    assert [t.colour for t in timeline.tracks] == [0, 1, 2]
    timeline = timeline.remove_track(tracks[1].id).add_track(Track("D"))
    assert [t.colour for t in timeline.tracks] == [0, 2, 1]  # the freed colour is used again
