"""The value of a ``loras`` parameter: which LoRA files to apply, each with its weight.

A value is a tuple of ``(path, weight)`` pairs: the path absolute (a result must reproduce
from any folder), the weight a finite float from -4 to 4. It arrives as such pairs from the
form, as JSON lists from a saved project or history, and as ``FILE`` or ``FILE:WEIGHT`` text
from the command line (``--param lora=FILE:0.8``, repeatable). What the file holds is read
later, by the plugin that applies it (``studio.core.models.lora_file``); here only what can
be told without reading it: a regular ``.safetensors`` file that exists.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from studio.errors import ParamError

WEIGHT_LIMIT = 4.0  # A1111 and ComfyUI sliders stop near here; beyond it a LoRA only burns the image
MAX_LORAS = 16  # each one costs a copy of the weights it touches
DEFAULT_WEIGHT = 1.0

LoraSet = tuple[tuple[str, float], ...]


def coerce_loras(name: str, value: Any) -> LoraSet:
    """``value`` as a LoRA set, or ``ParamError`` saying which entry is wrong and why."""
    if value is None or value == "":
        return ()
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__") or _is_pair(value):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ParamError(f"{name}: expected LoRA files with weights, got {type(value).__name__}")
    if len(value) > MAX_LORAS:
        raise ParamError(f"{name}: {len(value)} LoRAs given; Studio applies {MAX_LORAS} at most")
    loras: list[tuple[str, float]] = []
    for entry in value:
        path, weight = _entry(name, entry)
        if any(path == seen for seen, _ in loras):
            raise ParamError(f"{name}: {path} is given twice; give it once, with the sum of the weights")
        loras.append((path, weight))
    return tuple(loras)


def split_entry(text: str) -> tuple[str, float | None]:
    """``"FILE:0.8"`` -> ``("FILE", 0.8)``; ``"FILE"`` -> ``("FILE", None)``.

    Split on the last colon only when what follows it is a number, so a Windows path
    (``C:\\loras\\x.safetensors``) or a colon inside a file name stays part of the path.
    """
    head, sep, tail = text.rpartition(":")
    if sep:
        try:
            return head, float(tail.strip())
        except ValueError:
            pass
    return text, None


def lora_name(path: str) -> str:
    """The name A1111 writes in ``<lora:NAME:WEIGHT>``: the file's name without ``.safetensors``."""
    return Path(path).stem


def lora_tag(path: str, weight: float) -> str:
    return f"<lora:{lora_name(path)}:{weight:g}>"


def lora_argument(path: str, weight: float) -> str:
    """The ``--param`` value that gives this entry on the command line."""
    return f"lora={path}:{weight:g}"


def _is_pair(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple)) and len(value) == 2
        and isinstance(value[0], (str, os.PathLike)) and not isinstance(value[1], (str, os.PathLike, list, tuple))
    )


def _entry(name: str, entry: Any) -> tuple[str, float]:
    if isinstance(entry, bytes):
        entry = os.fsdecode(entry)
    if isinstance(entry, str):
        text, weight = split_entry(entry.strip())
    elif hasattr(entry, "__fspath__"):
        text, weight = os.fspath(entry), None
    elif isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], (str, os.PathLike)):
        text, weight = os.fspath(entry[0]), entry[1]
    else:
        raise ParamError(f"{name}: expected FILE or FILE:WEIGHT (a .safetensors LoRA and a number), got {entry!r}")
    return _checked_path(name, text), _checked_weight(name, text, DEFAULT_WEIGHT if weight is None else weight)


def _checked_path(name: str, text: str) -> str:
    if not text.strip():
        raise ParamError(f"{name}: a LoRA entry has no file name")
    path = Path(text).expanduser()
    if path.suffix.lower() != ".safetensors":
        hint = " (pickled files can run code when loaded; LoRAs are published as .safetensors)" if path.suffix.lower() in (".ckpt", ".pt", ".bin", ".pth") else ""
        raise ParamError(f"{name}: {text} is not a .safetensors file; Studio reads LoRAs in safetensors only{hint}")
    try:
        regular = path.is_file()
        exists = regular or path.exists()
    except OSError as exc:  # a name too long for the file system, a permission on the way
        raise ParamError(f"{name}: cannot read {text} ({exc.strerror or exc})") from None
    if not exists:
        raise ParamError(f"{name}: no such LoRA file: {text} (give FILE or FILE:WEIGHT)")
    if not regular:
        raise ParamError(f"{name}: {text} is not a regular file")
    return os.path.abspath(path)


def _checked_weight(name: str, path: str, weight: Any) -> float:
    if isinstance(weight, bool):
        raise ParamError(f"{name}: the weight of {path} must be a number, got {weight!r}")
    try:
        number = float(weight)
    except (TypeError, ValueError):
        raise ParamError(f"{name}: the weight of {path} must be a number, got {weight!r}") from None
    if not math.isfinite(number) or not -WEIGHT_LIMIT <= number <= WEIGHT_LIMIT:
        raise ParamError(f"{name}: the weight of {path} is {number:g}; a LoRA's weight lies from {-WEIGHT_LIMIT:g} to {WEIGHT_LIMIT:g}")
    return number
