"""The image document: a stack of RGBA layers as plain numpy data.

Pixels are uint8 RGBA with straight (not premultiplied) alpha, the layout Pillow, Qt's
``Format_RGBA8888`` and every generator share, so nothing is converted on the way.

A layer sits at an offset (``x``, ``y``) on the canvas and may be smaller or larger than it:
a generated picture lands where the selection was, and cropping the canvas only moves the
window onto the layers, it never throws pixels away. Besides its layers the document holds
what an artist marks on top of them: the selection and the inpainting mask, both canvas-sized.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from studio.core.base.ids import new_id
from studio.core.image.blend import NORMAL, composite_onto
from studio.core.image.geometry import Rect
from studio.core.media.pictures import check_canvas_size

if TYPE_CHECKING:
    from studio.core.image.kept_latents import KeptLatent
    from studio.core.image.selection import Selection

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
    #: Where the layer's top-left pixel sits on the canvas.
    x: int = 0
    y: int = 0
    locked: bool = False
    #: How the layer's colour mixes with the layers under it (``studio.core.image.blend``).
    blend: str = NORMAL
    #: What made these pixels, for provenance (``studio.core.image.provenance``): an IPTC
    #: digital source type, or None for a person's work (painted, opened, pasted).
    source: str | None = None
    #: Bumped by ``touch()`` whenever the pixels change, so views know their caches are stale.
    revision: int = 0
    #: Unique in the session (a duplicate gets its own): what the generation history points at.
    id: int = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.pixels.ndim != 3 or self.pixels.shape[2] != 4 or self.pixels.dtype != np.uint8:
            raise ValueError("a layer's pixels are a uint8 array of shape (height, width, 4)")

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def rect(self) -> Rect:
        """The layer's pixels in canvas coordinates."""
        return Rect(self.x, self.y, self.pixels.shape[1], self.pixels.shape[0])

    def touch(self) -> None:
        """Say that the pixels changed (in place or replaced)."""
        self.revision += 1

    def set_pixels(self, pixels: np.ndarray) -> None:
        if pixels.ndim != 3 or pixels.shape[2] != 4 or pixels.dtype != np.uint8:
            raise ValueError("a layer's pixels are a uint8 array of shape (height, width, 4)")
        self.pixels = pixels
        self.touch()

    def duplicate(self, name: str | None = None) -> "Layer":
        return Layer(
            name or f"{self.name} copy",
            self.pixels.copy(),
            self.visible,
            self.opacity,
            self.generator,
            dict(self.params),
            self.x,
            self.y,
            self.locked,
            blend=self.blend,
            source=self.source,
        )


@dataclass
class Frame:
    """Everything a canvas-size change alters, kept so that it can be put back exactly."""

    width: int
    height: int
    offsets: list[tuple[Layer, int, int]]
    mask: np.ndarray | None
    selection: "Selection | None"


