"""The diffusers ONNX folder layout (as optimum exports it): what is there, and what it means.

Reading a folder checks the layout and the configs only (cheap: no onnxruntime session), so
the model list stays quick; a damaged ``model.onnx`` is found when its session is created.

    model_index.json
    text_encoder/model.onnx   [text_encoder_2/model.onnx]          (SDXL has two)
    unet/model.onnx (+ external data)
    vae_decoder/model.onnx    vae_encoder/model.onnx               (the encoder: img2img, inpaint)
    tokenizer/vocab.json merges.txt   [tokenizer_2/]
    scheduler/scheduler_config.json
    [controlnet/model.onnx config.json]    either a ControlNet (input controlnet_cond) beside a
                                           unet/ that takes its residuals, or (OnnxStack's layout)
                                           a UNet that takes them beside a plain unet/, the
                                           ControlNet itself a file of its own (controlnet.py)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import studio
from studio.core.models.graph_io import graph_io
from studio.core.models.limits import bounded_int
from studio.core.models.loaders import read_json
from studio.core.models.variants import variant_files

from .controlnet import residual_names

MAX_VAE_BLOCKS = 7  # 2 ** 6 = 64 pixels a latent; every released VAE has 4 blocks (8 pixels)
REQUIRED = ("text_encoder", "unet", "vae_decoder", "tokenizer", "scheduler")
PARTS = ("text_encoder", "text_encoder_2", "unet", "vae_decoder", "vae_encoder", "controlnet")  # the graphs
LAYOUT = "a diffusers ONNX folder: model_index.json, text_encoder/ unet/ vae_decoder/ (vae_encoder/) with model.onnx, tokenizer/, scheduler/"


def is_diffusers_onnx(folder: Path) -> bool:
    return (folder / "model_index.json").is_file() and (folder / "unet").is_dir()


@dataclass
class SDModel:
    """One Stable Diffusion model folder, checked."""

    folder: Path
    index: dict[str, Any]
    scheduler_config: dict[str, Any]
    unet_config: dict[str, Any] = field(default_factory=dict)
    vae_config: dict[str, Any] = field(default_factory=dict)
    controlnet_config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path) -> "SDModel":
        folder = Path(folder)
        index = read_json(folder / "model_index.json", "model_index.json")
        missing = [name for name in REQUIRED if not (folder / name).is_dir()]
        if missing:
            raise studio.ModelError(
                f"{folder} is not a complete diffusers ONNX model: missing {', '.join(f'{m}/' for m in missing)}"
            )
        for part in ("text_encoder", "unet", "vae_decoder"):
            if not (folder / part / "model.onnx").is_file():
                raise studio.ModelError(f"{folder} has no {part}/model.onnx")
        for part in ("text_encoder_2", "controlnet"):
            if (folder / part).is_dir() and not (folder / part / "model.onnx").is_file():
                raise studio.ModelError(f"{folder} has {part}/ but no {part}/model.onnx")
        scheduler = read_json(folder / "scheduler" / "scheduler_config.json", "scheduler/scheduler_config.json")
        unet = read_json(folder / "unet" / "config.json", "unet/config.json", required=False)
        vae = read_json(folder / "vae_decoder" / "config.json", "vae_decoder/config.json", required=False) or read_json(
            folder / "vae_encoder" / "config.json", "vae_encoder/config.json", required=False
        )
        controlnet = read_json(folder / "controlnet" / "config.json", "controlnet/config.json", required=False)
        model = cls(folder, index, scheduler, unet, vae, controlnet)
        model.check_sizes()
        model.check_controlnet()
        return model

    def check_sizes(self) -> None:
        """The sizes the configs give, each within what the pipeline can use, so a damaged or
        hostile file is refused when the folder is added, before anything is allocated."""
        from .schedulers import MAX_TRAIN_TIMESTEPS

        where = self.folder
        bounded_int(self.scheduler_config, "num_train_timesteps", 2, MAX_TRAIN_TIMESTEPS, f"{where / 'scheduler' / 'scheduler_config.json'}", default=1000)
        for key, low, high in (("sample_size", 1, 1024), ("in_channels", 1, 64), ("time_cond_proj_dim", 0, 4096)):
            bounded_int(self.unet_config, key, low, high, f"{where / 'unet' / 'config.json'}", default=0)
        bounded_int(self.controlnet_config, "conditioning_channels", 1, 16, f"{where / 'controlnet' / 'config.json'}", default=3)
        vae = f"{where / 'vae_decoder' / 'config.json'}"
        bounded_int(self.vae_config, "latent_channels", 1, 64, vae, default=4)
        blocks = self.vae_config.get("block_out_channels")
        if blocks is not None and not (isinstance(blocks, list) and 1 <= len(blocks) <= MAX_VAE_BLOCKS):
            raise studio.ModelError(f"{vae}: block_out_channels should list 1 to {MAX_VAE_BLOCKS} blocks, not {str(blocks)[:80]}")

    def check_controlnet(self) -> None:
        """A ControlNet in controlnet/ gives every residual the UNet takes (names from the
        graphs, read without their weights), so a mismatched pair is refused when added."""
        if self.controlnet_kind != "controlnet":
            return
        wanted = residual_names(graph_io(self.path("unet")).inputs)
        if not wanted:
            raise studio.ModelError(
                f"{self.folder} has a ControlNet in controlnet/, but its UNet takes no ControlNet residuals "
                "(down_block_N_additional_residual, mid_block_additional_residual): export the UNet with them to use it"
            )
        missing = [name for name in wanted if name not in graph_io(self.path("controlnet")).outputs]
        if missing:
            raise studio.ModelError(f"the ControlNet in {self.folder} does not give the residuals its UNet takes ({', '.join(missing[:3])}…): it was exported for another UNet or without them")

    def path(self, part: str) -> Path:
        return self.folder / part / "model.onnx"

    @property
    def variants(self) -> tuple[str, ...]:
        """The variants of the weights present (``fp32``, ``fp16``…, in ``variants.VARIANTS``
        order): those of the UNet, which holds nearly all of them, as the model library says."""
        return tuple(variant_files(self.folder / "unet", "model")) or ("fp32",)

    def graphs(self, variant: str = "fp32") -> dict[str, Path]:
        """The graph each part present runs for ``variant``: the part's own copy of it
        (``unet/model_fp16.onnx``) or, where the part has none, its ``model.onnx`` (fp16 exports
        keep the VAE in fp32, whose activations overflow half precision)."""
        graphs = {}
        for part in PARTS:
            if self.path(part).is_file():
                graphs[part] = variant_files(self.folder / part, "model").get(variant, self.path(part))
        return graphs

    @property
    def is_xl(self) -> bool:
        return (self.folder / "text_encoder_2" / "model.onnx").is_file()

    @property
    def has_controlnet(self) -> bool:
        return self.path("controlnet").is_file()

    @property
    def controlnet_kind(self) -> str | None:
        """What ``controlnet/model.onnx`` is, read from its inputs: ``"controlnet"`` (it takes
        ``controlnet_cond``), ``"unet"`` (OnnxStack's UNet taking the residuals), or None."""
        if not self.has_controlnet:
            return None
        inputs = graph_io(self.path("controlnet")).inputs
        if "controlnet_cond" in inputs:
            return "controlnet"
        if residual_names(inputs) and "sample" in inputs:
            return "unet"
        raise studio.ModelError(f"{self.path('controlnet')} is neither a ControlNet (no controlnet_cond input) nor a UNet taking ControlNet residuals")

    @property
    def takes_control(self) -> bool:
        """Whether a ControlNet can steer this folder: it has one, or its UNet takes residuals."""
        if self.has_controlnet:
            return True
        try:
            return bool(residual_names(graph_io(self.path("unet")).inputs))
        except studio.ModelError:
            return False  # a damaged UNet is reported, in its own words, when its session is made

    @property
    def has_encoder(self) -> bool:
        return self.path("vae_encoder").is_file()

    @property
    def scaling_factor(self) -> float:
        return float(self.vae_config.get("scaling_factor", 0.13025 if self.is_xl else 0.18215))

    @property
    def shift_factor(self) -> float:
        return float(self.vae_config.get("shift_factor") or 0.0)

    @property
    def vae_scale_factor(self) -> int:
        """Pixels per latent: 2 ** (number of VAE blocks - 1), 8 for every released SD model."""
        blocks = self.vae_config.get("block_out_channels")
        return 2 ** (len(blocks) - 1) if blocks else 8

    @property
    def latent_channels(self) -> int:
        return int(self.vae_config.get("latent_channels") or 4)

    @property
    def force_zeros_for_empty_prompt(self) -> bool:
        """SDXL's convention: an empty negative prompt means zero embeddings, not encoded ""."""
        return bool(self.index.get("force_zeros_for_empty_prompt", True))

    @property
    def title(self) -> str:
        kind = "SDXL" if self.is_xl else "Stable Diffusion"
        return f"{kind} ({self.folder.name})"

