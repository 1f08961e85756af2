"""Build the Stable Diffusion benchmark model: SD 1.5's shapes, random (seeded) weights.

    python bench/build_sd_bench_models.py [--out DIR] [--force]    # a python with torch, diffusers, transformers, onnx

DIR defaults to <temp>/studio-bench/sd (``tempfile.gettempdir()``), where bench/sd_pipeline.py
looks.

Speed and memory depend on a model's shapes, not on its weights, so random weights give true
timings without downloading anything (no model hub can be reached here). Every component has
SD 1.5's configuration: the UNet (860 M parameters: block_out_channels 320/640/1280/1280,
cross-attention 768, attention at 1, 1/2 and 1/4 of the latent size, i.e. down to 1/8 of the
picture), the CLIP ViT-L/14 text encoder (123 M) and the VAE (84 M).

Writes, OUTSIDE the repository (about 8.6 GB, never committed):

    OUT/torch/   the diffusers StableDiffusionPipeline (safetensors): the reference
    OUT/onnx/    the same weights in the diffusers ONNX layout optimum exports:
                 model_index.json, text_encoder/ unet/ (external data) vae_decoder/ vae_encoder/,
                 tokenizer/ (vocab.json, merges.txt, tokenizer_config.json),
                 scheduler/scheduler_config.json (SD 1.5's EulerDiscreteScheduler)

Each component is exported with torch.onnx.export (the legacy TorchScript exporter,
dynamo=False, opset 17) under optimum's input and output names. Peak memory stays near
7 GB: the UNet is exported alone, after the smaller parts are gone. The folder is written
under a temporary name and renamed when complete, so an interrupted build leaves nothing
that looks finished. Takes about 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from machine import bench_folder, require  # bench/ is the script's folder: on sys.path

INSTALL = ("python -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch==2.13.0 diffusers transformers onnx "
           "# then run this script with /tmp/torch-venv/bin/python")
if __name__ == "__main__":  # before the imports below: a plain message, not an ImportError
    require("torch", "diffusers", "transformers", "onnx", install=INSTALL)

import onnx  # noqa: E402
import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

REPO = Path(__file__).resolve().parent.parent
CLIP_VOCABULARY = REPO / "tests" / "fixtures" / "sd" / "clip_tokenizer"
DEFAULT_OUT = bench_folder("sd")
SEED = 1234
OPSET = 17
BUILD_VERSION = 1  # bump when what this script makes changes: an older build is then redone

# runwayml/stable-diffusion-v1-5, component by component (the configs, not the weights).
UNET_CONFIG = dict(
    sample_size=64,
    in_channels=4,
    out_channels=4,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(320, 640, 1280, 1280),
    layers_per_block=2,
    cross_attention_dim=768,
    attention_head_dim=8,
    norm_num_groups=32,
    act_fn="silu",
    center_input_sample=False,
    flip_sin_to_cos=True,
    freq_shift=0,
    downsample_padding=1,
    mid_block_scale_factor=1,
    norm_eps=1e-5,
)
VAE_CONFIG = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    latent_channels=4,
    norm_num_groups=32,
    act_fn="silu",
    sample_size=512,
    scaling_factor=0.18215,
)
TEXT_CONFIG = dict(
    vocab_size=49408,
    hidden_size=768,
    intermediate_size=3072,
    num_hidden_layers=12,
    num_attention_heads=12,
    max_position_embeddings=77,
    hidden_act="quick_gelu",
    projection_dim=768,
    bos_token_id=49406,
    eos_token_id=49407,
    pad_token_id=1,
)
SCHEDULER_CONFIG = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    steps_offset=1,
    prediction_type="epsilon",
)
TOKENIZER_CONFIG = {
    "model_max_length": 77,
    "tokenizer_class": "CLIPTokenizer",
    "bos_token": "<|startoftext|>",
    "eos_token": "<|endoftext|>",
    "pad_token": "<|endoftext|>",
    "unk_token": "<|endoftext|>",
    "do_lower_case": True,
}


def log(message: str) -> None:
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"[{time.strftime('%H:%M:%S')} peak {peak_gb:.1f} GB] {message}", flush=True)


def seeded(make):
    """Each component draws its weights from its own seed, so one config change moves no other."""
    torch.manual_seed(SEED)
    return make().eval()


def write_tokenizer(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(CLIP_VOCABULARY / name, folder / name)
    (folder / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2) + "\n")


def build_reference(folder: Path) -> None:
    """The diffusers torch pipeline: both benchmarks' weights come from here."""
    tokenizer_dir = folder.parent / "tokenizer-source"
    write_tokenizer(tokenizer_dir)
    pipe = StableDiffusionPipeline(
        vae=seeded(lambda: AutoencoderKL(**VAE_CONFIG)),
        text_encoder=seeded(lambda: CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG))),
        tokenizer=CLIPTokenizer.from_pretrained(tokenizer_dir),
        unet=seeded(lambda: UNet2DConditionModel(**UNET_CONFIG)),
        scheduler=EulerDiscreteScheduler(**SCHEDULER_CONFIG),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    count = sum(p.numel() for p in pipe.unet.parameters())
    log(f"UNet has {count / 1e6:.0f} M parameters")
    pipe.save_pretrained(folder, safe_serialization=True)
    # The same vocabulary files the ONNX folder carries, not transformers' re-serialisation.
    shutil.rmtree(folder / "tokenizer")
    write_tokenizer(folder / "tokenizer")
    shutil.rmtree(tokenizer_dir)
    del pipe
    gc.collect()
    log(f"reference pipeline saved to {folder}")


