"""Sample projects, content comparison and archive surgery shared by the tests/core/test_project*.py files.

``sample_project(seed)`` builds a project that uses every part of the format (layers with
transparent-but-coloured pixels, an empty layer, mask, selection, awkward text, spans, two
tracks whose clips share a buffer, a MIDI score, history entries pointing at all of it),
deterministically from its seed. ``content(project)`` is what must survive a save and a
load: everything but the ids, whose references are replaced by the position of what they
point at. The tests below check that the samples are what the other files rely on.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any, Callable

import numpy as np

from studio.core.project.history import HistoryEntry
from studio.core.image.document import ImageDocument, Layer
from studio.core.audio.midi import Note
from studio.core.project.format import Project
from studio.core.image.selection import Selection
from studio.core.text.document import Span
from studio.core.media.sound import Audio
from studio.core.audio.timeline import Clip, Timeline, Track

TEXT = "Première ligne\r\nzweite Zeile\rthird\x00line — 日本語 🎼\n"


def random_layer_pixels(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Random RGBA where a third of the pixels are fully transparent yet keep their colour."""
    pixels = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    pixels[..., 3][rng.random((height, width)) < 0.33] = 0
    return pixels


def sample_project(seed: int, layers: int = 2, side: int = 64, seconds: float = 0.25, rate: int = 48_000) -> Project:
    rng = np.random.default_rng(seed)
    doc = ImageDocument(side, side)
    for n in range(layers):
        doc.layers.append(Layer(f"layer {n} ✎ {seed}", random_layer_pixels(rng, side, side), opacity=0.5 + n / (2 * layers),
                                generator="cppn", params={"seed": seed + n, "prompt": f"café {n}"}, x=n * 3, y=-n,
                                locked=bool(n % 2), visible=n != 1))
    doc.layers.append(Layer("empty", np.zeros((0, side, 4), dtype=np.uint8)))
    doc.mask = rng.integers(0, 256, (side, side), dtype=np.uint8)
    doc.selection = Selection(rng.random((side, side)) < 0.5)

    frames = max(4, int(seconds * rate))
    stereo = Audio(rng.standard_normal((frames, 2)).astype(np.float32), rate)
    mono = Audio(rng.standard_normal((frames // 2, 1)).astype(np.float32), rate)
    timeline = Timeline(sample_rate=rate, tempo=96.5).add_track(Track("drums")).add_track(Track("voice", pan=-0.25, mute=True))
    drums, voice = (t.id for t in timeline.tracks)
    score = [Note(60 + k, k * 0.5, 0.5, 80 + k, k % 2) for k in range(5)]
    timeline = timeline.add_clip(drums, Clip("loop", stereo, start=100, fade_in=10, gain_db=-3.0, generator="musicgen",
                                             params={"seed": seed}, info={"score": score, "tokens": 12}))
    timeline, left, right = timeline.split_clip(timeline.tracks[0].clips[0].id, 100 + frames // 3)
    timeline = timeline.add_clip(voice, Clip("hum", mono, start=7, offset=1, length=frames // 2 - 2, fade_out=3))
    job = 10_000_000 + seed  # a text job id that nothing else uses
    spans = [Span(0, 8, job), Span(20, 25, job)]
    history = [
        HistoryEntry("image", "cppn", "CPPN", {"seed": seed, "prompt": "café 0"}, target=doc.layers[0].id, created=1.5e9),
        HistoryEntry("text", "text-lm", "Shakespeare", {"seed": 2, "prompt": "To be"}, target=job, created=1.6e9, seconds=0.25),
        HistoryEntry("audio", "chorale", "Chorale", {"seed": 3}, model="/models/x", target=right.id, created=1.7e9),
        HistoryEntry("image", "cppn", "CPPN", {"seed": 4}, target=987_654_321, created=1.8e9),  # its layer was deleted
        HistoryEntry("image", "cppn", "CPPN", {"seed": 5}, target=None, created=1.9e9),
    ]
    return Project(doc, TEXT + str(seed), spans, timeline, history)


# -- what must survive ------------------------------------------------------------------------------


def content(project: Project, digest: bool = True) -> dict[str, Any]:
    """Everything a project holds, comparable with ==, ids replaced by what they point at.

    Arrays are compared by a SHA-256 of their bytes, or by the bytes themselves (``digest=False``:
    faster for large ones).
    """
    def _array(a: np.ndarray) -> tuple:
        return _array_key(a, digest)

    names: dict[int, str] = {}
    dangling: list[int] = []

    def ref(old: int | None) -> str | None:
        if old is None:
            return None
        if old not in names:
            names[old] = f"dangling {len(dangling)}"
            dangling.append(old)
        return names[old]

    doc = project.image
    for n, layer in enumerate(doc.layers):
        names[layer.id] = f"layer {n}"
    for t, track in enumerate(project.timeline.tracks):
        names[track.id] = f"track {t}"
        for c, clip in enumerate(track.clips):
            names[clip.id] = f"clip {t}.{c}"
    for h, entry in enumerate(project.history):
        names[entry.id] = f"entry {h}"
    buffers: dict[int, int] = {}
    return {
        "canvas": (doc.width, doc.height),
        "layers": [(layer.name, _array(layer.pixels), layer.visible, layer.opacity, layer.generator, dict(layer.params),
                    layer.x, layer.y, layer.locked, layer.blend) for layer in doc.layers],
        "mask": None if doc.mask is None else _array(doc.mask),
        "selection": None if doc.selection is None else _array(doc.selection.mask),
        "text": project.text,
        "spans": [(s.start, s.end, ref(s.job)) for s in project.text_spans],
        "timeline": (project.timeline.sample_rate, project.timeline.tempo, project.timeline.beats_per_bar),
        "tracks": [
            (track.name, track.gain_db, track.pan, track.mute, track.solo, track.colour,
             [(clip.name, buffers.setdefault(id(clip.audio), len(buffers)), _array(clip.audio.samples),
               clip.audio.sample_rate, clip.start, clip.offset, clip.length, clip.fade_in, clip.fade_out, clip.gain_db,
               clip.generator, dict(clip.params), _info(clip.info)) for clip in track.clips])
            for track in project.timeline.tracks
        ],
        "history": [(e.kind, e.generator, e.title, dict(e.params), e.model, ref(e.target), e.created, e.seconds)
                    for e in project.history],
    }


def fingerprint(project: Project) -> str:
    return hashlib.sha256(repr(content(project)).encode("utf-8", "surrogatepass")).hexdigest()


def _array_key(a: np.ndarray, digest: bool) -> tuple:
    """Bitwise: dtype, shape and the raw bytes (NaN payloads and -0.0 included)."""
    raw = np.ascontiguousarray(a).tobytes()
    return (a.dtype.str, a.shape, hashlib.sha256(raw).hexdigest() if digest else raw)


def _info(info: Any) -> Any:
    plain = dict(info)
    if "score" in plain:
        plain["score"] = [tuple(vars(n).values()) if isinstance(n, Note) else n for n in plain["score"]]
        plain["score types"] = [type(n).__name__ for n in info["score"]]
    return plain


# -- archive surgery -----------------------------------------------------------------------------------


def members_of(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info, archive.read(info)) for info in archive.infolist()]


def rebuild(data: bytes, change: Callable[[str, bytes], bytes | None] = lambda name, body: body,
            manifest: Callable[[dict], Any] | None = None, extra: list[tuple[zipfile.ZipInfo | str, bytes]] = ()) -> bytes:
    """A copy of the archive ``data`` with members changed (``change`` returns None to drop one)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info, body in members_of(data):
            if info.filename == "manifest.json" and manifest is not None:
                new = manifest(json.loads(body))
                body = new if isinstance(new, bytes) else json.dumps(new).encode()
            else:
                body = change(info.filename, body)
            if body is not None:
                archive.writestr(info, body)
        for info, body in extra:
            archive.writestr(info, body)
    return out.getvalue()


# -- the samples themselves ------------------------------------------------------------------------------


def test_samples_are_deterministic_and_distinct():
    assert fingerprint(sample_project(1)) == fingerprint(sample_project(1))
    assert fingerprint(sample_project(1)) != fingerprint(sample_project(2))


def test_a_sample_uses_every_part_of_the_format():
    project = sample_project(3)
    clips = project.timeline.clips
    assert clips[0].audio is clips[1].audio  # a split clip shares its buffer
    assert isinstance(clips[0].info["score"][0], Note)
    assert (project.image.layers[0].pixels[..., 3] == 0).any()
    assert {"\r\n", "\r", "\x00"} <= {c for c in ("\r\n", "\r", "\x00") if c in project.text}
    assert [e.target for e in project.history][:3] == [project.image.layers[0].id, project.text_spans[0].job, clips[1].id]


def test_content_tells_a_changed_pixel_and_a_moved_reference():
    a, b = sample_project(4), sample_project(4)
    b.image.layers[0].pixels[0, 0, 0] ^= 1
    assert content(a) != content(b)
    c = sample_project(4)
    c.history[0].target = c.image.layers[1].id
    assert content(a) != content(c)
