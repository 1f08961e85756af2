"""Build the TAESD benchmark's decoders: SD 1.5's VAE decoder and TAESD's, real shapes, random weights.

    python bench/build_taesd_bench_models.py [--out DIR]     # a python with torch and diffusers

DIR defaults to <temp>/studio-bench/taesd (``tempfile.gettempdir()``), where bench/taesd_preview.py
looks. Writes OUTSIDE the repository (about 200 MB, never committed):

    OUT/vae_decoder/model.onnx   AutoencoderKL with SD 1.5's config (block_out_channels
                                 128/256/512/512, 2 layers a block; 49 M parameters in the decoder)
    OUT/taesd/vae_decoder/model.onnx   AutoencoderTiny with madebyollin/taesd's config (64
                                 channels; 1.2 M parameters), decode(): pixels in [-1, 1]
    OUT/torch.json               diffusers' own decode time of each at 512 x 512 (the reference)

Speed depends on shapes, not weights, so seeded random weights give true timings. Both are
exported with torch.onnx.export (TorchScript, opset 17), latent height and width dynamic.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from diffusers import AutoencoderKL, AutoencoderTiny

SD15_VAE = dict(block_out_channels=[128, 256, 512, 512], layers_per_block=2, latent_channels=4, sample_size=512,
                down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4, norm_num_groups=32)


class Decode(torch.nn.Module):
    def __init__(self, vae) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample).sample


def export(vae, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(Decode(vae), (torch.zeros(1, 4, 64, 64),), str(path), dynamo=False, opset_version=17,
                      input_names=["latent_sample"], output_names=["sample"],
                      dynamic_axes={"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "h", 3: "w"}})


def torch_seconds(vae, runs: int) -> float:
    latents = torch.randn(1, 4, 64, 64)
    with torch.no_grad():
        vae.decode(latents)
        started = time.perf_counter()
        for _ in range(runs):
            vae.decode(latents)
    return (time.perf_counter() - started) / runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "studio-bench" / "taesd")
    out = parser.parse_args().out
    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    vae = AutoencoderKL(**SD15_VAE).eval()
    tiny = AutoencoderTiny().eval()
    export(vae, out / "vae_decoder" / "model.onnx")
    export(tiny, out / "taesd" / "vae_decoder" / "model.onnx")
    timings = {"vae": torch_seconds(vae, 2), "taesd": torch_seconds(tiny, 10), "threads": torch.get_num_threads()}
    (out / "torch.json").write_text(json.dumps(timings))
    print(f"{out}: torch decode at 512 px: VAE {timings['vae']:.3f} s, TAESD {timings['taesd']:.4f} s")


if __name__ == "__main__":
    main()
