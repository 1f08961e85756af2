"""The mixer against a mix written out the long way here, from the timeline's own clip rendering."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from studio.core.audio import mixer as mixer_module
from studio.core.audio.mixer import Mixer, mix, render
from studio.core.audio.timeline import Clip, Timeline, Track

RATE = 48_000


def noise(frames: int, channels: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((frames, channels)) * 0.2).astype(np.float32)


def reference_mix(timeline: Timeline) -> np.ndarray:
    """Every audible clip as ``Clip.rendered()`` gives it, placed, gained and panned by the
    documented linear balance law (left = min(1, 1 - pan), right = min(1, 1 + pan))."""
    out = np.zeros((timeline.end, 2), dtype=np.float64)
    for track in timeline.audible():
        gain = 10 ** (track.gain_db / 20)
        pan = np.array([min(1.0, 1.0 - track.pan), min(1.0, 1.0 + track.pan)])
        for clip in track.clips:
            sound = clip.rendered().astype(np.float64)
            if sound.shape[1] == 1:
                sound = np.repeat(sound, 2, axis=1)
            out[clip.start : clip.end] += sound * gain * pan
    return out.astype(np.float32)


def session() -> Timeline:
    """Mono and stereo clips, overlapping on a track and across tracks, with fades, gains, pans."""
    shared = noise(30_000, 2, 1)
    drums = Track("drums", (
        Clip.from_samples("kick", noise(20_000, 1, 2), RATE, start=1_000, fade_in=500, fade_out=3_000, gain_db=-2.0),
        Clip.from_samples("loop", shared, RATE, start=15_000, offset=2_000, length=25_000, fade_in=7_000, gain_db=3.0),
    ), gain_db=-6.0, pan=-0.4)
    keys = Track("keys", (
        Clip.from_samples("pad", shared, RATE, start=0, fade_out=10_000),
        Clip.from_samples("pad again", shared, RATE, start=29_000, offset=5_000, fade_in=1_000, fade_out=1_000),
    ), gain_db=2.5, pan=0.75)
    bass = Track("bass", (Clip.from_samples("sub", noise(50_000, 1, 3), RATE, start=4_321, gain_db=-1.0),), pan=0.0)
    return Timeline((drums, keys, bass))


def test_render_matches_the_clips_mixed_the_long_way():
    timeline = session()
    got = render(timeline)
    assert got.dtype == np.float32 and got.shape == (timeline.end, 2)
    np.testing.assert_allclose(got, reference_mix(timeline), atol=2e-6)
    assert np.abs(got).max() > 0.1  # the session really makes sound


@pytest.mark.parametrize("start,frames", [(0, 480), (999, 480), (14_990, 20), (28_500, 4096), (54_000, 1000), (0, 1), (500, 0)])
def test_any_block_equals_that_slice_of_the_whole_mix(start, frames):
    timeline = session()
    whole = reference_mix(timeline)
    expected = np.zeros((frames, 2), dtype=np.float32)
    available = whole[start : start + frames]
    expected[: available.shape[0]] = available  # past the end the mix is silence
    np.testing.assert_allclose(mix(timeline, start, frames), expected, atol=2e-6)


def test_the_block_size_does_not_change_a_single_sample():
    timeline = session()
    mixer = Mixer(480)
    blocks = np.concatenate([mixer.mix(timeline, s, 480) for s in range(0, timeline.end, 480)])[: timeline.end]
    np.testing.assert_array_equal(blocks, Mixer().render(timeline))


def test_pan_law_centre_is_unity_and_the_far_side_turns_down():
    mono = noise(1_000, 1, 5)
    stereo = noise(1_000, 2, 6)

    def mixed(samples, pan):
        timeline = Timeline((Track("t", (Clip.from_samples("c", samples, RATE),), pan=pan),))
        return render(timeline)

    np.testing.assert_array_equal(mixed(mono, 0.0), np.repeat(mono, 2, axis=1))  # mono to both sides, unchanged
    np.testing.assert_array_equal(mixed(stereo, 0.0), stereo)
    hard_left = mixed(stereo, -1.0)
    np.testing.assert_array_equal(hard_left[:, 0], stereo[:, 0])
    assert not hard_left[:, 1].any()
    half_right = mixed(mono, 0.5)
    np.testing.assert_allclose(half_right[:, 0], 0.5 * mono[:, 0], rtol=1e-6)
    np.testing.assert_array_equal(half_right[:, 1], mono[:, 0])


def test_solo_wins_over_mute_and_muted_tracks_are_silent():
    timeline = session()
    drums, keys, bass = (t.id for t in timeline.tracks)
    muted = timeline.update_track(keys, mute=True).update_track(bass, mute=True)
    only_drums = reference_mix(Timeline((timeline.tracks[0],)))
    got = render(muted)
    np.testing.assert_allclose(got[: only_drums.shape[0]], only_drums, atol=2e-6)
    assert not got[only_drums.shape[0] :].any()
    soloed = muted.update_track(keys, solo=True)  # soloed and muted: solo decides
    only_keys = reference_mix(Timeline((timeline.tracks[1],)))
    got = render(soloed)
    np.testing.assert_allclose(got[: only_keys.shape[0]], only_keys, atol=2e-6)
    assert not got[only_keys.shape[0] :].any()
    all_muted = timeline.update_track(drums, mute=True).update_track(keys, mute=True).update_track(bass, mute=True)
    assert not render(all_muted).any()


def test_an_edit_is_a_new_value_and_the_mixer_follows_it():
    timeline = session()
    mixer = Mixer(1024)
    before = mixer.mix(timeline, 5_000, 1024).copy()
    louder = timeline.update_track(timeline.tracks[2].id, gain_db=6.0)
    after = mixer.mix(louder, 5_000, 1024)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, reference_mix(louder)[5_000:6_024], atol=2e-6)
    np.testing.assert_array_equal(mixer.mix(timeline, 5_000, 1024), before)  # the old value still mixes as before


def test_out_is_filled_in_place_without_allocating_blocks():
    timeline = session()
    mixer = Mixer(4096)
    out = np.full((4096, 2), 7.0, dtype=np.float32)  # garbage: mix overwrites, never adds to it
    assert mixer.mix(timeline, 3_000, 4096, out=out) is out
    np.testing.assert_allclose(out, reference_mix(timeline)[3_000:7_096], atol=2e-6)
    starts = list(range(0, timeline.end, 4096)) * 3
    tracemalloc.start()
    try:
        mixer.mix(timeline, 0, 4096, out=out)
        tracemalloc.reset_peak()
        floor = tracemalloc.get_traced_memory()[0]
        for start in starts:
            mixer.mix(timeline, start, 4096, out=out)
        peak = tracemalloc.get_traced_memory()[1] - floor
    finally:
        tracemalloc.stop()
    assert peak < 8_192, f"mixing into out held {peak} bytes at once; one block alone is 32 768"


def test_out_of_the_wrong_shape_or_type_is_refused():
    with pytest.raises(ValueError):
        mix(session(), 0, 480, out=np.zeros((480, 1), dtype=np.float32))
    with pytest.raises(ValueError):
        mix(session(), 0, 480, out=np.zeros((480, 2), dtype=np.float64))


def test_an_empty_timeline_renders_nothing_and_mixes_silence():
    assert render(Timeline()).shape == (0, 2)
    assert not mix(Timeline(), 100, 64).any()


def test_each_thread_gets_its_own_mixer():
    import threading

    mixers = []
    thread = threading.Thread(target=lambda: mixers.append(mixer_module._mixer()))
    thread.start()
    thread.join()
    assert mixers[0] is not mixer_module._mixer()
