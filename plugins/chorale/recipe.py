"""Train the built-in chorale model on music21's Bach chorales and export it to ONNX.

Run it in an environment of its own with torch (pinned: ``pip install torch==2.13.0``, so pip
takes the CPU build) and music21 — never the app's::

    python plugins/chorale/recipe.py [--out resources/models/chorale]

It is reproducible: fixed seeds, deterministic torch algorithms and a fixed thread count; the
split into training and validation chorales depends only on each chorale's name. It prints the
validation loss of every epoch and keeps the weights of the best one.

The model is a stateful step model: (previous token, the voice and bar position of the token to
predict, the mode, how many bars are left, state) -> (logits, new state). A GRU trains fast on
two CPU cores, and one step is a handful of small matrix products, so sampling 8 bars (256
tokens) takes milliseconds in onnxruntime. "Bars left" lets the model learn that chorales close
with a cadence, so a sketch of any length ends like one.

The exported step graph spells the GRU out as matrix products (``GRUStep``) rather than the ONNX
GRU operator: it exports the same way with either torch exporter, and the recipe checks the
export against ``torch.nn.GRU`` before writing anything.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # noqa: E402  (run as a script beside its data module)

SEED = 1685  # Bach's birth year
THREADS = 1  # one thread: on a shared 2-core machine OpenMP threads spin-wait on each other and
# training slowed twentyfold when another job took a core; a GRU this small gains little from two
EMBED = 96
HIDDEN = 256
LAYERS = 2
DROPOUT = 0.3
EPOCHS = 40
BATCH = 32
CROP_BARS = 8  # training windows: 8 bars = 256 tokens
LEARNING_RATE = 3e-3
MAX_BARS_LEFT = 3  # "bars left" is 0 (last bar), 1, 2, or 3 for "three or more"
OPSET = 17

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "resources" / "models" / "chorale"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "studio-recipes" / "chorales.npz"
CHECKPOINT = "chorale-checkpoint.pt"  # beside the cache: re-export (--export-only) without retraining

INPUT_NAMES = ["token", "voice", "position", "bars_left", "mode", "state"]
OUTPUT_NAMES = ["logits", "next_state"]


class ChoraleModel(nn.Module):
    """Embeddings of (token, voice, position in bar, bars left, mode), summed, into a GRU."""

    def __init__(self) -> None:
        super().__init__()
        self.token = nn.Embedding(data.VOCAB_SIZE, EMBED)
        self.voice = nn.Embedding(len(data.VOICES), EMBED)
        self.position = nn.Embedding(data.STEPS_PER_BAR, EMBED)
        self.bars_left = nn.Embedding(MAX_BARS_LEFT + 1, EMBED)
        self.mode = nn.Embedding(len(data.MODES), EMBED)
        self.gru = nn.GRU(EMBED, HIDDEN, num_layers=LAYERS, batch_first=True, dropout=DROPOUT)
        self.drop = nn.Dropout(DROPOUT)
        self.head = nn.Linear(HIDDEN, data.VOCAB_SIZE)

    def embed(self, token, voice, position, bars_left, mode):
        return self.token(token) + self.voice(voice) + self.position(position) + self.bars_left(bars_left) + self.mode(mode)

    def forward(self, token, voice, position, bars_left, mode):
        hidden, _ = self.gru(self.drop(self.embed(token, voice, position, bars_left, mode)))
        return self.head(self.drop(hidden))


class GRUStep(nn.Module):
    """One step of a trained ``ChoraleModel`` for export: the GRU equations as matrix products."""

    def __init__(self, model: ChoraleModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, token, voice, position, bars_left, mode, state):
        x = self.model.embed(token, voice, position, bars_left, mode)
        states = []
        for layer in range(LAYERS):
            w_ih = getattr(self.model.gru, f"weight_ih_l{layer}")
            w_hh = getattr(self.model.gru, f"weight_hh_l{layer}")
            b_ih = getattr(self.model.gru, f"bias_ih_l{layer}")
            b_hh = getattr(self.model.gru, f"bias_hh_l{layer}")
            h = state[layer]
            # linear() exports as Gemm on the GRU's own weights, so the ONNX initializers keep
            # torch's names (x @ w.t() would be folded into an anonymous transposed copy).
            gi = nn.functional.linear(x, w_ih, b_ih)
            gh = nn.functional.linear(h, w_hh, b_hh)
            i_r, i_z, i_n = gi.chunk(3, dim=-1)
            h_r, h_z, h_n = gh.chunk(3, dim=-1)
            r = torch.sigmoid(i_r + h_r)
            z = torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            h = (1 - z) * n + z * h
            states.append(h)
            x = h
        return self.model.head(x), torch.stack(states)


# -- data -------------------------------------------------------------------------------------


def sequence(chorale: data.Chorale) -> dict[str, np.ndarray]:
    """A chorale as model inputs and targets: token i is predicted from token i - 1."""
    steps = len(chorale.tokens)
    targets = chorale.tokens.reshape(-1)
    index = np.arange(len(targets))
    step = index // len(data.VOICES)
    bars_total = math.ceil(steps / data.STEPS_PER_BAR)
    return {
        "token": np.concatenate([[data.BOS], targets[:-1]]),
        "voice": index % len(data.VOICES),
        "position": step % data.STEPS_PER_BAR,
        "bars_left": np.minimum(bars_total - 1 - step // data.STEPS_PER_BAR, MAX_BARS_LEFT),
        "mode": np.full(len(targets), data.MODES.index(chorale.mode)),
        "target": targets,
    }


def windows(chorales: list[data.Chorale], generator: torch.Generator) -> list[dict[str, np.ndarray]]:
    """Training windows of ``CROP_BARS`` bars, each starting on a downbeat with the start token.

    Windows are short because a GRU runs its steps one after another: 8 bars in batches of 32
    train about four times faster on two cores than whole chorales in batches of 16. Every
    chorale gives its opening and its close (where the cadences are), plus random windows
    between when it is long enough for more.
    """
    found = []
    window = CROP_BARS * data.STEPS_PER_BAR * len(data.VOICES)
    for chorale in chorales:
        whole = sequence(chorale)
        bars = len(chorale.tokens) // data.STEPS_PER_BAR
        last = max(0, bars - CROP_BARS)
        starts = {0, last}
        for _ in range(max(0, round(bars / CROP_BARS) - 2)):
            starts.add(int(torch.randint(0, last + 1, (1,), generator=generator)))
        for bar in sorted(starts):
            first = bar * data.STEPS_PER_BAR * len(data.VOICES)
            piece = {name: values[first : first + window].copy() for name, values in whole.items()}
            piece["token"][0] = data.BOS  # the sampler starts every sketch this way
            found.append(piece)
    return found


def batches(sequences: list[dict[str, np.ndarray]], generator: torch.Generator | None, size: int = BATCH):
    """Padded batches (padding targets are -100, ignored by the loss)."""
    order = torch.randperm(len(sequences), generator=generator).tolist() if generator is not None else list(range(len(sequences)))
    for first in range(0, len(order), size):
        group = [sequences[i] for i in order[first : first + size]]
        length = max(len(s["target"]) for s in group)
        batch = {}
        for name in group[0]:
            fill = -100 if name == "target" else 0
            padded = np.full((len(group), length), fill, dtype=np.int64)
            for row, s in enumerate(group):
                padded[row, : len(s[name])] = s[name]
            batch[name] = torch.from_numpy(padded)
        yield batch


def loss_of(model: ChoraleModel, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    logits = model(batch["token"], batch["voice"], batch["position"], batch["bars_left"], batch["mode"])
    target = batch["target"]
    loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100, reduction="sum")
    return loss, int((target != -100).sum())


def evaluate(model: ChoraleModel, chorales: list[data.Chorale]) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches([sequence(c) for c in chorales], None, size=8):
            loss, n = loss_of(model, batch)
            total += float(loss)
            count += n
    return total / count


# -- training and export ----------------------------------------------------------------------


def seed_everything() -> None:
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(THREADS)


def train(train_set: list[data.Chorale], validation: list[data.Chorale], epochs: int) -> tuple[ChoraleModel, dict]:
    seed_everything()
    model = ChoraleModel()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    shuffle = torch.Generator().manual_seed(SEED)
    best = {"validation_loss": math.inf, "epoch": 0}
    best_state = None
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        total, count = 0.0, 0
        for batch in batches(windows(train_set, shuffle), shuffle):
            loss, n = loss_of(model, batch)
            optimizer.zero_grad()
            (loss / n).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += float(loss.detach())
            count += n
        schedule.step()
        validation_loss = evaluate(model, validation)
        print(f"epoch {epoch:3d}  train loss {total / count:.4f}  validation loss {validation_loss:.4f}  ({time.perf_counter() - started:.0f} s)", flush=True)
        if validation_loss < best["validation_loss"]:
            best = {"validation_loss": round(validation_loss, 4), "train_loss": round(total / count, 4), "epoch": epoch}
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    best["seconds"] = round(time.perf_counter() - started, 1)
    return model, best


def export(model: ChoraleModel, path: Path) -> None:
    step = GRUStep(model).eval()
    example = (
        torch.tensor([data.BOS]), torch.tensor([0]), torch.tensor([0]), torch.tensor([0]), torch.tensor([0]),
        torch.zeros(LAYERS, 1, HIDDEN),
    )
    batch = {name: {0: "batch"} for name in INPUT_NAMES[:-1]}
    batch.update({"state": {1: "batch"}, "logits": {0: "batch"}, "next_state": {1: "batch"}})
    torch.onnx.export(
        step, example, str(path), input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
        dynamic_axes=batch, opset_version=OPSET, dynamo=False,
    )


def check_export(model: ChoraleModel, path: Path, chorale: data.Chorale) -> float:
    """Run a real chorale through the exported step graph and through torch's GRU; return the
    largest difference of their logits (must be float noise)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    s = sequence(chorale)
    with torch.no_grad():
        expected = model(*(torch.from_numpy(s[name][None]) for name in INPUT_NAMES[:-1]))[0].numpy()
    state = np.zeros((LAYERS, 1, HIDDEN), dtype=np.float32)
    worst = 0.0
    for i in range(min(len(s["target"]), 200)):
        feeds = {name: s[name][i : i + 1].astype(np.int64) for name in INPUT_NAMES[:-1]}
        logits, state = session.run(None, {**feeds, "state": state})
        worst = max(worst, float(np.abs(logits[0] - expected[i]).max()))
    return worst


