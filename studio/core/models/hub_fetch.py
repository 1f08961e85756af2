"""One file from the hub into a staging folder: resumed where an earlier attempt stopped, and
checked against the hub's hash before it gets its name.

``hf_hub_download`` in huggingface_hub 2.x downloads into a temporary file of its own and
deletes it when anything goes wrong (its PR 4228), so a killed or cancelled download would
start again from zero. Studio therefore uses the library's own parts one level down:
``hf_hub_url`` and ``get_hf_file_metadata`` (the HEAD call: commit, ETag, size, where the bytes
are) and ``http_get``, which sends ``Range: bytes=N-`` for the ``resume_size`` it is given and
retries a dropped connection from where it broke. The partial file, ``<name>.incomplete``,
stays in the staging folder between attempts. A finished file is hashed (sha256 for LFS
files, git's blob sha1 for small ones, as the hub lists them) before it is renamed: a file
under its real name in staging is one that matched.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath
from typing import Callable
from urllib.parse import urlsplit

from studio.core.models.hub import TIMEOUT, HubError, endpoint, hub_error
from studio.core.models.hub_layout import RepoFile
from studio.core.models.variants import human_size

INCOMPLETE = ".incomplete"
#: Bytes per read of the response: progress and Cancel are looked at after each one. The
#: library's default (10 MB) would leave a slow connection deaf to Cancel for many seconds.
READ_CHUNK = 64 * 1024  # what one read of the socket gives anyway


class _Overlong(HubError):
    """The server sent more bytes than the file has."""


class Stopped(Exception):
    """Raised from the byte counter when the download was asked to stop (Cancel)."""


def local_path(folder: Path, relative: str) -> Path:
    """``folder / relative`` for a path the hub listed; one that would leave ``folder`` is refused."""
    parts = PurePosixPath(relative)
    if parts.is_absolute() or ".." in parts.parts or not parts.parts or "\\" in relative or ":" in relative:
        raise HubError(f"the hub listed a file named {relative!r}, which Studio will not write")
    return folder.joinpath(*parts.parts)


def partial_size(target: Path, file: RepoFile) -> int:
    """Bytes of ``file`` already at ``target``: the whole file when it was finished, else the partial."""
    if target.is_file():
        return target.stat().st_size
    partial = target.with_name(target.name + INCOMPLETE)
    return min(partial.stat().st_size, file.size) if partial.is_file() else 0


def byte_counter(on_bytes: Callable[[int], None]) -> type:
    """A tqdm class for ``http_get`` that hands each chunk's size to ``on_bytes`` and draws
    nothing (``on_bytes`` raises ``Stopped`` to cancel the transfer)."""
    from tqdm.std import tqdm

    class ByteCounter(tqdm):  # type: ignore[misc]
        def __init__(self, *args, **kwargs) -> None:
            kwargs.pop("name", None)
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            on_bytes(int(n or 0))
            return None

    return ByteCounter


def fetch_file(repo_id: str, revision: str, file: RepoFile, target: Path,
               on_bytes: Callable[[int], None], token: str | None = None) -> Path:
    """Bring ``file`` (at commit ``revision``) to ``target`` in the staging folder, verified."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    if target.is_file() and target.stat().st_size == file.size:
        return target  # finished and verified by an earlier attempt
    partial = target.with_name(target.name + INCOMPLETE)
    partial.parent.mkdir(parents=True, exist_ok=True)
    have = partial.stat().st_size if partial.is_file() else 0
    if have > file.size:
        partial.unlink()
        have = 0
    hub = endpoint()
    url = hf_hub_url(repo_id, file.path, revision=revision, endpoint=hub)
    headers = build_hf_headers(token=token)
    try:
        meta = get_hf_file_metadata(url, token=token, timeout=TIMEOUT, endpoint=hub)
        if meta.size is not None and meta.size != file.size:
            raise HubError(f"the hub lists {file.path} of {repo_id} as {file.size:,} bytes but serves "
                           f"{meta.size:,}: the repository changed meanwhile; try again")
        location = meta.location or url
        if _origin(location) != _origin(url):
            headers.pop("authorization", None)  # a signed CDN address: the token stays with the hub
        _small_reads(constants)
        arrived = [have]

        def count(n: int) -> None:  # called before each chunk is written
            arrived[0] += n
            if arrived[0] > file.size:  # a server that sends without end must not fill the disk
                raise _Overlong(f"the hub sent more of {file.path} than the {human_size(file.size)} it lists; "
                                "nothing was installed")
            on_bytes(n)

        with partial.open("ab") as out:  # appends after the bytes an earlier attempt kept
            if have < file.size:
                http_get(location, out, resume_size=have, headers=headers, expected_size=file.size,
                         displayed_filename=file.path, tqdm_class=byte_counter(count))
    except Stopped:
        raise
    except HubError as exc:
        if isinstance(exc, _Overlong) or (partial.is_file() and partial.stat().st_size > file.size):
            partial.unlink(missing_ok=True)  # what such a server sent is not worth resuming
        raise
    except OSError as exc:
        if partial.is_file() and partial.stat().st_size > file.size:
            partial.unlink()  # more bytes than the file has: useless for a resume
        if isinstance(exc, PermissionError) or getattr(exc, "errno", None) in (28, 122):  # ENOSPC, EDQUOT
            raise HubError(f"cannot write {partial}: {exc.strerror or exc}") from None
        raise hub_error(exc, repo_id, revision) from None
    except Exception as exc:
        raise hub_error(exc, repo_id, revision) from None
    verify(partial, file, repo_id)
    os.replace(partial, target)
    return target


def _small_reads(constants) -> None:
    """``http_get`` reads ``constants.DOWNLOAD_CHUNK_SIZE`` bytes per step (looked up at each
    call); make it ``READ_CHUNK``. Process-wide, and harmless: it changes how often progress
    is told, never the bytes."""
    if constants.DOWNLOAD_CHUNK_SIZE > READ_CHUNK:
        constants.DOWNLOAD_CHUNK_SIZE = READ_CHUNK


def verify(path: Path, file: RepoFile, repo_id: str) -> None:
    """Refuse ``path`` (and delete it: a wrong file cannot be resumed) unless it is ``file`` as
    the hub lists it: its size, and its sha256 (LFS) or git blob sha1 (small files)."""
    size = path.stat().st_size
    problem = ""
    if size != file.size:
        problem = f"{human_size(size)} instead of {human_size(file.size)}"
    elif file.sha256 or file.blob_id:
        digest = hashlib.sha256() if file.sha256 else hashlib.sha1(b"blob %d\0" % size)
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        expected = file.sha256 or file.blob_id
        if digest.hexdigest() != expected:
            kind = "sha256" if file.sha256 else "git hash"
            problem = f"its {kind} is {digest.hexdigest()[:12]}…, the hub's is {expected[:12]}…"
    if problem:
        path.unlink(missing_ok=True)
        raise HubError(f"{file.path} of {repo_id} arrived damaged ({problem}); nothing was installed. Try again; "
                       "if it happens again, the copy on the hub or a proxy on the way is at fault")


def file_matches(path: Path, file: RepoFile) -> bool:
    """Whether ``path`` already holds ``file`` (size, then hash): an installed file is kept."""
    if not path.is_file() or path.stat().st_size != file.size:
        return False
    if not (file.sha256 or file.blob_id):
        return True
    digest = hashlib.sha256() if file.sha256 else hashlib.sha1(b"blob %d\0" % file.size)
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == (file.sha256 or file.blob_id)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()
