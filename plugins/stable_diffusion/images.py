"""Pictures in and out of the model, the way diffusers' VaeImageProcessor does it.

Matching its steps (RGB without compositing alpha, Lanczos resize, [-1, 1] scaling,
binarised masks, nearest-neighbour mask down-sampling like ``F.interpolate``) is what lets
the same inputs give diffusers' image to within a thousandth.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def model_image(rgba: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 RGBA (H, W, 4) -> float32 (1, 3, height, width) in [-1, 1]."""
    rgb = np.ascontiguousarray(rgba[..., :3])
    if rgb.shape[:2] != (height, width):
        rgb = np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.LANCZOS))
    scaled = rgb.astype(np.float32) / 255.0
    return (scaled * 2.0 - 1.0).transpose(2, 0, 1)[None]


def model_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 (H, W), 255 = repaint -> float32 (1, 1, height, width) of 0 and 1."""
    if mask.shape != (height, width):
        mask = np.asarray(Image.fromarray(mask).resize((width, height), Image.Resampling.LANCZOS))
    scaled = mask.astype(np.float32) / 255.0
    return (scaled >= 0.5).astype(np.float32)[None, None]


def nearest_resize(tensor: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C, height, width), picking pixels as torch's default interpolate does."""
    in_h, in_w = tensor.shape[2:]
    rows = np.floor(np.arange(height) * (in_h / height)).astype(np.int64)
    cols = np.floor(np.arange(width) * (in_w / width)).astype(np.int64)
    return tensor[:, :, rows][:, :, :, cols]


def decoded_to_float(decoded: np.ndarray) -> np.ndarray:
    """VAE output (1, 3, H, W) in about [-1, 1] -> float32 (H, W, 3) in [0, 1]."""
    return np.clip(decoded[0].transpose(1, 2, 0) / 2.0 + 0.5, 0.0, 1.0).astype(np.float32)


def float_to_rgba(image: np.ndarray) -> np.ndarray:
    """float (H, W, 3) in [0, 1] -> uint8 RGBA, rounded like diffusers' numpy_to_pil."""
    rgba = np.empty(image.shape[:2] + (4,), dtype=np.uint8)
    rgba[..., :3] = np.round(image * 255.0).astype(np.uint8)
    rgba[..., 3] = 255
    return rgba
