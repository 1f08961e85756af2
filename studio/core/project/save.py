"""Writing a project file: ``save_project`` (atomic) and ``write_archive`` (the format).

The format is described in ``studio.core.project.format``; this module turns a ``Project`` into it
and gets it onto the disk without ever leaving a half-written file in the target's place.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import io
import json
import logging
import os
import secrets
import stat
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np

from studio.core.audio.midi import Note
from studio.core.audio.timeline import Clip, Timeline
from studio.core.base.processes import process_alive
from studio.core.image.document import ImageDocument
from studio.core.image.kept_latents import kept_records
from studio.core.image.provenance import SOURCE_TYPES
from studio.core.media.sound import Audio
from studio.core.media.text import well_formed
from studio.core.project.archive import MAX_TOTAL_BYTES
from studio.core.project.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    MAX_DECODED_BYTES,
    PNG_COMPRESS_LEVEL,
    SUFFIX,
    Project,
    _in_order,
    backup_path,
    member_limit,
)
from studio.core.project.history import HistoryEntry, plain_data, plain_params
from studio.core.project import timeline_marks, writing
from studio.errors import OutputError

__all__ = ["save_project", "write_archive"]

log = logging.getLogger(__name__)

_TEMP_SUFFIX = ".saving"


# -- saving ------------------------------------------------------------------------------------------

# Temp files of saves running in this process right now: the leftover sweep must spare them.
_active_temps: set[str] = set()
_active_lock = threading.Lock()


def save_project(project: Project, path: str | os.PathLike[str], *, backup: bool = True) -> Path:
    """Write ``project`` to ``path`` atomically and return the path written.

    The previous file, if any, is kept as ``backup_path(path)`` (when ``backup``). A save
    that fails (disk full, no permission, read-only disk, missing folder) raises
    ``OutputError`` saying why, removes its temporary file and leaves the previous file
    exactly as it was. ``project`` is only read: to save from a background thread while
    the user works, pass ``project.frozen_copy()``.
    """
    path = Path(path).expanduser()
    if path.is_symlink():  # save through the link: the user's link stays a link
        path = Path(os.path.realpath(path))
    existed = path.is_file()
    untouched = "the previous version is untouched" if existed else "nothing was written"
    if path.is_dir():
        raise OutputError(f"cannot save {path}: it is a folder; give a file name such as {path / ('project' + SUFFIX)}")
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"cannot save {path}: the folder {folder} does not exist; {untouched}")
    # os.replace would overwrite a read-only file; a read-only mark is the user saying "keep".
    if existed and not os.access(path, os.W_OK):
        why = "the disk is read-only" if _read_only_disk(folder) else "the file is read-only"
        raise OutputError(f"cannot save {path}: {why}; {untouched}")
    _remove_leftovers(folder, path.name)
    mode = _mode_for(path)
    try:
        temp, fd = _create_temp(folder, path.name, mode)
    except OSError as exc:
        raise OutputError(f"cannot save {path}: {_reason(exc, folder)}; {untouched}") from None
    try:
        with os.fdopen(fd, "wb") as file:
            write_archive(project, file)
            file.flush()
            os.fsync(file.fileno())
        if backup and existed:
            _keep_backup(path)
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot save {path}: {_reason(exc, folder)}; {untouched}") from None
        raise
    finally:
        with _active_lock:
            _active_temps.discard(temp)
    _fsync_folder(folder)
    return path


def _read_only_disk(folder: Path) -> bool:
    with contextlib.suppress(OSError, AttributeError):
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    return False


def _temp_prefix(name: str) -> str:
    return f".{name}."


def _create_temp(folder: Path, name: str, mode: int) -> tuple[str, int]:
    """A new private temp file beside the target: ``.NAME.<pid>.<random>.saving``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    while True:
        temp = str(folder / f"{_temp_prefix(name)}{os.getpid()}.{secrets.token_hex(4)}{_TEMP_SUFFIX}")
        try:
            fd = os.open(temp, flags, 0o600)
            break
        except FileExistsError:
            continue
    with _active_lock:
        _active_temps.add(temp)
    try:
        os.fchmod(fd, mode)
    except OSError:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        with _active_lock:
            _active_temps.discard(temp)
        raise
    return temp, fd


