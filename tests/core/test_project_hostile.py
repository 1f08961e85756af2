"""Hostile and damaged project files: only Studio's own errors come out, and nothing is written.

Every load here runs under a watch: an audit hook records any attempt of Python code to
write, create, rename or delete a file, start a process or unpickle; and the folders the
file lies in and the temp folder are snapshotted before and after. The loader must leave
both untouched, whatever the file holds.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import stat
import struct
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import PIL.PngImagePlugin  # noqa: F401 - imported before any watch: importing is not what is watched
import soundfile  # noqa: F401
from studio.core.project.format import MAX_TEXT_BYTES, LoadedProject, ProjectError
from studio.core.project.load import load_project, read_project
from studio.core.project.save import save_project
from studio.errors import StudioError
from test_project_samples import members_of, rebuild, sample_project

# -- the watch --------------------------------------------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_FORBIDDEN = {
    "os.remove", "os.rename", "os.replace", "os.mkdir", "os.rmdir", "os.symlink", "os.link", "os.truncate",
    "os.chmod", "os.chown", "os.utime", "shutil.copyfile", "shutil.move", "shutil.rmtree", "shutil.unpack_archive",
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "pickle.find_class", "marshal.loads", "ctypes.dlopen", "tempfile.mkstemp", "tempfile.mkdtemp",
}
_seen: list[tuple[str, tuple]] | None = None  # None: not watching


def _audit(event: str, args: tuple) -> None:
    if _seen is None:
        return
    if event == "open":
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & _WRITE_FLAGS)
        if writing:
            _seen.append((event, (str(path), mode, flags)))
    elif event in _FORBIDDEN:
        _seen.append((event, tuple(str(a)[:80] for a in args)))


sys.addaudithook(_audit)  # hooks cannot be removed; outside a watch this one returns at once


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


@contextlib.contextmanager
def watching(*folders: Path):
    global _seen
    before = [_tree(f) for f in folders]
    _seen = []
    try:
        yield
    finally:
        seen, _seen = _seen, None
    assert seen == [], f"the loader tried to write or run something: {seen}"
    assert [_tree(f) for f in folders] == before, "the loader changed files"


@pytest.fixture(autouse=True)
def private_temp(tmp_path, monkeypatch):
    """An empty temp folder for the test, so a stray temp file would show in its snapshot."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return temp


def load_safely(data: bytes, folder: Path) -> LoadedProject | ProjectError:
    """Load ``data`` from a file in ``folder`` (and from memory); only StudioErrors may come out."""
    path = folder / "hostile.studio"
    path.write_bytes(data)
    with watching(folder, Path(tempfile.gettempdir())):
        try:
            loaded = load_project(path)
        except StudioError as exc:
            assert isinstance(exc, ProjectError), f"a {type(exc).__name__} is not a ProjectError"
            assert str(exc) and "Traceback" not in str(exc)
            outcome: LoadedProject | ProjectError = exc
        else:
            assert isinstance(loaded, LoadedProject)
            assert all(isinstance(p, str) and p for p in loaded.problems)
            outcome = loaded
        try:
            again: object = read_project(data, "hostile.studio")
        except ProjectError as exc:
            again = exc
    assert type(again) is type(outcome)
    return outcome


@functools.cache
def good_archive() -> bytes:
    folder = Path(tempfile.mkdtemp(prefix="studio-good-"))
    path = save_project(sample_project(21, layers=2, side=24, seconds=0.01), folder / "good.studio")
    data = path.read_bytes()
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    return data


def _zip(members: list[tuple[zipfile.ZipInfo | str, bytes]], manifest: bool = True) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info, body in members:
            archive.writestr(info, body)
        if manifest:
            names = {(i.filename if isinstance(i, zipfile.ZipInfo) else i): len(b) for i, b in members}
            archive.writestr("manifest.json", json.dumps({"format": "studio-project", "version": 1, "members": names}))
    return out.getvalue()


# -- fuzzing ------------------------------------------------------------------------------------------

FUZZ = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(FUZZ, max_examples=150)
@given(data=st.binary(max_size=2000) | st.binary(max_size=300).map(lambda b: b"PK\x03\x04" + b))
def test_random_bytes_are_refused_as_a_project_error(tmp_path, data):
    outcome = load_safely(data, tmp_path)
    assert isinstance(outcome, ProjectError)
    assert "is not a Studio project or is damaged" in str(outcome) or "unsafe" in str(outcome)


@settings(FUZZ, max_examples=200)
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=8))
def test_byte_flips_in_a_valid_archive(tmp_path, flips):
    data = bytearray(good_archive())
    for where, mask in flips:
        data[int(where * len(data))] ^= mask
    load_safely(bytes(data), tmp_path)


