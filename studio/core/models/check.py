"""Opening a model folder's ONNX files before the folder is added, so "ok" means it loads.

A loader recognises a folder by its file names and reads its JSON; the ONNX files are first
opened when a job runs. A truncated download, a Git LFS pointer saved in place of the weights
or any other damaged ``.onnx`` would then pass ``studio models add`` (and the window's Add model
folder) and fail only later, in a job. ``check_onnx_files`` opens each one first: the safety
checks of ``model_safety`` (external data inside the folder and long enough), then onnx's own
checker, which parses the whole model and checks its graph (without loading external weights,
so a multi-gigabyte UNet costs a few milliseconds). A failure names the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from studio.core.engine.model_safety import check_model_file
from studio.errors import ModelError

#: How far below the folder ONNX files are looked for (diffusers keeps them in unet/ and so on,
#: the onnx-community repos in onnx/).
SEARCH_DEPTH = 2
#: At most this many ONNX files are opened: a folder with more is not one model.
MAX_FILES = 64


def onnx_files(folder: Path) -> list[Path]:
    """The ``.onnx`` files in ``folder`` and below it (to ``SEARCH_DEPTH``), without following
    links to folders; a ``ModelError`` when there are more than ``MAX_FILES``."""
    found: list[Path] = []
    for directory, subfolders, files in os.walk(folder):
        depth = len(Path(directory).relative_to(folder).parts)
        if depth >= SEARCH_DEPTH:
            subfolders.clear()
        subfolders.sort()
        found += [Path(directory) / name for name in sorted(files) if name.lower().endswith(".onnx")]
        if len(found) > MAX_FILES:
            raise ModelError(f"{folder} holds more than {MAX_FILES} ONNX files: add the folder of one model")
    return found


def check_onnx_files(folder: str | os.PathLike[str]) -> None:
    """Open every ONNX file of the model folder; a ``ModelError`` naming the first bad one."""
    import onnx

    for path in onnx_files(Path(folder)):
        resolved = check_model_file(path)  # refuses links out of the folder and bad external data
        try:
            onnx.checker.check_model(str(resolved))
        except Exception as exc:  # noqa: BLE001 - onnx says "damaged" with several exception types
            if str(exc).startswith("No Op registered for"):
                # The whole file parsed: it uses an operator onnx does not define but onnxruntime
                # does (onnxruntime-genai writes SimplifiedLayerNormalization in onnx's domain).
                # Not damaged; whether the operator runs is onnxruntime's to say, when a job opens it.
                continue
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"the model file {path} is damaged or not an ONNX model ({detail}); "
                "download or export it again (an interrupted download leaves a truncated file)"
            ) from None
