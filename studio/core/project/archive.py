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
  declared sizes say "bomb".

The bomb rule is a ratio AND a size, so that no member a Studio save wrote ever trips it:
a pasted log deflates a thousand to one, honestly. A deflated member is refused when it
claims more than deflate can produce at all (about 1032:1: a lie), or when it unpacks far
larger than it is packed AND past the limit for its name (``limit_of``: the caller's
limits, the very constants its writer checks before saving).

Members are then read one at a time into memory (``read``), never past their declared
size; a member whose content is damaged (bad CRC, broken deflate stream) raises
``DamagedMember``, which the project loader turns into "this part could not be read"
while the rest of the project opens. Nothing here writes a file or runs anything.
"""

from __future__ import annotations

import stat
import zipfile
from typing import BinaryIO, Callable

from studio.errors import StudioError

MAX_MEMBERS = 10_000
#: A layer of the largest canvas is 1 GiB of RGBA; its PNG is a little more at worst.
MAX_MEMBER_BYTES = 2 * 1024**3 + 64 * 1024**2
#: Everything a project may hold, uncompressed: far past any real session, short of a bomb.
MAX_TOTAL_BYTES = 16 * 1024**3
#: Deflate cannot beat 1032:1 (a 258-byte match costs at least 2 bits; zlib reaches 1029:1
#: on zeros). A member claiming more, beyond a little slack for tiny ones, is lying.
DEFLATE_MAX_RATIO = 1032
_DEFLATE_SLACK = 1024
#: "Unpacks far larger than it is packed": past this ratio AND past its limit, a bomb.
BOMB_RATIO = 200

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

    ``label`` names the file in messages; ``limit_of(name)`` is the most a member of that
    name may unpack to (at most ``MAX_MEMBER_BYTES``). Raises ``ProjectError`` when the
    source is not a ZIP archive, is damaged beyond reading its directory, or makes an unsafe
    claim.
    """

    def __init__(self, source: BinaryIO, label: str, limit_of: Callable[[str], int] | None = None) -> None:
        self.label = label
        self._limit_of = limit_of or (lambda name: MAX_MEMBER_BYTES)
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
            if info.compress_type == zipfile.ZIP_STORED and size != packed:
                raise self._refuse(f"{name!r} is stored uncompressed but declares two different sizes")
            deflated = info.compress_type == zipfile.ZIP_DEFLATED
            if deflated and size > DEFLATE_MAX_RATIO * packed + _DEFLATE_SLACK:
                raise self._refuse(f"{name!r} claims to unpack {size // max(packed, 1):,} times larger than it is "
                                   "packed, more than deflate can: a decompression bomb", unsafe=True)
            limit = min(self._limit_of(name), MAX_MEMBER_BYTES)
            if size > limit:
                if deflated and size > BOMB_RATIO * packed:
                    raise self._refuse(f"{name!r} unpacks {size // max(packed, 1):,} times larger than it is packed, "
                                       f"to {_size(size)}, past the {_size(limit)} such a part may hold: "
                                       "a decompression bomb", unsafe=True)
                raise self._refuse(f"{name!r} would be {_size(size)} when unpacked; the limit is {_size(limit)}")
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


def _size(size: int) -> str:
    return _gib(size) if size >= 1024**3 else f"{size / 1024**2:,.0f} MiB"