class UNetForExport(torch.nn.Module):
    def __init__(self, unet: UNet2DConditionModel) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep, encoder_hidden_states, return_dict=False)[0]


class TextEncoderForExport(torch.nn.Module):
    def __init__(self, encoder: CLIPTextModel) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids):
        out = self.encoder(input_ids=input_ids, return_dict=True)
        return out.last_hidden_state, out.pooler_output


class VaeDecoderForExport(torch.nn.Module):
    def __init__(self, vae: AutoencoderKL) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample, return_dict=False)[0]


class VaeEncoderForExport(torch.nn.Module):
    """Outputs the distribution's parameters (mean and log-variance), as optimum does today."""

    def __init__(self, vae: AutoencoderKL) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, sample):
        return self.vae.quant_conv(self.vae.encoder(sample))


def export(module: torch.nn.Module, args: tuple, folder: Path, inputs: list[str], outputs: list[str], axes: dict) -> None:
    """torch.onnx.export into ``folder/model.onnx``; weights past 2 GB go to one ``model.onnx_data``."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as scratch:
        raw = Path(scratch) / "model.onnx"
        with torch.inference_mode():
            torch.onnx.export(
                module,
                args,
                str(raw),
                input_names=inputs,
                output_names=outputs,
                dynamic_axes=axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        log(f"exported {folder.name}")
        # The exporter scatters a large model's weights over one file per tensor; optimum (and
        # every published folder) keeps them in a single model.onnx_data beside model.onnx.
        model = onnx.load(str(raw), load_external_data=True)
        if _has_external_data(raw):
            onnx.save_model(model, str(folder / "model.onnx"), save_as_external_data=True,
                            all_tensors_to_one_file=True, location="model.onnx_data", size_threshold=1024)
        else:
            onnx.save_model(model, str(folder / "model.onnx"))
        del model
        gc.collect()
    log(f"wrote {folder} ({sum(f.stat().st_size for f in folder.iterdir()) / 1e9:.2f} GB)")


def _has_external_data(path: Path) -> bool:
    return any(other.name != path.name for other in path.parent.iterdir())


def build_onnx(reference: Path, folder: Path) -> None:
    """Export the reference pipeline's weights, one component at a time, to the optimum layout."""
    folder.mkdir(parents=True)
    write_tokenizer(folder / "tokenizer")
    scheduler = EulerDiscreteScheduler.from_pretrained(reference / "scheduler")
    scheduler.save_config(folder / "scheduler")

    encoder = CLIPTextModel.from_pretrained(reference / "text_encoder", attn_implementation="eager").eval()
    ids = torch.full((1, 77), 49407, dtype=torch.int32)
    ids[0, :3] = torch.tensor([49406, 320, 2368])
    export(TextEncoderForExport(encoder), (ids,), folder / "text_encoder", ["input_ids"],
           ["last_hidden_state", "pooler_output"],
           {"input_ids": {0: "batch_size", 1: "sequence_length"}, "last_hidden_state": {0: "batch_size", 1: "sequence_length"}, "pooler_output": {0: "batch_size"}})
    encoder.config.to_json_file(folder / "text_encoder" / "config.json")
    del encoder
    gc.collect()

    vae = AutoencoderKL.from_pretrained(reference / "vae").eval()
    export(VaeDecoderForExport(vae), (torch.randn(1, 4, 32, 32),), folder / "vae_decoder", ["latent_sample"], ["sample"],
           {"latent_sample": {0: "batch_size", 2: "height", 3: "width"}, "sample": {0: "batch_size", 2: "height_x8", 3: "width_x8"}})
    export(VaeEncoderForExport(vae), (torch.randn(1, 3, 256, 256),), folder / "vae_encoder", ["sample"], ["latent_parameters"],
           {"sample": {0: "batch_size", 2: "height", 3: "width"}, "latent_parameters": {0: "batch_size", 2: "height_latent", 3: "width_latent"}})
    for part in ("vae_decoder", "vae_encoder"):
        vae.save_config(folder / part)
    del vae
    gc.collect()

    unet = UNet2DConditionModel.from_pretrained(reference / "unet").eval()
    # Batch 2 (a CFG call) at a small latent: the traced graph is the same at any size.
    example = (torch.randn(2, 4, 32, 32), torch.tensor([999.0, 999.0]), torch.randn(2, 77, 768))
    export(UNetForExport(unet), example, folder / "unet", ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
           {"sample": {0: "batch_size", 2: "height", 3: "width"}, "timestep": {0: "steps"},
            "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"}, "out_sample": {0: "batch_size", 2: "height", 3: "width"}})
    unet.save_config(folder / "unet")
    del unet
    gc.collect()

    index = {
        "_class_name": "ORTStableDiffusionPipeline",
        "_diffusers_version": __import__("diffusers").__version__,
        "requires_safety_checker": False,
        "feature_extractor": [None, None],
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
        "text_encoder": ["onnxruntime", "ORTModelTextEncoder"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["onnxruntime", "ORTModelUnet"],
        "vae_decoder": ["onnxruntime", "ORTModelVaeDecoder"],
        "vae_encoder": ["onnxruntime", "ORTModelVaeEncoder"],
    }
    (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to build (default {DEFAULT_OUT})")
    parser.add_argument("--force", action="store_true", help="rebuild even if a complete build is there")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    if REPO in out.parents or out == REPO:
        parser.error("build outside the repository: the weights are GBs and must never be committed")
    stamp = out / "build.json"
    if not args.force and stamp.is_file() and json.loads(stamp.read_text()).get("version") == BUILD_VERSION:
        print(f"{out} is already built (use --force to rebuild)")
        return 0

    torch.set_num_threads(max(1, torch.get_num_threads()))
    started = time.perf_counter()
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    build_reference(partial / "torch")
    build_onnx(partial / "torch", partial / "onnx")
    (partial / "build.json").write_text(json.dumps({
        "version": BUILD_VERSION, "seed": SEED, "opset": OPSET,
        "torch": torch.__version__, "diffusers": __import__("diffusers").__version__,
        "transformers": __import__("transformers").__version__, "onnx": onnx.__version__,
    }, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    log(f"built {out} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