@settings(FUZZ, max_examples=60)
@given(keep=st.floats(0, 1, exclude_max=True))
def test_a_truncated_archive(tmp_path, keep):
    data = good_archive()
    outcome = load_safely(data[: int(keep * len(data))], tmp_path)
    assert isinstance(outcome, ProjectError)  # the directory is at the end: a cut file has none


@settings(FUZZ, max_examples=150)
@given(victim=st.integers(0, 100), junk=st.binary(max_size=300) | st.sampled_from(
    [b"", b"{}", b"[]", b"null", b"[" * 5000, b'{"layers": 7}', b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WAVE"]),
    update_manifest=st.booleans())
def test_member_contents_replaced_with_junk(tmp_path, victim, junk, update_manifest):
    names = [info.filename for info, _ in members_of(good_archive())]
    name = names[victim % len(names)]
    data = rebuild(good_archive(), change=lambda n, body: junk if n == name else body,
                   manifest=(lambda m: {**m, "members": {**m["members"], name: len(junk)}}) if update_manifest else None)
    if name == "manifest.json":
        data = rebuild(good_archive(), manifest=lambda m: junk)
    outcome = load_safely(data, tmp_path)
    if update_manifest and name != "manifest.json":
        assert isinstance(outcome, LoadedProject)  # one part damaged: the rest opens
        if junk and name != "text.txt":  # any UTF-8 is a text
            assert outcome.problems, f"junk in {name} went unnoticed"


@settings(FUZZ, max_examples=80)
@given(record=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=20),
       part=st.sampled_from(["canvas.json", "timeline.json", "history.json", "text.json"]),
       key=st.sampled_from(["layers", "tracks", "entries", "spans", "width", "sample_rate", "audio", "x"]))
def test_json_parts_with_values_of_the_wrong_shape(tmp_path, record, part, key):
    def change(name, body):
        if name != part:
            return body
        value = json.loads(body)
        value[key] = record
        return json.dumps(value).encode()

    original = {i.filename: b for i, b in members_of(good_archive())}
    size = len(change(part, original[part]))
    data = rebuild(good_archive(), change=change, manifest=lambda m: {**m, "members": {**m["members"], part: size}})
    assert isinstance(load_safely(data, tmp_path), LoadedProject)


# -- hostile archives, one by one ---------------------------------------------------------------------


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _png(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` (its data is a few bytes)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _with_member(name: str, body: bytes) -> bytes:
    return rebuild(good_archive(), change=lambda n, b: body if n == name else b,
                   manifest=lambda m: {**m, "members": {**m["members"], name: len(body)}})


def _wav_claiming(frames: int, channels: int = 2) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, [[0.0] * channels] * 4, 48_000, format="WAV", subtype="FLOAT")
    data = bytearray(buffer.getvalue())
    where = data.find(b"data")
    data[where + 4: where + 8] = struct.pack("<I", min(frames * channels * 4, 0xFFFFFFF0))
    return bytes(data)


def _bomb() -> bytes:
    """Honest deflate of zeros (about 230:1 at level 1) past what a project's text may hold.

    A saved project's text deflates as well (a pasted log): the ratio alone is no bomb."""
    out = io.BytesIO(rebuild(good_archive(), change=lambda n, b: None if n == "text.txt" else b))
    with zipfile.ZipFile(out, "a", compresslevel=1) as archive:
        info = zipfile.ZipInfo("text.txt")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            zeros = bytes(16 * 1024**2)
            for _ in range(MAX_TEXT_BYTES // len(zeros) + 1):
                member.write(zeros)
    return out.getvalue()


def _claims_past_deflate() -> bytes:
    """A member whose directory claims 1 GiB from 1 KB: more than deflate can ever hold."""
    data = bytearray(_with_member("canvas.json", b"{}" + b" " * 100_000))
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack("<H", data[central + 28: central + 30])[0]
        if data[central + 46: central + 46 + name_length] == b"canvas.json":
            data[central + 24: central + 28] = struct.pack("<I", 1024**3)
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


def _duplicate() -> bytes:
    with pytest.warns(UserWarning, match="Duplicate name"):
        return rebuild(good_archive(), extra=[("canvas.json", b"{}")])


def _many_members() -> bytes:
    return _zip([(f"m{n}", b"") for n in range(10_001)])


def _with_info(name: str, **fields) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info, body in members_of(good_archive()):
            if info.filename == name:
                for key, value in fields.items():
                    setattr(info, key, value)
            archive.writestr(info, body)
    return out.getvalue()


def _encrypted(name: str) -> bytes:
    """The archive with ``name`` flagged encrypted, in its local header and in the directory."""
    data = bytearray(good_archive())
    for signature, flags_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        where = data.find(signature)
        while where >= 0:
            if data[where + name_at: where + name_at + len(name)] == name.encode():
                data[where + flags_at] |= 0x1
            where = data.find(signature, where + 4)
    return bytes(data)


UNSAFE = {
    "parent folder": lambda: _zip([("../x", b"x")]),
    "absolute path": lambda: _zip([("/etc/x", b"x")]),
    "backslashes": lambda: _zip([("a\\..\\b", b"x")]),
    "drive letter": lambda: _zip([("C:/x", b"x")]),
    "dot-dot inside": lambda: _zip([("canvas/../../x", b"x")]),
    "symlink member": lambda: rebuild(good_archive(), extra=[(_symlink("canvas/link.png"), b"/etc/passwd")]),
    "deflate bomb": _bomb,
    "claims past deflate": _claims_past_deflate,
    "duplicate name": _duplicate,
}


@pytest.mark.parametrize("case", UNSAFE, ids=list(UNSAFE))
def test_unsafe_archives_are_refused_whole(tmp_path, case):
    outcome = load_safely(UNSAFE[case](), tmp_path)
    assert isinstance(outcome, ProjectError) and "hostile.studio is unsafe to open" in str(outcome), outcome


REFUSED = {
    "too many members": (_many_members, "at most 10,000"),
    "missing manifest": (lambda: _zip([("canvas.json", b"{}")], manifest=False), "no manifest.json"),
    "manifest is a list": (lambda: rebuild(good_archive(), manifest=lambda m: [m]), "not a JSON object"),
    "manifest not UTF-8": (lambda: rebuild(good_archive(), manifest=lambda m: b"\xff\xfe{}"), "not UTF-8"),
    "manifest nested deeply": (lambda: rebuild(good_archive(), manifest=lambda m: b"[" * 100_000), "nested too deeply"),
    "version 99": (lambda: rebuild(good_archive(), manifest=lambda m: {**m, "version": 99}), "newer Studio (format 99)"),
    "version true": (lambda: rebuild(good_archive(), manifest=lambda m: {**m, "version": True}), "format version"),
    "another format": (lambda: rebuild(good_archive(), manifest=lambda m: {**m, "format": "docx"}), "names the format"),
    "encrypted member": (lambda: _encrypted("canvas.json"), "encrypted"),
    "lzma member": (lambda: _with_info("text.txt", compress_type=zipfile.ZIP_LZMA), "compression method"),
    "empty file": (lambda: b"", "is not a Studio project or is damaged"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_unusable_archives_are_refused_with_a_reason(tmp_path, case):
    build, words = REFUSED[case]
    outcome = load_safely(build(), tmp_path)
    assert isinstance(outcome, ProjectError) and words in str(outcome), outcome


PARTIAL = {
    "huge declared PNG": ("canvas/0.png", _png(100_000, 100_000), "declares 100000 × 100000 pixels, past Studio's limits"),
    "too many pixels in all": ("canvas/0.png", _png(16_000, 16_800), "declares 16000 × 16800 pixels"),
    "a JPEG where a PNG goes": ("canvas/0.png", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "is not a readable PNG"),
    # libsndfile counts the frames the file really holds (4): the clips past them go.
    "absurd WAV frames": ("audio/0.wav", _wav_claiming(10**9), "must lie inside its 4 frames of audio"),
    "eight-channel WAV": ("audio/0.wav", _wav_claiming(4, channels=8), "channels"),
    "a mask of the wrong size": ("canvas/mask.png", _png(3, 3), "mask"),
    "text not UTF-8": ("text.txt", b"caf\xe9", "text.txt is not UTF-8 text"),
    "canvas nested deeply": ("canvas.json", b"[" * 100_000, "nested too deeply"),
    "canvas of huge size": ("canvas.json", b'{"width": 99999999, "height": 1, "layers": []}', "width"),
    "a huge integer": ("history.json", b'{"entries": [' + b"9" * 5000 + b"]}", "not valid JSON"),
    "clip outside its audio": ("timeline.json", None, "must lie inside"),
}


def _timeline_with_a_bad_clip() -> bytes:
    body = json.loads({i.filename: b for i, b in members_of(good_archive())}["timeline.json"])
    body["tracks"][0]["clips"][0]["offset"] = 10**9
    return json.dumps(body).encode()


@pytest.mark.parametrize("case", PARTIAL, ids=list(PARTIAL))
def test_a_damaged_part_is_left_out_and_named(tmp_path, case):
    name, body, words = PARTIAL[case]
    body = _timeline_with_a_bad_clip() if body is None else body
    outcome = load_safely(_with_member(name, body), tmp_path)
    assert isinstance(outcome, LoadedProject), outcome
    assert any(words in problem for problem in outcome.problems), outcome.problems


def test_the_watch_itself_sees_a_write(tmp_path):
    with pytest.raises(AssertionError, match="tried to write"):
        with watching(tmp_path):
            (tmp_path / "x").write_bytes(b"x")
