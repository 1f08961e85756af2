"""The variant a user chose as a model's default on each kind of device (the Models window's
"Default on CPU / on GPU", ``studio models default``).

Kept in one small JSON file in Studio's profile, keyed by the model folder, because Studio never
writes into a folder the user added. A generator whose ``variant`` parameter is ``auto`` asks
``default_variant`` first, then falls back to ``variants.preferred``. Writes hold a file lock:
a window and a CLI may change it at once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from studio.core.base import paths
from studio.core.base.atomic_write import write_atomically
from studio.core.base.file_lock import locked
from studio.core.models.variants import VARIANTS, preferred
from studio.errors import ModelError

DEVICE_KINDS = ("cpu", "gpu")
# A variant's name: those the exports ship (variants.VARIANTS) and those a generator makes here
# from the fp32 weights (the language models' "int4"). Whether the model has it is the caller's
# check (models.library); a generator uses a default only when it has that variant.
_NAME = re.compile(r"[a-z0-9][a-z0-9_]{0,31}")


def _file() -> Path:
    return paths.home() / "model_defaults.json"


def _read() -> dict[str, dict[str, str]]:
    path = _file()
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() and path.stat().st_size < 1 << 20 else {}
    except (OSError, ValueError):
        return {}  # a damaged file only loses the choices, never a model
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, dict)} if isinstance(data, dict) else {}


def _key(folder: Path | str) -> str:
    return str(Path(folder).expanduser().resolve())


def default_variant(folder: Path | str, device_kind: str) -> str | None:
    """The variant the user chose for this model on ``"cpu"`` or ``"gpu"``, if any."""
    choice = _read().get(_key(folder), {}).get(device_kind)
    return choice if isinstance(choice, str) and _NAME.fullmatch(choice) else None


def set_default_variant(folder: Path | str, device_kind: str, variant: str | None) -> None:
    """Remember ``variant`` (``None``: forget the choice) for the model on that kind of device."""
    if device_kind not in DEVICE_KINDS:
        raise ModelError(f"the device kind is cpu or gpu, not {device_kind!r}")
    if variant is not None and not _NAME.fullmatch(variant):
        raise ModelError(f"{variant!r} is not a variant name; they are short words such as {', '.join(VARIANTS)}")
    path = _file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path):
        data = _read()
        entry = data.setdefault(_key(folder), {})
        if variant is None:
            entry.pop(device_kind, None)
        else:
            entry[device_kind] = variant
        if not entry:
            data.pop(_key(folder))
        write_atomically(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def forget(folder: Path | str) -> None:
    """Drop every choice for a model that was removed."""
    path = _file()
    if not path.is_file():
        return
    with locked(path):
        data = _read()
        if data.pop(_key(folder), None) is not None:
            write_atomically(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def choose_variant(folder: Path | str, asked: str | None, present: tuple[str, ...], device_kind: str, made_here: tuple[str, ...] = ()) -> str:
    """The variant a job runs: the one ``asked`` for when the model has it; for ``auto`` (or a
    name it lacks, from a project saved with another copy of the model) the user's default for
    this kind of device, else the one that suits the device best (``variants.PREFERRED``).
    ``made_here``: variants a generator makes from the fp32 weights, which may be asked for or
    chosen as a default but are never picked unasked."""
    if asked in present or asked in made_here:
        return str(asked)
    default = default_variant(folder, device_kind)
    if default in present or default in made_here:
        return str(default)
    return preferred(present, device_kind) or present[0]
