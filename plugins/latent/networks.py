"""Running a latent generator's graphs: latents to pictures, seeds to latents, pictures to
latents (a VAE's encoder), with each output checked before it becomes a picture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import studio
from studio.core.engine.latent_values import latent_for_seed, picture_latent
from studio.core.image.canvas_size import resample

from .manifest import LatentModel, z_size

BATCH = 16  # latents a graph takes at once: a grid of variations in one or two runs
W_AVG_SAMPLES = 2048  # latents averaged for StyleGAN's w_avg when the folder has none
W_AVG_SEED = 20261204


class LatentNetworks:
    """One model's graphs, run through a job's context (sessions cached by the runtime)."""

    def __init__(self, model: LatentModel) -> None:
        self.model = model
        self.w_avg: np.ndarray | None = None
        self.notes: list[str] = []

    # -- latents ------------------------------------------------------------------------------

    def latents(self, given: Any, seed: int, count: int, label: int, ctx: studio.JobContext) -> np.ndarray:
        """The latents of ``count`` pictures, seeds counting up from ``seed``: given (one), or
        the seeds' own (for StyleGAN, their z mapped to w in one run of the mapping)."""
        model = self.model
        seeds = [(seed + n) % 2**32 for n in range(count)]
        if model.kind != "stylegan" or given is not None:
            return np.stack([picture_latent(given, s, model.latent_size, count) for s in seeds])
        return self.map(np.stack([latent_for_seed(s, z_size(model)) for s in seeds]), label, ctx)

    def map(self, z: np.ndarray, label: int, ctx: studio.JobContext) -> np.ndarray:
        """StyleGAN's mapping: z (n, z size) -> w (n, w size); one w per picture."""
        model = self.model
        session = ctx.session(model.files["mapping"])
        feeds = {session.session.get_inputs()[0].name: z.astype(np.float32)}
        if model.class_input is not None:
            feeds[model.class_input.name] = self._label_feed(label, len(z))
        if model.truncation_input is not None:  # Studio truncates w itself (pictures): none here
            feeds[model.truncation_input.name] = self._truncation_feed(1.0, len(z))
        (w,) = self._run(session, model.files["mapping"], [session.session.get_outputs()[0].name], feeds, ctx)
        w = np.asarray(w, dtype=np.float32)
        if w.ndim == 3:  # [n, layers, size]: the same w broadcast to every layer; keep one
            w = w[:, 0]
        self._check_finite(w, model.files["mapping"], "w")
        return w

    def average_w(self, ctx: studio.JobContext) -> np.ndarray:
        """StyleGAN's average w (the centre truncation pulls towards): the folder's, else the
        mean of many mapped latents, worked out once."""
        if self.w_avg is not None:
            return self.w_avg
        model = self.model
        path = model.files.get("w_avg")
        if path is not None:
            try:
                w_avg = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise studio.ModelError(f"{path} is not a readable array of the average w: {exc}") from None
            if w_avg.dtype.kind != "f" or w_avg.reshape(-1).size != model.latent_size or not np.isfinite(w_avg).all():
                raise studio.ModelError(f"{path} should hold {model.latent_size} finite numbers (the average w); it holds {w_avg.dtype} {w_avg.shape}")
            self.w_avg = w_avg.reshape(-1).astype(np.float32)
        else:
            rng = np.random.default_rng(W_AVG_SEED)
            total = np.zeros(model.latent_size, dtype=np.float64)
            for start in range(0, W_AVG_SAMPLES, 256):
                ctx.check_cancelled()
                z = rng.standard_normal((256, z_size(model))).astype(np.float32)
                total += self.map(z, 0, ctx).sum(axis=0)
            self.w_avg = (total / W_AVG_SAMPLES).astype(np.float32)
            self.notes.append(f"The folder has no w_avg.npy: the average w was worked out from {W_AVG_SAMPLES} latents")
        return self.w_avg

    # -- pictures -------------------------------------------------------------------------------

    def pictures(self, latents: np.ndarray, truncation: float, label: int, ctx: studio.JobContext) -> np.ndarray:
        """Latents (n, size) -> pictures as the graph makes them, float (n, channels, h, w)."""
        model = self.model
        latents = np.asarray(latents, dtype=np.float32).reshape(len(latents), model.latent_size)
        if model.kind == "stylegan":
            w_avg = self.average_w(ctx)
            latents = w_avg + np.float32(truncation) * (latents - w_avg)
        elif model.truncation is not None and model.truncation_input is None:
            latents = latents * np.float32(truncation)  # truncation as scaling z towards its mean
        path = model.files["generator" if model.kind == "gan" else "synthesis" if model.kind == "stylegan" else "decoder"]
        session = ctx.session(path)
        batch = 1 if model.latent.shape and model.latent.shape[0] == 1 else BATCH
        out = []
        for start in range(0, len(latents), batch):
            ctx.check_cancelled()
            chunk = latents[start:start + batch]
            feeds = {model.latent.name: self._latent_feed(chunk)}
            if model.class_input is not None and model.kind != "stylegan":
                feeds[model.class_input.name] = self._label_feed(label, len(chunk))
            for spec in model.noise_inputs:  # StyleGAN's noise_mode 'none': no grain of noise
                batch = len(chunk) if not isinstance(spec.shape[0], int) or spec.shape[0] != 1 else 1
                feeds[spec.name] = np.zeros((batch, *spec.shape[1:]), dtype=np.float32)
            if model.truncation_input is not None and model.kind != "stylegan":  # StyleGAN's is the mapping's
                feeds[model.truncation_input.name] = self._truncation_feed(truncation, len(chunk))
            (images,) = self._run(session, path, [session.session.get_outputs()[0].name], feeds, ctx)
            out.append(channels_first(np.asarray(images), path))
        pictures = np.concatenate(out)
        self._check_finite(pictures, path, "picture")
        return pictures

    def encode(self, picture: np.ndarray, ctx: studio.JobContext) -> np.ndarray:
        """A picture (uint8 RGBA, any size) -> its latent (the encoder's mean)."""
        model = self.model
        path = model.files.get("encoder")
        if path is None:
            raise studio.ModelError(f"{model.title} has no encoder (encoder.onnx), so it cannot find a picture's latent")
        if model.image_size is None:
            raise studio.ModelError(f"{model.folder}: the picture size the encoder takes is not known; state image_size in its studio-latent.json")
        height, width = model.image_size
        session = ctx.session(path)
        spec = session.session.get_inputs()[0]
        channels = spec.shape[1] if isinstance(spec.shape[1], int) and spec.shape[1] in (1, 3, 4) else 3
        feed = picture_tensor(picture, width, height, channels, model.output_range, model.background)
        outputs = self._run(session, path, None, {spec.name: feed}, ctx)
        mean = np.asarray(outputs[0], dtype=np.float32).reshape(1, -1)
        if mean.shape[1] == 2 * model.latent_size and len(outputs) == 1:
            mean = mean[:, : model.latent_size]  # mean and log-variance side by side
        if mean.shape[1] != model.latent_size:
            raise studio.ModelError(f"{path.name} gives {mean.shape[1]} numbers, but the decoder's latent has {model.latent_size}")
        self._check_finite(mean, path, "latent")
        return mean[0]

    # -- feeds and checks -------------------------------------------------------------------------

    def _latent_feed(self, latents: np.ndarray) -> np.ndarray:
        shape = self.model.latent.shape or (0, 0)
        latents = latents.astype(np.float32)
        if self.model.kind == "stylegan" and len(shape) == 3:  # one w per layer: the same w for each
            layers = shape[1] if isinstance(shape[1], int) and shape[1] > 0 else 1
            return np.ascontiguousarray(np.broadcast_to(latents[:, None, :], (len(latents), layers, latents.shape[1])))
        return latents.reshape(*latents.shape, *([1] * (len(shape) - 2)))

    def _label_feed(self, label: int, count: int) -> np.ndarray:
        spec = self.model.class_input
        if spec.type in ("int64", "int32"):
            dtype = np.int64 if spec.type == "int64" else np.int32
            shape = (count, 1) if spec.shape is not None and len(spec.shape) == 2 else (count,)
            return np.full(shape, label, dtype=dtype)
        classes = self.model.classes
        one_hot = np.zeros((count, classes), dtype=np.float32)
        if classes:
            one_hot[:, label] = 1.0
        return one_hot

    def _truncation_feed(self, truncation: float, count: int) -> np.ndarray:
        shape = self.model.truncation_input.shape or ()
        if not shape:
            return np.array(truncation, dtype=np.float32)
        return np.full((shape[0] if isinstance(shape[0], int) else count,), truncation, dtype=np.float32)

    def _run(self, session: Any, path: Path, outputs: Any, feeds: dict, ctx: studio.JobContext) -> list:
        try:
            return ctx.run(session, outputs, feeds)
        except studio.StudioError:
            raise
        except Exception as exc:  # onnxruntime's own errors: a graph that does not take what it says
            if ctx.cancelled:
                raise studio.Cancelled() from None
            message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            raise studio.ModelError(f"{path.name} failed to run: {message}") from None

    @staticmethod
    def _check_finite(values: np.ndarray, path: Path, what: str) -> None:
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise studio.ModelError(
                f"{path.name} made a {what} with {bad:,} NaN or infinite values of {values.size:,}: "
                "its weights or its export are broken (an fp16 export that overflows does this); try the fp32 file"
            )


