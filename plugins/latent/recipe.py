"""Train the built-in Emoji VAE on Noto Color Emoji glyphs and export it to ONNX.

Run it in an environment of its own with torch (pinned: ``pip install torch==2.13.0``, so pip
takes the CPU build), fontTools and Pillow — never the app's — after
``apt-get install fonts-noto-color-emoji``::

    python plugins/latent/recipe.py [--out resources/models/emoji-vae] [--epochs N]

It is reproducible: fixed seeds, deterministic torch algorithms and a fixed thread count; the
split into training and validation glyphs depends only on each glyph's code point. It prints the
validation loss of every epoch and keeps the weights of the best one (by BCE + β·KL).

The model is a small convolutional VAE on 64×64 RGB pictures in [0, 1] on white: four stride-2
convolutions down to 4×4, a linear layer to the mean and log-variance of a 32-dimensional
latent, and back up with transposed convolutions and a last upsampling convolution, ending in a
sigmoid. It is sized so that an epoch takes seconds on one CPU core and both graphs together
stay under 3 MB. The loss is the reconstruction's binary cross-entropy summed over pixels (it
holds the white background crisp) plus β·KL with β warmed up linearly to 1 over the first epochs
so the decoder learns to draw before the latent is squeezed towards N(0, 1).

The app reads only ``studio-latent.json`` and the two ONNX graphs: ``decoder.onnx`` (z [N, 32]
-> image [N, 3, 64, 64]) and ``encoder.onnx`` (image -> mean, log_var). The recipe checks both
against torch with onnxruntime before it replaces anything.
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
import emoji_data  # noqa: E402  (run as a script beside its data module)

SEED = 2010  # the year emoji entered Unicode (6.0)
THREADS = 1  # one thread: on a shared 2-core machine OpenMP threads spin-wait on each other, and
# an epoch took 4 s or 36 s with two depending on what else ran; with one it is steady
LATENT = 32
WIDTHS = (32, 64, 96, 96)  # channels at 32, 16, 8 and 4 pixels
EPOCHS = 60  # validation loss stopped improving after ~50 epochs (of 120 tried) and the rest overfit
BATCH = 32
LEARNING_RATE = 2e-3
BETA = 1.0  # the plain VAE objective: lighter KL terms (0.2, 0.5) gave no sharper pictures here, only
# a wider gap to validation (1,254 pictures: overfitting, not the KL term, limits it)
WARMUP_EPOCHS = 10  # β rises linearly over these, from 0
SHIFT = 0  # training pictures moved by up to this many pixels each way (white comes in): 2 tried,
# smoother and less detailed pictures
SHRINK = 0.05  # the fitted covariance is pulled this far towards its diagonal (conditioning)
OPSET = 17
TOLERANCE = 1e-4  # the largest difference allowed between onnxruntime and torch

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "resources" / "models" / "emoji-vae"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "studio-recipes" / "noto-emoji-64.npz"
CHECKPOINT = "emoji-vae-checkpoint.pt"  # beside the cache: re-export (--export-only) without retraining


class Encoder(nn.Module):
    """image [N, 3, 64, 64] in [0, 1] -> (mean, log_var), each [N, LATENT]."""

    def __init__(self) -> None:
        super().__init__()
        layers, channels = [], 3
        for width in WIDTHS:
            layers += [nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.BatchNorm2d(width), nn.LeakyReLU(0.2)]
            channels = width
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(WIDTHS[-1] * 4 * 4, 2 * LATENT)

    def forward(self, image):
        # Centre the input on the white background (0 where the picture is white), so the first
        # layer sees ink as the signal.
        mean, log_var = self.head(self.features(image - 1.0)).chunk(2, dim=1)
        return mean, log_var


class Decoder(nn.Module):
    """z [N, LATENT] -> image [N, 3, 64, 64] in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(LATENT, WIDTHS[-1] * 4 * 4), nn.LeakyReLU(0.2))
        layers, channels = [], WIDTHS[-1]
        for width in reversed(WIDTHS[:-1]):
            layers += [nn.ConvTranspose2d(channels, width, 4, stride=2, padding=1), nn.BatchNorm2d(width), nn.LeakyReLU(0.2)]
            channels = width
        # The last step to 64×64 writes the colours: nearest-neighbour upsampling and a 3×3
        # convolution instead of one more transposed convolution, whose uneven overlaps left a
        # visible checkerboard in the colours; a sigmoid keeps them in [0, 1].
        layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(channels, 3, 3, padding=1), nn.Sigmoid()]
        self.layers = nn.Sequential(*layers)

    def forward(self, z):
        return self.layers(self.project(z).reshape(-1, WIDTHS[-1], 4, 4))


class VAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.decoder = Decoder()


# -- training ---------------------------------------------------------------------------------


def losses(model: VAE, images: torch.Tensor, sample: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sums over the batch of (reconstruction BCE, KL to N(0, 1), reconstruction squared error),
    each summed over the pixels of an image. Validation decodes the mean (``sample`` False)."""
    mean, log_var = model.encoder(images)
    z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var) if sample else mean
    decoded = model.decoder(z)
    reconstruction = nn.functional.binary_cross_entropy(decoded, images, reduction="sum")
    kl = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp())
    squared = torch.sum((decoded - images) ** 2)
    return reconstruction, kl, squared


def evaluate(model: VAE, images: torch.Tensor) -> dict[str, float]:
    """Per validation image: BCE + KL (the loss, β = 1), and the mean squared error per value."""
    model.eval()
    with torch.no_grad():
        reconstruction, kl, squared = (float(t) for t in losses(model, images, sample=False))
    n = len(images)
    return {
        "loss": (reconstruction + kl) / n,
        "reconstruction": reconstruction / n,
        "kl": kl / n,
        "mse": squared / images.numel(),
    }


def seed_everything() -> None:
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(THREADS)


def as_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, 64, 64, 3] -> float32 [N, 3, 64, 64] in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0).contiguous()


def shift(batch: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Move each picture by its (dy, dx) offset, filling with white: more positions of the same
    shapes for a small set (few glyphs reach an edge; a full-width one loses a sliver)."""
    if SHIFT == 0:
        return batch
    size = batch.shape[-1]
    padded = nn.functional.pad(batch, (SHIFT,) * 4, value=1.0)
    return torch.stack([
        padded[i, :, SHIFT - dy : SHIFT - dy + size, SHIFT - dx : SHIFT - dx + size]
        for i, (dy, dx) in enumerate(offsets.tolist())
    ])


def train(train_images: torch.Tensor, validation: torch.Tensor, epochs: int) -> tuple[VAE, dict]:
    seed_everything()
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    shuffle = torch.Generator().manual_seed(SEED)
    best = {"objective": math.inf, "epoch": 0}
    best_state = None
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        beta = BETA * min(1.0, epoch / WARMUP_EPOCHS)
        total = 0.0
        order = torch.randperm(len(train_images), generator=shuffle)
        # Mirror half the pictures: twice the shapes for a small set, and an emoji mirrored is
        # still an emoji-like picture (mirrored lettering turns to mush at this size anyway).
        flips = torch.rand(len(train_images), generator=shuffle) < 0.5
        shifts = torch.randint(-SHIFT, SHIFT + 1, (len(train_images), 2), generator=shuffle)
        for first in range(0, len(order), BATCH):
            picked = order[first : first + BATCH]
            batch = train_images[picked]
            batch = torch.where(flips[picked, None, None, None], batch.flip(3), batch)
            batch = shift(batch, shifts[picked])
            reconstruction, kl, _ = losses(model, batch, sample=True)
            loss = (reconstruction + beta * kl) / len(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(reconstruction.detach() + kl.detach())
        schedule.step()
        figures = evaluate(model, validation)
        print(
            f"epoch {epoch:3d}  β {beta:.2f}  train {total / len(train_images):7.1f}  "
            f"validation {figures['loss']:7.1f} (BCE {figures['reconstruction']:7.1f} + KL {figures['kl']:5.1f}, "
            f"MSE {figures['mse']:.4f})  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        # Only epochs with the full β count (or the last of a short smoke run): before that the
        # KL term is not yet in force and a low loss there would be an unfinished model.
        objective = figures["reconstruction"] + BETA * figures["kl"]  # what training minimises
        if epoch >= min(WARMUP_EPOCHS, epochs) and objective < best["objective"]:
            best = {
                "objective": objective,
                "validation_loss": round(figures["loss"], 2),
                "validation_reconstruction": round(figures["reconstruction"], 2),
                "validation_kl": round(figures["kl"], 2),
                "validation_mse": round(figures["mse"], 5),
                "train_loss": round(total / len(train_images), 2),
                "epoch": epoch,
            }
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    best["objective"] = round(best["objective"], 2)
    best["seconds"] = round(time.perf_counter() - started, 1)
    return model, best


# -- the prior ------------------------------------------------------------------------------


def fit_prior(model: VAE, train_images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ex-post density estimation (Ghosh et al. 2020): with a small β the encoder's means do not
    fill N(0, 1), so a full-covariance Gaussian is fitted to the means of the training pictures
    (and of their mirror images, as trained) and folded into the graphs. Returns its mean μ and
    the Cholesky factor L of its covariance, pulled by SHRINK towards its diagonal."""
    model.eval()
    with torch.no_grad():
        means = torch.cat([model.encoder(images)[0] for images in (train_images, train_images.flip(3))]).double()
    mu = means.mean(0)
    covariance = torch.cov(means.T)
    covariance = (1 - SHRINK) * covariance + SHRINK * torch.diag(torch.diagonal(covariance))
    return mu.float(), torch.linalg.cholesky(covariance).float()


# -- export -----------------------------------------------------------------------------------


class DecoderGraph(nn.Module):
    """The decoder as exported: z ~ N(0, 1) is mapped onto the fitted prior, μ + L·z, first."""

    def __init__(self, model: VAE, mu: torch.Tensor, cholesky: torch.Tensor) -> None:
        super().__init__()
        self.decoder = model.decoder
        self.register_buffer("mu", mu.clone())
        self.register_buffer("cholesky_t", cholesky.T.contiguous())

    def forward(self, z):
        return self.decoder(self.mu + z @ self.cholesky_t)


class EncoderGraph(nn.Module):
    """The encoder as exported: two named outputs, mean first, both in the coordinates of the
    fitted prior, mean' = L⁻¹(mean − μ), and log_var' the log of the diagonal of L⁻¹ Σ L⁻ᵀ for the
    posterior's diagonal Σ; so DecoderGraph(mean') draws exactly what the decoder draws of mean."""

    def __init__(self, model: VAE, mu: torch.Tensor, cholesky: torch.Tensor) -> None:
        super().__init__()
        self.encoder = model.encoder
        inverse = torch.linalg.inv(cholesky.double())
        self.register_buffer("mu", mu.clone())
        self.register_buffer("inverse_t", inverse.T.float().contiguous())
        self.register_buffer("inverse_squared_t", (inverse**2).T.float().contiguous())

    def forward(self, image):
        mean, log_var = self.encoder(image)
        return (mean - self.mu) @ self.inverse_t, torch.log(torch.exp(log_var) @ self.inverse_squared_t)


def export(decoder: DecoderGraph, encoder: EncoderGraph, decoder_path: Path, encoder_path: Path) -> None:
    torch.onnx.export(
        decoder.eval(), (torch.zeros(2, LATENT),), str(decoder_path),
        input_names=["z"], output_names=["image"],
        dynamic_axes={"z": {0: "batch"}, "image": {0: "batch"}}, opset_version=OPSET, dynamo=False,
    )
    torch.onnx.export(
        encoder.eval(), (torch.ones(2, 3, emoji_data.SIZE, emoji_data.SIZE),), str(encoder_path),
        input_names=["image"], output_names=["mean", "log_var"],
        dynamic_axes={"image": {0: "batch"}, "mean": {0: "batch"}, "log_var": {0: "batch"}},
        opset_version=OPSET, dynamo=False,
    )
    size = emoji_data.SIZE
    declare_shapes(decoder_path, {"image": ["batch", 3, size, size]})
    declare_shapes(encoder_path, {"mean": ["batch", LATENT], "log_var": ["batch", LATENT]})


def declare_shapes(path: Path, shapes: dict[str, list]) -> None:
    """Write the outputs' true shapes into the graph. The legacy exporter's shape inference loses
    them behind Resize and Split (it named the decoder's height "batch"), and a loader that reads
    the graph's signature should see [batch, 3, 64, 64] and [batch, 32]."""
    import onnx

    graph = onnx.load(str(path))
    for output in graph.graph.output:
        if output.name in shapes:
            dims = output.type.tensor_type.shape.dim
            for dim, value in zip(dims, shapes[output.name], strict=True):
                if isinstance(value, int):
                    dim.dim_value = value
                else:
                    dim.dim_param = value
    onnx.checker.check_model(graph, full_check=True)
    onnx.save(graph, str(path))


def check_export(decoder_graph: DecoderGraph, encoder_graph: EncoderGraph, decoder_path: Path, encoder_path: Path,
                 validation: torch.Tensor) -> float:
    """Run validation pictures (a whole batch, then 1 and 5 at a time) through both graphs in
    onnxruntime and through torch; return the largest difference of any output."""
    import onnxruntime as ort

    decoder = ort.InferenceSession(str(decoder_path), providers=["CPUExecutionProvider"])
    encoder = ort.InferenceSession(str(encoder_path), providers=["CPUExecutionProvider"])
    assert [i.name for i in decoder.get_inputs()] == ["z"] and [o.name for o in decoder.get_outputs()] == ["image"]
    assert [i.name for i in encoder.get_inputs()] == ["image"]
    assert [o.name for o in encoder.get_outputs()] == ["mean", "log_var"]
    worst = 0.0
    for images in (validation[:BATCH], validation[:1], validation[1:6]):
        with torch.no_grad():
            mean, log_var = encoder_graph(images)
            z = mean + torch.randn(mean.shape, generator=torch.Generator().manual_seed(SEED))
            expected = decoder_graph(z)
        got_mean, got_log_var = encoder.run(None, {"image": images.numpy()})
        (got_image,) = decoder.run(None, {"z": z.numpy()})
        assert got_image.shape == (len(images), 3, emoji_data.SIZE, emoji_data.SIZE)
        for got, want in ((got_mean, mean), (got_log_var, log_var), (got_image, expected)):
            worst = max(worst, float(np.abs(got - want.numpy()).max()))
    return worst


def preview(decoder_path: Path, encoder_path: Path, validation: torch.Tensor, path: Path) -> None:
    """A picture to look at, made with the exported graphs as Studio uses them: 8×8 decodes of
    the latents of seeds 0-63 (N(0, 1)), then a slerp between seeds 0 and 1 and one between the
    latents found for two validation glyphs."""
    import onnxruntime as ort
    from PIL import Image

    decoder = ort.InferenceSession(str(decoder_path), providers=["CPUExecutionProvider"])
    encoder = ort.InferenceSession(str(encoder_path), providers=["CPUExecutionProvider"])
    random = np.stack([np.random.default_rng(seed).standard_normal(LATENT) for seed in range(64)]).astype(np.float32)
    means = encoder.run(None, {"image": validation[[0, 7]].numpy()})[0]
    rows = [random, slerp(random[0], random[1]), slerp(means[0], means[1])]
    images = decoder.run(None, {"z": np.concatenate(rows)})[0]
    tiles = (np.clip(images, 0, 1) * 255).round().astype(np.uint8).transpose(0, 2, 3, 1)
    size = emoji_data.SIZE
    grid = tiles.reshape(-1, 8, size, size, 3).transpose(0, 2, 1, 3, 4).reshape(-1, 8 * size, 3)
    Image.fromarray(grid).save(path)
    print(f"preview: {path}")


def slerp(a: np.ndarray, b: np.ndarray, steps: int = 8) -> np.ndarray:
    cosine = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    angle = np.arccos(np.clip(cosine, -1.0, 1.0))
    t = np.linspace(0, 1, steps)[:, None]
    if angle < 1e-6:
        return ((1 - t) * a + t * b).astype(np.float32)
    return ((np.sin((1 - t) * angle) * a + np.sin(t * angle) * b) / np.sin(angle)).astype(np.float32)


def write_manifest(out: Path, n_train: int, n_validation: int, result: dict) -> None:
    manifest = {
        "format": "studio-latent",
        "version": 1,
        "kind": "vae",
        "title": "Emoji VAE",
        "description": "Emoji-like pictures from a small model trained on the Noto Color Emoji glyphs: generate, or morph one into another.",
        "latent_size": LATENT,
        "image_size": [emoji_data.SIZE, emoji_data.SIZE],
        "output_range": [0, 1],
        "background": "white",
        "files": {"decoder": "decoder.onnx", "encoder": "encoder.onnx"},
        "license": "Weights: this project's own work, trained on Noto Color Emoji glyphs (font under the SIL Open Font License 1.1)",
        "attribution": "ATTRIBUTION.md",
        "training": {
            "images": n_train,
            "validation_images": n_validation,
            "epochs": result["epochs"],
            "validation_loss": result["validation_loss"],
            "validation_mse": result["validation_mse"],
            "beta": BETA,
            "prior": "full-covariance Gaussian fitted to the training means, folded into the graphs",
            "seed": SEED,
        },
    }
    (out / "studio-latent.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the rendered glyphs are cached")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--export-only", action="store_true", help="export the last trained checkpoint again")
    parser.add_argument("--preview", type=Path, help="also write a PNG of random decodes and morphs here")
    args = parser.parse_args(argv)

    images, codepoints, version = emoji_data.load(args.cache)
    train_index, validation_index = emoji_data.split(codepoints)
    train_images, validation = as_tensor(images[train_index]), as_tensor(images[validation_index])
    print(f"{len(images)} glyphs of {version}: {len(train_index)} to train on, {len(validation_index)} to validate", flush=True)
    checkpoint = args.cache.parent / CHECKPOINT
    if args.export_only:
        saved = torch.load(checkpoint)
        model, result = VAE(), saved["result"]
        model.load_state_dict(saved["model"])
        model.eval()
    else:
        model, result = train(train_images, validation, args.epochs)
        result = {"epochs": args.epochs, **result}
        torch.save({"model": model.state_dict(), "result": result}, checkpoint)
    parameters = {part: sum(p.numel() for p in getattr(model, part).parameters()) for part in ("encoder", "decoder")}
    # A checkpoint saved before the objective was recorded: it is BCE + β·KL, as training minimised.
    result.setdefault("objective", result["validation_reconstruction"] + BETA * result["validation_kl"])
    print(
        f"best epoch {result['epoch']}: validation BCE + {BETA}·KL {result['objective']:.2f}, "
        f"loss {result['validation_loss']:.2f} per image "
        f"(BCE {result['validation_reconstruction']:.2f} + KL {result['validation_kl']:.2f}), "
        f"reconstruction MSE {result['validation_mse']:.5f}; {result['seconds']:.0f} s of training",
        flush=True,
    )
    print(f"parameters: encoder {parameters['encoder']:,}, decoder {parameters['decoder']:,}")

    args.out.mkdir(parents=True, exist_ok=True)
    paths = {name: args.out / f"{name}.onnx" for name in ("decoder", "encoder")}
    trials = {name: path.with_suffix(".onnx.part") for name, path in paths.items()}
    mu, cholesky = fit_prior(model, train_images)
    spread = torch.linalg.eigvalsh(cholesky.double() @ cholesky.double().T)
    print(f"prior: |μ| {float(mu.norm()):.2f}, covariance eigenvalues {float(spread.min()):.3f} to {float(spread.max()):.3f}")
    graphs = DecoderGraph(model, mu, cholesky).eval(), EncoderGraph(model, mu, cholesky).eval()
    export(*graphs, trials["decoder"], trials["encoder"])  # checked before they replace what is there
    difference = check_export(*graphs, trials["decoder"], trials["encoder"], validation)
    sizes = ", ".join(f"{name} {trial.stat().st_size / 1e6:.2f} MB" for name, trial in trials.items())
    print(f"exported {sizes}; ONNX vs torch differ by at most {difference:.2e}")
    if difference > TOLERANCE:
        for trial in trials.values():
            trial.unlink()
        raise SystemExit("the exported graphs do not match the trained model; nothing was replaced")
    for name, trial in trials.items():
        os.replace(trial, paths[name])
    write_manifest(args.out, len(train_index), len(validation_index), result)
    if args.preview:
        preview(paths["decoder"], paths["encoder"], validation, args.preview)


if __name__ == "__main__":
    main()