def write_config(out: Path, chorales: list[data.Chorale], train_set, validation, result: dict, model: ChoraleModel) -> None:
    parameters = sum(p.numel() for p in model.parameters())
    config = {
        "format": "studio-chorale",
        "title": "Bach chorale sketch",
        "representation": data.representation(),
        "model": {
            "kind": "gru-step",
            "embed": EMBED,
            "hidden": HIDDEN,
            "layers": LAYERS,
            "parameters": parameters,
            "max_bars_left": MAX_BARS_LEFT,
            "inputs": {
                "token": "int64 [batch]: the previous token (start token first)",
                "voice": "int64 [batch]: voice of the token to predict (0 soprano .. 3 bass)",
                "position": "int64 [batch]: eighth-note step within the bar of the token to predict",
                "bars_left": f"int64 [batch]: bars after the current one, capped at {MAX_BARS_LEFT}",
                "mode": "int64 [batch]: 0 major, 1 minor",
                "state": f"float32 [{LAYERS}, batch, {HIDDEN}]: zeros at the start",
            },
            "outputs": {"logits": f"float32 [batch, {data.VOCAB_SIZE}]", "next_state": f"float32 [{LAYERS}, batch, {HIDDEN}]"},
        },
        # Each voice's compass in the reference keys: the sampler never leaves it.
        "voice_ranges": [list(r) for r in data.voice_ranges(chorales)],
        "training": {
            "data": "music21 corpus: Bach chorales in 4/4 with four parts",
            "chorales": len(chorales),
            "train_chorales": len(train_set),
            "validation_chorales": len(validation),
            "train_tokens": int(sum(c.tokens.size for c in train_set)),
            "seed": SEED,
            "epochs": result["epochs"],
            "window_bars": CROP_BARS,
            "batch": BATCH,
            **result,  # epochs, best epoch, losses, seconds
        },
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the extracted chorales are cached")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--export-only", action="store_true", help="export the last trained checkpoint again")
    args = parser.parse_args(argv)

    chorales = data.extract(args.cache)
    train_set, validation = data.split(chorales)
    print(f"{len(chorales)} chorales: {len(train_set)} to train on, {len(validation)} to validate", flush=True)
    checkpoint = args.cache.parent / CHECKPOINT
    if args.export_only:
        saved = torch.load(checkpoint)
        model, result = ChoraleModel(), saved["result"]
        model.load_state_dict(saved["model"])
        model.eval()
    else:
        model, result = train(train_set, validation, args.epochs)
        result = {"epochs": args.epochs, **result}
        torch.save({"model": model.state_dict(), "result": result}, checkpoint)
    print(f"best validation loss {result['validation_loss']:.4f} (epoch {result['epoch']})", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    path, trial = args.out / "model.onnx", args.out / "model.onnx.part"
    export(model, trial)  # checked before it replaces the model that is there
    difference = check_export(model, trial, validation[0])
    print(f"exported {path} ({trial.stat().st_size / 1e6:.2f} MB); ONNX vs torch logits differ by at most {difference:.2e}")
    if difference > 1e-3:
        trial.unlink()
        raise SystemExit("the exported step model does not match the trained one; nothing was replaced")
    os.replace(trial, path)
    result["onnx_max_logit_difference"] = float(f"{difference:.2e}")
    write_config(args.out, chorales, train_set, validation, result, model)


if __name__ == "__main__":
    main()
