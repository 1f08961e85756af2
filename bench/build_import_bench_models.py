"""Build the two files a person imports in bench/import_models.py: full-size shapes, random weights.

    python bench/build_import_bench_models.py --out DIR [--tiny]    # a python with torch, diffusers, transformers, safetensors

Writes, OUTSIDE the repository (about 3 GB; bench/import_models.py runs this for you):

    DIR/sd15-random.safetensors   a single-file Stable Diffusion 1.5 checkpoint as Civitai serves
                                  them: the original (LDM) key names and shapes, fp16, 1.07 G
                                  parameters (UNet 860 M, CLIP ViT-L/14 text encoder 123 M,
                                  VAE 84 M) and the noise-schedule buffers; 2.1 GB
    DIR/qwen2.5-0.5b-random/      a transformers folder shaped as Qwen2.5-0.5B-Instruct: its
                                  config.json and generation_config.json values, bf16
                                  model.safetensors (494 M parameters, tied embeddings, 0.99 GB),
                                  a byte-level BPE tokenizer.json from the test fixtures (its ids
                                  all lie inside the model's 151 936 rows)

Conversion time and memory depend on shapes, not values, so random weights give true figures
without a download (no model hub can be reached here). Every tensor is drawn from one seeded
generator, scaled by its fan-in (1-D norm weights near 1) so the tracing pass of an export sees
finite activations. The UNet, VAE and text encoder get SD 1.5's diffusers configurations
(bench/build_sd_bench_models.py) and their diffusers parameter names are renamed to the LDM
ones; diffusers' own single-file converter (the loader of ``from_single_file``) then maps the
file's names back, and every name and shape must come out as the diffusers modules have them.

``--tiny``: the same kinds of file with tiny sizes (seconds): bench/import_models.py --smoke.
Each file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

from machine import require  # bench/ is the script's folder: on sys.path

INSTALL = ("python -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch==2.13.0 diffusers transformers "
           "safetensors onnx # then run this script with /tmp/torch-venv/bin/python")
if __name__ == "__main__":  # before the imports below: a plain message, not an ImportError
    require("torch", "diffusers", "transformers", "safetensors", "onnx", install=INSTALL)

import torch
from build_sd_bench_models import TEXT_CONFIG, UNET_CONFIG, VAE_CONFIG  # SD 1.5's configurations

REPO = Path(__file__).resolve().parent.parent
FIXTURE_TOKENIZER = REPO / "tests" / "fixtures" / "lm" / "models" / "gpt2" / "tokenizer.json"
SEED = 1234
BUILD_VERSION = 2  # bump when what this script makes changes: an older build is then made again
STAMP = "build.json"  # in the work folder: what was made, by which version
SD_FILE = "sd15-random.safetensors"
LM_FOLDER = "qwen2.5-0.5b-random"

# Qwen/Qwen2.5-0.5B-Instruct config.json and generation_config.json, value for value.
QWEN_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
    "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02, "intermediate_size": 4864,
    "max_position_embeddings": 32768, "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 14,
    "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 32768, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.43.1",
    "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
}
QWEN_GENERATION = {"bos_token_id": 151643, "pad_token_id": 151643, "do_sample": True, "eos_token_id": [151645, 151643],
                   "repetition_penalty": 1.1, "temperature": 0.7, "top_p": 0.8, "top_k": 20, "transformers_version": "4.37.0"}
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
TINY = {  # --tiny: the same kinds of model, small enough for a smoke run (SD's 32 norm groups, 64-wide CLIP heads)
    "unet": dict(block_out_channels=(32, 64, 64, 64), cross_attention_dim=64),
    "vae": dict(block_out_channels=(32, 32, 32, 32)),
    "text": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1, projection_dim=64),
    "lm": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2),
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- diffusers names -> the original (LDM) names of a single-file SD 1.x checkpoint -------------

def _unet_prefixes() -> list[tuple[str, str]]:
    """(diffusers prefix, LDM prefix) of SD 1.x's UNet blocks: 4 levels, 2 resnets down, 3 up."""
    pairs = [("mid_block.attentions.0.", "middle_block.1."),
             ("mid_block.resnets.0.", "middle_block.0."), ("mid_block.resnets.1.", "middle_block.2.")]
    for level in range(4):
        for j in range(2):
            pairs.append((f"down_blocks.{level}.resnets.{j}.", f"input_blocks.{3 * level + j + 1}.0."))
            pairs.append((f"down_blocks.{level}.attentions.{j}.", f"input_blocks.{3 * level + j + 1}.1."))
        pairs.append((f"down_blocks.{level}.downsamplers.0.conv.", f"input_blocks.{3 * level + 3}.0.op."))
        for j in range(3):
            pairs.append((f"up_blocks.{level}.resnets.{j}.", f"output_blocks.{3 * level + j}.0."))
            pairs.append((f"up_blocks.{level}.attentions.{j}.", f"output_blocks.{3 * level + j}.1."))
        # The first up level has no attention, so its upsampler is the block's second layer.
        pairs.append((f"up_blocks.{level}.upsamplers.0.", f"output_blocks.{3 * level + 2}.{1 if level == 0 else 2}."))
    return pairs


