"""Putting bytes in a file all at once: a temp file beside it, then ``os.replace``.

Every file Studio writes for the user (results, scores, projects, autosaves) goes through
here, so a failure never leaves half a file and never destroys the file that was there.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from studio.errors import OutputError


def write_atomically(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` all at once: a temp file beside it, then ``os.replace``."""
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {path.parent} does not exist")
    try:
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private (0600); give it the mode a normal new file would get.
        os.chmod(temp_name, _new_file_mode(path))
        os.replace(temp_name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
        raise


def _new_file_mode(path: Path) -> int:
    with contextlib.suppress(OSError):
        return path.stat().st_mode & 0o777  # overwriting: keep the old file's permissions
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else str(exc)
