"""Opening a file a person named as input: a regular file of a sane size, or a plain refusal.

A path typed on the command line (``--param init_image=…``), chosen in an Open dialog or given
as a project can name things that are not files to read: a named pipe (opening one for reading
waits for a writer, forever: the CLI hung), a device (``/dev/zero`` never ends, ``/dev/tty``
waits for keys), a folder, or a file far larger than anything Studio reads. Every reader of
pictures, sounds, text and projects opens its file through ``open_input``, which refuses each
of these with a sentence that says what the path is, before a byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from studio.errors import StudioError

#: The largest input file Studio reads: a picture or a sound bigger than this is not one a
#: generation or the timeline can use (an hour of 48 kHz stereo float WAV is 1.4 GB).
MAX_INPUT_BYTES = 2 * 1024**3

# O_NONBLOCK: should the path turn into a pipe between the check and the open, the open still
# returns at once instead of waiting for a writer (the type is checked again on what was opened).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def open_input(
    path: str | os.PathLike[str],
    what: str = "file",
    max_bytes: int | None = MAX_INPUT_BYTES,
    error: type[StudioError] = StudioError,
) -> BinaryIO:
    """``path`` opened for reading in binary mode, if it is a regular file of at most
    ``max_bytes`` (``None``: any size); else ``error`` saying what it is instead. ``what``
    names the kind of file wanted ("picture", "sound file") in the message."""
    path = Path(path).expanduser()
    _check(path, _stat(path, error), what, max_bytes, error)

    def opener(name: str, _flags: int) -> int:
        fd = os.open(name, _OPEN_FLAGS)
        try:
            _check(path, os.fstat(fd), what, max_bytes, error)  # what was opened is what was checked
            if _OPEN_FLAGS & getattr(os, "O_NONBLOCK", 0):
                os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd

    try:
        return open(path, "rb", opener=opener)  # the file's name stays the path, for messages
    except OSError as exc:
        raise error(f"cannot open {path}: {exc.strerror or exc}") from None


def _stat(path: Path, error: type[StudioError]) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise error(f"cannot open {path}: there is no such file") from None
    except OSError as exc:
        raise error(f"cannot open {path}: {exc.strerror or exc}") from None


def _check(path: Path, info: os.stat_result, what: str, max_bytes: int | None, error: type[StudioError]) -> None:
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise error(f"cannot open {path}: it is a folder, not a {what}")
    if not stat.S_ISREG(mode):
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise error(f"cannot open {path}: it is {kind}, not a {what}; Studio reads only regular files")
    if max_bytes is not None and info.st_size > max_bytes:
        raise error(f"cannot open {path}: it is larger than any {what} Studio reads "
                    f"({_size(info.st_size)}; at most {_size(max_bytes)})")


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"
