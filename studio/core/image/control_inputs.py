"""A generator's ``control`` pictures from the canvas: the layer the user chose, by name.

In the window a ``control`` parameter's value is a layer's name (the form lists the layers);
when the job is submitted it becomes that layer's pixels over the box the result will cover
(the selection's box, the layer worked on, or the generated size at the canvas's corner), so
the control picture lines up with what is generated. Pixels the layer does not cover are
transparent. No name (or "none") means no control picture.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from studio.core.engine.generators import Param
from studio.core.image.canvas_inputs import Placement
from studio.core.image.document import ImageDocument, Layer
from studio.core.image.geometry import Rect
from studio.core.media.pictures import check_input_size
from studio.errors import ParamError, StudioError

NONE = "none"


def control_inputs(document: ImageDocument, params: Sequence[Param], values: dict[str, Any], placement: Placement) -> dict[str, Any]:
    """``values`` with each ``control`` parameter's layer name replaced by its pixels (or None)."""
    values = dict(values)
    for param in params:
        if param.type != "control":
            continue
        name = values.get(param.name)
        if isinstance(name, np.ndarray):
            continue  # already a picture (the CLI, a reuse with the picture itself)
        if not name or name == NONE:
            values[param.name] = None
            continue
        layer = next((layer for layer in reversed(document.layers) if layer.name == name), None)
        if layer is None:
            raise ParamError(f"{param.title}: the layer “{name}” no longer exists; choose another control layer, or none")
        box = placement.rect_for(*_size(values, layer))
        try:
            check_input_size(box.width, box.height, what=f"the control layer “{name}”")
        except StudioError as exc:
            raise ParamError(str(exc)) from None
        values[param.name] = layer_in(layer, box)
    return values


def _size(values: dict[str, Any], layer: Layer) -> tuple[int, int]:
    """The generated size when the parameters say it (the layer's own otherwise)."""
    try:
        return int(values["width"]), int(values["height"])
    except (KeyError, TypeError, ValueError):
        return layer.size


def layer_in(layer: Layer, box: Rect) -> np.ndarray:
    """``layer``'s pixels over ``box`` (canvas coordinates), transparent where it has none."""
    out = np.zeros((box.height, box.width, 4), np.uint8)
    overlap = layer.rect.intersected(box)
    if not overlap.is_empty():
        out[overlap.slices(box.x, box.y)] = layer.pixels[overlap.slices(layer.x, layer.y)]
    return out
