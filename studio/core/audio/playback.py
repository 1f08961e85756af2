"""Playback of a ``Timeline`` through sounddevice: a transport with play, pause, stop, seek, loop.

The parts, each with one job:

- ``BlockRing``: preallocated stereo blocks with two counters, ``written`` (only the
  producer moves it) and ``read`` (only the consumer moves it). Each block also records the
  timeline frame it starts at, how many frames it holds and the seek ``epoch`` it was made in.
  Python assigns an int atomically, so the two sides share it without a lock.
- ``PlayState``: playing, epoch, position, underruns, finished: plain attributes both sides read.
- ``BlockProducer``: mixes the next block of the current timeline into the ring (``Mixer``
  with ``out=``: no allocation), wrapping at the loop's end and stopping at the timeline's end,
  and logs each block's levels with its frames (``studio.core.audio.levels.LevelLog``), so
  ``Transport.levels`` gives the meters the levels of what is heard, not of what is mixed.
- ``BlockConsumer.fill``: the audio callback's body. It ONLY copies ready blocks into
  ``outdata``, counts underruns and advances the heard position: no buffer allocation, no
  file I/O, no lock.
- ``Transport``: the control surface; owns the producer thread and the
  ``sounddevice.OutputStream``.

A ``Timeline`` never changes, so ``set_timeline`` just swaps a reference; the producer picks it
up at its next block. Blocks already mixed play out first, so an edit is heard after at most
``ring_blocks x block_frames`` frames (about 85 ms by default). A seek instead bumps the epoch:
blocks made before it are skipped at once.

``position`` is the timeline frame after the last one handed to the audio device; the
device's own buffering (``output_latency``, tens of milliseconds) is not subtracted here (the window does). ``stop()`` returns it
to where the last ``play()`` started (as Audacity and Reaper do); ``pause()`` leaves it where
it is. Playback ends by itself at the timeline's end unless a loop is ahead of it: playback that
reaches a loop's end (from inside it or from before it) wraps to the loop's start.

PortAudio may be missing (no libportaudio2) or present with no output device (a server, a
machine without a sound card): ``play()`` raises a ``StudioError`` saying which; nothing else
raises, and importing this module does not load sounddevice.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from studio.core.audio.levels import LevelLog, Levels
from studio.core.audio.mixer import CHANNELS, Mixer
from studio.core.audio.timeline import Timeline
from studio.errors import StudioError

BLOCK_FRAMES = 1024
RING_BLOCKS = 4


def _sounddevice() -> Any:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        raise StudioError(f"audio playback is off: the PortAudio library did not load ({exc})") from None
    return sounddevice


def output_device() -> str:
    """The name of the default output device, or a ``StudioError`` saying why there is none."""
    sd = _sounddevice()
    try:
        info = sd.query_devices(kind="output")
    except Exception as exc:  # PortAudioError or ValueError, depending on the host API
        raise StudioError(f"audio playback is off: no audio output device ({exc})") from None
    return str(info["name"])


# -- the ring of prepared blocks ---------------------------------------------------------------


class BlockRing:
    """``blocks`` preallocated (block_frames, 2) float32 buffers and their bookkeeping."""

    def __init__(self, blocks: int = RING_BLOCKS, block_frames: int = BLOCK_FRAMES) -> None:
        self.block_frames = block_frames
        self.data = np.zeros((blocks, block_frames, CHANNELS), dtype=np.float32)
        self.starts = [0] * blocks  # timeline frame of each block's first frame
        self.frames = [0] * blocks  # frames it holds (fewer at a loop's end or the timeline's end)
        self.epochs = [0] * blocks  # the seek epoch it was made in
        self.last = [False] * blocks  # the final block before the timeline's end
        self.written = 0  # blocks made so far (the producer's counter)
        self.read = 0  # blocks consumed so far (the consumer's counter)

    @property
    def size(self) -> int:
        return len(self.starts)

    def free(self) -> int:
        return self.size - (self.written - self.read)


class PlayState:
    """What the control side asks for and what the audio side reports, as plain attributes."""

    def __init__(self) -> None:
        self.playing = False
        self.epoch = 0  # bumped by every seek: blocks of an older epoch are stale
        self.position = 0  # the heard position (moved by the consumer, or by a seek)
        self.underruns = 0
        self.finished = False  # the consumer handed over the timeline's last frame (and stopped)


class BlockProducer:
    """Mixes blocks of the current timeline into the ring, following seeks and the loop."""

    def __init__(self, ring: BlockRing, state: PlayState) -> None:
        self.ring = ring
        self.state = state
        self.timeline = Timeline()
        self.loop: tuple[int, int] | None = None
        self.mixer = Mixer(ring.block_frames)
        self.levels = LevelLog()
        self.next_frame = 0  # the timeline frame the next block starts at
        self.epoch = 0  # the epoch ``next_frame`` belongs to
        self.done = False  # the block ending the timeline has been made

    def restart(self, frame: int, epoch: int) -> None:
        self.next_frame, self.epoch, self.done = max(0, int(frame)), epoch, False

    def produce(self) -> bool:
        """Mix one block into the ring; False when the ring is full or the timeline is done."""
        ring = self.ring
        if self.done or ring.free() <= 0:
            return False
        timeline, loop, start = self.timeline, self.loop, self.next_frame
        if loop is not None and start < loop[1]:
            # Before or inside the loop: play up to its start, then up to its end, then wrap.
            # A block never crosses either edge, so the frames in a block stay consecutive.
            stop = min(start + ring.block_frames, loop[0] if start < loop[0] else loop[1])
            last = False
        else:
            stop = min(start + ring.block_frames, max(start, timeline.end))
            last = stop >= timeline.end
        slot = ring.written % ring.size
        count = stop - start
        if count:
            block = ring.data[slot, :count]
            compiled = self.mixer.compiled(timeline)
            rows = self.levels.rows(len(compiled.track_ids))
            self.mixer.mix(timeline, start, count, out=block, levels=rows)
            over = -1
            if rows[0][0].max() > 1.0:  # the master clips: where (rare, so the search may allocate)
                over = start + int(np.argmax(np.abs(block).max(axis=1) > 1.0))
            self.levels.publish(start, count, self.epoch, compiled.track_ids, over)
        ring.starts[slot], ring.frames[slot], ring.epochs[slot], ring.last[slot] = start, count, self.epoch, last
        ring.written += 1  # publish: the consumer may read the slot from now on
        if last:
            self.done = True
        elif loop is not None and stop == loop[1]:
            self.next_frame = loop[0]
        else:
            self.next_frame = stop
        return True


class BlockConsumer:
    """The audio callback's body: copy ready blocks to the device, nothing else."""

    def __init__(self, ring: BlockRing, state: PlayState) -> None:
        self.ring = ring
        self.state = state
        self.cursor = 0  # frames of the current block already handed over
        self.epoch_heard = 0  # the epoch of the last block handed over

    def discard(self) -> None:
        """Drop every block not yet heard (only while no callback can run: stream stopped)."""
        self.ring.read = self.ring.written
        self.cursor = 0

    def fill(self, outdata: np.ndarray, frames: int) -> bool:
        """Fill ``outdata[:frames]``; returns False once the timeline's end has been handed over.

        It does not say "not playing" itself: the caller does, once its callback is done with
        the block (``Transport._callback``).
        """
        ring, state = self.ring, self.state
        done = 0
        while done < frames:
            if state.finished:  # the timeline's end was handed over: the stream stops after this
                outdata[done:frames] = 0.0
                return False
            if not state.playing:
                outdata[done:frames] = 0.0
                return True
            if ring.read == ring.written:  # the producer fell behind: silence, counted
                outdata[done:frames] = 0.0
                if self.epoch_heard == state.epoch:  # not the gap right after a seek
                    state.underruns += 1
                return True
            slot = ring.read % ring.size
            if ring.epochs[slot] != state.epoch:  # made before a seek
                ring.read += 1
                self.cursor = 0
                continue
            count = min(frames - done, ring.frames[slot] - self.cursor)
            if count > 0:
                outdata[done : done + count] = ring.data[slot, self.cursor : self.cursor + count]
                self.cursor += count
                done += count
                if ring.epochs[slot] == state.epoch:  # still current: a seek may have come meanwhile
                    state.position = ring.starts[slot] + self.cursor
                    self.epoch_heard = state.epoch
            if self.cursor >= ring.frames[slot]:
                if ring.last[slot]:
                    state.finished = True
                ring.read += 1
                self.cursor = 0
        return True


