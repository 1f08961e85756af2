"""The record of a batch run (``batch.jsonl`` in its results folder), which makes it resumable.

One JSON line is appended, and flushed to disk, as each request of the batch file is done:
``{"line": 12, "key": "<hash of the line>", "files": ["00012-cppn-7.png"], "seed": 7}``. A
run of the same batch file into the same folder skips a line whose entry has the same key
(the line was not changed since) and whose files are all still there; anything else runs
again. Only finished requests are recorded, after their files were written (each atomically),
so a failed, cancelled or interrupted request is never taken for done.

The record is written by one process at a time, only ever appended to; a line cut short by a
crash or a kill is skipped when read, and the next entry starts on a line of its own.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterable

from studio.core.base.input_files import open_input
from studio.errors import StudioError

log = logging.getLogger(__name__)

RECORD_NAME = "batch.jsonl"
#: A record has one short line per request (100,000 at most a file): far below this.
MAX_RECORD_BYTES = 256 * 1024**2


@dataclass(frozen=True)
class Done:
    """One recorded request: its line, the hash of that line, its files (names in the
    results folder) and the seed it was made with."""

    line: int
    key: str
    files: tuple[str, ...]
    seed: int | None


class BatchRecord:
    """What is already done in a results ``folder``; ``add`` records one more."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / RECORD_NAME
        self._done: dict[int, Done] = {}
        self._file: BinaryIO | None = None
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        with open_input(self.path, "batch record", max_bytes=MAX_RECORD_BYTES) as file:
            data = file.read()
        for number, raw in enumerate(data.splitlines(), start=1):
            done = _parse_entry(raw)
            if done is None:
                if raw.strip():
                    log.warning("%s:%d: not a record entry; skipped", self.path, number)
                continue
            self._done[done.line] = done  # a later entry for the same line replaces the earlier

    def done(self, line: int, key: str) -> Done | None:
        """The entry for ``line`` if it was made from the same line (``key``) and every file
        it wrote is still in the folder; None when the line has to run (again)."""
        done = self._done.get(line)
        if done is None or done.key != key:
            return None
        if not all((self.folder / name).is_file() for name in done.files):
            return None  # a result the user deleted is made again
        return done

    def add(self, line: int, key: str, files: Iterable[str | Path], seed: int | None) -> Done:
        """Record ``line`` as done; the entry is on disk when this returns."""
        names = tuple(Path(name).name for name in files)  # names, so the folder can be moved
        done = Done(line, key, names, seed)
        entry = {"line": line, "key": key, "files": list(names), "seed": seed}
        file = self._open()
        file.write(json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n")
        file.flush()
        os.fsync(file.fileno())  # a power cut after this keeps the entry, as it keeps the files
        self._done[line] = done
        return done

    def _open(self) -> BinaryIO:
        if self._file is None:
            try:
                self._file = open(self.path, "ab")
                # A line cut short by a kill gets its end, so the next entry is a line of its own.
                if self._file.tell() > 0 and not _ends_with_newline(self.path):
                    self._file.write(b"\n")
            except OSError as exc:
                raise StudioError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _parse_entry(raw: bytes) -> Done | None:
    try:
        entry: Any = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError too
        return None
    if not isinstance(entry, dict):
        return None
    line, key, files, seed = entry.get("line"), entry.get("key"), entry.get("files"), entry.get("seed")
    if not (isinstance(line, int) and isinstance(key, str) and isinstance(files, list)):
        return None
    if not all(isinstance(name, str) and name and Path(name).name == name for name in files):
        return None  # only names in the folder: an entry never points elsewhere
    if seed is not None and not isinstance(seed, int):
        return None
    return Done(line, key, tuple(files), seed)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"