UNET_LAYERS = {"time_embedding.linear_1.": "time_embed.0.", "time_embedding.linear_2.": "time_embed.2.",
               "conv_in.": "input_blocks.0.0.", "conv_norm_out.": "out.0.", "conv_out.": "out.2."}
UNET_RESNET = {"norm1.": "in_layers.0.", "conv1.": "in_layers.2.", "norm2.": "out_layers.0.", "conv2.": "out_layers.3.",
               "time_emb_proj.": "emb_layers.1.", "conv_shortcut.": "skip_connection."}
VAE_ATTENTION = {"group_norm.": "norm.", "to_q.": "q.", "to_k.": "k.", "to_v.": "v.", "to_out.0.": "proj_out."}


def unet_ldm_name(name: str) -> str:
    for ours, theirs in UNET_LAYERS.items():
        if name.startswith(ours):
            return "model.diffusion_model." + theirs + name[len(ours):]
    for ours, theirs in _unet_prefixes():
        if name.startswith(ours):
            rest = name[len(ours):]
            if ".resnets." in ours:
                rest = next((theirs_r + rest[len(r):] for r, theirs_r in UNET_RESNET.items() if rest.startswith(r)), rest)
            return "model.diffusion_model." + theirs + rest
    raise SystemExit(f"no LDM name for the UNet's {name}")


def vae_ldm_name(name: str) -> str:
    side, _, rest = name.partition(".")  # encoder. / decoder. / quant_conv. / post_quant_conv.
    if rest.startswith("down_blocks."):
        level, kind, index, tail = rest.split(".", 4)[1:]
        rest = f"down.{level}.block.{index}.{tail}" if kind == "resnets" else f"down.{level}.downsample.{tail}"
    elif rest.startswith("up_blocks."):  # LDM numbers the decoder's levels from the bottom
        level, kind, index, tail = rest.split(".", 4)[1:]
        level = 3 - int(level)
        rest = f"up.{level}.block.{index}.{tail}" if kind == "resnets" else f"up.{level}.upsample.{tail}"
    elif rest.startswith("mid_block.resnets."):
        index, tail = rest.split(".", 3)[2:]
        rest = f"mid.block_{int(index) + 1}.{tail}"
    elif rest.startswith("mid_block.attentions.0."):
        tail = rest[len("mid_block.attentions.0."):]
        rest = "mid.attn_1." + next(theirs + tail[len(ours):] for ours, theirs in VAE_ATTENTION.items() if tail.startswith(ours))
    rest = rest.replace("conv_shortcut.", "nin_shortcut.").replace("conv_norm_out.", "norm_out.")
    return "first_stage_model." + (f"{side}.{rest}" if rest else side)


