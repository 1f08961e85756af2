"""The curated catalogue: public ONNX repositories on the Hugging Face hub that Studio's
pipelines read, grouped for painters, writers and musicians, shipped as data in
``resources/catalogue.json`` (where each fact came from is noted in its ``_sources``).

The Download dialog shows it before anything is fetched, so a person can pick a model, a
variant that fits the machine and see its size, licence and the device it suits. The data is
read-only and small, but it is a file on disk that anything may damage: a damaged file never
breaks the window. Each entry is checked on its own; a bad one is named in one plain log
message and left out, the others still load. ::

    {"format": 1,
     "_sources": {"<repo_id>": "where the facts came from"},
     "entries": [{"repo_id": "onnx-community/Qwen2.5-0.5B-Instruct", "title": "...",
                  "group": "writers", "kind": "text", "description": "one line",
                  "license": "apache-2.0", "device": "CPU or GPU", "gated": false,
                  "homepage": "https://huggingface.co/onnx-community/Qwen2.5-0.5B-Instruct",
                  "variants": {"fp32": 2001490278, "q4": 797490278},   bytes a download takes
                  "default_variant": "q4",
                  "subfolder": "",            onnxruntime-genai repos: the folder to take
                  "size_estimated": false}]}  true: sizes worked out, not read from the hub
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from studio.core.base import paths
from studio.core.models.loaders import read_json
from studio.core.models.variants import VARIANTS
from studio.errors import StudioError

log = logging.getLogger(__name__)

FILE_NAME = "catalogue.json"
FORMAT = 1
#: The catalogue is a few kilobytes; a file far past that is not one (refused unread).
MAX_FILE_BYTES = 1_000_000
#: No public ONNX export Studio runs comes near 1 TB; a bigger size is a damaged number.
MAX_VARIANT_BYTES = 10**12
MAX_TITLE, MAX_DESCRIPTION, MAX_SHORT = 80, 200, 120

#: The groups in the order the Download dialog shows them, with the kind each one's models make.
GROUPS = (("painters", "For painters", "image"), ("writers", "For writers", "text"), ("musicians", "For musicians", "audio"))
KIND_OF_GROUP = {name: kind for name, _, kind in GROUPS}

# The hub's repo ids: "owner/name", letters, digits, "-", "_", "." (no "..": the id becomes a path).
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_SUBFOLDER_PART = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")


@dataclass(frozen=True)
class CatalogueEntry:
    """One repository of the catalogue, checked."""

    repo_id: str
    title: str
    group: str  # "painters" | "writers" | "musicians"
    kind: str  # "image" | "text" | "audio"
    description: str
    license: str
    device: str  # the device it suits, in a few words: "CPU or GPU", "GPU only (NVIDIA CUDA)"
    gated: bool  # the hub asks the user to accept a licence (and a token) before a download
    variants: Mapping[str, int]  # variant name -> bytes a download of that variant takes
    default_variant: str
    homepage: str
    subfolder: str = ""  # an onnxruntime-genai repo holding several builds: the one to take
    size_estimated: bool = False  # the sizes were worked out from the parameter count

    def __post_init__(self) -> None:
        # read-only, so an entry that every caller shares cannot be changed by one of them
        object.__setattr__(self, "variants", MappingProxyType(dict(self.variants)))

    def __hash__(self) -> int:
        return hash(self.repo_id.lower())

    @property
    def default_size(self) -> int:
        return self.variants[self.default_variant]


@dataclass(frozen=True)
class CatalogueGroup:
    name: str  # "painters"
    title: str  # "For painters"
    entries: tuple[CatalogueEntry, ...]


class _BadEntry(ValueError):
    """One entry's problem, in words for the log."""


def catalogue_file() -> Path:
    return paths.resources() / FILE_NAME


def load_catalogue(path: Path | str | None = None) -> list[CatalogueEntry]:
    """Every valid entry of the catalogue (the shipped one unless ``path``), in the file's order.

    Never raises for a bad file: what is wrong is logged in one plain sentence each and the
    valid entries are returned (none when the file itself is unreadable)."""
    path = Path(path) if path is not None else catalogue_file()
    try:
        data = _read(path)
    except (StudioError, OSError) as exc:  # OSError: a file that vanishes or may not be read
        log.warning("The model catalogue could not be read, so it shows no models: %s", exc)
        return []
    entries: list[CatalogueEntry] = []
    seen: set[str] = set()
    for number, item in enumerate(data["entries"], start=1):
        where = f"{path}, entry {number}"
        if isinstance(item, dict) and isinstance(item.get("repo_id"), str):
            where += f" ({item['repo_id'][:MAX_SHORT]!r})"  # repr: no line breaks into the log
        try:
            entry = _entry(item)
        except _BadEntry as exc:
            log.warning("The model catalogue leaves out %s: %s", where, exc)
            continue
        if entry.repo_id.lower() in seen:
            log.warning("The model catalogue leaves out %s: the repository is listed twice", where)
            continue
        seen.add(entry.repo_id.lower())
        entries.append(entry)
    return entries


