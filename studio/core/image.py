"""The image document: a stack of RGBA layers as plain numpy data.

Pixels are uint8 RGBA with straight (not premultiplied) alpha, the layout Pillow, Qt's
``Format_RGBA8888`` and every generator share, so nothing is converted on the way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from studio.errors import ParamError

DEFAULT_SIZE = (512, 512)


@dataclass(eq=False)
class Layer:
    name: str
    pixels: np.ndarray
    visible: bool = True
    opacity: float = 1.0
    #: The parameters that made this layer, when a generator did (reproducible).
    generator: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pixels.ndim != 3 or self.pixels.shape[2] != 4 or self.pixels.dtype != np.uint8:
            raise ValueError("a layer's pixels are a uint8 array of shape (height, width, 4)")

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]


class ImageDocument:
    """Layers bottom to top on a canvas of ``width`` x ``height``."""

    def __init__(self, width: int = DEFAULT_SIZE[0], height: int = DEFAULT_SIZE[1]) -> None:
        self.width = width
        self.height = height
        self.layers: list[Layer] = []

    def insert(self, layer: Layer, index: int | None = None) -> int:
        """Insert ``layer`` (on top by default); an empty canvas takes the layer's size."""
        if not self.layers:
            self.width, self.height = layer.size
        index = len(self.layers) if index is None else index
        self.layers.insert(index, layer)
        return index

    def remove(self, layer: Layer) -> int:
        index = self.layers.index(layer)
        del self.layers[index]
        return index

    def composite(self) -> np.ndarray:
        """The visible layers flattened over transparency, as uint8 RGBA of the canvas size."""
        out = np.zeros((self.height, self.width, 4), dtype=np.float32)
        for layer in self.layers:
            if not layer.visible or layer.opacity <= 0:
                continue
            h = min(self.height, layer.pixels.shape[0])
            w = min(self.width, layer.pixels.shape[1])
            src = layer.pixels[:h, :w].astype(np.float32) / 255.0
            dst = out[:h, :w]
            alpha = src[..., 3:4] * layer.opacity
            out_alpha = alpha + dst[..., 3:4] * (1.0 - alpha)
            colour = src[..., :3] * alpha + dst[..., :3] * dst[..., 3:4] * (1.0 - alpha)
            np.divide(colour, out_alpha, out=dst[..., :3], where=out_alpha > 0)
            dst[..., 3:4] = out_alpha
        return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


MAX_PICTURE_PIXELS = 16384 * 16384


def load_picture(path: str | os.PathLike[str], kind: str = "image", name: str = "image") -> np.ndarray:
    """Read an image file as uint8 RGBA (``kind="image"``) or a grey mask (``kind="mask"``).

    A file that is missing, not an image, damaged or absurdly large is a ``ParamError`` that
    names the parameter and the file.
    """
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PICTURE_PIXELS
    try:
        with Image.open(os.fspath(path)) as picture:
            picture.load()
            converted = picture.convert("RGBA" if kind == "image" else "L")
    except FileNotFoundError:
        raise ParamError(f"{name}: no such file: {path}") from None
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ParamError(f"{name}: {path} is not an image Studio can read ({exc})") from None
    except OSError as exc:
        raise ParamError(f"{name}: {path} could not be read: it is damaged or truncated ({exc})") from None
    return np.asarray(converted, dtype=np.uint8).copy()
