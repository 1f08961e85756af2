"""Reading a project file: ``load_project`` and ``read_project``, trusting nothing in it.

The format is described in ``studio.core.project.format``; this module checks the manifest and
every field, gives the file's objects fresh ids, and leaves out (and names) what is damaged.
"""

from __future__ import annotations

import io
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np

from studio.core.audio.midi import Note
from studio.core.audio.timeline import Clip, Timeline, TimelineError, Track
from studio.core.base.input_files import open_input
from studio.core.base.memory import available_memory, describe_bytes
from studio.core.image.blend import BLEND_MODES, NORMAL
from studio.core.image.provenance import SOURCE_TYPES, legacy_source
from studio.core.image.document import ImageDocument, Layer
from studio.core.image.kept_latents import read_kept
from studio.core.image.selection import Selection
from studio.core.media.pictures import MAX_PICTURE_PIXELS, MAX_SIDE
from studio.core.media.sound import Audio
from studio.core.media.text import well_formed
from studio.core.project import format as project_format, timeline_marks, writing
from studio.core.project.archive import DamagedMember, ProjectError, SafeArchive
from studio.core.project.fields import BadPart, Fields, Remap, is_int, parse_json
from studio.core.project.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    MAX_JSON_BYTES,
    MAX_SAMPLE_RATE,
    LoadedProject,
    Project,
    _in_order,
    member_limit,
)
from studio.core.project.history import HistoryEntry, passage_from_record
from studio.core.text.document import Span
from studio.errors import StudioError

__all__ = ["load_project", "read_project"]

log = logging.getLogger(__name__)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- loading ---------------------------------------------------------------------------------------------


def load_project(path: str | os.PathLike[str]) -> LoadedProject:
    """Open the project at ``path``.

    Raises ``ProjectError`` when the file as a whole cannot be used (missing, not a
    project, damaged beyond its directory, unsafe, made by a newer Studio). A damaged part
    is left out and described in ``problems``; the rest loads.
    """
    path = Path(path).expanduser()
    # Any size: the archive reader bounds what it reads; a pipe or a device is refused.
    with open_input(path, "Studio project", max_bytes=None, error=ProjectError) as file:
        return _load(file, path.name or str(path))


def read_project(data: bytes, name: str = "project") -> LoadedProject:
    """``load_project`` for a project already in memory; ``name`` is used in messages."""
    return _load(io.BytesIO(data), name)


def _load(source: BinaryIO, label: str) -> LoadedProject:
    # Every failure leaves as a StudioError: a loader bug must not become a traceback dialog.
    try:
        archive = SafeArchive(source, label, limit_of=member_limit)
        try:
            manifest = _read_manifest(archive, label)
            return _Reader(archive, manifest).read()
        finally:
            archive.close()
    except StudioError:
        raise
    except MemoryError:
        raise ProjectError(f"{label} is too large to open in this computer's memory") from None
    except Exception as exc:  # noqa: BLE001
        log.exception("unexpected failure while loading %s", label)
        raise ProjectError(f"{label} could not be opened: it is damaged in a way Studio did not expect "
                           f"({type(exc).__name__}); the details are in the log") from None


def _read_manifest(archive: SafeArchive, label: str) -> dict[str, Any]:
    damaged = f"{label} is not a Studio project or is damaged"
    if MANIFEST not in archive:
        raise ProjectError(f"{damaged} (it has no {MANIFEST}, which every Studio project has)")
    try:
        manifest = parse_json(archive.read(MANIFEST, limit=MAX_JSON_BYTES))
    except StudioError as exc:
        raise ProjectError(f"{damaged} (its {MANIFEST} cannot be read: {exc})") from None
    if not isinstance(manifest, dict):
        raise ProjectError(f"{damaged} (its {MANIFEST} is malformed: not a JSON object)")
    if manifest.get("format") != FORMAT_NAME:
        raise ProjectError(f"{damaged} (its {MANIFEST} names the format {str(manifest.get('format'))[:80]!r}, "
                           f"not {FORMAT_NAME!r})")
    version = manifest.get("version")
    if not is_int(version) or version < 1:
        raise ProjectError(f"{damaged} (its {MANIFEST} is malformed: the format version is {str(version)[:40]!r})")
    if version > FORMAT_VERSION:
        raise ProjectError(f"{label} was made by a newer Studio (format {version}); this Studio reads format "
                           f"{FORMAT_VERSION} — update Studio to open it")
    members = manifest.get("members")
    if not isinstance(members, dict) or not all(is_int(size) and size >= 0 for size in members.values()):
        raise ProjectError(f"{damaged} (its {MANIFEST} is malformed: the member list is not names and sizes)")
    return manifest


