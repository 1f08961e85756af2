"""The one weight set bench/llama_cpp.py gives every engine: Qwen2.5-0.5B's shape, random weights.

Runs under a python with torch and transformers (``--torch-python``; never Studio's venv):

    python bench/llama_cpp_models.py --vocab VOCAB.gguf --out DIR [--tiny]

Writes ``DIR`` as a Hugging Face checkpoint (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, generation_config.json) that llama.cpp's ``convert_hf_to_gguf.py``, the
onnxruntime-genai builder and optimum's exporter all read.

The tokenizer is Qwen2's own, rebuilt offline (the hub cannot be reached): llama.cpp ships
Qwen2's vocabulary and merges in ``models/ggml-vocab-qwen2.gguf`` (its tokenizer tests), and the
pre-tokenizer is Qwen2's published one. The rebuilt tokenizer is checked against llama.cpp's own
test pairs (``.gguf.inp`` / ``.gguf.out``) before it is saved, and convert_hf_to_gguf.py
recognises it as "qwen2" by its hash, so both engines tokenize alike.

Random weights are fine for speed (decode time depends on shapes, not values). The end-of-text
and end-of-turn embedding rows are zeroed: with tied embeddings their logits are exactly 0, so
greedy decoding of random weights never stops early and every engine makes all its tokens.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SEED = 0
# Qwen2.5-0.5B (Qwen/Qwen2.5-0.5B config.json), and a tiny model of the same kind for --smoke.
SHAPES = {
    "qwen2.5-0.5b": dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                         intermediate_size=4864),
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=128),
}
VOCAB_SIZE = 151936  # Qwen2's embedding rows (the tokenizer's 151646 tokens, padded)
# Qwen2's pre-tokenizer (its tokenizer.json): the split before byte-level BPE.
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
CONTROL = 3  # llama.cpp's token type for special tokens
TEST_SEPARATOR = "\n__ggml_vocab_test__\n"


def _strings(field) -> list[str]:
    return [bytes(field.parts[i]).decode("utf-8") for i in field.data]


def qwen2_tokenizer(vocab_gguf: Path):
    """Qwen2's tokenizer (``tokenizers.Tokenizer``) from llama.cpp's vocabulary file."""
    import gguf
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    reader = gguf.GGUFReader(str(vocab_gguf))
    tokens = _strings(reader.fields["tokenizer.ggml.tokens"])
    kinds = reader.fields["tokenizer.ggml.token_type"]
    kinds = [int(kinds.parts[i][0]) for i in kinds.data]
    merges = [tuple(m.split(" ", 1)) for m in _strings(reader.fields["tokenizer.ggml.merges"])]
    normal = {t: i for i, (t, k) in enumerate(zip(tokens, kinds)) if k == 1}
    tokenizer = Tokenizer(models.BPE(normal, merges, fuse_unk=False, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    special = [t for t, k in zip(tokens, kinds) if k == CONTROL]
    tokenizer.add_special_tokens(special)
    for name in special:  # added tokens take the ids they have in the vocabulary file
        if tokenizer.token_to_id(name) != tokens.index(name):
            raise SystemExit(f"special token {name} got id {tokenizer.token_to_id(name)}, wanted {tokens.index(name)}")
    return tokenizer


def check_against_llama_cpp(tokenizer, vocab_gguf: Path) -> int:
    """Encode llama.cpp's own tokenizer test inputs; every one must give llama.cpp's ids."""
    inputs = Path(f"{vocab_gguf}.inp").read_text(encoding="utf-8").split(TEST_SEPARATOR)
    outputs = Path(f"{vocab_gguf}.out").read_text(encoding="utf-8").split("\n")
    checked = 0
    for text, expected in zip(inputs, outputs):
        got = tokenizer.encode(text, add_special_tokens=False).ids
        want = [int(x) for x in expected.split()]
        if got != want:
            raise SystemExit(f"the rebuilt Qwen2 tokenizer encodes {text!r} as {got[:12]}, llama.cpp as {want[:12]}")
        checked += 1
    return checked


def save_tokenizer(tokenizer, folder: Path) -> None:
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "Qwen2Tokenizer", "model_max_length": 32768, "bos_token": None,
        "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": None,
        "clean_up_tokenization_spaces": False, "errors": "replace", "add_prefix_space": False,
    }, indent=2) + "\n")


def make_weights(folder: Path, shape: str) -> int:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(SEED)
    config = Qwen2Config(vocab_size=VOCAB_SIZE, tie_word_embeddings=True, max_position_embeddings=32768,
                         rope_theta=1000000.0, rms_norm_eps=1e-6, bos_token_id=151643, eos_token_id=151643,
                         use_sliding_window=False, sliding_window=32768, max_window_layers=21,
                         **SHAPES[shape])
    model = Qwen2ForCausalLM(config).eval()
    with torch.no_grad():
        for stop in (151643, 151645):  # <|endoftext|>, <|im_end|>: logit 0, never the argmax
            model.model.embed_tokens.weight[stop].zero_()
    model.generation_config.do_sample = False
    model.save_pretrained(folder, safe_serialization=True)
    # Whatever this transformers writes for rope (v5: rope_parameters), the plain keys that older
    # readers (optimum's transformers 4.x, the converters) read are there too.
    saved = json.loads((folder / "config.json").read_text())
    saved.update(rope_theta=1000000.0, torch_dtype="float32", tie_word_embeddings=True)
    (folder / "config.json").write_text(json.dumps(saved, indent=2) + "\n")
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab", type=Path, required=True, help="llama.cpp's models/ggml-vocab-qwen2.gguf")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tiny", action="store_true", help="a two-layer model of the same kind (seconds)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer = qwen2_tokenizer(args.vocab)
    checked = check_against_llama_cpp(tokenizer, args.vocab)
    save_tokenizer(tokenizer, args.out)
    count = make_weights(args.out, "tiny" if args.tiny else "qwen2.5-0.5b")
    print(f"{args.out}: {count / 1e6:.1f} M parameters; tokenizer {tokenizer.get_vocab_size()} tokens "
          f"(matches llama.cpp on its {checked} test texts)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