def _mode_for(path: Path) -> int:
    """The mode the saved file gets: the existing file's, else what the umask allows."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(path.stat().st_mode)
    return 0o666 & ~_umask()


def _umask() -> int:
    # os.umask() can only be read by setting it, which races with other threads creating
    # files; Linux shows it in /proc.
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def _keep_backup(path: Path) -> None:
    """Make ``backup_path(path)`` the current file, without ever touching ``path`` itself.

    A hard link costs no space and no time; where links are not possible the file is
    copied. Either goes to a temp name first and is renamed onto the backup, so the backup
    too is always whole. A backup that cannot be made is logged, not fatal: the save is
    what the user asked for.
    """
    temp = str(path.parent / f"{_temp_prefix(path.name)}{os.getpid()}.{secrets.token_hex(4)}{_TEMP_SUFFIX}")
    with _active_lock:
        _active_temps.add(temp)
    try:
        try:
            os.link(path, temp)
        except OSError:
            with open(path, "rb") as source, open(temp, "wb") as copy:
                while chunk := source.read(16 * 1024**2):
                    copy.write(chunk)
                copy.flush()
                os.fsync(copy.fileno())
        os.replace(temp, backup_path(path))
    except OSError as exc:
        log.warning("could not keep the previous version of %s as %s: %s", path, backup_path(path), exc)
        with contextlib.suppress(OSError):
            os.unlink(temp)
    finally:
        with _active_lock:
            _active_temps.discard(temp)


def _remove_leftovers(folder: Path, name: str) -> None:
    """Delete temp files of earlier saves of ``name`` that were killed before they finished.

    A temp file names the process that made it; one whose process still runs (another
    Studio saving the same file right now, or this one on another thread) is left alone.
    """
    prefix = _temp_prefix(name)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(_TEMP_SUFFIX)):
            continue
        pid_text = entry.name[len(prefix):].split(".", 1)[0]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        with _active_lock:
            if entry.path in _active_temps:
                continue
        if pid != os.getpid() and process_alive(pid):  # our own leftovers not in use go too
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder is; some file systems cannot fsync one.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EFBIG: "the file would be larger than this disk or this account allows",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the disk is read-only",
}


def _reason(exc: OSError, folder: Path) -> str:
    why = _REASONS.get(exc.errno or 0) or (exc.strerror.lower() if exc.strerror else str(exc))
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why += f" (the folder {folder} cannot be written)"
    return why


# -- writing the archive ---------------------------------------------------------------------------


def write_archive(project: Project, file: BinaryIO) -> None:
    """Write ``project`` in the project format to an open binary ``file`` (no atomicity)."""
    from studio import __version__

    _check_decoded_size(project)
    members: dict[str, int] = {}
    now = time.localtime()
    stamp = (max(now.tm_year, 1980), now.tm_mon, now.tm_mday, now.tm_hour, now.tm_min, now.tm_sec)
    with zipfile.ZipFile(file, "w", allowZip64=True) as archive:

        def put(name: str, data: bytes | memoryview, stored: bool) -> None:
            _check_size(name, len(data), sum(members.values()))
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data)
            members[name] = len(data)

        _write_canvas(project.image, put)
        put("text.txt", well_formed(project.text).encode("utf-8"), False)
        put("text.json", _json({"spans": [[int(s.start), int(s.end), int(s.job)] for s in project.text_spans]}), False)
        _write_timeline(project.timeline, put)
        put("history.json", _json({"entries": [_history_record(e) for e in project.history]}), False)
        if not writing.is_blank(project):  # a project that never used them stays as it was
            put(writing.MEMBER, _json(writing.writing_record(project)), False)
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "app": f"Studio {__version__}",
            "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "members": members,
        }
        put(MANIFEST, _json(manifest), False)


def _json(value: Any) -> bytes:
    # Every string well-formed (as text.txt): an escaped lone surrogate would come back as
    # one, and two escaped halves as one character. default=str: never let an odd value
    # stop a save.
    return well_formed(json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))).encode("utf-8")


def _check_size(name: str, size: int, before: int) -> None:
    """Refuse to write what the loader would refuse to read (the limits are the same)."""
    limit = member_limit(name)
    if size > limit:
        what = {"text.txt": "the text"}.get(name, name)
        raise OutputError(f"cannot save the project: {what} is {size / 1024**2:,.0f} MiB, and a project file "
                          f"holds at most {limit / 1024**2:,.0f} MiB there; nothing was written")
    if before + size > MAX_TOTAL_BYTES:
        raise OutputError(f"cannot save the project: it would be more than {MAX_TOTAL_BYTES / 1024**3:.0f} GiB, "
                          "the most a project file holds; nothing was written")


def _check_decoded_size(project: Project) -> None:
    """The pixels and samples, counted as the loader counts them before decoding."""
    image = project.image
    total = sum(layer.pixels.shape[0] * layer.pixels.shape[1] * 4 for layer in image.layers)
    total += 0 if image.mask is None else image.mask.size
    total += 0 if image.selection is None else image.selection.mask.size
    buffers = {id(clip.audio): clip.audio for clip in project.timeline.clips}
    total += sum(audio.frames * audio.channels * 4 for audio in buffers.values())
    if total > MAX_DECODED_BYTES:
        raise OutputError(f"cannot save the project: its pictures and audio take {total / 1024**3:.1f} GiB, "
                          f"and a project holds at most {MAX_DECODED_BYTES / 1024**3:.0f} GiB of them; nothing was written")


Put = Callable[[str, "bytes | memoryview", bool], None]


def _write_canvas(doc: ImageDocument, put: Put) -> None:
    layers = []
    pictures: list[tuple[str, np.ndarray]] = []
    for number, layer in enumerate(doc.layers):
        height, width = layer.pixels.shape[:2]
        name = f"canvas/{number}.png" if height and width else None
        if name:
            pictures.append((name, layer.pixels))
        layers.append({
            "name": str(layer.name), "file": name, "width": int(width), "height": int(height),
            "visible": bool(layer.visible), "opacity": float(layer.opacity),
            "generator": str(layer.generator), "params": plain_params(layer.params),
            "x": int(layer.x), "y": int(layer.y), "locked": bool(layer.locked), "id": int(layer.id),
            "source": layer.source if layer.source in SOURCE_TYPES else None, "blend": str(layer.blend),
        })
    record: dict[str, Any] = {"width": int(doc.width), "height": int(doc.height), "layers": layers,
                              "mask": None, "selection": None}
    if doc.kept_latents:  # a canvas that never kept one is written as before
        record["kept_latents"] = kept_records(doc.kept_latents)
    if doc.mask is not None and doc.mask.size:
        record["mask"] = "canvas/mask.png"
        pictures.append(("canvas/mask.png", np.asarray(doc.mask, dtype=np.uint8)))
    if doc.selection is not None and doc.selection.mask.size:
        record["selection"] = "canvas/selection.png"
        pictures.append(("canvas/selection.png", doc.selection.mask.astype(np.uint8) * np.uint8(255)))
    put("canvas.json", _json(record), False)
    _in_order(_encode_png, pictures, lambda encoded: put(*encoded, True))


def _encode_png(item: tuple[str, np.ndarray]) -> tuple[str, memoryview]:
    from PIL import Image

    name, pixels = item
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    return name, buffer.getbuffer()


def _write_timeline(timeline: Timeline, put: Put) -> None:
    buffers: dict[int, int] = {}  # id(Audio) -> its number in the file
    audio: list[Audio] = []
    tracks = []
    for track in timeline.tracks:
        clips = []
        for clip in track.clips:
            number = buffers.get(id(clip.audio))
            if number is None:
                number = buffers[id(clip.audio)] = len(audio)
                audio.append(clip.audio)
            clips.append(_clip_record(clip, number))
        tracks.append({
            "name": str(track.name), "gain_db": float(track.gain_db), "pan": float(track.pan),
            "mute": bool(track.mute), "solo": bool(track.solo), "colour": int(track.colour),
            "id": int(track.id), "clips": clips, **timeline_marks.height_record(track),
        })
    record = {
        "sample_rate": int(timeline.sample_rate), "tempo": float(timeline.tempo),
        "beats_per_bar": int(timeline.beats_per_bar), "master_gain_db": float(timeline.master_gain_db),
        "audio": [{"file": f"audio/{n}.wav", "sample_rate": int(a.sample_rate), "frames": a.frames,
                   "channels": a.channels} for n, a in enumerate(audio)],
        "tracks": tracks, "markers": timeline_marks.marker_records(timeline),
    }
    put("timeline.json", _json(record), False)
    for number, buffer in enumerate(audio):
        put(f"audio/{number}.wav", _encode_wav(buffer), True)


def _encode_wav(audio: Audio) -> memoryview:
    import soundfile

    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", samplerate=int(audio.sample_rate), channels=audio.channels,
                             format="WAV", subtype="FLOAT") as sound:
        sound.write(audio.samples)
    return buffer.getbuffer()


def _clip_record(clip: Clip, audio_number: int) -> dict[str, Any]:
    info = dict(clip.info)
    score = info.pop("score", None)
    record = {
        "name": str(clip.name), "audio": audio_number, "start": int(clip.start), "offset": int(clip.offset),
        "length": int(clip.length), "fade_in": int(clip.fade_in), "fade_out": int(clip.fade_out),
        "gain_db": float(clip.gain_db), "generator": str(clip.generator), "params": plain_params(clip.params),
        "info": plain_data(info), "id": int(clip.id),
    }
    if isinstance(score, (list, tuple)) and all(isinstance(n, Note) for n in score):
        record["score"] = [[int(n.pitch), float(n.start), float(n.duration), int(n.velocity), int(n.voice)] for n in score]
    elif score is not None:
        record["info"]["score"] = plain_data(score)
    return record


def _history_record(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "kind": str(entry.kind), "generator": str(entry.generator), "title": str(entry.title),
        "params": plain_params(entry.params), "model": str(entry.model),
        "target": None if entry.target is None else int(entry.target),
        "created": float(entry.created), "seconds": float(entry.seconds), "id": int(entry.id),
        "source": None if entry.source is None else entry.source.record(),
    }
