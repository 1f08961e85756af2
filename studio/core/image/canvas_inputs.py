"""What a generator gets from the canvas, and where its picture goes back.

A generator declares ``image`` and ``mask`` parameters; when it runs from the window the
canvas fills them:

- with a selection: the image is the flattened visible picture over the selection's bounding
  box, the mask is the painted inpainting mask over that box (or, when none is painted
  there, the selection itself), ``width``/``height`` follow the box (rounded to multiples of
  8), and the result lands on the box, cut to the selection's shape;
- without one: the image is the active layer, the mask the painted mask over that layer,
  and the result lands on the layer's place;
- with nothing to give, an optional picture stays ``None``: the generator then does
  text-to-image and its result lands at the top-left corner.

Which pictures an optional parameter gets is the user's explicit choice of mode (Generate:
none, Refine: the image, Inpaint: image and mask), never a guess from what the canvas holds;
a picture with nothing painted in it is refused with a plain message, not used silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from studio.core.engine.generators import Param
from studio.core.image.canvas_size import resample
from studio.core.image.document import ImageDocument, Layer
from studio.core.image.geometry import Rect
from studio.core.media.pictures import check_input_size
from studio.errors import ParamError, StudioError

SIZE_MULTIPLE = 8
#: The user's choice in the Generate panel (Krita AI's Generate / Refine, and inpainting).
GENERATE, REFINE, INPAINT = "generate", "refine", "inpaint"
MODES = (GENERATE, REFINE, INPAINT)


@dataclass(frozen=True)
class Placement:
    """Where a generated picture lands on the canvas."""

    x: int = 0
    y: int = 0
    #: The size the picture is fitted to (the selection box); None: it keeps its own size.
    size: tuple[int, int] | None = None
    #: The selection's shape over the box (bool), when it is not the whole box.
    clip: np.ndarray | None = None
    #: True when an empty canvas may take the picture's size (nothing placed it).
    fit_canvas: bool = True
    #: Where the inputs came from, for the status bar: "selection", "layer" or "".
    source: str = ""
    #: How large the result will be when the parameters say (for drawing previews in place).
    expected_size: tuple[int, int] | None = None

    def rect_for(self, width: int, height: int) -> Rect:
        """The canvas rectangle a picture of ``width`` x ``height`` will cover."""
        w, h = self.size or (width, height)
        return Rect(self.x, self.y, w, h)

    def preview_rect(self) -> Rect | None:
        size = self.size or self.expected_size
        return None if size is None else Rect(self.x, self.y, *size)


def modes_for(params: Sequence[Param]) -> tuple[str, ...]:
    """The modes a generator offers the user: Generate always, Refine when it takes an
    optional image, Inpaint when it takes a mask too. A generator whose image is required
    (an upscaler) offers no choice: it always starts from the canvas."""
    images = [p for p in params if p.type == "image"]
    if not images or any(not p.optional for p in images):
        return ()
    masks = [p for p in params if p.type == "mask"]
    return (GENERATE, REFINE, INPAINT) if masks else (GENERATE, REFINE)


def canvas_inputs(
    document: ImageDocument,
    active: Layer | None,
    params: Sequence[Param],
    values: dict[str, Any],
    mode: str = GENERATE,
) -> tuple[dict[str, Any], Placement]:
    """``values`` with the generator's pictures (and size, under a selection) filled from the
    canvas as ``mode`` asks: Generate gives none (text to image), Refine the picture (image to
    image), Inpaint the picture and the mask. A required picture is given in every mode.

    Raises ``ParamError`` when a picture has nothing on the canvas to come from: no layer, a
    layer or a selection with nothing painted in it, no mask to inpaint.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    values = dict(values)
    pictures = [p for p in params if p.type in ("image", "mask") and _wanted(p, mode)]
    for param in params:
        if param.type in ("image", "mask") and param not in pictures:
            values[param.name] = None  # Generate: from the prompt alone
    selection = document.selection if document.selection is not None and not document.selection.is_empty() else None
    expected = _expected_size(params, values)
    if selection is not None:
        box = selection.bbox
        assert box is not None
        _check_input(pictures, box.width, box.height, "the selection")
        for param in pictures:
            if param.type == "image":
                values[param.name] = document.composite(box)
                _refuse_empty(values[param.name], mode, "the selection holds no picture: paint or generate there first")
            elif document.has_mask(box):
                values[param.name] = binary(document.mask_in(box))
            else:
                values[param.name] = selection.as_uint8(box)
        _fit_size(params, values, box)
        clip = None if selection.is_rectangle() else selection.crop(box)
        return values, Placement(box.x, box.y, box.size, clip, False, "selection", box.size)
    if pictures and active is not None:
        box = active.rect
        _check_input(pictures, box.width, box.height, f"the layer {active.name!r}")
        for param in pictures:
            if param.type == "image":
                _refuse_empty(active.pixels, mode, f"the layer “{active.name}” has nothing painted on it: paint or generate on it first, or choose another layer")
                values[param.name] = active.pixels.copy()
            elif document.has_mask(box):
                values[param.name] = binary(document.mask_in(box))
            else:
                values[param.name] = _missing(param, mode)
        return values, Placement(active.x, active.y, None, None, False, "layer", active.size)
    for param in pictures:
        values[param.name] = _missing(param, mode)
    return values, Placement(expected_size=expected)


