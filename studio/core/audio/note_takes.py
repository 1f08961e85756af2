"""A note take: a clip whose sound is made from its notes, and rendering it again when they change.

A symbolic take (the chorale sketcher's, an imported MIDI file) keeps in its clip's ``info``
the ``score`` (``Note``s, times in beats), ``tempo``, ``beats`` (its length), ``instrument``,
``voices`` (names) and ``midi_program``. ``read_take`` checks those (a project or a plugin may
hand anything) and says plainly what is wrong; ``render_take`` plays them through
``studio.core.audio.synth`` at the timeline's rate.

The audio of a note take is derived from its notes. An edit changes the notes at once and
keeps the old audio until the new one is rendered, so the clip's info records which notes its
audio was made from (``RENDERED``, a fingerprint): a take whose fingerprint differs from its
notes' is stale and is rendered again, after an edit, an undo, a redo or a reload alike. A
take without the mark never was edited: its audio came with its notes (the generator's).

Renders are cached by content (notes, tempo, beats, instrument): undo and redo find the audio
they need already made, and two clips with the same notes share one buffer. ``RenderQueue``
renders on one worker thread, the newest request per clip only (a stream of edits costs one
render, not one per edit).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from studio.core.audio import synth
from studio.core.audio.midi import Note
from studio.core.media.sound import Audio
from studio.errors import StudioError

#: The General MIDI instrument nearest each sound, so the exported MIDI plays the same way.
MIDI_PROGRAMS = {"organ": 19, "strings": 48, "choir": 52}  # Church Organ, String Ensemble 1, Choir Aahs
#: The info key holding the fingerprint of the notes the clip's audio was rendered from.
RENDERED = "rendered"
BEATS_PER_BAR = 4  # the synthesizer's takes are in 4/4; a take's length grows by whole bars
#: Limits on what a take may ask of the synthesizer: the mix of 10 minutes is ~0.5 GB while it
#: renders; 50,000 notes is a long orchestral MIDI file (a chorale has a few hundred).
MAX_SECONDS = 600.0
MAX_NOTES = 50_000
CACHE_BYTES = 256 << 20  # rendered takes kept for undo and redo (a 32-bar sketch is ~20 MB)
DEFAULT_VOICES = ("Soprano", "Alto", "Tenor", "Bass")


class TakeError(StudioError):
    """A clip's notes cannot be read or played: garbage in the score, absurd sizes."""


@dataclass(frozen=True)
class NoteTake:
    notes: tuple[Note, ...]
    tempo: float
    beats: float
    instrument: str
    voices: tuple[str, ...]

    @property
    def seconds(self) -> float:
        return self.beats * 60.0 / self.tempo

    @cached_property
    def key(self) -> str:
        """What the audio depends on, as a short stable fingerprint (the cache's key)."""
        digest = hashlib.sha1(f"{self.tempo!r}|{self.beats!r}|{self.instrument}".encode())
        if self.notes:
            digest.update(np.array([(n.pitch, n.start, n.duration, n.velocity, n.voice) for n in self.notes], dtype=np.float64).tobytes())
        return digest.hexdigest()[:16]

    def voice_name(self, voice: int) -> str:
        if 0 <= voice < len(self.voices):
            name = self.voices[voice]
            return name.capitalize() if name.islower() else name  # "bass" reads as a label: "Bass"
        return DEFAULT_VOICES[voice] if voice < len(DEFAULT_VOICES) and len(self.voices) == 0 else f"Voice {voice + 1}"

    @property
    def voice_count(self) -> int:
        return max(len(self.voices), max((n.voice for n in self.notes), default=-1) + 1, 1)


def has_notes(info: Mapping[str, Any]) -> bool:
    """Whether a clip claims to be a note take (its score may still be unreadable)."""
    return "score" in info and info.get("score") is not None


_READ: OrderedDict[int, tuple[Mapping[str, Any], Any]] = OrderedDict()
_READ_LOCK = threading.Lock()


