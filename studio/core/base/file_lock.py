"""One writer at a time for a file that is read, changed and written back; and noticing when
another wrote it.

Two `studio generate --project same.studio` at once each loaded the project, added their
result and saved: the second save silently dropped the first result. Every read-modify-write
of a project or of the settings therefore holds ``locked(path)``, an advisory lock on
``NAME.lock`` beside the file (the ``filelock`` package: ``flock`` on Unix, ``LockFileEx``
on Windows; the lock file is removed when the last holder lets go), and reads the file
again under it. An advisory lock binds only those who ask for it: every writer in Studio
does.

The window holds a project for a long time between loading and saving, far too long to
hold a lock. It keeps the file's ``FileStamp`` instead, and before it writes (under the
lock) it compares: a different stamp means someone else saved meanwhile, and the person is
asked what to do rather than having that work overwritten.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from studio.errors import StudioError

LOCK_SUFFIX = ".lock"
#: How long a writer waits for another: a save of a large project takes seconds, not minutes.
WAIT_SECONDS = 60.0


def lock_path(path: str | os.PathLike[str]) -> Path:
    """``P.studio`` -> ``P.studio.lock``, beside it."""
    path = Path(path)
    return path.with_name(path.name + LOCK_SUFFIX)


@contextlib.contextmanager
def locked(path: str | os.PathLike[str], timeout: float = WAIT_SECONDS,
           lock_file: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Hold the lock of ``path`` (waiting up to ``timeout`` seconds for another holder).

    ``lock_file`` replaces ``lock_path(path)`` where another program already uses that name.

    Raises ``StudioError`` with a plain sentence when the lock cannot be had: another
    Studio holds it too long, or the folder does not allow a lock file (then it could not
    take the file's new version either).
    """
    path = Path(path)
    marker = Path(lock_file) if lock_file is not None else lock_path(path)
    if not marker.parent.is_dir():  # filelock would create the missing folders: never ours to make
        raise StudioError(f"cannot write {path}: the folder {marker.parent} does not exist; nothing was changed")
    # thread_local=False: the window takes the lock on its save thread, never shares it.
    lock = FileLock(str(marker), timeout=timeout, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise StudioError(f"{path.name} is being written by another Studio (it has held {marker.name} for "
                          f"{timeout:.0f} s); nothing was changed: try again when it is done") from None
    except OSError as exc:
        raise StudioError(f"cannot lock {path} for writing ({exc.strerror or exc}); nothing was changed") from None
    try:
        yield
    finally:
        # Removed while still held, so no lock file stays behind: a waiter that then gets
        # the lock of the removed file sees it has no name any more and takes a fresh one
        # (filelock checks), so two holders never meet. Windows cannot remove an open file:
        # the next writer's lock cleans up after the last.
        with contextlib.suppress(OSError):
            os.unlink(marker)
        lock.release()


@dataclass(frozen=True)
class FileStamp:
    """Which version of a file this is: another save replaces the file, changing these."""

    inode: int
    size: int
    modified_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> "FileStamp | None":
        """The stamp of the file at ``path`` now; None when there is none."""
        try:
            status = os.stat(path)
        except OSError:
            return None
        return cls(status.st_ino, status.st_size, status.st_mtime_ns)
