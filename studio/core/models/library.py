"""The model library: every model Studio knows, as the Models window and ``studio models`` show it.

Three origins, one record each:

- built-in: ``resources/models/<name>``, the folders the built-in plugins make generators of;
- added: a folder of the user's (the settings' list); Studio never writes into it and removing
  it only forgets it;
- downloaded / imported: a folder under ``paths.models()`` that holds a ``studio-model.json``
  (written last, so a folder without one is an unfinished download and is never listed; a
  folder whose name starts with a dot, such as ``.partial/``, is a work area).

The records are read from what the host already loaded (``host.plugins.model_folders``, its
generators) plus file names and the graphs' external-data entries: no session is created.
``host`` is the app's ``studio.host.Host`` (anything with ``plugins``, ``settings`` and
``reload_model_folders()``); this module never imports it (core sits below the host).
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable

from studio.core.base import paths
from studio.core.models import variant_defaults
from studio.core.models.folder_variants import folder_variants
from studio.core.models.manifest import FILE_NAME, Manifest, read_manifest
from studio.core.models.model_card import UNKNOWN, folder_license, one_line
from studio.core.models.variants import Variant, human_size
from studio.core.models.graph_device import folder_required_device
from studio.errors import StudioError

log = logging.getLogger(__name__)

ORIGINS = ("built-in", "added", "downloaded", "imported")
BUILT_IN_LICENSE = "Apache-2.0"  # Studio's own weights (README, License)


@dataclass
class ModelRecord:
    """One model as the library shows it."""

    name: str
    kind: str  # image | text | audio; "" when the folder did not load
    generator_id: str  # "" when the folder did not load
    layout: str  # the title of the loader that reads the folder
    folder: Path
    origin: str  # one of ORIGINS
    variants: dict[str, Variant] = field(default_factory=dict)
    source: str = ""
    license: str = UNKNOWN
    added: str = ""  # ISO 8601, or "" when not known
    error: str = ""
    #: Variants the generator offers beyond those on disk: made here from the fp32 weights the
    #: first time they are used (a language model's int8 and int4).
    made_here: tuple[str, ...] = ()
    #: A sentence when the graphs run on one kind of device only ("needs an NVIDIA GPU (CUDA):
    #: it uses NhwcConv, GroupNorm"), "" when they run anywhere: a GPU-only model must not be
    #: listed as suiting the CPU.
    required_device: str = ""

    @cached_property
    def size(self) -> int:
        """Bytes of every file in the folder (the model card and tokenizer too): what removing
        frees. Walked once per record: a record is a snapshot, as the rest of its fields."""
        return folder_size(self.folder)

    @property
    def suits(self) -> str:
        """Which device each variant suits: ``"q4: CPU (fastest there); GPU · fp16: GPU"``."""
        return " · ".join(f"{name}: {self.variant_suits(name)}" for name in self.variants)

    def variant_suits(self, name: str) -> str:
        """The device a variant suits, unless the graphs need one device whatever the variant."""
        if self.required_device:
            return "GPU only (see below)" if self.variants else "GPU only"
        variant = self.variants.get(name)
        return variant.suits if variant is not None else "CPU or GPU"

    @property
    def defaults(self) -> dict[str, str | None]:
        """The variant the user chose for each kind of device (``None``: Studio picks)."""
        return {kind: variant_defaults.default_variant(self.folder, kind) for kind in variant_defaults.DEVICE_KINDS}

    @property
    def removable(self) -> bool:
        return self.origin != "built-in"

    @property
    def deletes_files(self) -> bool:
        """Whether removing deletes the folder (a download, an import) or only forgets it."""
        return self.origin in ("downloaded", "imported")


def folder_size(folder: Path) -> int:
    """Bytes of the regular files under ``folder``; links are not followed (nor counted)."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                stat = os.lstat(os.path.join(root, name))
            except OSError:
                continue  # removed while we walked
            if not os.path.islink(os.path.join(root, name)):
                total += stat.st_size
    return total


def resolved_folder(folder: str | Path) -> Path:
    """The folder's real path; as given (home expanded) when it cannot be resolved (a link that
    loops): the settings may hold anything, and the host must still start."""
    path = Path(folder).expanduser()
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path


def installed_folders() -> list[Path]:
    """Every downloaded or imported model folder under ``paths.models()``, by name."""
    place = paths.models()
    try:
        return sorted(p for p in place.iterdir()
                      if p.is_dir() and not p.is_symlink() and not p.name.startswith(".") and (p / FILE_NAME).is_file())
    except OSError as exc:  # absent (nothing downloaded yet), or unreadable: no installed models
        if place.exists():
            log.warning("cannot read the models folder %s: %s", place, exc)
        return []


def model_folder_list(settings_folders: Iterable[str | Path]) -> list[str]:
    """The folders the host loads: the settings' first, then the installed ones, each once."""
    folders: list[str] = []
    seen: set[Path] = set()
    for folder in [*settings_folders, *installed_folders()]:
        key = resolved_folder(folder)
        if key not in seen:
            seen.add(key)
            folders.append(str(folder))
    return folders


