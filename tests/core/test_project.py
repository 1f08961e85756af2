"""The project file: what is saved comes back, ids are fresh and their references follow.

Round trips go through real files on disk; the random documents come from hypothesis.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core.project.history import HistoryEntry
from studio.core.base.ids import new_id
from studio.core.image.blend import BLEND_MODES
from studio.core.image.document import ImageDocument, Layer
from studio.core.audio.midi import Note
from studio.core.project.format import FORMAT_VERSION, LoadedProject, Project, ProjectError, backup_path
from studio.core.project.load import load_project, read_project
from studio.core.project.save import save_project
from studio.core.image.selection import Selection
from studio.core.text.document import Span
from studio.core.media.sound import Audio
from studio.core.audio.timeline import Clip, Timeline, Track
from studio.errors import StudioError
from test_project_samples import content, rebuild, sample_project

# -- random documents ------------------------------------------------------------------------------

names = st.text(max_size=12)  # any code point, lone surrogates included: names go through JSON
plain_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=8)
)
params = st.dictionaries(st.text(max_size=6), st.one_of(plain_scalars, st.lists(st.integers() | st.text(max_size=4), max_size=3)),
                         max_size=4)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60) | st.sampled_from(["\r\n", "\r", "\x00", "a\r\n\rb\n"])


@st.composite
def layers(draw, canvas):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    width, height = draw(st.integers(0, 12)), draw(st.integers(1, 12))
    pixels = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    pixels[..., 3][rng.random((height, width)) < 0.4] = 0  # transparent, colour kept: straight alpha
    return Layer(draw(names), pixels, visible=draw(st.booleans()), opacity=draw(st.floats(0, 1)),
                 generator=draw(st.text(max_size=8)), params=draw(params), x=draw(st.integers(-10**6, 10**6)),
                 y=draw(st.integers(-10**6, 10**6)), locked=draw(st.booleans()), blend=draw(st.sampled_from(list(BLEND_MODES))))


@st.composite
def documents(draw):
    width, height = draw(st.integers(1, 16)), draw(st.integers(1, 16))
    doc = ImageDocument(width, height)
    doc.layers = draw(st.lists(layers(doc), max_size=3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        doc.mask = rng.integers(0, 256, (height, width), dtype=np.uint8)
    if draw(st.booleans()):
        doc.selection = Selection(rng.random((height, width)) < 0.5)
    return doc


@st.composite
def timelines(draw):
    rate = draw(st.sampled_from([8000, 44_100, 48_000]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    buffers = []
    for _ in range(draw(st.integers(1, 3))):
        frames, channels = draw(st.integers(1, 300)), draw(st.sampled_from([1, 2]))
        # Any 32-bit pattern: NaN payloads, infinities, -0.0 and denormals must come back bit for bit.
        bits = rng.integers(0, 2**32, (frames, channels), dtype=np.uint64).astype(np.uint32)
        buffers.append(Audio(bits.view(np.float32), rate))
    timeline = Timeline(sample_rate=rate, tempo=draw(st.floats(1, 400)), beats_per_bar=draw(st.integers(1, 12)))
    for _ in range(draw(st.integers(0, 3))):
        timeline = timeline.add_track(Track(draw(names), gain_db=draw(st.floats(-60, 12)), pan=draw(st.floats(-1, 1)),
                                            mute=draw(st.booleans()), solo=draw(st.booleans())))
        track = timeline.tracks[-1].id
        for _ in range(draw(st.integers(0, 3))):
            audio = draw(st.sampled_from(buffers))
            offset = draw(st.integers(0, audio.frames - 1))
            length = draw(st.integers(1, audio.frames - offset))
            info = draw(st.dictionaries(st.text(max_size=5).filter(lambda k: k != "score"), plain_scalars, max_size=2))
            if draw(st.booleans()):
                info["score"] = [Note(draw(st.integers(0, 127)), draw(st.floats(0, 64)), draw(st.floats(0, 8)),
                                      draw(st.integers(1, 127)), draw(st.integers(0, 3))) for _ in range(draw(st.integers(0, 3)))]
            clip = Clip(draw(names), audio, start=draw(st.integers(0, 10**7)), offset=offset, length=length,
                        fade_in=draw(st.integers(0, length)), fade_out=draw(st.integers(0, length)),
                        gain_db=draw(st.floats(-60, 12)), generator=draw(st.text(max_size=6)), params=draw(params), info=info)
            timeline = timeline.add_clip(track, clip)
            if draw(st.booleans()):  # a split shares the buffer between the halves
                clip = timeline.clip(clip.id)
                if clip.length > 1:
                    timeline, _, _ = timeline.split_clip(clip.id, clip.start + clip.length // 2)
    return timeline


@st.composite
def projects(draw):
    doc = draw(documents())
    timeline = draw(timelines())
    text = draw(texts)
    jobs = [new_id() for _ in range(2)]
    spans = []
    position = 0
    while position < len(text) and draw(st.booleans()):
        start = draw(st.integers(position, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        spans.append(Span(start, end, draw(st.sampled_from(jobs))))
        position = end
    targets = [layer.id for layer in doc.layers] + [clip.id for clip in timeline.clips] + jobs + [new_id(), None]
    history = [HistoryEntry(draw(st.sampled_from(["image", "text", "audio"])), draw(st.text(max_size=8)),
                            draw(names), draw(params), draw(st.text(max_size=8)), draw(st.sampled_from(targets)),
                            created=draw(st.floats(0, 2e9)), seconds=draw(st.floats(0, 1e4)))
               for _ in range(draw(st.integers(0, 4)))]
    return Project(doc, text, spans, timeline, history)


def _ids(project: Project) -> list[int]:
    return ([layer.id for layer in project.image.layers] + [t.id for t in project.timeline.tracks]
            + [c.id for c in project.timeline.clips] + [e.id for e in project.history])


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(project=projects())
def test_a_random_project_comes_back_equal(project, tmp_path_factory):
    path = tmp_path_factory.mktemp("roundtrip") / "random.studio"
    save_project(project, path)
    loaded = load_project(path)
    assert loaded.problems == []
    back = loaded.project
    assert content(back) == content(project)
    # Fresh ids, none shared with what was saved, none shared between objects.
    assert not set(_ids(back)) & set(_ids(project))
    assert len(set(_ids(back))) == len(_ids(back))
    # Clips that shared a buffer still share one (and only those).
    before = [[id(c.audio) == id(d.audio) for d in project.timeline.clips] for c in project.timeline.clips]
    after = [[id(c.audio) == id(d.audio) for d in back.timeline.clips] for c in back.timeline.clips]
    assert after == before
    for layer in back.image.layers:
        assert layer.pixels.flags.writeable and layer.pixels.dtype == np.uint8  # paintable as loaded


# -- the plain case, checked field by field -----------------------------------------------------------


def test_the_sample_project_round_trips_with_references_remapped(tmp_path):
    project = sample_project(7)
    path = save_project(project, tmp_path / "p.studio")
    back = load_project(path).project
    assert content(back) == content(project)
    assert back.history[0].target == back.image.layers[0].id != project.image.layers[0].id
    assert back.history[1].target == back.text_spans[0].job == back.text_spans[1].job
    assert back.history[2].target == back.timeline.clips[1].id
    dangling = back.history[3].target
    assert dangling is not None and dangling not in _ids(back) + [s.job for s in back.text_spans]
    assert back.history[4].target is None
    assert back.timeline.clips[0].audio is back.timeline.clips[1].audio
    assert back.timeline.clips[0].info["score"] == project.timeline.clips[0].info["score"]
    assert not back.timeline.clips[0].audio.samples.flags.writeable


def test_the_archive_is_laid_out_as_documented(tmp_path):
    path = save_project(sample_project(1), tmp_path / "p.studio")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        manifest = json.loads(archive.read("manifest.json"))
    assert infos[-1].filename == "manifest.json"  # written last
    assert manifest["format"] == "studio-project" and manifest["version"] == FORMAT_VERSION
    assert manifest["app"].startswith("Studio ")
    assert manifest["members"] == {i.filename: i.file_size for i in infos[:-1]}
    kinds = {i.filename: i.compress_type for i in infos}
    assert kinds["canvas/0.png"] == kinds["audio/0.wav"] == zipfile.ZIP_STORED
    assert kinds["canvas.json"] == kinds["text.txt"] == kinds["history.json"] == zipfile.ZIP_DEFLATED
    assert sorted(n for n in kinds if n.startswith("audio/")) == ["audio/0.wav", "audio/1.wav"]  # shared buffer once
    assert {"canvas/mask.png", "canvas/selection.png", "text.json", "timeline.json"} <= set(kinds)


def test_odd_values_in_params_and_info_are_described_not_fatal(tmp_path):
    audio = Audio(np.zeros((10, 1), np.float32), 48_000)
    timeline = Timeline().add_track(Track("t"))
    picture = np.zeros((32, 32, 3), np.uint8)
    clip = Clip("c", audio, info={"array": picture, "object": object(), "nested": {"a": (1, 2), 3: np.int64(4)},
                                  "score": "not notes"}, params={"image": picture, "n": np.float32(0.5)})
    timeline = timeline.add_clip(timeline.tracks[0].id, clip)
    doc = ImageDocument(4, 4)
    doc.layers.append(Layer("l", np.zeros((4, 4, 4), np.uint8), params={"mask": picture, "set": {1, 2}}))
    back = load_project(save_project(Project(doc, timeline=timeline), tmp_path / "odd.studio")).project
    info = back.timeline.clips[0].info
    assert info["array"] == "<image 32x32>" and info["object"].startswith("<object object")
    assert info["nested"] == {"a": [1, 2], "3": 4} and info["score"] == "not notes"
    assert back.timeline.clips[0].params == {"image": "<image 32x32>", "n": 0.5}
    assert back.image.layers[0].params["mask"] == "<image 32x32>"


def test_an_empty_project_round_trips(tmp_path):
    back = load_project(save_project(Project(), tmp_path / "empty.studio"))
    assert back.problems == [] and back.complete
    assert (back.project.image.width, back.project.image.height) == (512, 512)
    assert back.project.text == "" and back.project.timeline.tracks == () and back.project.history == []


def test_read_project_reads_the_same_bytes_from_memory(tmp_path):
    path = save_project(sample_project(2), tmp_path / "p.studio")
    assert content(read_project(path.read_bytes(), "p.studio").project) == content(load_project(path).project)


def test_a_frozen_copy_is_independent_of_later_edits(tmp_path):
    project = sample_project(5)
    frozen = project.frozen_copy()
    before = content(frozen)
    project.image.layers[0].pixels[:] = 0
    project.image.mask[:] = 0
    project.text_spans[0].start = 3
    project.history[0].params["seed"] = -1
    project.image.layers.pop()
    assert content(frozen) == before
    assert frozen.timeline is project.timeline  # immutable: shared, not copied
    assert [layer.id for layer in frozen.image.layers][:2] == [layer.id for layer in project.image.layers][:2]
    assert content(load_project(save_project(frozen, tmp_path / "f.studio")).project) == before


# -- saving: backup, mode, leftovers --------------------------------------------------------------------


def test_a_second_save_keeps_the_first_as_backup(tmp_path):
    path = tmp_path / "p.studio"
    save_project(sample_project(1), path)
    first = path.read_bytes()
    save_project(sample_project(2), path)
    assert backup_path(path) == tmp_path / "p.studio.bak"
    assert backup_path(path).read_bytes() == first
    assert content(load_project(path).project) == content(sample_project(2))
    save_project(sample_project(3), path, backup=False)
    assert backup_path(path).read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.studio", "p.studio.bak"]  # no temp left behind


def test_saving_keeps_the_file_mode_and_gives_a_new_file_the_umask_mode(tmp_path):
    path = tmp_path / "p.studio"
    save_project(Project(), path)
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    os.chmod(path, 0o640)
    save_project(Project(), path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_save_removes_temp_files_left_by_a_killed_save_but_not_other_files(tmp_path):
    path = tmp_path / "p.studio"
    dead = tmp_path / ".p.studio.999999999.abcd1234.saving"  # no such process
    dead.write_bytes(b"half a project")
    own_stale = tmp_path / f".p.studio.{os.getpid()}.00000000.saving"  # this process, no save running
    own_stale.write_bytes(b"x")
    alive = tmp_path / ".p.studio.1.abcd1234.saving"  # pid 1 runs: another process is saving
    alive.write_bytes(b"x")
    other = tmp_path / ".q.studio.999999999.abcd1234.saving"  # another project's
    other.write_bytes(b"x")
    save_project(Project(), path)
    assert not dead.exists() and not own_stale.exists()
    assert alive.exists() and other.exists()


def test_saving_through_a_symlink_writes_the_file_it_points_at(tmp_path):
    real = tmp_path / "real.studio"
    link = tmp_path / "link.studio"
    link.symlink_to(real)
    save_project(sample_project(1), link)
    assert link.is_symlink() and real.is_file()


# -- clear messages: newer format, missing manifest, missing members -------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("saved") / "good.studio"
    save_project(sample_project(11), path)
    return path.read_bytes()


def _load_bytes(tmp_path, data: bytes, name: str = "p.studio") -> LoadedProject:
    path = tmp_path / name
    path.write_bytes(data)
    return load_project(path)


def test_a_newer_format_version_asks_to_update_studio(tmp_path, saved):
    data = rebuild(saved, manifest=lambda m: {**m, "version": 99})
    with pytest.raises(ProjectError) as caught:
        _load_bytes(tmp_path, data, "future.studio")
    message = str(caught.value)
    assert "future.studio was made by a newer Studio (format 99)" in message
    assert "this Studio reads format 1" in message and "update Studio" in message


def test_a_missing_manifest_says_it_is_not_a_studio_project(tmp_path, saved):
    data = rebuild(saved, change=lambda name, body: None if name == "manifest.json" else body)
    with pytest.raises(ProjectError, match=r"nomanifest\.studio is not a Studio project or is damaged \(it has no manifest\.json"):
        _load_bytes(tmp_path, data, "nomanifest.studio")


@pytest.mark.parametrize(
    "manifest, words",
    [
        (b"[1, 2]", "not a JSON object"),
        (b"{not json", "not valid JSON"),
        (b'{"format": "zip", "version": 1, "members": {}}', "names the format 'zip'"),
        (b'{"format": "studio-project", "version": "1", "members": {}}', "format version"),
        (b'{"format": "studio-project", "version": 1, "members": []}', "member list"),
        (b'{"format": "studio-project", "version": 1, "members": {"a": -1}}', "member list"),
    ],
)
def test_a_malformed_manifest_is_refused_with_what_is_wrong(tmp_path, saved, manifest, words):
    data = rebuild(saved, manifest=lambda m: manifest)
    with pytest.raises(ProjectError) as caught:
        _load_bytes(tmp_path, data)
    assert "is not a Studio project or is damaged" in str(caught.value) and words in str(caught.value)


def test_a_missing_layer_opens_the_rest_and_names_what_is_missing(tmp_path, saved):
    data = rebuild(saved, change=lambda name, body: None if name == "canvas/1.png" else body)
    loaded = _load_bytes(tmp_path, data)
    assert len(loaded.problems) == 1
    assert "layer “layer 1 ✎ 11”" in loaded.problems[0] and "canvas/1.png is missing from the file" in loaded.problems[0]
    whole = content(sample_project(11))
    got = content(loaded.project)
    assert [layer[0] for layer in got["layers"]] == ["layer 0 ✎ 11", "empty"]
    for part in ("text", "spans", "tracks", "history", "mask", "selection"):
        assert got[part] == whole[part], part


def test_damaged_parts_are_each_left_out_and_listed(tmp_path, saved):
    junk = {"audio/0.wav": b"RIFF junk", "text.json": b"{", "history.json": b'{"entries": [1, {"kind": 2}]}',
            "canvas/mask.png": b"\x89PNG\r\n\x1a\n broken"}

    def damage(name, body):
        return junk.get(name, body)

    data = rebuild(saved, change=damage, manifest=lambda m: {**m, "members": {**m["members"], **{n: len(b) for n, b in junk.items()}}})
    loaded = _load_bytes(tmp_path, data)
    problems = "\n".join(loaded.problems)
    assert "the clip “loop” on the track “drums”" in problems.lower() or "The clip “loop” on the track “drums”" in problems
    assert "audio/0.wav is not a readable WAV file" in problems
    assert "text.json" in problems and "The mask" not in problems and "inpainting mask" in problems
    assert "Generation 1 of the history" in problems and "Generation 2 of the history" in problems
    project = loaded.project
    assert [c.name for c in project.timeline.clips] == ["hum"]  # the clips on the broken buffer went
    assert project.text == sample_project(11).text and project.text_spans == []
    assert len(project.history) == 0 and project.image.mask is None and len(project.image.layers) == 3


def test_a_member_whose_size_differs_from_the_manifest_is_left_out(tmp_path, saved):
    data = rebuild(saved, change=lambda name, body: body + b" " if name == "text.txt" else body)
    loaded = _load_bytes(tmp_path, data)
    assert any("text.txt is damaged (its size is not the one the manifest lists)" in p for p in loaded.problems)
    assert loaded.project.text == "" and loaded.project.text_spans == []


def test_a_missing_file_and_a_folder_are_refused_plainly(tmp_path):
    with pytest.raises(ProjectError, match="there is no such file"):
        load_project(tmp_path / "nope.studio")
    with pytest.raises(ProjectError, match="it is a folder"):
        load_project(tmp_path)
    assert issubclass(ProjectError, StudioError)


def test_marks_of_generated_text_count_utf16_units_as_the_editor_does(tmp_path):
    """Qt counts an emoji as two positions; a mark ending after one must survive the trip."""
    text = "Rain 🌧 on the roof 🎶"
    units = len(text.encode("utf-16-le")) // 2
    assert units == len(text) + 2
    path = save_project(Project(text=text, text_spans=[Span(5, units, 7)]), tmp_path / "p.studio")
    loaded = load_project(path)
    assert loaded.problems == []
    (span,) = loaded.project.text_spans
    assert (span.start, span.end) == (5, units)


def test_a_reader_that_stops_early_leaves_no_codec_threads_behind():
    """The codec pool ends inside the call even when its consumer raises: a pool left for
    the garbage collector to close (on whatever thread it runs) deadlocked thread start-up."""
    import threading

    from studio.core.project.format import _in_order

    seen = []

    def consume(value):
        seen.append(value)
        if len(seen) == 2:
            raise OSError("disk full")

    with pytest.raises(OSError):
        _in_order(lambda x: x * x, list(range(20)), consume)
    assert seen == [0, 1]
    assert not [t for t in threading.enumerate() if t.name.startswith("studio-codec")]