def sd_shapes(tiny: bool) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Every tensor of the checkpoint: LDM name -> (shape, dtype), built on the meta device (no memory)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device("meta"):
        unet = UNet2DConditionModel(**{**UNET_CONFIG, **(TINY["unet"] if tiny else {})})
        vae = AutoencoderKL(**{**VAE_CONFIG, **(TINY["vae"] if tiny else {})})
        text = CLIPTextModel(CLIPTextConfig(**{**TEXT_CONFIG, **(TINY["text"] if tiny else {})}))
    shapes: dict[str, tuple[tuple[int, ...], torch.dtype]] = {}
    for name, tensor in unet.state_dict().items():
        shapes[unet_ldm_name(name)] = (tuple(tensor.shape), torch.float16)
    for name, tensor in vae.state_dict().items():
        shape = tuple(tensor.shape)
        if ".mid_block.attentions.0.to_" in name and name.endswith("weight"):
            shape += (1, 1)  # LDM's VAE attention projections are 1x1 convolutions
        shapes[vae_ldm_name(name)] = (shape, torch.float16)
    for name, tensor in text.state_dict().items():
        # Published checkpoints name CLIP's parameters text_model.*, as transformers 4 did (5 dropped the level).
        name = name if name.startswith("text_model.") else "text_model." + name
        shapes["cond_stage_model.transformer." + name] = (tuple(tensor.shape), torch.float16)
    positions = text.config.max_position_embeddings
    shapes["cond_stage_model.transformer.text_model.embeddings.position_ids"] = ((1, positions), torch.int64)
    for name in SCHEDULE:  # the DDPM buffers LDM checkpoints carry (1000 timesteps)
        shapes[name] = ((1000,), torch.float16)
    _check_with_diffusers(shapes, unet, vae, text)
    return shapes


SCHEDULE = ("betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
            "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
            "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2")


def schedule_buffers() -> dict[str, torch.Tensor]:
    """SD 1.x's scaled-linear noise schedule, as LDM's DDPM stores it."""
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    alphas = torch.cumprod(1 - betas, 0)
    previous = torch.cat([torch.ones(1, dtype=torch.float64), alphas[:-1]])
    variance = betas * (1 - previous) / (1 - alphas)
    values = {"betas": betas, "alphas_cumprod": alphas, "alphas_cumprod_prev": previous,
              "sqrt_alphas_cumprod": alphas.sqrt(), "sqrt_one_minus_alphas_cumprod": (1 - alphas).sqrt(),
              "log_one_minus_alphas_cumprod": (1 - alphas).log(), "sqrt_recip_alphas_cumprod": (1 / alphas).sqrt(),
              "sqrt_recipm1_alphas_cumprod": (1 / alphas - 1).sqrt(), "posterior_variance": variance,
              "posterior_log_variance_clipped": torch.cat([variance[1:2], variance[1:]]).log(),
              "posterior_mean_coef1": betas * previous.sqrt() / (1 - alphas),
              "posterior_mean_coef2": (1 - previous) * (1 - betas).sqrt() / (1 - alphas)}
    return {name: value.to(torch.float16) for name, value in values.items()}


def _check_with_diffusers(shapes: dict, unet, vae, text) -> None:
    """diffusers' single-file loader must map every LDM name back to the module's own name and shape."""
    from diffusers.loaders.single_file_utils import (convert_ldm_clip_checkpoint, convert_ldm_unet_checkpoint,
                                                     convert_ldm_vae_checkpoint, infer_diffusers_model_type, is_clip_model)

    meta = {name: torch.empty(shape, dtype=dtype, device="meta") for name, (shape, dtype) in shapes.items()}
    if infer_diffusers_model_type(meta) != "v1" or not is_clip_model(meta):
        raise SystemExit(f"diffusers does not take the file for SD 1.x with CLIP: {infer_diffusers_model_type(meta)}")
    flat = not next(iter(text.state_dict())).startswith("text_model.")  # transformers 5's names
    for label, module, mapped in (
        ("UNet", unet, convert_ldm_unet_checkpoint(dict(meta), dict(unet.config))),
        ("VAE", vae, convert_ldm_vae_checkpoint(dict(meta), dict(vae.config))),
        ("text encoder", text, convert_ldm_clip_checkpoint(dict(meta))),
    ):
        want = {name: tuple(t.shape) for name, t in module.state_dict().items()}
        if module is text and flat:
            mapped = {name.removeprefix("text_model."): t for name, t in mapped.items()}
        got = {name: tuple(t.shape) for name, t in mapped.items() if name in want or not name.endswith("position_ids")}
        if got != want:
            missing, extra = sorted(set(want) - set(got))[:5], sorted(set(got) - set(want))[:5]
            wrong = sorted(n for n in set(got) & set(want) if got[n] != want[n])[:5]
            raise SystemExit(f"the {label}'s LDM names do not map back: missing {missing}, extra {extra}, shapes {wrong}")