# -- records ---------------------------------------------------------------------------------------


def model_records(host: Any) -> list[ModelRecord]:
    """Every model the host knows: built-in first, then the added and installed folders."""
    records = [_builtin_record(host, folder) for folder in _builtin_folders()]
    added = host.settings.model_folders_added
    for entry in host.plugins.model_folders:
        records.append(_folder_record(host, entry, added))
    return records


def _builtin_folders() -> list[Path]:
    place = paths.builtin_models()
    return sorted(p for p in place.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))) if place.is_dir() else []


def generator_folder(generator: Any) -> Path | None:
    """The folder a generator was made from: ``model_folder`` (the contract), else what the
    built-in generators keep (``folder``, ``model.folder``)."""
    for getter in (lambda g: g.model_folder, lambda g: g.folder, lambda g: g.model.folder):
        try:
            value = getter(generator)
        except Exception:  # a plugin's property may raise: the library must still list the rest
            continue
        if isinstance(value, (str, Path)) and str(value):
            return resolved_folder(value)
    return None


def _layout(host: Any, folder: Path) -> str:
    """The title of the first loader that recognises the folder, as adding it would pick."""
    for loader in host.plugins.loaders:
        try:
            if loader.detect(folder):
                return loader.title or loader.id
        except Exception:
            continue
    return ""


def _variants(generator: Any, folder: Path) -> tuple[dict[str, Variant], str]:
    """The generator's own list when it keeps one (it knows its layout best), else the folder's."""
    for getter in (lambda g: g.variants, lambda g: g.model.variants):
        try:
            own = getter(generator) if generator is not None else None
        except Exception:  # a plugin's property may raise: the folder is still read below
            continue
        if isinstance(own, dict) and own and all(isinstance(v, Variant) for v in own.values()):
            return dict(own), ""
    try:
        return folder_variants(folder), ""
    except StudioError as exc:
        return {}, str(exc)
    except OSError as exc:
        return {}, f"cannot read {folder}: {exc.strerror or exc}"


def _made_here(generator: Any, variants: dict[str, Variant]) -> tuple[str, ...]:
    """The choices of the generator's ``variant`` parameter that are not files on disk."""
    try:
        param = next((p for p in generator.params if p.name == "variant"), None) if generator is not None else None
        choices = tuple(param.choices) if param is not None else ()
    except Exception:  # a plugin's params may be anything: the record still lists the files
        return ()
    return tuple(c for c in choices if isinstance(c, str) and c != "auto" and c not in variants)


def _builtin_record(host: Any, folder: Path) -> ModelRecord:
    folder = folder.resolve()
    generator = next((g for g in host.plugins.generators.values() if generator_folder(g) == folder), None)
    variants, problem = _variants(generator, folder)
    license = folder_license(folder)
    return ModelRecord(
        name=folder.name,
        kind=getattr(generator, "kind", ""),
        generator_id=getattr(generator, "id", ""),
        layout=_layout(host, folder),
        folder=folder,
        origin="built-in",
        variants=variants,
        source="built-in",
        license=(BUILT_IN_LICENSE + (", see ATTRIBUTION.md" if (folder / "ATTRIBUTION.md").is_file() else "")
                 if license == UNKNOWN else license),
        error=problem or ("" if generator else "no plugin made a generator of it (see the log)"),
        made_here=_made_here(generator, variants),
        required_device=_required_device(generator, folder),
    )


def _required_device(generator: Any, folder: Path) -> str:
    """The generator's own word (the SD plugin checks its graphs when it loads), else what the
    folder's graphs say (read once per file, then remembered in the cache)."""
    said = getattr(generator, "required_device", None) if generator is not None else None
    if isinstance(said, str):
        return said
    if generator is None or not folder.is_dir():
        return ""
    try:
        return folder_required_device(folder) or ""
    except StudioError:
        return ""  # a folder with too many graphs: the file check says so when it is added


def _is_installed(folder: Path) -> bool:
    return folder.parent == resolved_folder(paths.models()) and (folder / FILE_NAME).is_file()


def _folder_record(host: Any, entry: Any, added_times: dict[str, str]) -> ModelRecord:
    folder = resolved_folder(entry.path)
    manifest: Manifest | None = None
    errors = [entry.error] if entry.error else []
    if _is_installed(folder):
        try:
            manifest = read_manifest(folder)
        except StudioError as exc:
            errors.append(str(exc))
    generator = entry.generator
    variants, problem = _variants(generator, folder)
    if problem:
        errors.append(problem)
    if manifest is not None:
        origin = "imported" if manifest.source.get("import") and not manifest.hub_repo else "downloaded"
        # The manifest's words came from the hub: one printable line each, like the model card's.
        name, source, license = one_line(manifest.name, 200), one_line(manifest.source_text, 300), one_line(manifest.license)
        added = one_line(manifest.added, 40)
    else:
        origin = "downloaded" if _is_installed(folder) else "added"
        name, source, license, added = folder.name, str(folder), "", added_times.get(str(folder), "")
    return ModelRecord(
        name=name,
        kind=getattr(generator, "kind", "") if generator is not None else "",
        generator_id=generator.id if generator is not None else "",
        layout=(entry.loader.title or entry.loader.id) if entry.loader is not None else "",
        folder=folder,
        origin=origin,
        variants=variants,
        source=source,
        license=license or folder_license(folder),
        added=added,
        error="; ".join(errors),
        made_here=_made_here(generator, variants),
        required_device=_required_device(generator, folder),
    )


