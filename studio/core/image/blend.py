"""Blend modes: how a layer's colour mixes with what lies under it.

The formulas are the W3C's (Compositing and Blending Level 1, the ones CSS, SVG, Krita and
Photoshop share): a blend function ``B(backdrop, source)`` per colour channel, then
"source-over" with that blend, which keeps every mode honest where either side is partly
transparent: where the backdrop is transparent the layer shows as it is, and where the layer
is transparent the backdrop is untouched.

Pixels here are float32 straight-alpha RGBA in 0..1 (the document converts once per layer).
"""

from __future__ import annotations

import numpy as np

NORMAL = "normal"
#: Every mode by the name the project file stores (CSS's ``mix-blend-mode`` names), with the
#: title a person reads.
BLEND_MODES: dict[str, str] = {
    NORMAL: "Normal",
    "multiply": "Multiply",
    "screen": "Screen",
    "overlay": "Overlay",
    "soft-light": "Soft light",
}


def blend(mode: str, backdrop: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``B(Cb, Cs)``: the mixed colour where both are opaque (arrays of colour in 0..1)."""
    if mode == NORMAL:
        return source
    if mode == "multiply":
        return backdrop * source
    if mode == "screen":
        return backdrop + source - backdrop * source
    if mode == "overlay":  # hard light with the layers swapped
        return np.where(backdrop <= 0.5, 2 * backdrop * source, 1 - 2 * (1 - backdrop) * (1 - source))
    if mode == "soft-light":
        darker = backdrop - (1 - 2 * source) * backdrop * (1 - backdrop)
        d = np.where(backdrop <= 0.25, ((16 * backdrop - 12) * backdrop + 4) * backdrop, np.sqrt(backdrop))
        lighter = backdrop + (2 * source - 1) * (d - backdrop)
        return np.where(source <= 0.5, darker, lighter)
    raise ValueError(f"blend mode must be one of {', '.join(BLEND_MODES)}, not {mode!r}")


def composite_onto(backdrop: np.ndarray, source: np.ndarray, opacity: float = 1.0, mode: str = NORMAL) -> None:
    """Lay ``source`` over ``backdrop`` in place (both float32 straight RGBA of one shape).

    W3C source-over with blending: ``Cs' = (1 - ab) Cs + ab B(Cb, Cs)``, then
    ``ao = as + ab (1 - as)`` and ``co = as Cs' + ab (1 - as) Cb`` (premultiplied), where the
    layer's alpha ``as`` includes its ``opacity``.
    """
    alpha_s = source[..., 3:4] * opacity
    alpha_b = backdrop[..., 3:4]
    colour_s, colour_b = source[..., :3], backdrop[..., :3]
    if mode != NORMAL:
        colour_s = (1 - alpha_b) * colour_s + alpha_b * blend(mode, colour_b, colour_s)
    out_alpha = alpha_s + alpha_b * (1 - alpha_s)
    colour = alpha_s * colour_s + alpha_b * (1 - alpha_s) * colour_b
    np.divide(colour, out_alpha, out=backdrop[..., :3], where=out_alpha > 0)
    backdrop[..., 3:4] = out_alpha