def _wanted(param: Param, mode: str) -> bool:
    """Whether ``mode`` gives ``param`` a picture: a required one always; an optional image in
    Refine and Inpaint, an optional mask in Inpaint only."""
    if not param.optional:
        return True
    return mode == INPAINT or (mode == REFINE and param.type == "image")


def _refuse_empty(pixels: np.ndarray, mode: str, why: str) -> None:
    """Never start from nothing without a word: a picture with no visible pixel is refused
    (a stray click's empty layer once turned text to image into image to image from blank)."""
    if not pixels[..., 3].any():
        what = {REFINE: "Refine", INPAINT: "Inpaint"}.get(mode, "This generator")
        raise ParamError(f"{what} starts from a picture, but {why} (or choose Generate to start from the prompt alone)")


def generation_size(document: ImageDocument, params: Sequence[Param]) -> tuple[dict[str, int], str]:
    """The width and height a generation gets when the user leaves them: the selection's box,
    else the canvas, on the parameters' grids; with what they follow ("selection" or "canvas").
    Empty when the generator has no size."""
    selection = document.selection if document.selection is not None and not document.selection.is_empty() else None
    box = selection.bbox if selection is not None else None
    values: dict[str, Any] = {}
    _fit_size(params, values, box or document.bounds)
    return values, "selection" if box is not None else "canvas"


def canvas_to_hold(document: ImageDocument, rect: Rect) -> tuple[int, int] | None:
    """The canvas size that holds ``rect`` (it grows to the right and down), or None when it
    already does or when the canvas is empty (its first picture gives it its size)."""
    if not document.layers:
        return None
    width, height = max(document.width, rect.x + rect.width), max(document.height, rect.y + rect.height)
    return None if (width, height) == (document.width, document.height) else (width, height)


def _check_input(pictures: Sequence[Param], width: int, height: int, what: str) -> None:
    """Refuse, before compositing a copy, a picture larger than a generator takes."""
    if pictures:
        try:
            check_input_size(width, height, what=what)
        except StudioError as exc:
            raise ParamError(str(exc).replace("scale it down or use a part of it", "select a smaller area")) from None


def binary(mask: np.ndarray) -> np.ndarray:
    """A painted mask (soft-edged) as a generator's 0/255 mask: half-covered counts as painted."""
    return np.where(mask >= 128, np.uint8(255), np.uint8(0))


