"""Levels: peak and RMS of known signals through the real mixer, the block log the playback
producer writes, and the master fader in the mix and in a saved project."""

from __future__ import annotations

import math

import numpy as np
import pytest

from studio.core.audio.levels import LevelLog, to_db
from studio.core.audio.mixer import Mixer, render
from studio.core.audio.playback import BlockConsumer, BlockProducer, BlockRing, PlayState
from studio.core.audio.timeline import Clip, Timeline, Track

RATE = 48_000


def sine(frames: int = RATE, amplitude: float = 1.0, channels: int = 1) -> np.ndarray:
    # 1 kHz at 48 kHz: 48 samples a period, so every block of 1024... holds whole-ish periods
    # and the full period's peak (sample 12 of 48 is exactly the crest).
    wave = amplitude * np.sin(2 * np.pi * 1000 * np.arange(frames) / RATE)
    return np.repeat(wave[:, None], channels, axis=1).astype(np.float32)


def metered(timeline: Timeline, start: int = 0, frames: int = 4800):
    mixer = Mixer(frames)
    log = LevelLog()
    rows = log.rows(len(mixer.compiled(timeline).track_ids))
    out = mixer.mix(timeline, start, frames, levels=rows)
    log.publish(start, frames, 0, mixer.compiled(timeline).track_ids)
    return out, log.read(start, start + frames, 0)


def test_full_scale_sine_peaks_at_0_dbfs_with_rms_3_db_below() -> None:
    track = Track("sine", (Clip.from_samples("s", sine(), RATE),))
    _, levels = metered(Timeline((track,)))
    assert levels.master.peak_db == pytest.approx(0.0, abs=0.01)
    assert levels.master.rms_db == pytest.approx(-3.01, abs=0.02)
    assert levels.track(track.id).peak_db == pytest.approx(0.0, abs=0.01)
    assert levels.over_frame is None


def test_silence_is_minus_infinity_and_no_track_reads_silence() -> None:
    track = Track("quiet", (Clip.from_samples("q", np.zeros((RATE, 2), np.float32), RATE),))
    _, levels = metered(Timeline((track,)))
    assert levels.master.peak_db == -math.inf and levels.master.rms_db == -math.inf
    assert to_db(0.0) == -math.inf
    _, empty = metered(Timeline())
    assert empty.master.peak == (0.0, 0.0) and empty.tracks == {}


def test_pan_track_gain_and_master_fader_show_in_the_meters() -> None:
    left = Track("left", (Clip.from_samples("l", sine(amplitude=0.5), RATE),), pan=-1.0)
    quiet = Track("quiet", (Clip.from_samples("q", sine(amplitude=0.5), RATE),), gain_db=-6.0)
    muted = Track("muted", (Clip.from_samples("m", sine(), RATE),), mute=True)
    timeline = Timeline((left, quiet, muted), master_gain_db=-6.0)
    _, levels = metered(timeline)
    panned = levels.track(left.id)
    assert panned.peak[0] == pytest.approx(0.5, rel=1e-3) and panned.peak[1] == 0.0  # hard left
    assert levels.track(quiet.id).peak_db == pytest.approx(to_db(0.5) - 6.0, abs=0.05)  # after its fader
    assert levels.track(muted.id).peak == (0.0, 0.0)  # a muted track is not in the mix
    # The master: left 0.5 + 0.5 x -6 dB, right 0.5 x -6 dB, then the master fader's -6 dB.
    minus_6 = 10 ** (-6 / 20)
    master = levels.master
    assert master.peak[0] == pytest.approx((0.5 + 0.5 * minus_6) * minus_6, rel=1e-3)
    assert master.peak[1] == pytest.approx(0.5 * minus_6 * minus_6, rel=1e-3)


def test_metering_does_not_change_the_mix_and_the_master_fader_reaches_render() -> None:
    a = Track("a", (Clip.from_samples("a", sine(amplitude=0.3, channels=2), RATE, fade_in=2000),), pan=0.4)
    b = Track("b", (Clip.from_samples("b", sine(amplitude=0.2), RATE, start=1000),), gain_db=-3.0)
    timeline = Timeline((a, b))
    plain = Mixer(4800).mix(timeline, 0, 4800)
    with_levels, _ = metered(timeline)
    np.testing.assert_array_equal(plain, with_levels)
    quieter = render(timeline.with_settings(master_gain_db=-12.0))
    np.testing.assert_allclose(quieter, render(timeline) * 10 ** (-12 / 20), rtol=1e-5, atol=1e-7)


