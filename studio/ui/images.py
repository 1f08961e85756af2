"""numpy RGBA <-> QImage without surprises about who owns the memory."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def qimage_from_rgba(pixels: np.ndarray, copy: bool = True) -> QImage:
    """A QImage of uint8 RGBA ``pixels``. With ``copy=False`` the caller keeps ``pixels`` alive."""
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    image = QImage(pixels.data, width, height, pixels.strides[0], QImage.Format.Format_RGBA8888)
    if copy:
        return image.copy()
    image._keepalive = pixels  # type: ignore[attr-defined]
    return image


def rgba_from_qimage(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    array = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    return array.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 4].reshape(image.height(), image.width(), 4).copy()
