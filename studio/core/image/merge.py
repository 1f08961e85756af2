"""Merging layers: one layer laid onto the one under it, the whole stack into one, and a
floating piece put down on a layer.

Each returns new pixels (and where they sit) and leaves its inputs alone, so an undo step
can keep both and swap them. The compositing is the document's (``studio.core.image.blend``):
a merged picture looks exactly as the stack did.
"""

from __future__ import annotations

import numpy as np

from studio.core.image.blend import NORMAL, composite_onto
from studio.core.image.document import ImageDocument, Layer
from studio.core.image.geometry import Rect
from studio.core.image.provenance import composite_source
from studio.core.media.pictures import check_canvas_size


def merge_down(upper: Layer, lower: Layer) -> tuple[np.ndarray, int, int, float]:
    """``upper`` composited onto ``lower`` with its opacity and blend mode: the lower layer's
    new pixels, place (it grows to hold both, so nothing of either is cut off) and opacity.

    A normal lower layer's opacity is baked into its pixels first (the result is opaque as a
    layer), so the merged picture looks exactly as the two did; a lower layer with another
    blend mode keeps its opacity, as it keeps its mode.
    """
    below, opacity = lower.pixels, lower.opacity
    if opacity < 1 and lower.blend == NORMAL:
        below = below.copy()
        below[..., 3] = np.round(below[..., 3] * opacity).astype(np.uint8)
        opacity = 1.0
    pixels, x, y = stamp(below, (lower.x, lower.y), upper.pixels, (upper.x, upper.y), upper.opacity, upper.blend)
    return pixels, x, y, opacity


def stamp(
    pixels: np.ndarray,
    origin: tuple[int, int],
    piece: np.ndarray,
    piece_origin: tuple[int, int],
    opacity: float = 1.0,
    mode: str = NORMAL,
) -> tuple[np.ndarray, int, int]:
    """``piece`` (at canvas ``piece_origin``) laid onto ``pixels`` (at ``origin``): new pixels
    covering both, and their canvas place."""
    below = Rect(origin[0], origin[1], pixels.shape[1], pixels.shape[0])
    above = Rect(piece_origin[0], piece_origin[1], piece.shape[1], piece.shape[0])
    both = below.united(above)
    check_canvas_size(both.width, both.height, what="the merged layer")
    out = np.zeros((both.height, both.width, 4), dtype=np.float32)
    out[below.slices(both.x, both.y)] = pixels.astype(np.float32) / 255.0
    if not above.is_empty():
        composite_onto(out[above.slices(both.x, both.y)], piece.astype(np.float32) / 255.0, opacity, mode)
    return to_uint8(out), both.x, both.y


def flatten(document: ImageDocument) -> Layer:
    """The visible layers as one canvas-sized layer, as the canvas shows them (hidden ones
    are left out, pixels past the canvas's edge are cut off)."""
    return Layer("Background", document.composite(), source=composite_source(document.layers))


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """float 0..1 RGBA rounded to uint8."""
    return np.clip(pixels * 255.0 + 0.5, 0, 255).astype(np.uint8)