def read_take(info: Mapping[str, Any]) -> NoteTake:
    """The note take in a clip's ``info``; ``TakeError`` saying what is wrong otherwise.

    Read once per info object: a clip's info is replaced by an edit, never changed in place,
    and the piano roll, the arrangement and the render check read it at every paint."""
    with _READ_LOCK:
        known = _READ.get(id(info))
        if known is not None and known[0] is info:
            _READ.move_to_end(id(info))
            if isinstance(known[1], TakeError):
                raise known[1]
            return known[1]
    try:
        result: Any = _read_take(info)
    except TakeError as exc:
        result = exc
    with _READ_LOCK:
        _READ[id(info)] = (info, result)  # the info is kept, so its id is not reused while cached
        while len(_READ) > 256:
            _READ.popitem(last=False)
    if isinstance(result, TakeError):
        raise result
    return result


def _read_take(info: Mapping[str, Any]) -> NoteTake:
    score = info.get("score")
    if not isinstance(score, (list, tuple)):
        raise TakeError("this clip has no notes: it is audio only (only a take made from notes, like the chorale sketcher's or an imported MIDI file, opens in the piano roll)")
    if len(score) > MAX_NOTES:
        raise TakeError(f"this clip's score has {len(score):,} notes; the piano roll edits up to {MAX_NOTES:,}")
    for n in score:
        if not isinstance(n, Note):
            raise TakeError("this clip's score holds something that is not a note, so its notes cannot be edited")
        if not (_number(n.start) and _number(n.duration) and isinstance(n.pitch, int) and isinstance(n.voice, int) and isinstance(n.velocity, int)):
            raise TakeError("this clip's score holds a note with values that are not numbers")
        if not (0 <= n.pitch <= 127 and 1 <= n.velocity <= 127 and 0 <= n.voice < 64 and n.start >= 0 and n.duration > 0):
            raise TakeError(f"this clip's score holds a note outside MIDI's range ({_note_text(n)})")
    tempo = info.get("tempo", 120.0)
    if not _number(tempo) or not 1.0 <= float(tempo) <= 1000.0:
        raise TakeError(f"this clip's tempo ({_short(tempo)}) is not a tempo between 1 and 1000 bpm")
    tempo = float(tempo)
    end = max((n.start + n.duration for n in score), default=0.0)
    beats = info.get("beats", end)
    if not _number(beats) or float(beats) < 0:
        raise TakeError(f"this clip's length in beats ({_short(beats)}) is not a length")
    beats = grown(max(float(beats), end), 0.0)
    if beats * 60.0 / tempo > MAX_SECONDS:
        raise TakeError(f"this clip's notes last {beats * 60.0 / tempo / 60:,.0f} minutes; a note take plays up to {MAX_SECONDS / 60:.0f} minutes")
    instrument = info.get("instrument", "organ")
    if instrument not in synth.INSTRUMENTS:
        instrument = "organ"  # an unknown sound (a newer Studio's) plays on the organ, notes intact
    voices = info.get("voices", ())
    voices = tuple(str(v)[:40] for v in voices) if isinstance(voices, (list, tuple)) and len(voices) <= 64 else ()
    return NoteTake(tuple(score), tempo, beats, instrument, voices)


def grown(beats: float, end: float, bar: int = BEATS_PER_BAR) -> float:
    """``beats`` long enough to hold a note ending at ``end``, grown to the next bar line."""
    if end <= beats:
        return float(beats)
    return float(math.ceil(end / bar - 1e-9) * bar)


def with_notes(info: Mapping[str, Any], notes: Sequence[Note]) -> dict[str, Any]:
    """``info`` with its score replaced; the take grows to the bar if a note passes its end.
    The audio the clip carries is still that of the old notes, and the info says so."""
    take = read_take(info)
    new = dict(info)
    new.setdefault(RENDERED, take.key)
    new["score"] = list(notes)
    new["beats"] = grown(take.beats, max((n.end for n in notes), default=0.0))
    return new


def with_instrument(info: Mapping[str, Any], instrument: str) -> dict[str, Any]:
    if instrument not in synth.INSTRUMENTS:
        raise TakeError(f"unknown instrument {instrument!r}; one of {', '.join(synth.INSTRUMENTS)}")
    take = read_take(info)
    new = dict(info)
    new.setdefault(RENDERED, take.key)
    new["instrument"] = instrument
    if instrument in MIDI_PROGRAMS:
        new["midi_program"] = MIDI_PROGRAMS[instrument]  # the exported MIDI plays the new sound too
    return new


def is_stale(info: Mapping[str, Any]) -> bool:
    """Whether the clip's audio was rendered from other notes than it now holds."""
    mark = info.get(RENDERED)
    if mark is None:
        return False
    try:
        return mark != read_take(info).key
    except TakeError:
        return False  # unreadable notes: keep the audio the clip has