def random_tensor(generator: torch.Generator, name: str, shape: tuple[int, ...]) -> torch.Tensor:
    """Normal values scaled by fan-in (norm scales near 1), so a traced forward pass stays finite."""
    values = torch.randn(shape, generator=generator, dtype=torch.float32)
    if len(shape) >= 2:
        values /= math.sqrt(math.prod(shape[1:]))
    elif name.endswith("weight") and "norm" in name:
        values = 1 + 0.02 * values
    else:
        values *= 0.02
    return values.to(torch.float16)


def build_sd(path: Path, tiny: bool) -> None:
    from safetensors.torch import save_file

    shapes = sd_shapes(tiny)
    log(f"SD checkpoint: {len(shapes)} tensors, {sum(math.prod(s) for s, _ in shapes.values()) / 1e6:.0f} M values; drawing them")
    generator = torch.Generator().manual_seed(SEED)
    schedule = schedule_buffers()
    tensors = {}
    for name, (shape, dtype) in sorted(shapes.items()):
        if name in schedule:
            tensors[name] = schedule[name]
        elif dtype == torch.int64:
            tensors[name] = torch.arange(shape[-1], dtype=torch.int64).reshape(shape)
        else:
            tensors[name] = random_tensor(generator, name, shape)
    partial = path.with_name(path.name + ".partial")
    save_file(tensors, str(partial), metadata={"format": "pt"})
    partial.rename(path)
    log(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB)")


def build_lm(folder: Path, tiny: bool) -> None:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = {**QWEN_CONFIG, **(TINY["lm"] if tiny else {})}
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    torch.manual_seed(SEED)
    torch.set_default_dtype(torch.bfloat16)  # drawn in bf16, as published: no fp32 copy in memory
    try:
        model = Qwen2ForCausalLM(Qwen2Config(**{k: v for k, v in config.items() if k != "torch_dtype"})).eval()
    finally:
        torch.set_default_dtype(torch.float32)
    log(f"LM: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters; saving")
    model.save_pretrained(partial, safe_serialization=True)
    del model
    # The published files' own values, not what this transformers version writes.
    (partial / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (partial / "generation_config.json").write_text(json.dumps(QWEN_GENERATION, indent=2) + "\n")
    shutil.copy(FIXTURE_TOKENIZER, partial / "tokenizer.json")
    (partial / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "Qwen2Tokenizer", "model_max_length": 131072, "bos_token": None, "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>", "unk_token": None, "clean_up_tokenization_spaces": False, "errors": "replace",
        "add_prefix_space": False, "chat_template": CHATML,
    }, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    log(f"wrote {folder} ({sum(f.stat().st_size for f in folder.iterdir()) / 1e9:.2f} GB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the work folder (outside the repository)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes of the same kinds (seconds)")
    parser.add_argument("--only", choices=("sd", "lm"), help="make one of the two")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    if REPO in out.parents or out == REPO:
        parser.error("build outside the repository: the weights are GBs and must never be committed")
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    made = current_build(out, args.tiny)
    if made is None:  # another version's files, or tiny ones: make both anew
        made = []
        (out / SD_FILE).unlink(missing_ok=True)
        shutil.rmtree(out / LM_FOLDER, ignore_errors=True)
    if args.only in (None, "sd") and "sd" not in made:
        build_sd(out / SD_FILE, args.tiny)
        made.append("sd")
    if args.only in (None, "lm") and "lm" not in made:
        build_lm(out / LM_FOLDER, args.tiny)
        made.append("lm")
    (out / STAMP).write_text(json.dumps({"version": BUILD_VERSION, "tiny": args.tiny, "made": sorted(made)}) + "\n")
    return 0


def current_build(out: Path, tiny: bool) -> list[str] | None:
    """What a build of this version and size already made in ``out`` (None: nothing to keep)."""
    try:
        stamp = json.loads((out / STAMP).read_text())
    except (OSError, ValueError):
        return None
    if stamp.get("version") != BUILD_VERSION or stamp.get("tiny") != tiny:
        return None
    present = {"sd": (out / SD_FILE).is_file(), "lm": (out / LM_FOLDER / "model.safetensors").is_file()}
    return [kind for kind in stamp.get("made", []) if present.get(kind)]


if __name__ == "__main__":
    sys.exit(main())
