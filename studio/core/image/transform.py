"""Free transform: a layer (or a piece of one) scaled, flipped, rotated and moved, and the
exact quarter turns and flips of the Layer menu.

A ``FreeTransform`` is what the transform tool's handles set, relative to the box the pixels
fill: a scale on each axis (negative flips), a rotation about the box's centre (degrees,
clockwise as the canvas shows it, y pointing down) and a move of that centre. Applying it
resamples once, in premultiplied alpha (no dark fringes at transparent edges): Lanczos for
the scale, then bicubic for the rotation, so a shrunk picture does not alias and a rotated
one stays smooth. Flips and quarter turns move pixels and never resample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from studio.core.image.geometry import Rect
from studio.core.media.pictures import check_canvas_size

MIN_SIDE = 1.0  # px: a handle dragged across the box flips it, but never to nothing


@dataclass(frozen=True)
class FreeTransform:
    """The box ``(x, y, width, height)`` (canvas coordinates) scaled, rotated and moved."""

    box: tuple[float, float, float, float]
    scale_x: float = 1.0
    scale_y: float = 1.0
    angle: float = 0.0
    dx: float = 0.0
    dy: float = 0.0

    @classmethod
    def of(cls, rect: Rect) -> "FreeTransform":
        return cls((float(rect.x), float(rect.y), float(rect.width), float(rect.height)))

    @property
    def centre(self) -> tuple[float, float]:
        """Where the box's centre goes."""
        x, y, w, h = self.box
        return x + w / 2 + self.dx, y + h / 2 + self.dy

    def is_identity(self) -> bool:
        return (self.scale_x, self.scale_y, self.angle % 360, self.dx, self.dy) == (1.0, 1.0, 0.0, 0.0, 0.0)

    def map(self, u: float, v: float) -> tuple[float, float]:
        """A point of the box, given from its centre in box pixels (``u`` right, ``v`` down),
        to the canvas."""
        cx, cy = self.centre
        cos, sin = math.cos(math.radians(self.angle)), math.sin(math.radians(self.angle))
        su, sv = u * self.scale_x, v * self.scale_y
        return cx + su * cos - sv * sin, cy + su * sin + sv * cos

    def unmap(self, x: float, y: float) -> tuple[float, float]:
        """A canvas point in the transformed box's own axes, from its centre, in canvas pixels
        (rotated back, not scaled back)."""
        cx, cy = self.centre
        cos, sin = math.cos(math.radians(self.angle)), math.sin(math.radians(self.angle))
        return (x - cx) * cos + (y - cy) * sin, -(x - cx) * sin + (y - cy) * cos

    def corners(self) -> list[tuple[float, float]]:
        """Top-left, top-right, bottom-right, bottom-left of the box, where they go."""
        w, h = self.box[2] / 2, self.box[3] / 2
        return [self.map(u, v) for u, v in ((-w, -h), (w, -h), (w, h), (-w, h))]

    def flipped(self, horizontal: bool) -> "FreeTransform":
        """Mirrored about its own centre line (the box's axes, as it is now turned)."""
        return replace(self, scale_x=-self.scale_x) if horizontal else replace(self, scale_y=-self.scale_y)

    def scaled_by_handle(self, side_u: int, side_v: int, x: float, y: float, keep_aspect: bool = False) -> "FreeTransform":
        """The handle at (``side_u``, ``side_v``) (each -1, 0 or 1: a corner or an edge's
        middle) dragged to canvas (``x``, ``y``); the opposite handle stays where it is."""
        w, h = self.box[2], self.box[3]
        anchor = self.map(-side_u * w / 2, -side_v * h / 2)
        probe = replace(self, dx=self.dx + anchor[0] - self.centre[0], dy=self.dy + anchor[1] - self.centre[1])
        qu, qv = probe.unmap(x, y)  # the pointer from the anchor, in the box's axes
        scale_x = _side(qu / (side_u * w), self.scale_x, w) if side_u else self.scale_x
        scale_y = _side(qv / (side_v * h), self.scale_y, h) if side_v else self.scale_y
        if keep_aspect and side_u and side_v:
            k = max(abs(scale_x / self.scale_x), abs(scale_y / self.scale_y))
            scale_x = math.copysign(max(k * abs(self.scale_x), MIN_SIDE / w), scale_x)
            scale_y = math.copysign(max(k * abs(self.scale_y), MIN_SIDE / h), scale_y)
        moved = replace(self, scale_x=scale_x, scale_y=scale_y)
        # Put the anchor back where it was: the box grew from it.
        now = moved.map(-side_u * w / 2, -side_v * h / 2)
        return replace(moved, dx=moved.dx + anchor[0] - now[0], dy=moved.dy + anchor[1] - now[1])


def _side(scale: float, previous: float, length: float) -> float:
    """A new scale, kept at least ``MIN_SIDE`` px long (keeping its sign, or the old one at 0)."""
    if abs(scale * length) >= MIN_SIDE:
        return scale
    return math.copysign(MIN_SIDE / length, scale if scale else previous)


def apply_transform(pixels: np.ndarray, transform: FreeTransform) -> tuple[np.ndarray, int, int]:
    """``pixels`` (filling ``transform.box``) resampled as ``transform`` says: the new pixels
    and the canvas place of their top-left pixel. A result Studio cannot hold is refused
    (``StudioError``) before anything is allocated."""
    from PIL import Image

    width = max(1, round(pixels.shape[1] * abs(transform.scale_x)))
    height = max(1, round(pixels.shape[0] * abs(transform.scale_y)))
    angle = transform.angle % 360
    cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    check_canvas_size(math.ceil(width * cos + height * sin), math.ceil(width * sin + height * cos), what="the transformed layer")
    image = Image.fromarray(np.ascontiguousarray(pixels), "RGBA").convert("RGBa")
    if (width, height) != image.size:
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    if transform.scale_x < 0:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if transform.scale_y < 0:
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    quarter = {90.0: Image.Transpose.ROTATE_270, 180.0: Image.Transpose.ROTATE_180, 270.0: Image.Transpose.ROTATE_90}
    if angle in quarter:  # exact: no resampling for a right angle
        image = image.transpose(quarter[angle])
    elif angle:
        image = image.rotate(-angle, resample=Image.Resampling.BICUBIC, expand=True)  # Pillow turns anticlockwise
    out = np.asarray(image.convert("RGBA"), dtype=np.uint8).copy()
    cx, cy = transform.centre
    return out, math.floor(cx - out.shape[1] / 2 + 0.5), math.floor(cy - out.shape[0] / 2 + 0.5)


def flip(pixels: np.ndarray, horizontal: bool) -> np.ndarray:
    """Mirrored left-right (``horizontal``) or top-bottom, exactly."""
    return np.ascontiguousarray(pixels[:, ::-1] if horizontal else pixels[::-1])


def rotate_quarter(pixels: np.ndarray, x: int, y: int, clockwise: bool = True) -> tuple[np.ndarray, int, int]:
    """Turned by 90 degrees about its centre, exactly: the pixels and their new canvas place."""
    turned = np.ascontiguousarray(np.rot90(pixels, -1 if clockwise else 1))
    height, width = pixels.shape[:2]
    return turned, x + (width - height) // 2, y + (height - width) // 2