def rendered_info(info: Mapping[str, Any], take: NoteTake) -> dict[str, Any]:
    """``info`` marked as holding the audio of ``take``."""
    new = dict(info)
    new[RENDERED] = take.key
    return new


# -- rendering --------------------------------------------------------------------------------


class RenderCache:
    """Rendered takes by fingerprint, the least recently used dropped past ``limit`` bytes."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit = limit
        self._items: OrderedDict[str, Audio] = OrderedDict()
        self._lock = threading.Lock()
        self.renders = 0  # how many takes were rendered (not found here): what tests count

    def get(self, key: str) -> Audio | None:
        with self._lock:
            audio = self._items.get(key)
            if audio is not None:
                self._items.move_to_end(key)
            return audio

    def put(self, key: str, audio: Audio) -> None:
        with self._lock:
            self._items[key] = audio
            self._items.move_to_end(key)
            while len(self._items) > 1 and sum(a.samples.nbytes for a in self._items.values()) > self.limit:
                self._items.popitem(last=False)


CACHE = RenderCache()


def render_take(take: NoteTake, sample_rate: int = synth.SAMPLE_RATE, cache: RenderCache | None = CACHE) -> Audio:
    """The take played on its instrument, exactly ``take.beats`` long, at ``sample_rate``
    (found in ``cache`` when these notes were rendered before). Its waveform peaks are
    computed here too, so a render on a worker thread leaves the GUI nothing to do."""
    key = f"{take.key}@{sample_rate}"
    audio = cache.get(key) if cache is not None else None
    if audio is not None:
        return audio
    samples = synth.render(take.notes, take.tempo, take.beats, take.instrument, sample_rate)
    if samples.shape[0] == 0:
        samples = np.zeros((1, 2), dtype=np.float32)  # a take of no beats is a moment of silence
    audio = Audio(samples, sample_rate)
    audio.peaks  # noqa: B018 - computed now, on the rendering thread
    if cache is not None:
        cache.renders += 1
        cache.put(key, audio)
    return audio


def cached_render(take: NoteTake, sample_rate: int = synth.SAMPLE_RATE, cache: RenderCache = CACHE) -> Audio | None:
    """The take's audio if it was rendered before, else None (never renders)."""
    return cache.get(f"{take.key}@{sample_rate}")


class RenderQueue:
    """Renders takes on one worker thread; per clip only the newest request is rendered.

    ``done(clip_id, take, audio_or_error)`` is called on the worker thread; the caller brings
    it to its own thread and decides whether the clip still wants it (it may have been edited
    again, undone or deleted meanwhile).
    """

    def __init__(self, done: Callable[[int, NoteTake, Any], None], sample_rate: int = synth.SAMPLE_RATE, cache: RenderCache = CACHE) -> None:
        self.done, self.sample_rate, self.cache = done, sample_rate, cache
        self._wanted: OrderedDict[int, NoteTake] = OrderedDict()
        self._busy = 0
        self._condition = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def request(self, clip_id: int, take: NoteTake) -> None:
        with self._condition:
            if self._closed:
                return
            self._wanted[clip_id] = take  # replaces an older request for the same clip
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="studio-note-render", daemon=True)
                self._thread.start()
            self._condition.notify()

    def cancel(self, clip_id: int) -> None:
        with self._condition:
            self._wanted.pop(clip_id, None)

    @property
    def idle(self) -> bool:
        with self._condition:
            return not self._wanted and not self._busy

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._wanted.clear()
            self._condition.notify()

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._wanted and not self._closed:
                    self._condition.wait()
                if self._closed:
                    return
                clip_id, take = self._wanted.popitem(last=False)
                self._busy += 1
            try:
                try:
                    result: Any = render_take(take, self.sample_rate, self.cache)
                except (MemoryError, ValueError) as exc:
                    result = TakeError(f"the notes could not be played: {exc}")
                self.done(clip_id, take, result)
            finally:
                with self._condition:
                    self._busy -= 1


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 30 else text[:29] + "…"


def _note_text(note: Note) -> str:
    return f"pitch {_short(note.pitch)}, start {_short(note.start)}, length {_short(note.duration)}, velocity {_short(note.velocity)}"