def find_record(host: Any, name: str) -> ModelRecord:
    """The model called ``name``: its generator id, its name or its folder's name (case-insensitive),
    or its folder's path."""
    records = model_records(host)
    wanted = name.casefold()
    for match in (
        [r for r in records if r.generator_id and r.generator_id.casefold() == wanted],
        [r for r in records if r.name.casefold() == wanted],
        [r for r in records if r.folder.name.casefold() == wanted],  # a download's folder, named after its repo
        [r for r in records if _same_folder(r.folder, name)],
    ):
        if len(match) == 1:
            return match[0]
        if len(match) > 1:
            which = ", ".join(f"{r.generator_id or r.folder}" for r in match)
            raise StudioError(f"{len(match)} models are called {name!r}; say which by its generator id or folder: {which}")
    known = ", ".join(sorted({r.name for r in records}, key=str.casefold)) or "none"
    raise StudioError(f"no model called {name!r}; Studio knows: {known}")


def _same_folder(folder: Path, text: str) -> bool:
    try:
        return resolved_folder(text) == folder
    except ValueError:  # a NUL in the name
        return False


# -- changes ---------------------------------------------------------------------------------------


def remove_model(host: Any, record: ModelRecord) -> int:
    """Remove a model; returns the bytes freed.

    A download or an import is deleted (its folder is first renamed to a hidden work name, so a
    half-deleted model is never listed); an added folder is only forgotten (0 bytes: its files
    stay); a built-in one is refused. The choices of default variant are forgotten too."""
    if not record.removable:
        raise StudioError(f"{record.name} is built into Studio and cannot be removed")
    freed = _delete_installed(record) if record.deletes_files else 0
    host.settings.remove_model_folder(record.folder)
    variant_defaults.forget(record.folder)
    host.reload_model_folders()
    return freed


def _delete_installed(record: ModelRecord) -> int:
    folder = record.folder
    place = resolved_folder(paths.models())
    if folder.parent != place or folder.is_symlink() or not folder.is_dir():
        # Never delete what is not a folder Studio made in its own models folder.
        raise StudioError(f"{folder} is not in Studio's models folder {place}; it was not deleted")
    size = folder_size(folder)
    trash = place / f".removing-{folder.name}-{uuid.uuid4().hex[:8]}"
    try:
        folder.rename(trash)
    except OSError as exc:
        raise StudioError(f"cannot remove {folder}: {exc.strerror or exc}") from None
    failures: list[str] = []
    # onerror, not 3.12's onexc: Studio runs on 3.10 and 3.11 too.
    shutil.rmtree(trash, onerror=lambda _function, path, excinfo: failures.append(f"{path}: {excinfo[1]}"))
    if failures:
        left = folder_size(trash) if trash.exists() else 0
        log.warning("could not delete everything of %s: %s", folder, failures)
        raise StudioError(f"{record.name} is no longer installed, but {human_size(left)} could not be deleted "
                          f"from {trash} ({failures[0]}); delete that folder yourself")
    return size + _delete_cached_copies(folder)


def _delete_cached_copies(folder: Path) -> int:
    """Delete the copies Studio derived from the model's files into its cache (int4 weights, a
    fused graph: each as large as the model), found by the ``paths.MADE_FROM`` file they hold;
    the bytes freed."""
    cache = paths.cache()
    freed = 0
    for marker in (*cache.glob(f"*/{paths.MADE_FROM}"), *cache.glob(f"*/*/{paths.MADE_FROM}")):
        try:
            source = Path(marker.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            continue  # not readable: not ours to judge
        copy = marker.parent
        if not source.is_relative_to(folder) or copy.is_symlink():
            continue
        size = folder_size(copy)
        shutil.rmtree(copy, ignore_errors=True)
        freed += size - (folder_size(copy) if copy.exists() else 0)
    return freed


def set_default(record: ModelRecord, device_kind: str, variant: str | None) -> None:
    """Make ``variant`` the model's default on ``"cpu"`` or ``"gpu"`` (``None``: let Studio pick),
    refusing a variant the model does not have."""
    if variant is not None and variant not in record.variants and variant not in record.made_here:
        has = ", ".join(record.variants) or "none Studio can list"
        if record.made_here:
            has += f" (and can make {', '.join(record.made_here)} here)"
        raise StudioError(f"{record.name} has no {variant} variant; it has {has}")
    variant_defaults.set_default_variant(record.folder, device_kind, variant)  # checks the device kind