class _Reader:
    """Builds a ``Project`` from a checked archive, one part at a time, noting what fails."""

    def __init__(self, archive: SafeArchive, manifest: dict[str, Any]) -> None:
        self.archive = archive
        self.listed: dict[str, int] = manifest["members"]
        self.problems: list[str] = []
        self.ids = Remap()
        self.decoded = 0  # bytes of pixels and samples counted so far (see budget)
        self.room = available_memory()  # what this machine can give, before the first is decoded
        self.claimed: set[str] = set()  # members already read for a part

    def read(self) -> LoadedProject:
        image = self.part("the canvas", self.canvas) or ImageDocument()
        timeline = self.part("the timeline", self.timeline) or Timeline()
        history = self.part("the generation history", self.history) or []
        text = self.part("the text", self.text)
        spans = self.part("the marks of generated text", lambda: self.spans(text or "")) if text is not None else []
        return LoadedProject(writing.read_writing(self, Project(image, text or "", spans or [], timeline, history)), self.problems)  # notes, takes, chat

    # -- plumbing ----------------------------------------------------------------------------------

    def part(self, what: str, build: Callable[[], Any]) -> Any:
        """``build()``, or None with a sentence in ``problems`` when it cannot be done."""
        try:
            return build()
        except (BadPart, DamagedMember, StudioError) as exc:
            self.problems.append(f"{_capital(what)} could not be read and was left out: {exc}.")
        except MemoryError:
            self.problems.append(f"{_capital(what)} was left out: it is too large for this computer's memory.")
        except Exception as exc:  # noqa: BLE001 - a damaged part must never stop the others
            log.exception("unexpected failure while reading %s", what)
            self.problems.append(f"{_capital(what)} could not be read and was left out "
                                 f"(an unexpected {type(exc).__name__}; the details are in the log).")
        return None

    def member(self, name: str) -> bytes:
        """The bytes of ``name``, for one part only: a save names each member once, and a
        member named twice (a picture under 24 layers) would be decoded again each time."""
        if name not in self.listed or name not in self.archive:
            raise BadPart(f"{name} is missing from the file")
        if name in self.claimed:
            raise BadPart(f"it names {name}, which another part of the file already uses")
        self.claimed.add(name)
        if self.archive.size(name) != self.listed[name]:
            raise BadPart(f"{name} is damaged (its size is not the one the manifest lists)")
        return self.archive.read(name, limit=member_limit(name))

    def json(self, name: str) -> Any:
        try:
            return parse_json(self.member(name))
        except BadPart as exc:
            raise BadPart(f"{name}: {exc}" if not str(exc).startswith(name) else str(exc)) from None

    def budget(self, size: int, what: str) -> None:
        """Count ``size`` bytes of pixels or samples before they are decoded."""
        if self.decoded + size > project_format.MAX_DECODED_BYTES:
            raise BadPart(f"{what} would take {size / 1024**2:,.0f} MiB more memory than one project may use")
        # Past the memory the machine has, Linux kills the process rather than failing an
        # allocation: refuse plainly instead (the rest of the project still opens).
        if self.room is not None and self.decoded + size > self.room:
            raise BadPart(f"{what} needs {describe_bytes(size)} of memory, and this computer has "
                          f"{describe_bytes(max(self.room - self.decoded, 0))} free")
        self.decoded += size

    # -- the canvas -------------------------------------------------------------------------------

    def canvas(self) -> ImageDocument:
        record = Fields(self.json("canvas.json"), "canvas.json")
        width, height = record.int("width", 1, MAX_SIDE), record.int("height", 1, MAX_SIDE)
        doc = ImageDocument(width, height)  # which checks the size as every canvas's is checked
        doc.kept_latents = read_kept(record.record.get("kept_latents"), self.problems)  # the Explorer's; absent before it
        # Every picture is read and its declared size counted before any is decoded.
        sources = []
        for n, entry in enumerate(record.list("layers")):
            source = self.part(_layer_title(entry, n), lambda e=entry, n=n: self.layer_source(e, n))
            if source is not None:
                sources.append((n, *source))
        planes = {}
        for key, what in (("mask", "the inpainting mask"), ("selection", "the selection")):
            name = record.optional_str(key)
            if name is not None:
                planes[key] = (what, self.part(what, lambda name=name, what=what: self.picture_source(name, "L", what)))
        # Pictures decode on a few threads; each layer still succeeds or fails on its own.
        placed = iter(sources)

        def place(pixels: np.ndarray | BaseException) -> None:
            n, f, _ = next(placed)
            layer = self.part(_layer_title(f.record, n), lambda: self.layer(f, pixels))
            if layer is not None:
                doc.layers.append(layer)

        _in_order(self.layer_pixels, [(f, source) for _, f, source in sources], place)
        what, source = planes.get("mask", ("", None))
        if source is not None:
            doc.mask = self.part(what, lambda: self.canvas_plane(source, doc, "the mask"))
        what, source = planes.get("selection", ("", None))
        if source is not None:
            plane = self.part(what, lambda: self.canvas_plane(source, doc, "the selection"))
            doc.selection = None if plane is None else Selection(plane > 127)
        return doc

    def layer_source(self, entry: Any, n: int) -> tuple[Fields, _Picture | None]:
        """The layer's record and its picture, counted but not decoded (None: no pixels)."""
        f = Fields(entry, f"layer {n + 1}")
        name = f.optional_str("file")
        return f, None if name is None else self.picture_source(name, "RGBA", "its picture")

    def picture_source(self, name: str, mode: str, what: str) -> _Picture:
        """The PNG ``name``, its size read from its header and counted against the budget."""
        data = self.member(name)
        # The size is in the PNG's first chunk: refuse a huge picture before Pillow sees it.
        if data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR" or len(data) < 24:
            raise BadPart(f"{what} is not a readable PNG (it does not start like one)")
        width, height = struct.unpack(">II", data[16:24])
        if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE and width * height <= MAX_PICTURE_PIXELS):
            raise BadPart(f"{what} declares {width} × {height} pixels, past Studio's limits "
                          f"({MAX_SIDE} a side, {MAX_PICTURE_PIXELS // 1_000_000} million in all)")
        self.budget(width * height * len(mode), what)
        return _Picture(data, width, height, mode, what)

    def layer_pixels(self, item: tuple[Fields, _Picture | None]) -> np.ndarray | BaseException:
        """Decoded pixels, or the exception to report (this runs on a codec thread)."""
        f, source = item
        try:
            if source is None:
                width, height = f.int("width", 0, MAX_SIDE), f.int("height", 0, MAX_SIDE)
                if width and height:
                    raise BadPart("it has a size but no picture")
                return np.zeros((height, width, 4), dtype=np.uint8)
            return _decode(source)
        except Exception as exc:  # noqa: BLE001 - raised again by self.part, on the reading thread
            return exc

    def layer(self, f: Fields, pixels: np.ndarray | BaseException) -> Layer:
        if isinstance(pixels, BaseException):
            raise pixels
        layer = Layer(
            f.str("name"), pixels,
            visible=f.bool("visible", default=True),
            opacity=f.float("opacity", 0.0, 1.0, default=1.0),
            generator=f.str("generator", default=""),
            params=f.dict("params", default={}),
            x=f.int("x", default=0), y=f.int("y", default=0),
            locked=f.bool("locked", default=False),
            blend=self.blend_mode(f),
        )
        layer.id = self.ids.object(f.int("id"))
        layer.source = layer_source(f.record, layer.generator)
        return layer

    def blend_mode(self, f: Fields) -> str:
        """The layer's blend mode; one this Studio does not know is shown as Normal, and said."""
        mode = f.record.get("blend", NORMAL)  # absent in projects saved before blend modes
        if isinstance(mode, str) and mode in BLEND_MODES:
            return mode
        self.problems.append(f"{_capital(_layer_title(f.record, 0))} has a blend mode this Studio does not know "
                             f"({str(mode)[:40]!r}); it is shown as Normal.")
        return NORMAL

    def canvas_plane(self, source: _Picture, doc: ImageDocument, what: str) -> np.ndarray:
        plane = _decode(source)
        if plane.shape != (doc.height, doc.width):
            raise BadPart(f"{what} is {plane.shape[1]} × {plane.shape[0]} pixels; the canvas is {doc.width} × {doc.height}")
        return plane

    # -- the text -----------------------------------------------------------------------------------

    def text(self) -> str:
        data = self.member("text.txt")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        try:  # the first Studio kept lone surrogates (surrogatepass): they become U+FFFD
            return well_formed(data.decode("utf-8", "surrogatepass"))
        except UnicodeDecodeError as exc:
            raise BadPart(f"text.txt is not UTF-8 text (byte {exc.start})") from None

    def spans(self, text: str) -> list[Span]:
        record = Fields(self.json("text.json"), "text.json")
        spans = []
        dropped = 0
        # Marks count UTF-16 code units, as the editor (Qt) does: an emoji is two.
        length = len(text.encode("utf-16-le", "surrogatepass")) // 2
        for item in record.list("spans"):
            if (isinstance(item, list) and len(item) == 3 and all(is_int(v) for v in item)
                    and 0 <= item[0] < item[1] <= length):
                spans.append(Span(item[0], item[1], self.ids.ref(item[2])))
            else:
                dropped += 1
        if dropped:
            self.problems.append(f"{dropped} of the marks of generated text did not fit the text and were left out.")
        return sorted(spans, key=lambda s: s.start)

    # -- the timeline -------------------------------------------------------------------------------

    def timeline(self) -> Timeline:
        record = Fields(self.json("timeline.json"), "timeline.json")
        rate = record.int("sample_rate", 1, MAX_SAMPLE_RATE)
        tempo = record.float("tempo", 1e-3, 1e6)
        beats = record.int("beats_per_bar", 1, 1024)
        sources = record.list("audio")
        audio: dict[int, Audio | None] = {}

        def buffer(number: int, clip_name: str) -> Audio:
            if not 0 <= number < len(sources):
                raise BadPart(f"it names audio {number}, which the file does not have")
            if number not in audio:
                audio[number] = None
                audio[number] = self.part(f"audio {number} of the timeline", lambda: self.audio(sources[number], rate))
            found = audio[number]
            if found is None:
                raise BadPart("its audio could not be read")
            return found

        tracks = []
        for n, entry in enumerate(record.list("tracks")):
            track = self.part(f"track {n + 1} of the timeline", lambda e=entry, n=n: self.track(e, n, buffer))
            if track is not None:
                tracks.append(track)
        return Timeline(tuple(tracks), rate, tempo, beats, master_gain_db=self.part("the master fader", lambda: record.float("master_gain_db", -200.0, 24.0, default=0.0)) or 0.0, markers=timeline_marks.read_markers(record, self.part))

    def audio(self, entry: Any, rate: int) -> Audio:
        import soundfile

        f = Fields(entry, "an audio entry")
        name = f.str("file")
        data = self.member(name)
        try:
            with soundfile.SoundFile(io.BytesIO(data)) as sound:
                frames, channels, sample_rate = sound.frames, sound.channels, sound.samplerate
                if sound.format != "WAV":
                    raise BadPart(f"{name} is not a WAV file")
                if channels not in (1, 2):
                    raise BadPart(f"{name} has {channels} channels; Studio's audio has 1 or 2")
                # A sample takes at least a byte: a header claiming more is lying.
                if frames < 0 or frames * channels > len(data):
                    raise BadPart(f"{name} claims {frames:,} frames of {channels} channels in {len(data):,} bytes")
                if sample_rate != rate:
                    raise BadPart(f"{name} is at {sample_rate} Hz; the timeline runs at {rate} Hz")
                self.budget(frames * channels * 4, name)
                samples = sound.read(frames, dtype="float32", always_2d=True)
        except (BadPart, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - libsndfile reports damage in many ways
            raise BadPart(f"{name} is not a readable WAV file ({str(exc)[:120]})") from None
        if samples.shape != (frames, channels):
            raise BadPart(f"{name} is truncated ({samples.shape[0]:,} of {frames:,} frames)")
        samples.flags.writeable = False  # Audio keeps a read-only array as it is: no copy
        return Audio(samples, sample_rate)

    def track(self, entry: Any, n: int, buffer: Callable[[int, str], Audio]) -> Track:
        f = Fields(entry, f"track {n + 1}")
        name = f.str("name")
        clips = []
        for c, clip_entry in enumerate(f.list("clips")):
            clip_name = _short(clip_entry.get("name")) if isinstance(clip_entry, dict) else str(c + 1)
            clip = self.part(f"the clip “{clip_name}” on the track “{_short(name)}”",
                             lambda e=clip_entry, c=c: self.clip(e, c, buffer))
            if clip is not None:
                clips.append(clip)
        clips.sort(key=lambda clip: clip.start)  # stable: the file's order among equals
        return Track(
            name, tuple(clips),
            gain_db=f.float("gain_db", default=0.0), pan=f.float("pan", -1.0, 1.0, default=0.0),
            mute=f.bool("mute", default=False), solo=f.bool("solo", default=False),
            colour=f.int("colour", -1, 1 << 30, default=-1), height=timeline_marks.track_height(f.record), id=self.ids.object(f.int("id")),
        )

    def clip(self, entry: Any, c: int, buffer: Callable[[int, str], Audio]) -> Clip:
        f = Fields(entry, f"clip {c + 1}")
        name = f.str("name")
        audio = buffer(f.int("audio", 0, 1 << 31), name)
        info: dict[str, Any] = dict(f.dict("info", default={}))
        if "score" in f.record:
            info["score"] = _notes(f.list("score"))
        try:
            return Clip(
                name, audio,
                start=f.int("start", 0), offset=f.int("offset", 0), length=f.int("length", 1),
                fade_in=f.int("fade_in", 0, default=0), fade_out=f.int("fade_out", 0, default=0),
                gain_db=f.float("gain_db", default=0.0), generator=f.str("generator", default=""),
                params=f.dict("params", default={}), info=info, id=self.ids.object(f.int("id")),
            )
        except TimelineError as exc:
            raise BadPart(str(exc)) from None

    # -- the history --------------------------------------------------------------------------------

    def history(self) -> list[HistoryEntry]:
        record = Fields(self.json("history.json"), "history.json")
        entries = []
        for n, item in enumerate(record.list("entries")):
            entry = self.part(f"generation {n + 1} of the history", lambda item=item, n=n: self.entry(item, n))
            if entry is not None:
                entries.append(entry)
        return entries

    def entry(self, item: Any, n: int) -> HistoryEntry:
        f = Fields(item, f"history entry {n + 1}")
        target = f.optional_int("target")
        return HistoryEntry(
            kind=f.str("kind"), generator=f.str("generator"), title=f.str("title", default=""),
            params=f.dict("params", default={}), model=f.str("model", default=""),
            target=None if target is None else self.ids.ref(target),
            created=f.float("created", default=0.0), seconds=f.float("seconds", default=0.0),
            id=self.ids.object(f.int("id")), source=passage_from_record(item.get("source"), f.what, self.problems),
        )


@dataclass(frozen=True)
class _Picture:
    """A PNG read from the file and counted against the budget, not decoded yet."""

    data: bytes
    width: int
    height: int
    mode: str  # "RGBA" for a layer, "L" for the mask and the selection
    what: str


def _decode(source: _Picture) -> np.ndarray:
    """The pixels of ``source``, which must decode to the size its header declared."""
    from PIL import Image

    what, width, height, mode = source.what, source.width, source.height, source.mode
    Image.MAX_IMAGE_PIXELS = MAX_PICTURE_PIXELS  # as studio.core.image.document: Pillow's own guard, past ours
    try:
        with Image.open(io.BytesIO(source.data), formats=["PNG"]) as picture:
            if picture.size != (width, height):
                raise BadPart(f"{what} is not a readable PNG (its size is unclear)")
            picture.load()
            if picture.mode != mode:
                picture = picture.convert(mode)
            pixels = np.array(picture, dtype=np.uint8)
    except (BadPart, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow reports damage in many ways
        raise BadPart(f"{what} is not a readable PNG ({type(exc).__name__}: {str(exc)[:120]})") from None
    expected = (height, width, 4) if mode == "RGBA" else (height, width)
    if pixels.shape != expected:
        raise BadPart(f"{what} decoded to the wrong shape {pixels.shape}")
    return pixels


def _notes(items: list[Any]) -> list[Note]:
    notes = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 5):
            raise BadPart("its score holds something that is not a note")
        pitch, start, duration, velocity, voice = item
        if not (is_int(pitch) and is_int(velocity) and is_int(voice)
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, duration))):
            raise BadPart("its score holds a note with wrong values")
        notes.append(Note(pitch, float(start), float(duration), velocity, voice))
    return notes


def _layer_title(entry: Any, n: int) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"the layer “{_short(name)}”" if isinstance(name, str) else f"layer {n + 1} of the canvas"


def _short(name: Any, limit: int = 40) -> str:
    text = " ".join(str(name).split()) if name is not None else "?"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def layer_source(record: dict[str, Any], generator: str) -> str | None:
    """What made a layer's pixels (``studio.core.image.provenance``). A project saved before
    layers kept it, or one naming a source this Studio does not know, gets the cautious
    claim: a generator's layer counts as a trained model's."""
    if "source" in record and (record["source"] is None or record["source"] in SOURCE_TYPES):
        return record["source"]
    return legacy_source(generator)