def catalogue_groups(path: Path | str | None = None) -> list[CatalogueGroup]:
    """The catalogue's entries by group: painters, writers, musicians (each possibly empty)."""
    entries = load_catalogue(path)
    return [CatalogueGroup(name, title, tuple(e for e in entries if e.group == name)) for name, title, _ in GROUPS]


def entry_for(repo_id: str, path: Path | str | None = None) -> CatalogueEntry | None:
    """The catalogue's entry for ``repo_id`` (the hub compares ids case-insensitively), or ``None``."""
    wanted = repo_id.lower() if isinstance(repo_id, str) else ""
    return next((entry for entry in load_catalogue(path) if wanted and entry.repo_id.lower() == wanted), None)


def _read(path: Path) -> dict[str, Any]:
    from studio.core.models.limits import check_file_size

    if not path.is_file():
        raise StudioError(f"{path} is missing")
    check_file_size(path, MAX_FILE_BYTES)  # before a byte is read
    data = read_json(path, "the model catalogue")
    if data.get("format", FORMAT) != FORMAT:
        raise StudioError(f"{path} is in format {str(data.get('format'))[:20]}; this Studio reads format {FORMAT}")
    if not isinstance(data.get("entries"), list):
        raise StudioError(f"{path} holds no list of entries")
    return data


def _text(item: dict, key: str, limit: int = MAX_SHORT, required: bool = True) -> str:
    value = item.get(key, None if required else "")
    if value is None:
        raise _BadEntry(f'"{key}" is missing')
    if not isinstance(value, str):
        raise _BadEntry(f'"{key}" should be text, not {type(value).__name__}')
    if required and not value.strip():
        raise _BadEntry(f'"{key}" is empty')
    if len(value) > limit or any(ch in value for ch in "\r\n\t\x00"):
        raise _BadEntry(f'"{key}" should be one line of at most {limit} characters')
    return value.strip()


def _flag(item: dict, key: str, required: bool = True) -> bool:
    value = item.get(key, None if required else False)
    if not isinstance(value, bool):  # 0/1 or "no" would be guesses: say so instead
        raise _BadEntry(f'"{key}" should be true or false, not {str(value)[:20]!r}')
    return value


def _subfolder(item: dict) -> str:
    """The repository's folder to take, as a relative path that cannot leave the repository
    (it becomes part of a path on disk when the download is installed)."""
    if item.get("subfolder") in (None, ""):
        return ""
    subfolder = _text(item, "subfolder", 240)
    parts = subfolder.split("/")
    if not all(_SUBFOLDER_PART.match(part) and part not in (".", "..") for part in parts):
        raise _BadEntry(f'"subfolder" should be a folder inside the repository, not {subfolder[:60]!r}')
    return subfolder


def _variants(item: dict) -> dict[str, int]:
    variants = item.get("variants")
    if not isinstance(variants, dict) or not variants:
        raise _BadEntry('"variants" should map each variant name to its download size in bytes')
    for name, size in variants.items():
        if name not in VARIANTS:
            raise _BadEntry(f'variant "{str(name)[:20]}" is not one Studio knows ({", ".join(VARIANTS)})')
        if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_VARIANT_BYTES:
            raise _BadEntry(f'variant "{name}" should have a size in bytes from 1 to {MAX_VARIANT_BYTES}, not {str(size)[:30]}')
    return {name: variants[name] for name in VARIANTS if name in variants}  # Studio's order


def _entry(item: Any) -> CatalogueEntry:
    if not isinstance(item, dict):
        raise _BadEntry(f"it is not an object but {type(item).__name__}")
    repo_id = _text(item, "repo_id")
    if not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise _BadEntry(f'"repo_id" should be a hub id such as owner/name, not {repo_id!r}')
    group = _text(item, "group")
    if group not in KIND_OF_GROUP:
        raise _BadEntry(f'"group" should be one of {", ".join(KIND_OF_GROUP)}, not {group!r}')
    kind = _text(item, "kind")
    if kind != KIND_OF_GROUP[group]:
        raise _BadEntry(f'"kind" of a model for {group} is {KIND_OF_GROUP[group]}, not {kind!r}')
    homepage = _text(item, "homepage", 300)
    if not homepage.startswith("https://"):
        raise _BadEntry(f'"homepage" should be an https:// address, not {homepage[:40]!r}')
    subfolder = _subfolder(item)
    variants = _variants(item)
    default = _text(item, "default_variant")
    if default not in variants:
        raise _BadEntry(f'"default_variant" {default!r} is not one of its variants ({", ".join(variants)})')
    return CatalogueEntry(
        repo_id=repo_id,
        title=_text(item, "title", MAX_TITLE),
        group=group,
        kind=kind,
        description=_text(item, "description", MAX_DESCRIPTION),
        license=_text(item, "license"),
        device=_text(item, "device"),
        gated=_flag(item, "gated"),
        variants=variants,
        default_variant=default,
        homepage=homepage,
        subfolder=subfolder,
        size_estimated=_flag(item, "size_estimated", required=False),
    )
