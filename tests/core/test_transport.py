"""Playback: the block ring driven by hand (exact), then the Transport on ALSA's null device.

The null device takes audio as fast as it is given (it is not paced in real time), so nothing
here waits for a duration: tests poll for a state with a deadline and check positions, wraps,
stops and the samples handed to the device.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

# Before PortAudio is first loaded in this process: its default output is ALSA's null device,
# which works without a sound card. (CI sets the same in .ci/run; a set value is kept.)
if "ALSA_CONFIG_PATH" not in os.environ:
    _alsa = tempfile.mkdtemp(prefix="studio-alsa-")
    atexit.register(shutil.rmtree, _alsa, True)
    Path(_alsa, "asound.conf").write_text("pcm.!default { type null }\n")
    os.environ["ALSA_CONFIG_PATH"] = str(Path(_alsa, "asound.conf"))

from studio.core.audio.playback import BlockConsumer, BlockProducer, BlockRing, PlayState, Transport, output_device  # noqa: E402
from studio.core.audio.mixer import render  # noqa: E402
from studio.core.audio.timeline import Clip, Timeline, Track  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RATE = 48_000


def song(frames: int = 20_000, start: int = 0) -> Timeline:
    """Two tracks of noise, one panned, with fades: every frame of the mix is distinct."""
    rng = np.random.default_rng(frames)
    a = Clip.from_samples("a", (rng.standard_normal((frames, 2)) * 0.2).astype(np.float32), RATE, start=start, fade_in=300)
    b = Clip.from_samples("b", (rng.standard_normal((frames // 2, 1)) * 0.2).astype(np.float32), RATE, start=start + frames // 3, fade_out=500)
    return Timeline((Track("a", (a,)), Track("b", (b,), pan=0.3, gain_db=-3.0)))


# -- the block ring, driven by hand ------------------------------------------------------------


class Engine:
    """Producer and consumer as the Transport wires them, stepped by the test: deterministic."""

    def __init__(self, timeline: Timeline, block: int = 256, blocks: int = 4) -> None:
        self.ring = BlockRing(blocks, block)
        self.state = PlayState()
        self.producer = BlockProducer(self.ring, self.state)
        self.consumer = BlockConsumer(self.ring, self.state)
        self.producer.timeline = timeline
        self.state.playing = True
        self.seek(0)

    def seek(self, frame: int) -> None:
        self.state.epoch += 1
        self.state.position = frame
        self.state.finished = False
        self.producer.restart(frame, self.state.epoch)

    def top_up(self) -> None:
        while self.producer.produce():
            pass

    def callback(self, frames: int) -> tuple[np.ndarray, bool]:
        out = np.full((frames, 2), 9.0, dtype=np.float32)  # garbage: every frame must be written
        more = self.consumer.fill(out, frames)
        if not more:
            self.state.playing = False  # as Transport._callback does, once the block is handed over
        return out, more


@pytest.mark.parametrize("callback_frames", [256, 100, 700])
def test_the_device_gets_exactly_the_mix_and_playback_ends_at_the_end(callback_frames):
    timeline = song()
    engine = Engine(timeline)
    heard, positions = [], []
    for _ in range(1_000):
        engine.top_up()
        out, more = engine.callback(callback_frames)
        heard.append(out)
        positions.append(engine.state.position)
        if not more:
            break
    else:
        pytest.fail("playback never reached the end")
    heard = np.concatenate(heard)
    np.testing.assert_array_equal(heard[: timeline.end], render(timeline))
    assert not heard[timeline.end :].any()  # silence after the end, not garbage
    assert positions == sorted(positions) and positions[-1] == timeline.end
    assert positions[0] == min(callback_frames, timeline.end)
    assert engine.state.playing is False and engine.state.finished
    assert engine.state.underruns == 0


def test_a_loop_wraps_back_to_its_start_and_plays_the_same_frames_again():
    timeline = song(30_000)
    engine = Engine(timeline, block=256)
    loop = (5_000, 9_100)  # not a multiple of the block: the wrap happens mid-block
    engine.producer.loop = loop
    engine.seek(3_000)  # from before the loop: play into it, then round it
    heard, positions = [], []
    for _ in range(100):
        engine.top_up()
        out, _ = engine.callback(256)
        heard.append(out)
        positions.append(engine.state.position)
    heard = np.concatenate(heard)
    mix = render(timeline)
    first = loop[1] - 3_000
    span = loop[1] - loop[0]
    np.testing.assert_array_equal(heard[:first], mix[3_000 : loop[1]])
    for k in range(3):  # then the loop over and over
        np.testing.assert_array_equal(heard[first + k * span : first + (k + 1) * span], mix[loop[0] : loop[1]])
    assert all(loop[0] <= p <= loop[1] for p in positions[first // 256 + 1 :])
    assert any(b < a for a, b in zip(positions, positions[1:]))  # it did wrap
    assert engine.state.underruns == 0 and engine.state.playing


def test_a_seek_drops_blocks_already_mixed_and_the_gap_is_no_underrun():
    timeline = song(40_000)
    engine = Engine(timeline)
    engine.top_up()
    engine.callback(256)
    engine.seek(30_000)  # the ring still holds blocks from frame 256 on: all stale now
    out, more = engine.callback(256)  # nothing of the new epoch mixed yet
    assert more and not out.any() and engine.state.underruns == 0
    engine.top_up()
    out, _ = engine.callback(256)
    np.testing.assert_array_equal(out, render(timeline, 30_000, 30_256))
    assert engine.state.position == 30_256


def test_an_empty_ring_while_playing_is_an_underrun_and_silence():
    engine = Engine(song())
    engine.top_up()
    for _ in range(4):
        engine.callback(256)
    out, more = engine.callback(256)  # the producer did not keep up
    assert more and not out.any()
    assert engine.state.underruns == 1
    engine.top_up()
    out, _ = engine.callback(256)
    np.testing.assert_array_equal(out, render(song(), 1_024, 1_280))  # picks up where it was


def test_an_edit_is_heard_once_the_blocks_already_mixed_are_played():
    timeline = song()
    engine = Engine(timeline, block=256, blocks=4)
    engine.top_up()
    louder = timeline.update_track(timeline.tracks[0].id, gain_db=6.0)
    engine.producer.timeline = louder  # what Transport.set_timeline does
    heard = np.concatenate([engine.callback(256)[0] for _ in range(4)] + [(engine.top_up(), engine.callback(256)[0])[1]])
    np.testing.assert_array_equal(heard[:1_024], render(timeline, 0, 1_024))
    np.testing.assert_array_equal(heard[1_024:], render(louder, 1_024, 1_280))


def test_a_paused_consumer_outputs_silence_and_keeps_its_place():
    engine = Engine(song())
    engine.top_up()
    engine.callback(256)
    engine.state.playing = False
    out, more = engine.callback(256)
    assert more and not out.any() and engine.state.position == 256 and engine.state.underruns == 0


# -- the Transport on the null device ----------------------------------------------------------


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the transport")
        time.sleep(0.002)


class Tap(BlockConsumer):
    """The Transport's own consumer, keeping what each callback handed to the device.

    It records as soon as ``fill`` returns, inside the callback, so it sees exactly what an
    observer of the transport may rely on once ``playing`` reads False. ``hold_end`` makes
    the device thread slow at the very end: the callback that hands over the last frames
    waits (up to that many seconds, or until ``release``) before the tap records them.
    """

    def __init__(self, ring, state, chunks, hold_end: float = 0.0) -> None:
        super().__init__(ring, state)
        self.chunks = chunks
        self.hold_end = hold_end
        self.release = threading.Event()

    def fill(self, outdata, frames):
        before = self.state.position
        more = super().fill(outdata, frames)
        after = self.state.position
        if self.hold_end and self.state.finished:
            self.release.wait(self.hold_end)
        if after > before:
            self.chunks.append((after, outdata[: after - before].copy()))
        return more


class Recording(Transport):
    """A Transport that keeps what its callback handed to the device (the real callback runs).

    ``chunks`` holds (timeline frame after the chunk, the frames) for every callback that
    moved the playhead forward: its first frames are the ones it played (the rest, if any,
    is an underrun's silence). A callback that wrapped round a loop is left out.
    """

    def __init__(self, *args, hold_end: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.chunks: list[tuple[int, np.ndarray]] = []
        self._consumer = Tap(self._ring, self._state, self.chunks, hold_end)

    def heard(self) -> int:
        return sum(chunk.shape[0] for _, chunk in self.chunks)

    def check_against(self, mix: np.ndarray) -> None:
        for end, chunk in self.chunks:
            np.testing.assert_array_equal(chunk, mix[end - chunk.shape[0] : end])


@pytest.fixture
def transport():
    with Recording() as playing:
        yield playing


def test_there_is_an_output_device():
    assert output_device()


def test_play_hands_the_device_the_mix_and_stops_at_the_end(transport):
    timeline = song(30_000)
    transport.set_timeline(timeline)
    transport.play()
    assert transport.playing
    wait_for(lambda: not transport.playing)
    assert transport.position == timeline.end
    np.testing.assert_array_equal(np.concatenate([chunk for _, chunk in transport.chunks]), render(timeline))
    transport.play()  # again: from where the last run started
    assert transport.position <= timeline.end
    wait_for(lambda: not transport.playing)
    assert transport.heard() == 2 * timeline.end
    transport.check_against(render(timeline))


def test_when_playback_ends_by_itself_every_frame_was_handed_over_before_it_says_so():
    """The race behind a flaky run (``assert 59696 == 60000``): the callback said "not playing"
    while it was still handing over the last block, and whoever looked then missed it.

    The tap holds the last callback open until the test has looked (or a second has passed),
    which makes the worst order certain rather than rare.
    """
    timeline = song(30_000)
    with Recording(hold_end=1.0) as transport:
        transport.set_timeline(timeline)
        transport.play()
        wait_for(lambda: not transport.playing)
        heard = transport.heard()
        transport._consumer.release.set()
        assert heard == timeline.end
        assert transport.position == timeline.end


def test_pause_holds_the_place_and_stop_goes_back_to_where_play_started(transport):
    long = song(20_000, start=60 * RATE)  # a minute of silence first: time to pause in
    transport.set_timeline(long)
    transport.seek(1_000)
    transport.play()
    wait_for(lambda: transport.position > 20_000)
    transport.pause()
    assert not transport.playing
    paused_at = transport.position
    time.sleep(0.05)
    assert transport.position == paused_at  # nothing moves while paused
    transport.play()
    wait_for(lambda: transport.position > paused_at + 10_000)
    transport.stop()
    assert not transport.playing and transport.position == paused_at  # where that play() started
    transport.seek(5_000)
    assert transport.position == 5_000
    transport.play()
    wait_for(lambda: transport.position > 5_000)
    transport.seek(2 * 60 * RATE)
    assert transport.position >= 2 * 60 * RATE or not transport.playing


def test_a_loop_keeps_playing_inside_its_region(transport):
    timeline = song(RATE)
    transport.set_timeline(timeline)
    transport.set_loop(10_000, 20_000)
    assert transport.loop == (10_000, 20_000)
    transport.play()
    seen = []

    def wrapped() -> bool:
        seen.append(transport.position)
        return len(seen) > 1 and seen[-1] < seen[-2]

    wait_for(wrapped)
    wait_for(lambda: transport.heard() > 60_000)  # several times round
    assert transport.playing and 10_000 <= transport.position <= 20_000
    transport.check_against(render(timeline))
    ends = [end for end, _ in transport.chunks]
    inside = next(i for i, end in enumerate(ends) if end > 10_000)
    assert all(10_000 < end <= 20_000 for end in ends[inside:])  # never outside the loop once in it
    transport.set_loop(None)
    assert transport.loop is None
    wait_for(lambda: not transport.playing)
    assert transport.position == timeline.end


def test_an_empty_timeline_plays_and_ends_at_once(transport):
    transport.play()
    wait_for(lambda: not transport.playing)
    assert transport.position == 0


def test_nothing_raises_before_play_and_after_close():
    transport = Transport()
    transport.set_timeline(song())
    transport.seek(100)
    transport.set_loop(0, 1_000)
    transport.pause()
    transport.stop()
    transport.close()
    transport.close()
    assert transport.position == 100 and not transport.playing and transport.underruns == 0


# -- without PortAudio -------------------------------------------------------------------------

NO_PORTAUDIO = textwrap.dedent(
    """
    import sys
    sys.modules["sounddevice"] = None  # as if libportaudio2 were missing: importing it fails
    import numpy as np
    from studio.errors import StudioError
    from studio.core.audio.playback import Transport, output_device
    from studio.core.audio.timeline import Clip, Timeline, Track

    transport = Transport()
    transport.set_timeline(Timeline((Track("t", (Clip.from_samples("c", np.zeros((4800, 2), np.float32), 48000),)),)))
    transport.seek(480)
    transport.set_loop(0, 2400)
    transport.pause()
    transport.stop()
    for attempt in (transport.play, output_device):
        try:
            attempt()
        except StudioError as exc:
            print("refused:", exc)
    print("state:", transport.position, transport.playing, transport.underruns)
    transport.close()
    """
)


def test_without_portaudio_play_says_why_and_everything_else_works():
    done = subprocess.run([sys.executable, "-c", NO_PORTAUDIO], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3, done.stdout
    for line in lines[:2]:
        assert line.startswith("refused: audio playback is off: the PortAudio library did not load"), line
    assert lines[2] == "state: 480 False 0"


def test_importing_the_audio_module_does_not_load_portaudio():
    code = "import sys, studio.core.audio.playback, studio.core.audio.mixer, studio.core.media.sound_files; print('sounddevice' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
