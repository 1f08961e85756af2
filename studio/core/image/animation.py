"""Animations out of pictures: a morph's frames as an animated GIF or WebP.

Frames are uint8 RGB or RGBA arrays of one size (what a generator's results are). WebP is
written lossless, so each frame is exactly the picture it was; GIF holds 256 colours a frame
(Pillow picks each frame's palette). A file is written to a temporary name beside the target
and renamed over it, so the target holds the old file or the whole new one, never half.
The Explorer's Export animation… and ``studio explore`` both write through ``write_animation``.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
from pathlib import Path
from typing import Sequence

import numpy as np

from studio.errors import OutputError

#: The file types an animation is written as, by suffix.
FORMATS = {".gif": "GIF", ".webp": "WEBP"}
MAX_FRAMES = 1000
#: GIF counts frame time in hundredths of a second, and browsers show faster frames at 10 a second.
MIN_FRAME_SECONDS = 0.02
MAX_FRAME_SECONDS = 60.0


def encode_animation(frames: Sequence[np.ndarray], kind: str, frame_seconds: float, loop: bool = True) -> bytes:
    """``frames`` as the bytes of an animated ``kind`` ("GIF" or "WEBP") showing each for
    ``frame_seconds``, looping forever or played once."""
    from PIL import Image

    if kind not in FORMATS.values():
        raise OutputError(f"An animation is written as GIF or WebP, not {kind}")
    pictures = [Image.fromarray(frame) for frame in _checked(frames)]
    if not MIN_FRAME_SECONDS <= frame_seconds <= MAX_FRAME_SECONDS:
        raise OutputError(f"Each frame shows for {MIN_FRAME_SECONDS} to {MAX_FRAME_SECONDS:g} seconds, not {frame_seconds:g}")
    milliseconds = int(round(frame_seconds * 1000))
    options: dict = {"save_all": True, "append_images": pictures[1:], "duration": milliseconds}
    if kind == "WEBP":
        options.update(lossless=True, quality=100, method=4, loop=0 if loop else 1)
    else:
        # A GIF loops only when it says so (Netscape's block); without it it plays once.
        options.update(disposal=2, optimize=False, **({"loop": 0} if loop else {}))
    buffer = io.BytesIO()
    pictures[0].save(buffer, kind, **options)
    return buffer.getvalue()


def write_animation(frames: Sequence[np.ndarray], path: str | os.PathLike[str], frame_seconds: float = 0.1, loop: bool = True) -> Path:
    """Write ``frames`` to ``path`` (.gif or .webp), atomically; returns the path written.
    A bad path, suffix or frame is an ``OutputError`` saying what to do."""
    path = Path(path).expanduser()
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise OutputError(f"Cannot write {path.name or path}: an animation is a .gif or a .webp file")
    if path.is_dir():
        raise OutputError(f"Cannot write {path}: it is a folder; give a file name such as {path / 'morph.webp'}")
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"Cannot write {path}: the folder {folder} does not exist")
    data = encode_animation(frames, kind, frame_seconds, loop)
    temp = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.writing"
    try:
        with open(temp, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise OutputError(f"Cannot write {path}: {exc.strerror or exc}") from None
    return path


def _checked(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The frames as contiguous uint8 RGB(A) arrays of one size; refused in words otherwise."""
    if len(frames) == 0:
        raise OutputError("An animation needs at least one frame; morph first")
    if len(frames) > MAX_FRAMES:
        raise OutputError(f"An animation holds at most {MAX_FRAMES} frames, not {len(frames)}")
    out = []
    for number, frame in enumerate(frames, 1):
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] not in (3, 4) or 0 in frame.shape[:2]:
            raise OutputError(f"Frame {number} is not a picture (uint8 RGB or RGBA); it is {frame.dtype} {frame.shape}")
        if frame.shape != np.asarray(frames[0]).shape:
            raise OutputError(f"Frame {number} is {frame.shape[1]} × {frame.shape[0]}, the first {frames[0].shape[1]} × {frames[0].shape[0]}: "
                              "an animation's frames share one size")
        out.append(np.ascontiguousarray(frame))
    return out
