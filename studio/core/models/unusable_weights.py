"""Weights in a model folder that Studio cannot run: pickles (never loaded) and safetensors.

``.pt``/``.pth``/``.bin``/``.ckpt``/``.pkl`` files are Python pickles (or zips of pickles):
unpickling runs whatever code the file asks for. Studio only runs ONNX;
``unusable_weights_message`` tells a person who added such a folder to import it instead
(``studio models import``: safetensors weights converted to ONNX), or where to find weights
that can be imported. Nothing found is opened beyond a sniff of its first bytes. (The check of the ONNX
files themselves is ``studio.core.engine.model_safety``.)
"""

from __future__ import annotations

import os
import shlex
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

from studio.core.engine.model_safety import external_references
from studio.errors import ModelError

#: Files that are (by convention) Python pickles, or zips of them (torch.save).
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle")
#: How far below a model folder to look for weights (diffusers keeps them one level down).
_SEARCH_DEPTH = 2
_SEARCH_LIMIT = 5000  # entries looked at, at most: a folder of a million files is not a model


@dataclass
class WeightsFound:
    """The weights files in a folder that Studio cannot run, by kind."""

    pickled: list[Path]
    safetensors: list[Path]


def find_unusable_weights(folder: str | os.PathLike[str]) -> WeightsFound:
    """Pickled and safetensors weights in ``folder`` (and the levels below it that model repos use).

    A ``.bin`` that an ``.onnx`` beside it names as its external data is ONNX weights, not a
    pickle; any other ``.bin`` counts as pickled only when its first bytes say so (a torch zip
    with a ``data.pkl`` inside, or a pickle's protocol header). Nothing found is opened beyond
    that sniff.
    """
    folder = Path(folder)
    found = WeightsFound([], [])
    for directory, files in _walk(folder):
        referenced = _referenced_here(directory, files)
        for name in files:
            path = directory / name
            suffix = path.suffix.lower()
            if suffix == ".safetensors":
                found.safetensors.append(path)
            elif suffix == ".bin":
                if name not in referenced and _looks_pickled(path):
                    found.pickled.append(path)
            elif suffix in PICKLE_SUFFIXES:
                found.pickled.append(path)
    return found


def unusable_weights_message(folder: str | os.PathLike[str]) -> str | None:
    """What to tell a person whose folder holds only weights Studio will not run; ``None`` if none."""
    folder = Path(folder)
    found = find_unusable_weights(folder)
    if not found.pickled and not found.safetensors:
        return None
    if found.pickled:
        names = _names(found.pickled, folder)
        return (
            f"the model folder {folder} holds pickled PyTorch weights ({names}). Studio never loads pickled "
            f"weights, because unpickling a file can run any code hidden in it. {pickled_advice(folder)}"
        )
    names = _names(found.safetensors, folder)
    quoted = shlex.quote(str(folder))
    return (
        f"the model folder {folder} holds safetensors weights ({names}): safe to keep (they cannot run code), "
        f"but they are not an ONNX model, which is what Studio runs. Import it instead: studio models import {quoted} "
        "(or File > Import model…) converts it to ONNX"
    )


def pickled_advice(folder: Path) -> str:
    """The way out for pickled weights: the same model's safetensors release, imported (Studio
    converts diffusers and transformers folders and SD checkpoints itself)."""
    quoted = shlex.quote(str(folder))
    if _is_diffusers(folder) or _is_transformers(folder):
        kind = "a diffusers pipeline" if _is_diffusers(folder) else "a Hugging Face transformers model"
        return (
            f"This looks like {kind}; the same model is almost always published with .safetensors weights too: "
            f"download those into the folder and import it with studio models import {quoted} (or File > Import model…)"
        )
    return (
        "If it is a Stable Diffusion checkpoint, download its .safetensors release and import that with "
        "studio models import FILE.safetensors (or File > Import model…); otherwise load it in PyTorch yourself, "
        "from a source you trust, and write it out with torch.onnx.export (https://pytorch.org/docs/stable/onnx.html)"
    )


def _is_diffusers(folder: Path) -> bool:
    if (folder / "model_index.json").is_file():
        return True
    return any(name.startswith("diffusion_pytorch_model") for _, files in _walk(folder) for name in files)


def _is_transformers(folder: Path) -> bool:
    if (folder / "config.json").is_file():
        return True
    return any(name.startswith(("pytorch_model", "model.safetensors")) for name in _list(folder))


def _walk(folder: Path) -> Iterator[tuple[Path, list[str]]]:
    """(directory, file names) for ``folder`` and its subfolders down to ``_SEARCH_DEPTH``,
    without following symbolic links to folders (a link could loop or lead anywhere)."""
    budget = _SEARCH_LIMIT
    pending = [(folder, 0)]
    while pending and budget > 0:
        directory, depth = pending.pop(0)
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError:
            continue
        files = []
        for entry in entries[:budget]:
            try:
                if entry.is_file():
                    files.append(entry.name)
                elif entry.is_dir(follow_symlinks=False) and depth < _SEARCH_DEPTH:
                    pending.append((Path(entry.path), depth + 1))
            except OSError:
                continue
        budget -= len(entries)
        yield directory, files


def _list(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _referenced_here(directory: Path, files: list[str]) -> set[str]:
    """The file names that the ``.onnx`` files in ``directory`` use as external data."""
    names: set[str] = set()
    for name in files:
        if name.lower().endswith(".onnx"):
            try:
                names.update(PurePosixPath(r.location.replace("\\", "/")).name for r in external_references(directory / name))
            except (ModelError, OSError, ValueError):
                continue  # a damaged .onnx references nothing we could trust anyway
    return names


def _looks_pickled(path: Path) -> bool:
    """A torch.save zip (a ``data.pkl`` inside) or a bare pickle (protocol 2-5 header)."""
    try:
        with open(path, "rb") as file:
            head = file.read(4)
        if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
            return True
        if head == b"PK\x03\x04":
            with zipfile.ZipFile(path) as archive:
                return any(name == "data.pkl" or name.endswith("/data.pkl") for name in archive.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False
    return False


def _names(paths: list[Path], folder: Path, limit: int = 3) -> str:
    shown = [str(p.relative_to(folder)) if folder in p.parents else p.name for p in paths[:limit]]
    more = len(paths) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
