"""Staged results: generated pictures held beside the canvas until the painter applies or
discards them (Krita AI Diffusion's history, InvokeAI's staging area), as plain data.

A batch's pictures wait here instead of piling up as layers. Each keeps what a painter may
want from it later: the picture already fitted to where it was meant to land (the
selection box, the layer's place), a small thumbnail, and the generator and parameters that
make it again (seed included).

Memory stays bounded. At most ``CAPACITY`` items are held (the oldest go first, those
already on the canvas before those that are not), thumbnails are small, and applying an
item hands its picture to the layer instead of copying it: the strip then holds nothing the
document does not. If that layer is painted on, the item's picture is no longer the
generated one, so the item lets it go (its parameters still make it again).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from studio.core.base.ids import new_id
from studio.core.image.canvas_size import resample
from studio.core.image.document import Layer

CAPACITY = 32
THUMBNAIL_SIDE = 96


def batch_size(params: Mapping[str, Any]) -> int:
    """How many pictures a request asks for (a generator's ``batch_count``; 1 without one)."""
    try:
        return max(1, int(params.get("batch_count", 1)))
    except (TypeError, ValueError):
        return 1


def make_thumbnail(pixels: np.ndarray, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """``pixels`` shrunk to fit a ``side`` px square, keeping its shape (never enlarged)."""
    height, width = pixels.shape[:2]
    scale = min(1.0, side / max(width, height))
    return resample(pixels, max(1, round(width * scale)), max(1, round(height * scale)))


@dataclass(eq=False)
class StagedResult:
    """One generated picture waiting beside the canvas, with what made it."""

    name: str  # the layer name it gets: "<generator title> · <seed>"
    pixels: np.ndarray | None  # fitted to its place; None once painted over on the canvas
    generator: str
    params: dict[str, Any]
    x: int = 0
    y: int = 0
    fit_canvas: bool = True  # an empty canvas takes the picture's size, as a generation does
    #: What made the picture, for provenance (``studio.core.image.provenance``).
    source: str | None = None
    thumbnail: np.ndarray = field(default=None)  # type: ignore[assignment]
    #: The id the first layer made from it takes, drawn at once so the history can point at it.
    layer_id: int = field(default_factory=new_id)
    #: Ids of every layer made from it (applied while one of them is in the document).
    made: list[int] = field(default_factory=list)
    id: int = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.thumbnail is None and self.pixels is not None:
            self.thumbnail = make_thumbnail(self.pixels)
        self._owner: "weakref.ref[Layer] | None" = None  # the layer holding our very pixels
        self._owner_revision = 0

    @property
    def size(self) -> tuple[int, int]:
        shape = (self.pixels if self.pixels is not None else self.thumbnail).shape
        return shape[1], shape[0]

    @property
    def seed(self) -> Any:
        return self.params.get("seed")

    def picture(self) -> np.ndarray | None:
        """The generated picture, or None when it was painted over on the canvas since."""
        owner = self._owner() if self._owner is not None else None
        if owner is not None and owner.pixels is self.pixels and owner.revision != self._owner_revision:
            self.pixels = None  # painted (or filtered) in place: no longer what was generated
            self._owner = None
        return self.pixels

    def make_layer(self) -> Layer | None:
        """A new layer of this picture at its place, or None when the picture is gone.

        The first layer takes the picture itself (no copy) and ``layer_id``; a later one (the
        same result applied again) gets a copy, so painting one never changes the other.
        """
        pixels = self.picture()
        if pixels is None:
            return None
        first = self._owner is None or self._owner() is None
        layer = Layer(
            self.name,
            pixels if first else pixels.copy(),
            generator=self.generator,
            params=dict(self.params),
            x=self.x,
            y=self.y,
            source=self.source,
            id=self.layer_id if not self.made else new_id(),
        )
        if first:
            self.adopt(layer)
        else:
            self.made.append(layer.id)
        return layer

    def adopt(self, layer: Layer) -> None:
        """``layer`` holds this item's very pixels: watch it for paint."""
        self._owner = weakref.ref(layer)
        self._owner_revision = layer.revision
        if layer.id not in self.made:
            self.made.append(layer.id)

    def applied(self, layers: Iterable[Layer]) -> bool:
        """True while a layer made from this item is in ``layers`` (an undo takes it away)."""
        return any(layer.id in self.made for layer in layers)


class StagedResults:
    """The items beside the canvas, oldest first, at most ``capacity`` of them."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.items: list[StagedResult] = []

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def add(self, item: StagedResult, layers: Iterable[Layer] = ()) -> list[StagedResult]:
        """Append ``item``; returns the items dropped to stay within capacity.

        Items already on the canvas (in ``layers``) go first, as nothing is lost with them;
        then the oldest.
        """
        self.items.append(item)
        layers = list(layers)
        dropped = []
        while len(self.items) > self.capacity:
            older = self.items[:-1]
            victim = next((i for i in older if i.applied(layers)), older[0])
            self.items.remove(victim)
            dropped.append(victim)
        return dropped

    def remove(self, item: StagedResult) -> None:
        if item in self.items:
            self.items.remove(item)

    def clear(self) -> None:
        self.items.clear()

    def index(self, item: StagedResult) -> int:
        return self.items.index(item)