class ImageDocument:
    """Layers bottom to top on a canvas of ``width`` x ``height``, plus a selection and a mask."""

    def __init__(self, width: int = DEFAULT_SIZE[0], height: int = DEFAULT_SIZE[1]) -> None:
        check_canvas_size(width, height)
        self.width = width
        self.height = height
        self.layers: list[Layer] = []
        #: The selection, or None when nothing is selected (everything is then fair game).
        self.selection: Selection | None = None
        #: The inpainting mask, uint8 canvas-sized (255 = repaint), or None before any is painted.
        self.mask: np.ndarray | None = None
        #: The Explorer's kept pictures (``studio.core.image.kept_latents``), saved with the canvas.
        self.kept_latents: list[KeptLatent] = []

    @property
    def bounds(self) -> Rect:
        return Rect(0, 0, self.width, self.height)

    # -- layers ------------------------------------------------------------------------------

    def insert(self, layer: Layer, index: int | None = None, fit_canvas: bool = True) -> int:
        """Insert ``layer`` (on top by default).

        An empty canvas takes the size of its first layer when that layer sits at 0, 0 and
        ``fit_canvas`` holds: the first picture opened or generated sets the canvas size.
        """
        if not self.layers and fit_canvas and (layer.x, layer.y) == (0, 0) and layer.size != (self.width, self.height):
            self.width, self.height = layer.size
            self.mask = None  # both were drawn on a canvas that had no pixels and another size
            self.selection = None
        index = len(self.layers) if index is None else index
        self.layers.insert(index, layer)
        return index

    def remove(self, layer: Layer) -> int:
        index = self.layers.index(layer)
        del self.layers[index]
        return index

    def move(self, layer: Layer, index: int) -> int:
        """Put ``layer`` at ``index`` in the stack (0 = bottom); returns where it was."""
        old = self.remove(layer)
        self.layers.insert(max(0, min(index, len(self.layers))), layer)
        return old

    def new_layer(self, name: str) -> Layer:
        """A transparent layer covering the canvas."""
        return Layer(name, np.zeros((self.height, self.width, 4), dtype=np.uint8))

    def unique_name(self, stem: str) -> str:
        """``stem 1``, ``stem 2``…: the first that no layer has."""
        names = {layer.name for layer in self.layers}
        number = 1
        while f"{stem} {number}" in names:
            number += 1
        return f"{stem} {number}"

    # -- pixels ------------------------------------------------------------------------------

    def composite(self, rect: Rect | None = None) -> np.ndarray:
        """The visible layers flattened over transparency, each with its opacity and blend
        mode, as uint8 RGBA.

        ``rect`` (canvas coordinates, default: the whole canvas) may reach past the canvas:
        layers are composited wherever they have pixels.
        """
        rect = self.bounds if rect is None else rect
        out = np.zeros((max(rect.height, 0), max(rect.width, 0), 4), dtype=np.float32)
        for layer in self.layers:
            if not layer.visible or layer.opacity <= 0:
                continue
            overlap = layer.rect.intersected(rect)
            if overlap.is_empty():
                continue
            src = layer.pixels[overlap.slices(layer.x, layer.y)].astype(np.float32) / 255.0
            composite_onto(out[overlap.slices(rect.x, rect.y)], src, layer.opacity, layer.blend)
        return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)

    def sample(self, x: int, y: int) -> tuple[int, int, int, int]:
        """The composite colour of canvas pixel (``x``, ``y``)."""
        r, g, b, a = self.composite(Rect(int(x), int(y), 1, 1))[0, 0]
        return int(r), int(g), int(b), int(a)

    # -- the inpainting mask -------------------------------------------------------------------

    def ensure_mask(self) -> np.ndarray:
        if self.mask is None or self.mask.shape != (self.height, self.width):
            self.mask = np.zeros((self.height, self.width), dtype=np.uint8)
        return self.mask

    def has_mask(self, rect: Rect | None = None) -> bool:
        """Whether anything is painted in the mask (inside ``rect``, when given)."""
        if self.mask is None:
            return False
        if rect is None:
            return bool(self.mask.any())
        inside = rect.intersected(self.bounds)
        return not inside.is_empty() and bool(self.mask[inside.slices()].any())

    def mask_in(self, rect: Rect) -> np.ndarray:
        """The mask over ``rect`` as uint8 (0 outside the canvas and where nothing is painted)."""
        out = np.zeros((rect.height, rect.width), dtype=np.uint8)
        if self.mask is not None:
            inside = rect.intersected(self.bounds)
            if not inside.is_empty():
                out[inside.slices(rect.x, rect.y)] = self.mask[inside.slices()]
        return out

    # -- the frame (size, offsets, selection, mask) --------------------------------------------

    def save_frame(self) -> Frame:
        mask = None if self.mask is None else self.mask.copy()
        return Frame(self.width, self.height, [(layer, layer.x, layer.y) for layer in self.layers], mask, self.selection)

    def restore_frame(self, frame: Frame) -> None:
        self.width, self.height = frame.width, frame.height
        for layer, x, y in frame.offsets:
            layer.x, layer.y = x, y
        self.mask = None if frame.mask is None else frame.mask.copy()
        self.selection = frame.selection
