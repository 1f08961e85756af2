"""The Stable Diffusion generator (one per model folder) and the loader that finds such folders."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Iterator

import numpy as np

import studio
from studio.core.base import paths
from studio.core.models.graph_device import folder_need
from studio.core.models.variant_defaults import choose_variant

from .control_params import control_graphs, control_params, control_settings
from .images import float_to_rgba
from .layout import LAYOUT, SDModel, is_diffusers_onnx
from .lora import apply_loras
from .noise import SeededNoise
from .numbering import numbered
from .optimize import optimized_unet
from .pipeline import Pipeline, Settings
from .refine import refine_in_tiles
from .schedulers import SCHEDULERS, default_scheduler_name

log = logging.getLogger(__name__)

MAX_SIDE = 2048  # 2048x2048 is 16x the work of 512x512 already; larger is tiling's job


def model_defaults(model: SDModel) -> dict[str, object]:
    """Sensible starting values for this kind of model (a distilled one wants few steps)."""
    scheduler = default_scheduler_name(model.scheduler_config)
    side = int(model.unet_config.get("sample_size", 128 if model.is_xl else 64)) * model.vae_scale_factor
    defaults: dict[str, object] = {"steps": 20, "guidance": 7.5, "scheduler": scheduler, "side": min(MAX_SIDE, max(64, side))}
    if scheduler == "lcm" or model.unet_config.get("time_cond_proj_dim"):
        defaults.update(steps=4, guidance=8.5, scheduler="lcm")
    elif model.scheduler_config.get("timestep_spacing") == "trailing" and scheduler == "euler_a":
        defaults.update(steps=1, guidance=0.0)  # turbo: one to four steps, no guidance
    return defaults


class StableDiffusionGenerator(studio.Generator):
    kind = "image"

    def __init__(self, model: SDModel, generator_id: str) -> None:
        self.model = model
        self._fused_unets: dict[tuple[str, Path], Path] = {}  # (device id, fp32 UNet) -> the copy it runs there
        self.id = generator_id
        self.title = model.title
        self.description = (
            "Text to image; image to image from the active layer or the selection; inpainting from the painted mask. "
            f"Model folder: {model.folder}"
        )
        # Olive/onnxruntime-optimized exports (sd-turbo's) hold GPU-only fused nodes: the folder
        # is accepted, marked, and a job on the CPU is refused in load() with this sentence.
        need = folder_need(model.folder)
        self.required_device: str | None = need.sentence if need else None
        if need:
            self.description += f". This model {need.sentence}."
        d = model_defaults(model)
        # One latent pixel is vae_scale_factor pixels: a side is a whole number of latents.
        grid = model.vae_scale_factor
        smallest = grid * math.ceil(64 / grid)
        side = min(MAX_SIDE - MAX_SIDE % grid, grid * math.ceil(int(d["side"]) / grid))
        self.params = (
            studio.Param("prompt", "text", "", multiline=True, help="What to paint."),
            studio.Param("negative_prompt", "text", "", multiline=True, label="Negative prompt", help="What to keep out."),
            studio.Param("init_image", "image", optional=True, label="Image", help="Start from this image (image to image, inpainting)."),
            studio.Param("mask", "mask", optional=True, help="Repaint where the mask is white (inpainting)."),
            studio.Param("strength", "float", 0.75, min=0.01, max=1.0, step=0.01, help="How much of the image to repaint: 1 ignores it."),
            studio.Param("steps", "int", int(d["steps"]), min=1, max=150, help="Denoising steps."),
            studio.Param("guidance", "float", float(d["guidance"]), min=0.0, max=30.0, step=0.5, label="Guidance", help="How closely to follow the prompt; 1 or less turns guidance off."),
            studio.Param("scheduler", "choice", str(d["scheduler"]), choices=tuple(SCHEDULERS), help="The sampler."),
            studio.Param("seed", "seed", None),
            studio.Param("width", "int", side, min=smallest, max=MAX_SIDE, step=grid, help=f"A multiple of {grid}."),
            studio.Param("height", "int", side, min=smallest, max=MAX_SIDE, step=grid, help=f"A multiple of {grid}."),
            studio.Param("batch_count", "int", 1, min=1, max=16, label="Images", help="How many images, one after another, seeds counting up."),
            studio.Param("vae_preview_every", "int", 0, min=0, max=50, label="VAE preview", help="Decode a full preview every N steps (0: quick previews only)."),
            studio.Param("loras", "loras", (), label="LoRAs", help="LoRA files (.safetensors, kohya or diffusers) and their weights."),
            studio.Param("refine_tiles", "bool", False, label="Refine tile by tile", help=(
                "Image to image in overlapping tiles of the model's own size, for a picture larger than it paints "
                "(after an upscale): the picture keeps its size; use a low strength (0.2 to 0.4).")),
        )
        self.params += control_params(model)
        if len(model.variants) > 1:  # a folder with one copy of its weights has nothing to choose
            self.params += (studio.Param("variant", "choice", "auto", choices=("auto", *model.variants), label="Weights", help=(
                "Which copy of the model's weights to run. auto: your default for this device (Models window), "
                "else fp16 on a GPU (half the memory, faster there) and fp32 on the CPU (fp16 is slow there).")),)

    def request(self, values=None, rng=None) -> studio.Request:
        """As every generator's; a ``variant`` named for a folder that has one copy of its
        weights (a project saved with another copy of the model) runs the one there is."""
        values = dict(values or {})
        if "variant" in values and len(self.model.variants) == 1:
            del values["variant"]
        return super().request(values, rng)

    def chosen_variant(self, asked: str, device) -> str:
        """The variant ``asked`` (or "auto") means on ``device``."""
        return choose_variant(self.model.folder, asked, self.model.variants, "cpu" if device.is_cpu else "gpu")

    def load(self, ctx: studio.JobContext) -> None:
        self._check_device(ctx)
        # The graphs "auto" runs on this device: a job that asks for another copy opens its own.
        graphs = self._graphs(self.chosen_variant("auto", ctx.device), ctx)
        # controlnet/ when it is a ControlNet; OnnxStack's second UNet there waits until a job needs it
        parts = ("text_encoder", "text_encoder_2", "unet", "vae_decoder", *(("controlnet",) if self.model.controlnet_kind == "controlnet" else ()))
        for index, part in enumerate(parts):
            if part in graphs:
                ctx.progress(index, len(parts), f"Loading {part.replace('_', ' ')}…")
                ctx.session(graphs[part])

    def _check_device(self, ctx: studio.JobContext) -> None:
        """Refuse, before any session, a job whose device cannot run this folder's graphs."""
        need = folder_need(self.model.folder)
        providers = ctx.runtime.effective_providers(ctx.device)
        if need and not need.runs_on(providers):
            where = "the CPU" if providers == ("CPUExecutionProvider",) else ctx.device.name
            raise studio.ModelError(
                f"{self.model.folder.name} {need.sentence}; this job would run on {where}. "
                "Choose that GPU as the device (Settings, or --device), or use an export made for the CPU"
            )

    def _graphs(self, variant: str, ctx: studio.JobContext, request: studio.Request | None = None) -> dict[str, Path]:
        """The file each part runs for ``variant`` (and the request's ControlNet choice) on the
        job's device: on the CPU the fp32 UNet is replaced by its copy with fused attention (made
        once per model: a third of the memory at 512 px), unless that cannot be made or loaded."""
        graphs = self.model.graphs(variant)
        if request is not None:
            graphs = control_graphs(self.model, graphs, request)
        original = graphs["unet"]
        if ctx.device.is_cpu and original in (self.model.path("unet"), self.model.path("controlnet")):  # fp32 (OnnxStack's residual UNet too)
            key = (ctx.device.id, original)
            if key not in self._fused_unets:
                self._fused_unets[key] = self._fused_unet(original, ctx)
            graphs["unet"] = self._fused_unets[key]
        return graphs

    @staticmethod
    def _fused_unet(original: Path, ctx: studio.JobContext) -> Path:
        try:
            fused = optimized_unet(original, paths.cache() / "optimized", ctx.progress)
            ctx.session(fused)  # a copy that does not load is no better than none
            return fused
        except studio.ModelError as exc:
            log.warning("running the UNet as exported: %s", exc)
            return original

    def generate(self, request: studio.Request, ctx: studio.JobContext) -> Iterator[studio.Event]:
        variant = self.chosen_variant(request.params.get("variant", "auto"), ctx.device)
        graphs = self._graphs(variant, ctx, request)
        loras = apply_loras(self.model, request["loras"], graphs, ctx) if request["loras"] else None
        pipeline = Pipeline(self.model, ctx, graphs, loras.session if loras else None)
        settings = Settings(
            prompt=request["prompt"],
            negative_prompt=request["negative_prompt"],
            width=request["width"],
            height=request["height"],
            steps=request["steps"],
            guidance=request["guidance"],
            strength=request["strength"],
            scheduler=request["scheduler"],
            init_image=request["init_image"],
            mask=request["mask"],
            vae_preview_every=request["vae_preview_every"],
            **control_settings(request),
        )
        count = request["batch_count"]
        for number in range(count):
            seed = (request.seed + number) % (2**32)
            started = time.perf_counter()
            run = refine_in_tiles(pipeline, settings, seed, ctx) if request["refine_tiles"] else pipeline.run(settings, SeededNoise(seed))
            output = yield from numbered(run, number, count, "Image")
            params = {k: v for k, v in request.params.items() if not isinstance(v, np.ndarray)}
            params.update(seed=seed, batch_count=1, mode=settings.mode, model=self.model.folder.name)
            if len(self.model.variants) > 1:
                params["variant"] = variant  # the copy that ran, so the parameters repeat the picture
            notes = output.notes + (loras.notes if loras else [])
            info = {"provider": pipeline.unet.providers[0], "device": ctx.device.id, "seconds": round(time.perf_counter() - started, 3), "notes": notes}
            yield studio.Result("image", float_to_rgba(output.image), self.id, params, info=info)


class StableDiffusionLoader(studio.ModelLoader):
    id = "stable-diffusion"
    title = "Stable Diffusion"
    layout = LAYOUT

    def detect(self, folder: Path) -> bool:
        return is_diffusers_onnx(folder)

    def load(self, folder: Path) -> StableDiffusionGenerator:
        return StableDiffusionGenerator(SDModel.read(folder), f"sd:{folder.name}")
