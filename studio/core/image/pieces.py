"""Pieces of the picture: what Copy and Cut lift out from under the selection, and where
Paste puts a piece down.

A piece is uint8 RGBA pixels plus the canvas place they came from. Under a selection a piece
is the selection's bounding box, with everything outside the selection made transparent, so
a lasso's copy pastes as the lassoed shape.
"""

from __future__ import annotations

import numpy as np

from studio.core.image.document import ImageDocument, Layer
from studio.core.image.geometry import Rect
from studio.core.image.selection import Selection


def layer_piece(layer: Layer, selection: Selection | None, canvas: Rect) -> tuple[np.ndarray, Rect] | None:
    """The pixels of ``layer`` under ``selection`` (without one: the whole layer as far as the
    ``canvas`` shows it), and their canvas rectangle; None when the layer has none there."""
    area = layer.rect.intersected(canvas if selection is None else (selection.bbox or Rect(0, 0, 0, 0)))
    if area.is_empty():
        return None
    pixels = layer.pixels[area.slices(layer.x, layer.y)].copy()
    if selection is not None:
        pixels[~selection.crop(area)] = 0
    return pixels, area


def merged_piece(document: ImageDocument, selection: Selection | None) -> tuple[np.ndarray, Rect] | None:
    """What the canvas shows under ``selection`` (everything without one), every visible
    layer merged: Copy merged."""
    area = document.bounds if selection is None else selection.bbox
    if area is None or not document.layers:
        return None
    pixels = document.composite(area)
    if selection is not None:
        pixels[~selection.crop(area)] = 0
    return pixels, area


def place_centred(size: tuple[int, int], around: tuple[float, float]) -> tuple[int, int]:
    """The top-left pixel that centres a ``size`` piece on canvas point ``around``."""
    return round(around[0] - size[0] / 2), round(around[1] - size[1] / 2)
