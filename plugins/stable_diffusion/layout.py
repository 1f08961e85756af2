"""The diffusers ONNX folder layout (as optimum exports it): what is there, and what it means.

Reading a folder checks the layout and the configs only (cheap: no onnxruntime session), so
the model list stays quick; a damaged ``model.onnx`` is found when its session is created.

    model_index.json
    text_encoder/model.onnx   [text_encoder_2/model.onnx]          (SDXL has two)
    unet/model.onnx (+ external data)
    vae_decoder/model.onnx    vae_encoder/model.onnx               (the encoder: img2img, inpaint)
    tokenizer/vocab.json merges.txt   [tokenizer_2/]
    scheduler/scheduler_config.json
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import studio
from studio.core.models import read_json

REQUIRED = ("text_encoder", "unet", "vae_decoder", "tokenizer", "scheduler")
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
        if (folder / "text_encoder_2").is_dir() and not (folder / "text_encoder_2" / "model.onnx").is_file():
            raise studio.ModelError(f"{folder} has text_encoder_2/ but no text_encoder_2/model.onnx")
        scheduler = read_json(folder / "scheduler" / "scheduler_config.json", "scheduler/scheduler_config.json")
        unet = read_json(folder / "unet" / "config.json", "unet/config.json", required=False)
        vae = read_json(folder / "vae_decoder" / "config.json", "vae_decoder/config.json", required=False) or read_json(
            folder / "vae_encoder" / "config.json", "vae_encoder/config.json", required=False
        )
        return cls(folder, index, scheduler, unet, vae)

    def path(self, part: str) -> Path:
        return self.folder / part / "model.onnx"

    @property
    def is_xl(self) -> bool:
        return (self.folder / "text_encoder_2" / "model.onnx").is_file()

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
        return int(self.vae_config.get("latent_channels", 4))

    @property
    def force_zeros_for_empty_prompt(self) -> bool:
        """SDXL's convention: an empty negative prompt means zero embeddings, not encoded ""."""
        return bool(self.index.get("force_zeros_for_empty_prompt", True))

    @property
    def title(self) -> str:
        kind = "SDXL" if self.is_xl else "Stable Diffusion"
        return f"{kind} ({self.folder.name})"

