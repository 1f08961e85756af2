"""Pictures as values: reading an image file into pixels, within the size limits Studio works to.

What an image parameter takes from a file (``load_picture``), what opening a picture on the
canvas reads (``read_picture``, with its text metadata), and the limits both refuse past
before a byte is decoded. The canvas document (``studio.core.image.document``) builds on these.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from studio.core.base.input_files import open_input
from studio.core.base.memory import ensure_memory
from studio.errors import ParamError, StudioError

MAX_SIDE = 16384
MAX_PICTURE_PIXELS = 16384 * 16384  # 268 M pixels: 1 GiB of RGBA per layer already
#: A generator's input picture (from a file or the canvas): 256 MB of RGBA. Models run at a few
#: megapixels; a 16384² picture handed to a 64² run cost 4.1 GB before it was resized.
MAX_INPUT_PIXELS = 8192 * 8192


def check_canvas_size(width: int, height: int, what: str = "the canvas") -> None:
    """Refuse a size no machine should be asked to hold, with a message a person can act on."""
    if width < 1 or height < 1:
        raise StudioError(f"{what} must be at least 1 × 1 pixel, not {width} × {height}")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PICTURE_PIXELS:
        raise StudioError(
            f"{what} would be {width} × {height} pixels; Studio works up to {MAX_SIDE} pixels a side "
            f"and {MAX_PICTURE_PIXELS // 1_000_000} million pixels in all"
        )


def check_input_size(width: int, height: int, max_pixels: int = MAX_INPUT_PIXELS, what: str = "the picture") -> None:
    """Refuse a picture larger than a generator's input may be (by its header, before decoding)."""
    if width * height > max_pixels:
        side = math.isqrt(max_pixels)
        raise StudioError(
            f"{what} is {width} × {height} pixels; a generator takes pictures up to {side} × {side} "
            f"({max_pixels // 1_000_000} million pixels): scale it down or use a part of it"
        )


def load_picture(path: str | os.PathLike[str], kind: str = "image", name: str = "image") -> np.ndarray:
    """Read an image file as uint8 RGBA (``kind="image"``) or a grey mask (``kind="mask"``),
    as a generator's input: at most ``MAX_INPUT_PIXELS``.

    A file that is missing, not an image, damaged or too large is a ``ParamError`` that
    names the parameter and the file.
    """
    try:
        pixels, _ = read_picture(path, "RGBA" if kind == "image" else "L", MAX_INPUT_PIXELS)
    except StudioError as exc:
        raise ParamError(f"{name}: {exc}") from None
    return pixels


def read_picture(path: str | os.PathLike[str], mode: str = "RGBA", max_pixels: int = MAX_PICTURE_PIXELS) -> tuple[np.ndarray, dict[str, str]]:
    """Decode an image file into uint8 pixels of Pillow ``mode``, with its text metadata.

    The metadata holds PNG text chunks as they are (``parameters``, ``studio``…); for JPEG
    and WebP, the EXIF ImageDescription as ``studio`` when it holds JSON and the UserComment
    as ``parameters``, where Studio and AUTOMATIC1111 write them. A file that is missing, not
    an image, damaged or too large is a ``StudioError`` naming the file.
    """
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PICTURE_PIXELS
    try:
        with open_input(path, "picture") as file, Image.open(file) as picture:
            # The header gives the size: refuse a huge picture before decoding a byte of it
            # (Pillow only refuses past twice its limit, and would first allocate gigabytes).
            check_canvas_size(*picture.size, what=f"{path}")
            check_input_size(*picture.size, max_pixels, what=f"{path}")
            # Decoding holds the file's own pixels and the converted ones at once.
            ensure_memory(picture.size[0] * picture.size[1] * (len(picture.getbands()) + len(mode)), f"reading {path}")
            picture.load()
            metadata = _text_metadata(picture)
            converted = picture.convert(mode)
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise StudioError(f"{path} is not an image Studio can read ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow's ways of saying "damaged"
        raise StudioError(f"{path} could not be read: it is damaged or truncated ({exc})") from None
    return np.asarray(converted, dtype=np.uint8).copy(), metadata


EXIF_IFD, EXIF_IMAGE_DESCRIPTION, EXIF_USER_COMMENT = 0x8769, 0x010E, 0x9286


def _text_metadata(picture: Any) -> dict[str, str]:
    texts = {str(k): str(v) for k, v in (getattr(picture, "text", None) or {}).items()}
    if texts:
        return texts
    try:
        exif = picture.getexif()
    except Exception:  # noqa: BLE001 - damaged EXIF is no reason to refuse the pixels
        return {}
    description = exif.get(EXIF_IMAGE_DESCRIPTION)
    if isinstance(description, bytes):
        description = description.decode("utf-8", "replace")
    if isinstance(description, str) and description.lstrip().startswith("{"):
        texts["studio"] = description
    comment = exif.get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT)
    if isinstance(comment, bytes):
        if comment.startswith(b"UNICODE\x00"):
            body = comment[8:]
            # A1111 writes UTF-16 big-endian; some tools little-endian: take what decodes as text.
            big, little = body.decode("utf-16-be", "replace"), body.decode("utf-16-le", "replace")
            comment = big if sum(c.isprintable() for c in big) >= sum(c.isprintable() for c in little) else little
        elif comment[:8] in (b"ASCII\x00\x00\x00", b"\x00" * 8):
            comment = comment[8:].decode("utf-8", "replace")
        else:
            comment = comment.decode("utf-8", "replace")
    if isinstance(comment, str) and comment.strip("\x00 "):
        texts["parameters"] = comment.strip("\x00")
    return texts
