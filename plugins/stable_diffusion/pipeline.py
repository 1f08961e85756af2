"""The Stable Diffusion denoising pipeline on onnxruntime sessions, step by step like diffusers.

One ``Pipeline`` holds a model's sessions (cached by the runtime, so making one is cheap
after the first) and runs text-to-image, image-to-image and inpainting — with ordinary
4-channel UNets by latent blending, with 9-channel inpainting UNets by conditioning — for
SD 1.x/2.x (epsilon or v-prediction), SDXL and LCM/turbo models. The order of operations
and of random draws follows diffusers' pipelines, so the same noise gives the same image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generator

import numpy as np

import studio
from studio.core.base.memory import ensure_memory

from .controlnet import residual_names, residuals_for
from .images import decoded_to_float, float_to_rgba, model_image, model_mask, nearest_resize
from .layout import SDModel
from .noise import NoiseSource
from .preview import StepPreviews
from .prompts import Embeddings, encode_sd, encode_xl, load_encoders
from .schedulers import make_scheduler

UNET_INPUTS = {"sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids", "timestep_cond"}
NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


@dataclass
class Settings:
    prompt: str = ""
    negative_prompt: str = ""
    width: int = 512
    height: int = 512
    steps: int = 20
    guidance: float = 7.5
    strength: float = 0.75
    scheduler: str = "euler"
    init_image: np.ndarray | None = None  # uint8 RGBA
    mask: np.ndarray | None = None  # uint8, 255 = repaint
    vae_preview_every: int = 0  # 0: cheap latent previews only
    step_previews: bool = True  # False: none at all (a tile of a larger picture shows nothing alone)
    control_image: np.ndarray | None = None  # uint8 RGB(A), already preprocessed (controlnet.py)
    control_strength: float = 1.0  # diffusers' controlnet_conditioning_scale
    control_start: float = 0.0  # the fraction of the steps where the ControlNet starts acting
    control_end: float = 1.0  # ... and where it stops

    @property
    def mode(self) -> str:
        if self.mask is not None and self.init_image is not None and self.mask.any():
            return "inpaint"
        return "img2img" if self.init_image is not None else "txt2img"


@dataclass
class Output:
    image: np.ndarray  # float32 (H, W, 3) in [0, 1]
    notes: list[str] = field(default_factory=list)


class Pipeline:
    def __init__(self, model: SDModel, ctx: studio.JobContext, graphs: dict[str, Path] | None = None, session: Callable[[Path], Any] | None = None) -> None:
        self.model = model
        self.ctx = ctx
        # ``graphs``: the file each part runs (a variant's, the CPU's fused UNet), over the fp32 ones
        self.graphs = {**model.graphs(), **(graphs or {})}
        # ``session``: where the graphs come from, ``ctx.session`` unless LoRAs change some (lora.py)
        self.session = session or ctx.session
        self.encoders = load_encoders(model.folder, self.graphs, self.session, model.is_xl)
        self.unet = self.session(self.graphs["unet"])
        self.decoder = self.session(self.graphs["vae_decoder"])
        self.previews = StepPreviews(model, ctx, self.session)  # TAESD when installed, else latent colours
        self.unet_inputs = {i.name: i for i in self.unet.session.get_inputs()}
        self.unet_output = self.unet.session.get_outputs()[0].name
        self._check_unet()
        self.residuals = residuals_for(model, self.unet_inputs, self.graphs, self.session, ctx.run)

    # -- the model's shape -----------------------------------------------------------------

    def _check_unet(self) -> None:
        names = set(self.unet_inputs)
        unknown = sorted(names - UNET_INPUTS - set(residual_names(names)))
        if unknown:
            raise studio.ModelError(f"the UNet in {self.model.folder} expects inputs Studio does not know: {', '.join(unknown)}")
        missing = sorted({"sample", "timestep", "encoder_hidden_states"} - names)
        if self.model.is_xl:
            missing += sorted({"text_embeds", "time_ids"} - names)
        if missing:
            raise studio.ModelError(f"the UNet in {self.model.folder} lacks the inputs {', '.join(missing)}")
        if self.in_channels not in (4, 9):
            raise studio.ModelError(f"the UNet in {self.model.folder} takes {self.in_channels} channels; Studio reads 4 (ordinary) or 9 (inpainting)")

    @property
    def in_channels(self) -> int:
        channels = self.unet_inputs["sample"].shape[1]
        return channels if isinstance(channels, int) else int(self.model.unet_config.get("in_channels", 4))

    @property
    def is_inpainting_model(self) -> bool:
        return self.in_channels == 9

    @property
    def guidance_embedding_size(self) -> int:
        """LCM-distilled UNets take the guidance scale as an embedding instead of doing CFG."""
        if "timestep_cond" not in self.unet_inputs:
            return 0
        size = self.unet_inputs["timestep_cond"].shape[1]
        return size if isinstance(size, int) else int(self.model.unet_config.get("time_cond_proj_dim") or 256)

    def _dtype(self, name: str) -> Any:
        return NUMPY_TYPES.get(self.unet_inputs[name].type, np.float32)

    # -- running ----------------------------------------------------------------------------

    def run(self, settings: Settings, noise: NoiseSource) -> Generator[studio.Event, None, Output]:
        """Yield Progress and Preview events; return the image."""
        ctx, model = self.ctx, self.model
        scale = model.vae_scale_factor
        if settings.width % scale or settings.height % scale:
            raise studio.ParamError(f"width and height must be multiples of {scale} (got {settings.width}x{settings.height})")
        mode = settings.mode
        if (mode != "txt2img" or self.is_inpainting_model) and not model.has_encoder:
            needs = "an inpainting model needs for every picture" if self.is_inpainting_model else f"{mode} needs"
            raise studio.ModelError(f"{model.folder} has no vae_encoder/, which {needs}")
        guided = settings.guidance > 1.0 and not self.guidance_embedding_size
        ensure_memory(memory_needed(settings.width, settings.height, mode != "txt2img"), f"a {settings.width} × {settings.height} image")
        yield studio.Progress(0, settings.steps, "Encoding the prompt…")
        positive, negative = self._encode(settings, guided)
        notes = positive.notes + (negative.notes if negative else [])

        scheduler = make_scheduler(settings.scheduler, self.scheduler_config())
        scheduler.set_timesteps(settings.steps)
        strength = 1.0 if mode == "txt2img" else settings.strength
        timesteps = scheduler.timesteps if mode == "txt2img" else scheduler.strength_timesteps(settings.steps, strength)
        if len(timesteps) < 1:
            raise studio.ParamError(f"strength {strength} with {settings.steps} steps leaves no step to run; raise either")

        shape = (1, model.latent_channels, settings.height // scale, settings.width // scale)
        mask_latents = masked_latents = image_latents = first_noise = None
        if mode == "txt2img":
            latents = noise.normal(shape) * np.float32(scheduler.init_noise_sigma)
        elif mode == "img2img":
            image = model_image(settings.init_image, settings.width, settings.height)
            yield studio.Progress(0, len(timesteps), "Encoding the image…")
            image_latents = self._encode_image(image, noise)
            latents = scheduler.add_noise(image_latents, noise.normal(shape), timesteps[:1])
        else:
            image = model_image(settings.init_image, settings.width, settings.height)
            mask = model_mask(settings.mask, settings.width, settings.height)
            yield studio.Progress(0, len(timesteps), "Encoding the image…")
            full_strength = strength == 1.0
            if not self.is_inpainting_model or not full_strength:
                image_latents = self._encode_image(image, noise)
            first_noise = noise.normal(shape)
            if full_strength:
                latents = first_noise * np.float32(scheduler.init_noise_sigma)
            else:
                latents = scheduler.add_noise(image_latents, first_noise, timesteps[:1])
            mask_latents = nearest_resize(mask, shape[2], shape[3])
            masked = image * (mask < 0.5)
            if self.is_inpainting_model:
                masked_latents = self._encode_image(masked, noise)
            else:
                noise.normal(shape)  # diffusers encodes the masked image here too; keep its draw order

        if self.is_inpainting_model and mask_latents is None:
            # Without a mask an inpainting UNet still wants its mask and masked-image channels:
            # the whole picture is to be painted and none of it is kept (as A1111 and ComfyUI
            # feed such models for text to image and image to image).
            mask_latents = np.ones((1, 1, shape[2], shape[3]), np.float32)
            masked_latents = self._encode_image(np.zeros((1, 3, settings.height, settings.width), np.float32), noise)

        unet_extra = self._unet_extras(settings, positive, negative, guided)
        hidden = np.concatenate([negative.hidden, positive.hidden]) if guided else positive.hidden
        total = len(timesteps)
        control = self.residuals.plan(settings, guided, total) if self.residuals else None
        for index, timestep in enumerate(timesteps):
            ctx.check_cancelled()
            model_in = np.concatenate([latents, latents]) if guided else latents
            model_in = scheduler.scale_model_input(model_in, timestep)
            extras = {**unet_extra, **control.at(index, model_in, timestep, hidden, unet_extra)} if control else unet_extra
            if self.is_inpainting_model and mask_latents is not None:
                repeat = 2 if guided else 1
                model_in = np.concatenate([model_in, np.concatenate([mask_latents] * repeat), np.concatenate([masked_latents] * repeat)], axis=1)
            prediction = self._unet(model_in, timestep, hidden, extras)
            if guided:
                uncond, cond = prediction[:1], prediction[1:]
                prediction = uncond + np.float32(settings.guidance) * (cond - uncond)
            step = scheduler.step(prediction, timestep, latents, noise)
            latents = step.prev_sample
            if mode == "inpaint" and not self.is_inpainting_model:
                proper = image_latents
                if index < total - 1:
                    proper = scheduler.add_noise(image_latents, first_noise, timesteps[index + 1 : index + 2])
                latents = (1 - mask_latents) * proper + mask_latents * latents
            yield studio.Progress(index + 1, total, f"Step {index + 1} of {total}")
            if not settings.step_previews:
                continue  # nothing decoded that nobody would see
            if settings.vae_preview_every and (index + 1) % settings.vae_preview_every == 0 and index + 1 < total:
                yield studio.Preview("image", float_to_rgba(self.decode(step.denoised)))
            else:
                yield studio.Preview("image", self.previews.image(step.denoised))
        ctx.check_cancelled()
        yield studio.Progress(total, total, "Decoding…")
        return Output(self.decode(latents), notes)

    def scheduler_config(self) -> dict[str, Any]:
        """The folder's scheduler config, corrected as diffusers' SD 1.x/2.x pipelines correct
        old configs when they load them (``steps_offset`` 1, no ``clip_sample``)."""
        config = dict(self.model.scheduler_config)
        if not self.model.is_xl:
            if "steps_offset" in config and config["steps_offset"] != 1:
                config["steps_offset"] = 1
            if config.get("clip_sample") is True:
                config["clip_sample"] = False
        return config

    def _encode(self, settings: Settings, guided: bool) -> tuple[Embeddings, Embeddings | None]:
        run = self.ctx.run
        if self.model.is_xl:
            return encode_xl(self.encoders, run, settings.prompt, settings.negative_prompt, guided, self.model.force_zeros_for_empty_prompt)
        return encode_sd(self.encoders[0], run, settings.prompt, settings.negative_prompt, guided)

    def _unet_extras(self, settings: Settings, positive: Embeddings, negative: Embeddings | None, guided: bool) -> dict[str, np.ndarray]:
        extras: dict[str, np.ndarray] = {}
        if self.model.is_xl:
            time_ids = np.array([[settings.height, settings.width, 0, 0, settings.height, settings.width]], dtype=np.float32)
            pooled = positive.pooled
            if guided:
                pooled = np.concatenate([negative.pooled, pooled])
                time_ids = np.concatenate([time_ids, time_ids])
            extras["text_embeds"] = pooled.astype(self._dtype("text_embeds"))
            extras["time_ids"] = time_ids.astype(self._dtype("time_ids"))
        if self.guidance_embedding_size:
            extras["timestep_cond"] = guidance_embedding(settings.guidance - 1.0, self.guidance_embedding_size).astype(self._dtype("timestep_cond"))
        return extras

    def _unet(self, sample: np.ndarray, timestep: Any, hidden: np.ndarray, extras: dict[str, np.ndarray]) -> np.ndarray:
        batch = sample.shape[0]
        shape = self.unet_inputs["timestep"].shape
        dtype = self._dtype("timestep")
        if len(shape) == 0:
            t = np.array(timestep, dtype=dtype)
        else:
            t = np.full((shape[0] if isinstance(shape[0], int) else batch,), timestep, dtype=dtype)
        feeds = {"sample": sample.astype(self._dtype("sample")), "timestep": t, "encoder_hidden_states": hidden.astype(self._dtype("encoder_hidden_states"))}
        feeds.update(extras)
        (prediction,) = self.ctx.run(self.unet, [self.unet_output], feeds)
        return prediction.astype(np.float32)

    def _encode_image(self, image: np.ndarray, noise: NoiseSource) -> np.ndarray:
        """Pixels in [-1, 1] -> scaled latents, sampling the VAE's distribution like diffusers."""
        encoder = self.session(self.graphs.get("vae_encoder", self.model.path("vae_encoder")))
        (moments,) = self.ctx.run(encoder, [encoder.session.get_outputs()[0].name], {encoder.session.get_inputs()[0].name: image.astype(_input_type(encoder.session))})
        moments = moments.astype(np.float32)
        channels = self.model.latent_channels
        if moments.shape[1] == 2 * channels:  # mean and log-variance: sample as DiagonalGaussianDistribution does
            mean, logvar = moments[:, :channels], np.clip(moments[:, channels:], -30.0, 20.0)
            latents = mean + np.exp(0.5 * logvar) * noise.normal(mean.shape)
        else:  # an encoder exported with its sampling (or the mean) inside
            latents = moments
        return (latents * np.float32(self.model.scaling_factor)).astype(np.float32)

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Latents -> float32 (H, W, 3) in [0, 1]."""
        scaled = latents / np.float32(self.model.scaling_factor) + np.float32(self.model.shift_factor)
        session = self.decoder.session
        (decoded,) = self.ctx.run(self.decoder, [session.get_outputs()[0].name], {session.get_inputs()[0].name: scaled.astype(_input_type(session))})
        return decoded_to_float(decoded.astype(np.float32))


def _input_type(session: Any) -> Any:
    """The numpy type of a graph's first input (an fp16 export may take float16 pixels)."""
    return NUMPY_TYPES.get(session.get_inputs()[0].type, np.float32)


def memory_needed(width: int, height: int, encodes: bool) -> int:
    """A lower bound of the bytes a run needs at this size: the VAE works at full resolution,
    with feature maps of 128 float32 channels (a convolution's input and output alive at
    once), and its encoder the same again for image to image. 2048 x 2048: 4.3 GB."""
    full_resolution = width * height * 128 * 4 * 2
    return full_resolution * (2 if encodes else 1)


def guidance_embedding(w: float, size: int) -> np.ndarray:
    """LCM's guidance-scale embedding (diffusers' get_guidance_scale_embedding), (1, size)."""
    half = size // 2
    frequencies = np.exp(np.arange(half, dtype=np.float32) * -np.float32(math.log(10000.0) / (half - 1)))
    angles = np.float32(w * 1000.0) * frequencies[None, :]
    embedding = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
    if size % 2:
        embedding = np.pad(embedding, ((0, 0), (0, 1)))
    return embedding.astype(np.float32)
