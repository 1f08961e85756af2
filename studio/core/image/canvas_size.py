"""Changing the canvas: its size (crop or extend, around an anchor), the image's scale, and
growing it on one side for outpainting.

Cropping and extending move the canvas over the layers; the layers keep every pixel (their
offsets change), so a crop can be undone exactly and a layer pushed past the edge is still
whole when the canvas grows back. Scaling resamples every layer with Pillow, in
premultiplied alpha so transparent edges do not darken.
"""

from __future__ import annotations

import numpy as np

from studio.core.image.document import ImageDocument
from studio.core.image.geometry import Rect
from studio.core.image.selection import Selection
from studio.core.media.pictures import check_canvas_size
from studio.errors import StudioError

#: Where the old canvas stays when the size changes, as fractions of the size difference.
ANCHORS: dict[str, tuple[float, float]] = {
    "top-left": (0.0, 0.0),
    "top": (0.5, 0.0),
    "top-right": (1.0, 0.0),
    "left": (0.0, 0.5),
    "center": (0.5, 0.5),
    "right": (1.0, 0.5),
    "bottom-left": (0.0, 1.0),
    "bottom": (0.5, 1.0),
    "bottom-right": (1.0, 1.0),
}
SIDES = ("left", "right", "top", "bottom")
# Growing the canvas on one side keeps the opposite side where it is.
SIDE_ANCHORS = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}
OUTPAINT_OVERLAP = 32  # px of the old picture the generator also repaints, so the seam blends


def anchor_shift(old: tuple[int, int], new: tuple[int, int], anchor: str) -> tuple[int, int]:
    """How far the old canvas's (0, 0) moves when the size goes from ``old`` to ``new``."""
    try:
        ax, ay = ANCHORS[anchor]
    except KeyError:
        raise ValueError(f"anchor must be one of {', '.join(ANCHORS)}, not {anchor!r}") from None
    return round((new[0] - old[0]) * ax), round((new[1] - old[1]) * ay)


def resize_canvas(document: ImageDocument, width: int, height: int, anchor: str = "center") -> tuple[int, int]:
    """Crop or extend the canvas to ``width`` x ``height``; returns the shift the layers got.

    Raises ``StudioError`` for a size Studio refuses; the document is then unchanged.
    """
    check_canvas_size(width, height)
    dx, dy = anchor_shift((document.width, document.height), (width, height), anchor)
    _reframe(document, width, height, dx, dy)
    return dx, dy


def crop_to(document: ImageDocument, rect: Rect) -> None:
    """The canvas becomes ``rect`` (canvas coordinates): Crop to selection. Layers keep
    their pixels, as with any crop."""
    check_canvas_size(rect.width, rect.height)
    _reframe(document, rect.width, rect.height, -rect.x, -rect.y)


def _reframe(document: ImageDocument, width: int, height: int, dx: int, dy: int) -> None:
    """A canvas of ``width`` x ``height`` whose (0, 0) is the old canvas's (-``dx``, -``dy``)."""
    for layer in document.layers:
        layer.x += dx
        layer.y += dy
    if document.mask is not None:
        mask = np.zeros((height, width), dtype=np.uint8)
        old = Rect(dx, dy, document.width, document.height).intersected(Rect(0, 0, width, height))
        if not old.is_empty():
            mask[old.slices()] = document.mask[old.slices(dx, dy)]
        document.mask = mask
    if document.selection is not None:
        document.selection = document.selection.reframed(width, height, dx, dy)
        if document.selection.is_empty():
            document.selection = None
    document.width, document.height = width, height


def scale_image(document: ImageDocument, width: int, height: int) -> None:
    """Resample every layer (and the mask and selection) so the canvas becomes ``width`` x ``height``."""
    check_canvas_size(width, height)
    sx, sy = width / document.width, height / document.height
    for layer in document.layers:
        new_w, new_h = max(1, round(layer.size[0] * sx)), max(1, round(layer.size[1] * sy))
        check_canvas_size(new_w, new_h, what=f"layer “{layer.name}”")
    for layer in document.layers:
        new_w, new_h = max(1, round(layer.size[0] * sx)), max(1, round(layer.size[1] * sy))
        layer.set_pixels(resample(layer.pixels, new_w, new_h))
        layer.x, layer.y = round(layer.x * sx), round(layer.y * sy)
    if document.mask is not None:
        document.mask = resample_mask(document.mask, width, height)
    if document.selection is not None:
        document.selection = document.selection.scaled(width, height)
    document.width, document.height = width, height


def resample(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 RGBA resized with Lanczos, through premultiplied alpha."""
    from PIL import Image

    if (pixels.shape[1], pixels.shape[0]) == (width, height):
        return pixels.copy()
    image = Image.fromarray(np.ascontiguousarray(pixels), "RGBA").convert("RGBa")
    return np.asarray(image.resize((width, height), Image.Resampling.LANCZOS).convert("RGBA"), dtype=np.uint8).copy()


def resample_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(mask, "L").resize((width, height), Image.Resampling.BILINEAR), dtype=np.uint8).copy()


def extend_for_outpainting(document: ImageDocument, side: str, amount: int, overlap: int = OUTPAINT_OVERLAP) -> Rect:
    """Grow the canvas by ``amount`` px on ``side`` and set it up for an inpainting generator.

    The new transparent border goes into the mask (repaint it) and the selection takes the
    border plus ``overlap`` px of the old picture, so the generator sees what it continues
    and the seam falls inside what it paints. Returns the border, in canvas coordinates.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {', '.join(SIDES)}, not {side!r}")
    if amount < 1:
        raise StudioError("extend the canvas by at least 1 pixel")
    old_w, old_h = document.width, document.height
    grow_w = amount if side in ("left", "right") else 0
    grow_h = amount if side in ("top", "bottom") else 0
    resize_canvas(document, old_w + grow_w, old_h + grow_h, SIDE_ANCHORS[side])
    overlap = max(0, min(overlap, old_w if grow_w else old_h))
    width, height = document.width, document.height
    border, selected = {
        "left": (Rect(0, 0, amount, height), Rect(0, 0, amount + overlap, height)),
        "right": (Rect(width - amount, 0, amount, height), Rect(width - amount - overlap, 0, amount + overlap, height)),
        "top": (Rect(0, 0, width, amount), Rect(0, 0, width, amount + overlap)),
        "bottom": (Rect(0, height - amount, width, amount), Rect(0, height - amount - overlap, width, amount + overlap)),
    }[side]
    mask = document.ensure_mask()
    mask[border.slices()] = 255
    document.selection = Selection.rectangle(width, height, selected)
    return border