def _missing(param: Param, mode: str = GENERATE) -> None:
    """Nothing on the canvas for ``param``: None for an optional picture the mode does not
    need, else a plain message saying what to do."""
    if mode == INPAINT and param.type == "mask":
        raise ParamError("Inpaint repaints where the mask is: paint a mask (K) or select an area first")
    if mode == REFINE and param.type == "image":
        raise ParamError("Refine starts from a picture: select an area or choose a layer with something on it first")
    if param.optional:
        return None
    where = "select an area or choose a layer" if param.type == "image" else "paint a mask (K) or select an area"
    raise ParamError(f"{param.title} comes from the canvas: {where} first")


def _fit_size(params: Sequence[Param], values: dict[str, Any], box: Rect) -> None:
    """Width and height from the box, on the parameters' step grids (multiples of 8 for a
    parameter without a step) inside their ranges."""
    for name, length in (("width", box.width), ("height", box.height)):
        param = next((p for p in params if p.name == name and p.type == "int"), None)
        if param is None:
            continue
        if param.step:
            values[name] = int(param.snap(length))
            continue
        size = max(SIZE_MULTIPLE, round(length / SIZE_MULTIPLE) * SIZE_MULTIPLE)
        if param.min is not None and size < param.min:
            size = int(-(-param.min // SIZE_MULTIPLE) * SIZE_MULTIPLE)
        if param.max is not None and size > param.max:
            size = int(param.max // SIZE_MULTIPLE * SIZE_MULTIPLE)
        values[name] = int(size)


def _expected_size(params: Sequence[Param], values: dict[str, Any]) -> tuple[int, int] | None:
    names = {p.name for p in params}
    try:
        if {"width", "height"} <= names:
            return int(values["width"]), int(values["height"])
    except (KeyError, TypeError, ValueError):
        pass
    return None


#: ``Result.info`` key (``studio.Result``'s contract): the picture is larger than its input by
#: design (an upscale), so it lands at its own size at the input's top-left, the selection's
#: shape scaled with it.
OWN_SIZE = "own_size"


def place_result(pixels: np.ndarray, placement: Placement, own_size: bool = False) -> np.ndarray:
    """A generated picture fitted to its placement: resized to the box (unless ``own_size``: an
    upscale keeps its size), cut to the selection."""
    pixels = as_rgba(pixels)
    clip = placement.clip
    if own_size:
        if clip is not None:  # the selection's shape, enlarged as the picture was (nearest)
            rows = np.arange(pixels.shape[0]) * clip.shape[0] // pixels.shape[0]
            columns = np.arange(pixels.shape[1]) * clip.shape[1] // pixels.shape[1]
            clip = clip[rows[:, None], columns[None, :]]
    elif placement.size is not None and (pixels.shape[1], pixels.shape[0]) != placement.size:
        pixels = resample(pixels, *placement.size)
    if clip is not None and clip.shape == pixels.shape[:2]:
        pixels[..., 3] = np.where(clip, pixels[..., 3], 0)
    return pixels


def layer_params(params: dict[str, Any]) -> dict[str, Any]:
    """A result's parameters as a layer keeps them: input pictures described, not held.

    A layer made by inpainting on a large canvas would otherwise keep its input image and
    mask alive (tens of MB each) for as long as it exists; exports describe them the same way.
    """
    kept = {}
    for name, value in params.items():
        if isinstance(value, np.ndarray) and value.ndim >= 2:
            kind = "image" if value.ndim == 3 else "mask"
            value = f"<{kind} {value.shape[1]}x{value.shape[0]}>"
        kept[name] = value
    return kept


def as_rgba(pixels: np.ndarray) -> np.ndarray:
    """A fresh uint8 RGBA copy of grey, RGB or RGBA pixels (a result may come as any of them)."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise ValueError(f"an image result is uint8 pixels, not {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"an image result has shape (height, width, 3 or 4), not {pixels.shape}")
    if pixels.shape[2] == 3:
        return np.concatenate([pixels, np.full(pixels.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return pixels.copy()
