"""CPPN abstract art: pixel coordinates + a latent vector -> colour, at any resolution.

The image is computed in horizontal bands, so progress, a preview and a chance to cancel
come after each band, and no band needs more than a few MB however large the image.
Coordinates are normalised to the shorter side, so the same seed gives the same picture
at every resolution and aspect ratio (more or less of it, never stretched).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

import studio
from studio.core.base.memory import ensure_memory
from studio.core.engine.latent_values import picture_latent, recorded
from studio.core.models.limits import bounded_int, check_file_size

BAND_PIXELS = 1 << 18  # about 256k pixels a band: ~16 bands for 2048x2048
PREVIEW_SIDE = 384  # previews are downscaled: the GUI thread should never convert megapixels
COLOUR_MODES = ("colour", "grayscale", "hsv")


def read_config(folder: Path) -> dict[str, Any]:
    path = folder / "cppn.json"
    try:
        check_file_size(path)
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise studio.ModelError(f"{path} is not a readable CPPN description: {exc}") from None
    if not isinstance(config, dict) or config.get("format") != "studio-cppn":
        raise studio.ModelError(f"{path} does not describe a CPPN model (format should be 'studio-cppn')")
    config["latent_dim"] = bounded_int(config, "latent_dim", 1, 4096, str(path))
    return config


class CPPNGenerator(studio.Generator):
    kind = "image"
    digital_source = "algorithmicMedia"  # random weights from a seed: no training data behind them
    description = "Abstract art from a small pattern-producing network. Any size; the seed picks the picture."
    params = (
        studio.Param("seed", "seed", None, help="Picks the picture. Leave random, or fix it to get the same image again."),
        studio.Param("width", "int", 512, min=16, max=8192, step=1, help="Width in pixels (any: the network draws at every resolution)."),
        studio.Param("height", "int", 512, min=16, max=8192, step=1, help="Height in pixels (any: the network draws at every resolution)."),
        studio.Param("scale", "float", 2.0, min=0.1, max=50.0, step=0.1, help="Zoom: larger shows more of the pattern."),
        studio.Param("complexity", "float", 1.0, min=0.1, max=10.0, step=0.1, help="Finer, busier detail as it grows."),
        studio.Param("colour_mode", "choice", "colour", choices=COLOUR_MODES, label="Colour mode", help="How the network's three outputs become colour."),
        studio.Param("batch_count", "int", 1, min=1, max=16, label="Images", help="How many pictures, one after another, seeds counting up."),
        studio.Param("latent", "latent", None, optional=True, help="The numbers that make the picture (kept from the explorer or a result); empty: drawn from the seed."),
    )

    def __init__(self, folder: Path, generator_id: str = "cppn", title: str = "") -> None:
        self.folder = Path(folder)
        self.config = read_config(self.folder)
        self.id = generator_id
        self.title = title or self.config.get("title", "CPPN")
        self.model_path = self.folder / "model.onnx"
        # Its latent is a Gaussian vector like a GAN's; small pictures are quick to explore.
        self.latent_space = studio.LatentSpace(self.config["latent_dim"], thumbnail_params={"width": 160, "height": 160})

    def load(self, ctx: studio.JobContext) -> None:
        ctx.session(self.model_path)

    def generate(self, request: studio.Request, ctx: studio.JobContext) -> Iterator[studio.Event]:
        count = request["batch_count"]
        for number in range(count):
            seed = (request.seed + number) % (2**32)
            # Each picture's parameters make that picture alone: its seed, a batch of one.
            latent = picture_latent(request["latent"], seed, self.config["latent_dim"], count)
            params = {**request.params, "seed": seed, "batch_count": 1, "latent": recorded(latent)}
            yield from self._picture(request, params, ctx, number, count)

    def _picture(self, request: studio.Request, params: dict[str, Any], ctx: studio.JobContext, number: int, count: int) -> Iterator[studio.Event]:
        loaded = ctx.session(self.model_path)
        width, height = request["width"], request["height"]
        latent = np.asarray(params["latent"], dtype=np.float32).reshape(1, -1)
        complexity = np.array([request["complexity"]], dtype=np.float32)
        # The picture, and one band's coordinates and colours in float32 as the network works.
        ensure_memory(width * height * 4 + BAND_PIXELS * (3 + 3 + 3) * 4, f"a {width} × {height} picture")
        xs, ys = _axes(width, height, request["scale"])

        image = np.zeros((height, width, 4), dtype=np.uint8)
        image[..., 3] = 255
        rows = max(1, BAND_PIXELS // width)
        total = -(-height // rows)
        started = time.perf_counter()
        for band, top in enumerate(range(0, height, rows)):
            bottom = min(height, top + rows)
            coords = _coords(xs, ys[top:bottom])
            (rgb,) = ctx.run(loaded, ["rgb"], {"coords": coords, "latent": latent, "complexity": complexity})
            colour = to_colour(rgb, request["colour_mode"])
            image[top:bottom, :, :3] = colour.reshape(bottom - top, width, 3)
            message = f"{bottom} of {height} rows" if count == 1 else f"Image {number + 1} of {count} · {bottom} of {height} rows"
            yield studio.Progress(number * total + band + 1, count * total, message)
            yield studio.Preview("image", _downscale(image[:bottom]))
        info = {"provider": loaded.providers[0], "device": ctx.device.id, "seconds": round(time.perf_counter() - started, 3)}
        yield studio.Result("image", image, self.id, params, info=info)


def _axes(width: int, height: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    unit = scale / min(width, height)
    xs = (np.arange(width, dtype=np.float32) - (width - 1) / 2) * np.float32(2 * unit)
    ys = (np.arange(height, dtype=np.float32) - (height - 1) / 2) * np.float32(2 * unit)
    return xs, ys


def _coords(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    coords = np.empty((len(ys), len(xs), 3), dtype=np.float32)
    coords[..., 0] = xs[None, :]
    coords[..., 1] = ys[:, None]
    np.hypot(coords[..., 0], coords[..., 1], out=coords[..., 2])
    return coords.reshape(-1, 3)


def to_colour(rgb: np.ndarray, mode: str) -> np.ndarray:
    """The network's outputs in [0, 1] -> uint8 RGB, by colour mode."""
    if mode == "grayscale":
        grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        rgb = np.repeat(grey[:, None], 3, axis=1)
    elif mode == "hsv":
        rgb = _hsv_to_rgb(rgb[:, 0], 0.35 + 0.65 * rgb[:, 1], 0.25 + 0.75 * rgb[:, 2])
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    h6 = (h % 1.0) * 6.0
    i = np.floor(h6).astype(np.int32) % 6
    f = h6 - np.floor(h6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = np.stack([np.stack(c, axis=1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))])
    return table[i, np.arange(len(h))]


def _downscale(image: np.ndarray) -> np.ndarray:
    step = max(1, -(-max(image.shape[:2]) // PREVIEW_SIDE))
    return np.ascontiguousarray(image[::step, ::step])


class CPPNLoader(studio.ModelLoader):
    id = "cppn"
    title = "CPPN"
    layout = "a folder with cppn.json and model.onnx"

    def detect(self, folder: Path) -> bool:
        return (folder / "cppn.json").is_file()

    def load(self, folder: Path) -> CPPNGenerator:
        if not (folder / "model.onnx").is_file():
            raise studio.ModelError(f"{folder} has cppn.json but no model.onnx")
        return CPPNGenerator(folder, f"cppn:{folder.name}", f"CPPN ({folder.name})")
