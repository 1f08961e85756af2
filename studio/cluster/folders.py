"""Model folders on the nodes: used in place where the nodes see the same files, otherwise sent
once, by content, into each node's cache and reused from there.

The in-place check compares a *fingerprint* (every file's relative path, size and modification
time): a folder on shared storage has the very same files, and the check costs a directory walk,
not a read of several gigabytes. What is sent is keyed by a *digest* of the content (SHA-256 of
every file, with its path), so the same model imported twice is sent once, and a node's cache
entry is checked against the digest before it is ever used.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path, PurePosixPath
from typing import Iterator

from studio.errors import StudioError

#: What a node does with a model folder it can see: ``auto`` uses it in place when its files are
#: the client's, ``copy`` always uses its own cached copy (for slow network storage).
MODELS_MODE_VARIABLE = "STUDIO_CLUSTER_MODELS"
CHUNK = 16 * 1024 * 1024  # one object in Ray's store per 16 MB of a file: memory stays bounded
_BLOCK = 1024 * 1024

_digests: dict[tuple, str] = {}  # fingerprint -> digest: a folder is read once per process
_digest_lock = threading.Lock()


def model_files(folder: Path) -> list[tuple[str, Path]]:
    """Every file under ``folder`` as (relative POSIX path, path), sorted; links are followed
    only where they stay inside (a model's weights never live elsewhere)."""
    folder = folder.resolve()
    files = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in names:
            path = Path(root) / name
            if path.resolve().is_relative_to(folder) and path.is_file():
                files.append((path.relative_to(folder).as_posix(), path))
    return sorted(files)


def fingerprint(folder: Path) -> tuple:
    """The folder's files as (path, size, modification time): equal on shared storage."""
    out = []
    for rel, path in model_files(folder):
        stat = path.stat()
        out.append((rel, stat.st_size, stat.st_mtime_ns))
    return tuple(out)


def folder_size(print_: tuple) -> int:
    return sum(size for _, size, _ in print_)


def digest(folder: Path, print_: tuple | None = None) -> str:
    """SHA-256 over every file's path and content (remembered by fingerprint)."""
    print_ = print_ if print_ is not None else fingerprint(folder)
    with _digest_lock:
        known = _digests.get((str(folder), print_))
    if known:
        return known
    total = hashlib.sha256()
    for rel, path in model_files(folder):
        total.update(rel.encode("utf-8") + b"\0" + _file_digest(path).encode("ascii") + b"\n")
    value = total.hexdigest()
    with _digest_lock:
        _digests[(str(folder), print_)] = value
    return value


def _file_digest(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def read_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk


class NodeCache:
    """A node's cache of sent model folders: ``<root>/<digest>/<folder name>/``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def entry(self, digest_: str, name: str) -> Path:
        return self.root / _safe_part(digest_) / _safe_part(name)

    def find(self, digest_: str, name: str) -> Path | None:
        path = self.entry(digest_, name)
        return path if path.is_dir() else None

    def begin(self, digest_: str, name: str, size: int) -> "Incoming":
        """Start receiving a folder of ``size`` bytes (refused when the disk cannot take it)."""
        return Incoming(self, digest_, name, size)


class Incoming:
    """A folder arriving on a node: files written as their chunks come into a fresh folder,
    its digest checked, then moved into place in one rename; a half-sent folder is never found."""

    def __init__(self, cache: NodeCache, digest_: str, name: str, size: int) -> None:
        self.final = cache.entry(digest_, name)
        self.digest, self.name = digest_, name
        cache.root.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(cache.root).free
        if size > free:
            raise StudioError(f"the node has {free / 1e9:.1f} GB free in {cache.root}, not the {size / 1e9:.1f} GB the model needs")
        self.folder = cache.root / f".incoming-{_safe_part(digest_)}-{os.getpid()}-{threading.get_ident()}-{id(self)}"
        shutil.rmtree(self.folder, ignore_errors=True)
        self.target = self.folder / _safe_part(name)
        self.target.mkdir(parents=True)

    def write(self, rel: str, chunk: bytes, first: bool = False) -> None:
        """Append ``chunk`` to the file ``rel`` (``first``: start it afresh)."""
        path = self.target / _safe_relative(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb" if first else "ab") as out:
            out.write(chunk)

    def finish(self) -> Path:
        if self.final.is_dir():
            return self.final
        if digest(self.target) != self.digest:
            raise StudioError(f"the model folder {self.name!r} arrived damaged (its content does not match what was sent)")
        self.final.parent.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.folder.rename(self.final.parent)
        except OSError:  # another client sent the same folder meanwhile: theirs is as good
            if not self.final.is_dir():
                raise
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _safe_part(text: str) -> str:
    if not text or text in (".", "..") or "/" in text or "\\" in text or "\0" in text:
        raise StudioError(f"refused a model folder name that is not a plain name: {text!r}")
    return text


def _safe_relative(rel: str) -> Path:
    """A relative path sent by a client, refused if it could leave the folder."""
    posix = PurePosixPath(rel)
    if posix.is_absolute() or not posix.parts or any(part in ("", ".", "..") for part in posix.parts) or "\\" in rel:
        raise StudioError(f"refused a model file path that could leave its folder: {rel!r}")
    return Path(*posix.parts)