# -- the transport -------------------------------------------------------------------------------


class Transport:
    """Plays a ``Timeline`` on the default output device (see the module docstring)."""

    def __init__(self, block_frames: int = BLOCK_FRAMES, ring_blocks: int = RING_BLOCKS) -> None:
        self._ring = BlockRing(ring_blocks, block_frames)
        self._state = PlayState()
        self._producer = BlockProducer(self._ring, self._state)
        self._consumer = BlockConsumer(self._ring, self._state)
        self._lock = threading.Lock()  # control calls and the producer thread; never the callback
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._stream: Any = None
        self._stream_rate = 0
        self._cue = 0  # where the last play() started: stop() returns here
        self._sd: Any = None

    # -- reading -------------------------------------------------------------------------------

    @property
    def position(self) -> int:
        return self._state.position

    @property
    def playing(self) -> bool:
        return self._state.playing

    @property
    def underruns(self) -> int:
        return self._state.underruns

    @property
    def output_latency(self) -> float:
        """Seconds between handing a frame to the device and hearing it (0 before play)."""
        try:
            return float(self._stream.latency) if self._stream is not None else 0.0
        except Exception:
            return 0.0

    @property
    def timeline(self) -> Timeline:
        return self._producer.timeline

    def levels(self, first: int, last: int) -> Levels:
        """The meters' reading for the timeline frames ``first .. last`` (what was heard since the
        last reading), from the blocks mixed since the last seek; silence when there are none."""
        return self._producer.levels.read(int(first), int(last), self._state.epoch)

    @property
    def loop(self) -> tuple[int, int] | None:
        return self._producer.loop

    # -- control -------------------------------------------------------------------------------

    def set_timeline(self, timeline: Timeline) -> None:
        """Play ``timeline`` from now on (heard after the blocks already mixed)."""
        with self._lock:
            self._producer.timeline = timeline
            self._producer.done = False  # a longer timeline may go on past the old end
        self._wake.set()
        if self.playing and self._stream_rate != timeline.sample_rate:
            self.pause()  # the device runs at the old rate: reopen it at the new one
            try:
                self.play()
            except StudioError:
                pass  # stays paused; the next play() says why

    def set_loop(self, start: int | None, end: int | None = None) -> None:
        """Loop ``start .. end`` (frames); ``set_loop(None)`` turns looping off.

        A loop shorter than one block (about 21 ms) is lengthened to one block: the ring holds
        whole blocks, and a shorter loop would be a click, not music.
        """
        with self._lock:
            if start is None or end is None or int(end) <= int(start):
                self._producer.loop = None
            else:
                first = max(0, int(start))
                self._producer.loop = (first, max(int(end), first + self._ring.block_frames))
            self._producer.done = False
        self._wake.set()

    def seek(self, frame: int) -> None:
        """Move the playhead to ``frame``; playing goes on from there."""
        frame = max(0, int(frame))
        with self._lock:
            self._restart_at(frame)
            if not self._state.playing:
                self._cue = frame  # while stopped or paused, a seek moves where play() starts
        self._wake.set()

    def play(self) -> None:
        """Start (or resume) playback from ``position``; a ``StudioError`` says why it cannot."""
        if self.playing:
            return
        self._closed = False  # a closed transport may be played again
        sd = self._sd or _sounddevice()
        output_device()
        self._sd = sd
        with self._lock:
            # After playing to the end, play again from where that run started.
            start = self._cue if self._state.finished else self._state.position
            self._cue = start
            self._restart_at(start)
            while self._producer.produce():  # pre-roll: the first callbacks find blocks ready
                pass
            self._state.playing = True
        try:
            self._start_stream()
        except StudioError:
            self._state.playing = False
            raise
        self._ensure_thread()
        self._wake.set()

    def pause(self) -> None:
        """Stop where we are; ``play()`` resumes from here."""
        self._state.playing = False
        self._halt_stream()
        with self._lock:
            self._restart_at(self._state.position)

    def stop(self) -> None:
        """Stop, and put the playhead back where the last ``play()`` started."""
        self._state.playing = False
        self._halt_stream()
        with self._lock:
            self._restart_at(self._cue)

    def close(self) -> None:
        """Stop playback, close the stream and end the producer thread."""
        self._state.playing = False
        self._closed = True
        self._wake.set()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:
                pass
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def _restart_at(self, frame: int) -> None:
        """Forget the blocks mixed so far and continue from ``frame`` (call with the lock held).

        While playing, the callback skips the old blocks (their epoch is past); while not,
        no callback runs and the ring is emptied here, so the pre-roll has room.
        """
        state = self._state
        state.epoch += 1
        state.position = frame
        state.finished = False
        if not state.playing:
            self._consumer.discard()
        self._producer.restart(frame, state.epoch)

    def _start_stream(self) -> None:
        sd = self._sd
        rate = self._producer.timeline.sample_rate
        if self._stream is not None and self._stream_rate != rate:
            self._stream.close()
            self._stream = None
        try:
            if self._stream is None:
                self._stream = sd.OutputStream(
                    samplerate=rate, channels=CHANNELS, dtype="float32",
                    blocksize=self._ring.block_frames, callback=self._callback,
                )
                self._stream_rate = rate
            if not self._stream.stopped:  # ended by its callback at the timeline's end
                self._stream.abort()
            self._stream.start()
        except Exception as exc:  # PortAudioError: busy device, unsupported rate, ...
            raise StudioError(f"audio playback failed: the output device could not be opened ({exc})") from None

    def _halt_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream.abort()  # at once: pause means now, not after the device's buffers
            except Exception:
                pass

    def _callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        if status.output_underflow:
            self._state.underruns += 1
        if not self._consumer.fill(outdata, frames):
            # Said last, after the block is handed over: whoever sees playback stopped may rely
            # on every frame having reached the device (saying it inside fill() let a reader
            # miss the final block, now and then).
            self._state.playing = False
            raise self._sd.CallbackStop  # the timeline's end: PortAudio plays out and stops

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._produce_loop, name="studio-audio-mixer", daemon=True)
            self._thread.start()

    def _produce_loop(self) -> None:
        # Sleeps on the event while idle; while playing, tops the ring up and naps a quarter
        # block between checks (the callback never has to signal, so it takes no lock).
        nap = self._ring.block_frames / max(1, self._producer.timeline.sample_rate) / 4
        while not self._closed:
            if not self.playing:
                self._wake.wait()
                self._wake.clear()
                continue
            with self._lock:
                made = self._producer.produce()
            if not made:
                self._wake.wait(nap)
                self._wake.clear()

