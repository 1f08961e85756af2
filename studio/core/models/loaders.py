"""Model folders: which loader understands a folder, and the generator it makes of it.

A plugin registers ``ModelLoader``s; each recognises one folder layout (``detect``, cheap:
look at file names, never create a session) and turns a folder into a generator (``load``).
The user's list of folders is kept by the app's settings; this module only resolves them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from studio.core.engine.generators import Generator, check_generator
from studio.core.models.check import check_onnx_files
from studio.core.models.limits import check_file_size
from studio.core.models.unusable_weights import unusable_weights_message
from studio.errors import ModelError, StudioError

log = logging.getLogger(__name__)


class ModelLoader:
    """Recognises one model-folder layout and makes a generator from such a folder.

    A plugin registers loaders in its ``register_model_loaders(register)`` hook. When the user
    adds a model folder (``studio models add PATH``, or Settings in the window), Studio asks
    each loader in turn (``detect``) whether the folder is its kind, and the first that says yes
    turns it into a ``studio.Generator`` (``load``; by convention its id is ``<prefix>:<folder name>``),
    which then appears beside the plugin's own generators. ``load`` only reads what describes
    the model (its config, its file names); the heavy part, creating onnxruntime sessions,
    belongs in the generator's ``load(ctx)``, which runs on the job's device and is cached.
    """

    id: str = ""
    title: str = ""
    #: One line shown when no loader understands a folder: what this loader looks for.
    layout: str = ""

    def detect(self, folder: Path) -> bool:
        """Whether ``folder`` has this loader's layout. Cheap, and never raising for a folder
        that is merely someone else's: look for the files that mark the layout."""
        raise NotImplementedError

    def load(self, folder: Path) -> Generator:
        """The generator for a folder ``detect`` accepted. Raise ``studio.ModelError`` with a
        plain message for a folder that has the layout but cannot be used (a missing or
        unreadable file): the user sees it beside the folder; any other exception is reported
        as the loader's bug."""
        raise NotImplementedError


@dataclass
class ModelFolder:
    """One folder from the user's list and what became of it."""

    path: Path
    loader: ModelLoader | None = None
    generator: Generator | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.generator is not None


def read_json(path: Path, what: str, required: bool = True) -> dict:
    """A model folder's JSON file (config, index, scheduler...) as a dict, or a ``ModelError``
    naming the file; ``{}`` for an optional file that is absent."""
    import json

    if not path.is_file():
        if required:
            raise ModelError(f"{what} is missing: {path}")
        return {}
    try:
        check_file_size(path)
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: also a number of over 4300 digits
        raise ModelError(f"{what} is not readable JSON: {path} ({exc})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{what} should hold a JSON object: {path}")
    return data


def check_folder(folder: Path | str) -> Path:
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise ModelError(f"model folder not found: {folder}")
    if not folder.is_dir():
        raise ModelError(f"{folder} is a file; a model is added as the folder that contains it")
    return folder.resolve()


def find_loader(folder: Path | str, loaders: Sequence[ModelLoader]) -> ModelLoader:
    """The first loader that recognises ``folder``, or a ``ModelError`` listing what each expects."""
    folder = check_folder(folder)
    for loader in loaders:
        try:
            if loader.detect(folder):
                return loader
        except Exception:  # a loader's bug must not hide the folder from the others
            log.exception("model loader %s failed to inspect %s", loader.id, folder)
    # Pickled weights are never loaded (they can run code): say how to get an ONNX model instead.
    unusable = unusable_weights_message(folder)
    if unusable:
        raise ModelError(unusable)
    expected = "; ".join(f"{l.title or l.id}: {l.layout}" for l in loaders if l.layout) or "no model loaders are installed"
    raise ModelError(f"no installed plugin understands the model folder {folder}. Expected one of: {expected}")


def check_new_folder(folder: Path | str, loaders: Sequence[ModelLoader]) -> ModelLoader:
    """What adding a folder (the CLI's ``models add``, the window's Add model folder) checks
    before it is remembered: a loader understands it, and every ONNX file in it opens."""
    loader = find_loader(folder, loaders)
    check_onnx_files(check_folder(folder))
    return loader


def load_folder(folder: Path | str, loaders: Sequence[ModelLoader]) -> ModelFolder:
    """Resolve one folder; every failure is kept in the result, never raised."""
    entry = ModelFolder(Path(folder).expanduser())
    try:
        entry.loader = find_loader(folder, loaders)
        generator = entry.loader.load(check_folder(folder))
        check_generator(generator)
        entry.generator = generator
    except StudioError as exc:
        entry.error = str(exc)
    except Exception as exc:
        owner = entry.loader.id if entry.loader else "a model loader"
        log.exception("%s failed to load %s", owner, folder)
        entry.error = f"{owner} failed to load {folder}: {type(exc).__name__}: {exc}"
    return entry


def load_folders(folders: Iterable[Path | str], loaders: Sequence[ModelLoader]) -> list[ModelFolder]:
    return [load_folder(folder, loaders) for folder in folders]
