"""Reading a ZIP archive someone else may have made: in memory, within limits, never extracted.

A project file is a ZIP archive, and a ZIP archive is a list of claims (names, sizes,
flags) that a hostile or damaged file can make false. ``SafeArchive`` checks every claim
in the central directory before a byte of content is read, and refuses the whole file
(``ProjectError``) when one is unsafe:

- a member name that could leave a folder if anyone ever extracted it: absolute, with a
  ``..`` part, a backslash, a drive letter or other ``:``, a NUL, or empty parts;
- a name that appears twice (which of the two would be "the" member?);
- a member flagged as a symbolic link, or encrypted, or compressed with a method other
  than stored or deflate;
- too many members, a member or a total larger than the limits, or a deflated member whose
  declared ratio says "bomb".

Members are then read one at a time into memory (``read``), never past their declared
size; a member whose content is damaged (bad CRC, broken deflate stream) raises
``DamagedMember``, which the project loader turns into "this part could not be read"
while the rest of the project opens. Nothing here writes a file or runs anything.
"""

from __future__ import annotations

import stat
import zipfile
from typing import BinaryIO

from studio.errors import StudioError

MAX_MEMBERS = 10_000
#: A layer of the largest canvas is 1 GiB of RGBA; its PNG is a little more at worst.
MAX_MEMBER_BYTES = 2 * 1024**3 + 64 * 1024**2
#: Everything a project may hold, uncompressed: far past any real session, short of a bomb.
MAX_TOTAL_BYTES = 16 * 1024**3
#: Deflate cannot beat about 1032:1; what we write deflated (JSON, text) stays far below
#: 200:1 at sizes that matter. A member above the floor claiming more is a bomb.
MAX_RATIO = 200
RATIO_FLOOR = 1024**2

_SYMLINK = stat.S_IFLNK
_ALLOWED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class ProjectError(StudioError):
    """The project file as a whole cannot be used: not a project, damaged, unsafe or too new."""


class DamagedMember(StudioError):
    """One member of an otherwise usable archive cannot be read (its content is damaged)."""


def unsafe_name_reason(name: str) -> str | None:
    """Why ``name`` may not appear in a project archive, or None when it is fine."""
    if not name:
        return "an empty name"
    if "\x00" in name:
        return "a NUL character in a name"
    if "\\" in name:
        return "a backslash in a name"
    if ":" in name:  # a drive letter (C:), or an NTFS stream (a:b): both leave the folder on Windows
        return "a drive letter or ':' in a name"
    if name.startswith("/"):
        return "an absolute path"
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return "a '..' that leaves the archive's folder"
    if any(part in ("", ".") for part in parts):
        return "an empty or '.' part in a path"
    return None


class SafeArchive:
    """A ZIP archive whose directory has been checked; members are read into memory on demand.

    ``label`` names the file in messages. Raises ``ProjectError`` when the source is not a
    ZIP archive, is damaged beyond reading its directory, or makes an unsafe claim.
    """

    def __init__(self, source: BinaryIO, label: str) -> None:
        self.label = label
        try:
            self._zip = zipfile.ZipFile(source)
            infos = self._zip.infolist()
        except zipfile.LargeZipFile as exc:
            raise ProjectError(f"{label} is not a Studio project or is damaged ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - zipfile reports a bad directory in many ways
            raise ProjectError(f"{label} is not a Studio project or is damaged ({_describe(exc)})") from None
        self._members: dict[str, zipfile.ZipInfo] = {}
        self._check(infos)
        self.read_bytes = 0

    # -- the directory ---------------------------------------------------------------------------

    def _check(self, infos: list[zipfile.ZipInfo]) -> None:
        if len(infos) > MAX_MEMBERS:
            raise self._refuse(f"it has {len(infos):,} members; a project has at most {MAX_MEMBERS:,}")
        total = 0
        seen: set[str] = set()
        for info in infos:
            name = info.filename
            reason = unsafe_name_reason(name)
            if reason:
                raise self._refuse(f"it contains {reason} ({name!r})", unsafe=True)
            if name.rstrip("/") in seen:
                raise self._refuse(f"it contains the name {name!r} twice", unsafe=True)
            seen.add(name.rstrip("/"))
            if stat.S_IFMT(info.external_attr >> 16) == _SYMLINK:
                raise self._refuse(f"it contains a symbolic link ({name!r})", unsafe=True)
            if info.flag_bits & 0x1:
                raise self._refuse(f"it contains an encrypted member ({name!r})")
            if info.compress_type not in _ALLOWED_METHODS:
                raise self._refuse(f"{name!r} uses a compression method Studio does not read")
            size, packed = info.file_size, info.compress_size
            if size < 0 or packed < 0:
                raise self._refuse(f"{name!r} declares a negative size")
            if size > MAX_MEMBER_BYTES:
                raise self._refuse(f"{name!r} would be {_gib(size)} when unpacked; the limit is {_gib(MAX_MEMBER_BYTES)}")
            if info.compress_type == zipfile.ZIP_STORED and size != packed:
                raise self._refuse(f"{name!r} is stored uncompressed but declares two different sizes")
            if size > RATIO_FLOOR and size > MAX_RATIO * max(packed, 1):
                raise self._refuse(f"{name!r} unpacks {size // max(packed, 1):,} times larger than it is packed: "
                                   "a decompression bomb", unsafe=True)
            total += size
            if total > MAX_TOTAL_BYTES:
                raise self._refuse(f"its members would be more than {_gib(MAX_TOTAL_BYTES)} when unpacked")
            if name.endswith("/"):
                if size:
                    raise self._refuse(f"the folder entry {name!r} has content")
                continue  # a folder entry (some zip tools add them): nothing to read
            self._members[name] = info

    def _refuse(self, why: str, unsafe: bool = False) -> ProjectError:
        verdict = "is unsafe to open" if unsafe else "is not a Studio project or is damaged"
        return ProjectError(f"{self.label} {verdict}: {why}")

    # -- members -----------------------------------------------------------------------------------

    def __contains__(self, name: str) -> bool:
        return name in self._members

    def names(self) -> list[str]:
        return list(self._members)

    def size(self, name: str) -> int:
        return self._members[name].file_size

    def read(self, name: str, limit: int = MAX_MEMBER_BYTES) -> bytes:
        """The member's bytes, checked against its CRC. ``DamagedMember`` when they cannot be had."""
        info = self._members.get(name)
        if info is None:
            raise DamagedMember(f"{name} is missing")
        if info.file_size > limit:
            raise DamagedMember(f"{name} is {info.file_size:,} bytes; at most {limit:,} are read for it")
        try:
            # ZipExtFile never returns more than the declared size and checks the CRC at the end.
            with self._zip.open(info) as member:
                data = member.read(info.file_size + 1)
        except MemoryError:
            raise DamagedMember(f"{name} is too large to read into memory") from None
        except Exception as exc:  # noqa: BLE001 - zipfile, zlib and the OS each have their own errors
            raise DamagedMember(f"{name} is damaged ({_describe(exc)})") from None
        if len(data) != info.file_size:
            raise DamagedMember(f"{name} is damaged (it holds {len(data):,} bytes, not {info.file_size:,})")
        self.read_bytes += len(data)
        return data

    def close(self) -> None:
        self._zip.close()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return text[:200] if text else type(exc).__name__


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB"
