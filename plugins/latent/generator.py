"""A latent generator (GAN, StyleGAN, VAE) as a Studio generator: a seed or a latent in, a
picture out, the latent that made it recorded in its parameters."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import numpy as np

import studio
from studio.core.engine.latent_values import recorded
from studio.core.image.canvas_size import resample

from .manifest import EXPECTED, LatentModel, has_layout, read_model
from .networks import LatentNetworks, to_pixels

MAX_SCALE = 16
MAX_SIDE = 16384  # the largest picture side Studio takes (the runner's result check holds every plugin to it)
MAX_BATCH = 64
THUMBNAIL_SIDE = 128  # the explorer's grid cells: about this many pixels a side


class LatentGenerator(studio.Generator):
    kind = "image"

    def __init__(self, folder: Path, generator_id: str, title: str = "") -> None:
        self.model: LatentModel = read_model(folder)
        self.folder = Path(folder)
        self.id = generator_id
        self.title = title or self.model.title
        self.description = self.model.description or {
            "gan": "A GAN: each seed or latent makes a picture; explore its space in the Explorer.",
            "stylegan": "A StyleGAN: each seed makes a picture; truncation trades variety for quality.",
            "vae": "A VAE: each seed or latent makes a picture; it can also find a picture's latent.",
        }[self.model.kind]
        self.networks = LatentNetworks(self.model)
        self.params = self._params()
        side = max(self.model.image_size or (64, 64))
        self.latent_space = studio.LatentSpace(
            self.model.latent_size,
            interpolation="lerp" if self.model.kind == "stylegan" else "slerp",
            intermediate=self.model.kind == "stylegan",
            encodes="encoder" in self.model.files,
            thumbnail_params={"scale": max(1, min(MAX_SCALE, THUMBNAIL_SIDE // side))},
        )

    def _params(self) -> tuple[studio.Param, ...]:
        model = self.model
        side = max(model.image_size or (64, 64))
        params = [
            studio.Param("seed", "seed", None, help="Picks the picture. Leave random, or fix it to get the same picture again."),
            studio.Param("latent", "latent", None, optional=True,
                         help="The numbers that make the picture (kept from the explorer or a result); empty: drawn from the seed."),
        ]
        if model.truncation is not None:
            params.append(studio.Param("truncation", "float", model.truncation, min=0.0, max=2.0, step=0.05, label="Truncation (ψ)",
                                       help="Below 1: closer to the average picture, cleaner but less varied. 1: as trained."))
        # A one-hot class input of width 0 (an unconditional StyleGAN2-ADA export) takes no class.
        if model.class_input is not None and (model.classes or model.class_input.type != "float"):
            if model.class_names:
                params.append(studio.Param("label", "choice", model.class_names[0], choices=model.class_names, label="Class", help="What kind of picture."))
            else:
                top = (model.classes - 1) if model.classes else 9999
                params.append(studio.Param("label", "int", 0, min=0, max=top, label="Class", help="The class index the model was trained with."))
        if "encoder" in model.files:
            params.append(studio.Param("image", "image", None, optional=True, label="Find this picture",
                                       help="Refine: the picture's own latent is found (the encoder) and drawn again; move it in the explorer."))
        default_scale = max(1, min(MAX_SCALE, 256 // side))
        params += [
            studio.Param("scale", "int", default_scale, min=1, max=MAX_SCALE, label="Enlarge",
                         help=f"The model draws {_size_text(model)}; each picture is enlarged this many times (smoothly)."),
            studio.Param("batch_count", "int", 1, min=1, max=MAX_BATCH, label="Images", help="How many pictures, seeds counting up."),
        ]
        return tuple(params)

    def load(self, ctx: studio.JobContext) -> None:
        for path in self.model.files.values():
            if path.suffix == ".onnx":
                ctx.session(path)
        if self.model.kind == "stylegan":
            self.networks.average_w(ctx)

    def generate(self, request: studio.Request, ctx: studio.JobContext) -> Iterator[studio.Event]:
        started = time.perf_counter()
        count = request["batch_count"]
        label = self._label(request)
        truncation = request.params.get("truncation", 1.0)
        found = request.params.get("image") is not None
        if found:
            if count > 1:
                raise studio.ParamError("image: finding a picture's latent makes one picture; make one image (batch of 1)")
            yield studio.Progress(0, 1, "Finding the picture's latent")
            latents = [self.networks.encode(request["image"], ctx)]
        else:
            latents = self.networks.latents(request["latent"], request.seed, count, label, ctx)
        pictures = self.networks.pictures(np.stack(latents), truncation, label, ctx)
        for number, (latent, picture) in enumerate(zip(latents, pictures)):
            pixels = self._enlarged(to_pixels(picture, self.model.output_range), request["scale"])
            params = {**request.params, "seed": (request.seed + number) % 2**32, "batch_count": 1, "latent": recorded(latent)}
            if "image" in params:
                params["image"] = None  # the latent found reproduces it; the picture is not needed again
            info = {"provider": ctx.session(self._main_file()).providers[0], "device": ctx.device.id,
                    "seconds": round(time.perf_counter() - started, 3), "found": found}
            if self.networks.notes:
                info["notes"] = list(self.networks.notes)
            yield studio.Progress(number + 1, count, f"Image {number + 1} of {count}")
            yield studio.Result("image", pixels, self.id, params, info=info)

    def _label(self, request: studio.Request) -> int:
        value = request.params.get("label", 0)
        return self.model.class_names.index(value) if isinstance(value, str) else int(value)

    def _main_file(self) -> Path:
        return self.model.files["generator" if self.model.kind == "gan" else "synthesis" if self.model.kind == "stylegan" else "decoder"]

    @staticmethod
    def _enlarged(pixels: np.ndarray, scale: int) -> np.ndarray:
        if scale == 1:
            return pixels
        height, width = pixels.shape[:2]
        if max(height, width) * scale > MAX_SIDE:  # before the enlarged picture is allocated
            raise studio.ParamError(f"scale: {width} × {height} pictures enlarged {scale} times would pass {MAX_SIDE} pixels a side; choose at most {max(1, MAX_SIDE // max(height, width))}")
        return resample(pixels, width * scale, height * scale)


def _size_text(model: LatentModel) -> str:
    if model.image_size is None:
        return "its pictures at the size it was trained for"
    height, width = model.image_size
    return f"{width} × {height} pictures"


class LatentLoader(studio.ModelLoader):
    id = "latent"
    title = "Latent generator (GAN, StyleGAN, VAE)"
    layout = EXPECTED

    def detect(self, folder: Path) -> bool:
        return has_layout(folder)

    def load(self, folder: Path) -> LatentGenerator:
        return LatentGenerator(folder, f"latent:{folder.name}")
