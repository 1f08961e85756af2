"""Build the musicgen-small-shaped model that bench/musicgen_pipeline.py measures.

Random weights are fine for speed: the time per step depends on shapes, not values. The shapes
are facebook/musicgen-small's configs: a T5-base text encoder (12 layers, 768 wide, vocabulary
32 128), a 24-layer 1024-wide decoder (16 heads, ffn 4096) over 4 codebooks x 2048 codes, and
the 32 kHz EnCodec (50 frames/s). Never written into the repository (about 2 GB in fp32 per copy):

    python bench/build_musicgen_bench_models.py [--out DIR]    # a python with optimum-onnx and torch (see README)

DIR defaults to <temp>/studio-bench/musicgen (``tempfile.gettempdir()``), where
bench/musicgen_pipeline.py looks.

Writes ``OUT/musicgen-small-random/``: the public ONNX layout our pipeline reads (onnx/
text_encoder, decoder_model_merged, encodec_decode, build_delay_pattern_mask; config.json,
generation_config.json, tokenizer.json) and ``torch/`` (the same weights as a transformers
checkpoint, for the torch side). The export is the fixture's (tests/fixtures/musicgen/
build_models.py: optimum's main_export + merge_decoders). No T5 tokenizer can be downloaded
here, so the fixture's small T5-style tokenizer stands in: its ids are valid T5-base ids, and
the prompt's length, not its ids, is what costs time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from machine import bench_folder, require  # bench/ is the script's folder: on sys.path

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "musicgen"
DEFAULT_OUT = bench_folder("musicgen")
INSTALL = "python -m venv /tmp/optimum-venv && /tmp/optimum-venv/bin/pip install torch==2.13.0 optimum-onnx"
SEED = 0


def build(out: Path) -> Path:
    import torch
    from transformers import EncodecConfig, MusicgenConfig, MusicgenDecoderConfig, MusicgenForConditionalGeneration, T5Config

    folder = out / "musicgen-small-random"
    checkpoint = folder / "torch"
    shutil.rmtree(folder, ignore_errors=True)
    checkpoint.mkdir(parents=True)
    text = T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12,
                    relative_attention_num_buckets=32, feed_forward_proj="relu", dropout_rate=0.1)
    codec = EncodecConfig(
        sampling_rate=32000, audio_channels=1, num_filters=64, hidden_size=128, codebook_size=2048, codebook_dim=128,
        upsampling_ratios=[8, 5, 4, 4], target_bandwidths=[2.2], num_lstm_layers=2, num_residual_layers=1,
        chunk_length_s=None, overlap=None, normalize=False, use_causal_conv=False, use_conv_shortcut=False,
        norm_type="weight_norm", pad_mode="reflect", compress=2, kernel_size=7, last_kernel_size=7, residual_kernel_size=3,
    )
    assert codec.frame_rate == 50 and codec.num_quantizers == 4
    decoder = MusicgenDecoderConfig(
        vocab_size=2048, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, ffn_dim=4096,
        num_codebooks=4, max_position_embeddings=2048, pad_token_id=2048, bos_token_id=2048,
        decoder_start_token_id=2048, dropout=0.1, activation_function="gelu", tie_word_embeddings=False,
    )
    config = MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=codec.to_dict(), decoder=decoder.to_dict())
    torch.manual_seed(SEED)
    model = MusicgenForConditionalGeneration(config).eval()
    g = model.generation_config
    g.do_sample, g.guidance_scale, g.top_k, g.max_length = True, 3.0, 250, 1500
    g.decoder_start_token_id = g.pad_token_id = g.bos_token_id = 2048
    model.save_pretrained(str(checkpoint))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(FIXTURE / "model" / name, checkpoint / name)
    params = sum(p.numel() for p in model.parameters())
    print(f"{params / 1e6:.1f} M parameters", file=sys.stderr)
    del model

    sys.path.insert(0, str(FIXTURE))
    import build_models

    build_models.WORK = out / "musicgen-export-work"
    build_models.export(checkpoint, folder / "_onnx")
    (folder / "_onnx" / "onnx").rename(folder / "onnx")
    for path in (folder / "_onnx").iterdir():
        shutil.move(str(path), str(folder / path.name))
    (folder / "_onnx").rmdir()
    shutil.rmtree(build_models.WORK, ignore_errors=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    args = parser.parse_args()
    require("torch", "transformers", "optimum", install=INSTALL)
    start = time.perf_counter()
    folder = build(args.out)
    print(f"built {folder} in {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