def test_a_clipping_mix_says_where_it_first_goes_over() -> None:
    loud = np.zeros((RATE, 1), np.float32)
    loud[3000:3100] = 0.8
    timeline = Timeline((
        Track("a", (Clip.from_samples("a", loud, RATE),)),
        Track("b", (Clip.from_samples("b", loud, RATE),)),
    ))
    engine_levels = producer_levels(timeline)
    reading = engine_levels.read(0, RATE, 0)
    assert reading.master.peak[0] == pytest.approx(1.6)
    assert reading.over_frame == 3000


def producer_levels(timeline: Timeline) -> LevelLog:
    """The playback producer mixing the whole timeline in 1024-frame blocks, consumed as it goes."""
    ring, state = BlockRing(4, 1024), PlayState()
    producer, consumer = BlockProducer(ring, state), BlockConsumer(ring, state)
    producer.timeline = timeline
    state.playing = True
    out = np.zeros((1024, 2), np.float32)
    while not state.finished:
        while producer.produce():
            pass
        consumer.fill(out, 1024)
    return producer.levels


def test_the_log_reads_the_blocks_of_the_frames_asked_for_not_the_newest() -> None:
    # A quiet first second, then a loud one: reading the first second gives the quiet level even
    # after the loud blocks were mixed (the producer runs ahead of what is heard).
    samples = np.concatenate([sine(RATE, 0.1), sine(RATE, 0.9)])
    timeline = Timeline((Track("t", (Clip.from_samples("s", samples, RATE),)),))
    log = LevelLog(slots=256)
    ring, state = BlockRing(4, 1024), PlayState()
    producer = BlockProducer(ring, state)
    producer.levels = log
    producer.timeline = timeline
    consumer = BlockConsumer(ring, state)
    state.playing = True
    out = np.zeros((1024, 2), np.float32)
    while state.position < RATE + 20_000:
        while producer.produce():
            pass
        consumer.fill(out, 1024)
    assert log.read(20_000, 21_000, 0).master.peak[0] == pytest.approx(0.1, rel=1e-3)
    assert log.read(RATE + 10_000, RATE + 11_000, 0).master.peak[0] == pytest.approx(0.9, rel=1e-3)
    assert log.read(20_000, 21_000, 1).master.peak == (0.0, 0.0)  # after a seek: not these blocks


def test_a_log_grows_for_a_bigger_arrangement() -> None:
    tracks = tuple(Track(f"t{i}", (Clip.from_samples("s", sine(4800, 0.01 * (i + 1)), RATE),)) for i in range(12))
    _, levels = metered(Timeline(tracks))
    assert [round(levels.track(t.id).peak[0], 3) for t in tracks] == [round(0.01 * (i + 1), 3) for i in range(12)]


# -- the master fader in a project -------------------------------------------------------------


def test_the_master_fader_is_saved_and_a_bad_one_is_said_and_left_at_0_db(tmp_path) -> None:
    import zipfile

    from studio.core.project.format import Project
    from studio.core.project.load import load_project
    from studio.core.project.save import save_project

    track = Track("t", (Clip.from_samples("s", sine(4800, 0.5), RATE),))
    path = save_project(Project(timeline=Timeline((track,), master_gain_db=-4.5)), tmp_path / "p.studio")
    assert load_project(path).project.timeline.master_gain_db == -4.5

    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    hostile = tmp_path / "hostile.studio"
    with zipfile.ZipFile(hostile, "w") as archive:
        for info, data in members:
            if info.filename == "timeline.json":
                assert b'"master_gain_db":-4.5' in data
                data = data.replace(b'"master_gain_db":-4.5', b'"master_gain_db":9e99')  # same size
            archive.writestr(info, data)
    loaded = load_project(hostile)
    assert loaded.project.timeline.master_gain_db == 0.0
    assert len(loaded.project.timeline.tracks) == 1  # nothing else lost
    assert any("master fader" in problem for problem in loaded.problems), loaded.problems


def test_normalise_measures_what_the_clip_plays_after_its_fades() -> None:
    from studio.core.audio.levels import clip_peak, normalise_gain_db

    samples = np.full((1000, 2), 0.1, np.float32)
    samples[990] = 0.9  # loud, but deep in the fade-out: heard at 0.9 x 10/100
    clip = Clip.from_samples("c", samples, RATE, fade_out=100, gain_db=5.0)
    assert clip_peak(clip) == pytest.approx(0.1, rel=1e-4)  # the body's 0.1; the clip gain is not counted
    assert normalise_gain_db(clip) == pytest.approx(-1.0 - to_db(0.1), abs=0.01)
    assert normalise_gain_db(Clip.from_samples("s", np.zeros((1000, 1), np.float32), RATE)) is None
