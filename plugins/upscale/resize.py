"""A plain high-quality resize (Lanczos), the upscaler that needs no model.

It is there from the first launch, for a quick enlargement and as what a super-resolution model
is compared with. Colour is resized through premultiplied alpha, so transparent pixels' hidden
colour never bleeds into the edges of what is visible.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
from PIL import Image

import studio
from studio.core.base.memory import ensure_memory
from studio.core.image.canvas_size import resample
from studio.core.image.tiling import output_size

#: ``Result.info`` key (``studio.Result``'s contract): the picture is larger than its input by
#: design, and lands on the canvas at its own size, not fitted back into the selection.
OWN_SIZE = "own_size"
FACTORS = ("2x", "3x", "4x")


def resize_alpha(alpha: np.ndarray, width: int, height: int) -> np.ndarray:
    """An alpha channel (uint8 H x W) at ``width`` x ``height``; opaque stays opaque for free."""
    if alpha.min() == 255:
        return np.full((height, width), 255, np.uint8)
    return np.asarray(Image.fromarray(np.ascontiguousarray(alpha), "L").resize((width, height), Image.Resampling.LANCZOS), dtype=np.uint8)


class ResizeGenerator(studio.Generator):
    id = "resize"
    title = "Resize (high quality)"
    kind = "image"
    digital_source = ""  # a filter, not a model: its pictures are what its input was
    description = "Enlarges the selection or the active layer with a Lanczos filter. No model needed; add a Real-ESRGAN model for real detail."
    params = (
        studio.Param("image", "image", label="Image", help="The picture to enlarge: the selection, or the active layer."),
        studio.Param("scale", "choice", "2x", choices=FACTORS, help="How many times larger."),
    )

    def generate(self, request: studio.Request, ctx: studio.JobContext) -> Iterator[studio.Event]:
        image = request["image"]
        scale = int(request["scale"].rstrip("x"))
        height, width = image.shape[:2]
        out_width, out_height = output_size(width, height, scale)
        # Pillow's RGBa copy, the resized one and its RGBA conversion
        ensure_memory(width * height * 4 + out_width * out_height * 4 * 2, f"the resized picture ({out_width} × {out_height})")
        yield studio.Progress(0, 1, f"Resizing to {out_width} × {out_height}…")
        ctx.check_cancelled()
        resized = resample(image, out_width, out_height)  # the canvas's own Lanczos, through premultiplied alpha
        yield studio.Progress(1, 1, "Resized")
        params = {k: v for k, v in request.params.items() if not isinstance(v, np.ndarray)}
        yield studio.Result("image", resized, self.id, params, info={OWN_SIZE: True, "scale": scale})