def channels_first(images: np.ndarray, path: Path) -> np.ndarray:
    """A graph's pictures as float32 (n, channels, height, width), or a plain refusal."""
    if images.ndim != 4:
        raise studio.ModelError(f"{path.name} does not make a picture: its output has shape {list(images.shape)}, expected [batch, channels, height, width]")
    if images.shape[1] not in (1, 3, 4) and images.shape[3] in (1, 3, 4):
        images = images.transpose(0, 3, 1, 2)
    if images.shape[1] not in (1, 3, 4) or min(images.shape[2:]) < 1:
        raise studio.ModelError(f"{path.name} does not make a picture: its output has shape {list(images.shape)}, expected 1, 3 or 4 colour channels")
    return images.astype(np.float32, copy=False)


def to_pixels(picture: np.ndarray, output_range: tuple[float, float]) -> np.ndarray:
    """One picture (channels, height, width) in ``output_range`` -> uint8 RGBA."""
    low, high = output_range
    scaled = np.clip((picture - low) * (255.0 / (high - low)) + 0.5, 0, 255).astype(np.uint8)
    channels, height, width = scaled.shape
    rgba = np.full((height, width, 4), 255, dtype=np.uint8)
    if channels == 1:
        rgba[..., :3] = scaled[0][..., None]
    else:
        rgba[..., : min(channels, 4)] = scaled[: min(channels, 4)].transpose(1, 2, 0)
    return rgba


def picture_tensor(picture: np.ndarray, width: int, height: int, channels: int, output_range: tuple[float, float], background: str) -> np.ndarray:
    """A canvas picture (uint8 RGBA) as an encoder takes it: laid on the training pictures'
    background, resized, scaled to ``output_range``, (1, channels, height, width)."""
    pixels = resample(np.ascontiguousarray(picture), width, height).astype(np.float32) / 255.0
    alpha = pixels[..., 3:4]
    ground = 0.0 if background == "black" else 1.0
    rgb = pixels[..., :3] * alpha + ground * (1.0 - alpha)
    if channels == 1:
        rgb = rgb @ np.array([[0.299], [0.587], [0.114]], dtype=np.float32)
    elif channels == 4:
        rgb = np.concatenate([rgb, alpha], axis=-1)
    low, high = output_range
    return (low + rgb * (high - low)).transpose(2, 0, 1)[None].astype(np.float32)
