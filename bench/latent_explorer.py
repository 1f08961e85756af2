"""The Explorer's pictures: how fast a latent generator answers, beside torch and the bare graph.

    python bench/latent_explorer.py [--rounds 5] [--torch-python PYTHON]
    python bench/latent_explorer.py --smoke     # one round on a tiny fixture: checks the benchmark works

On the built-in Emoji VAE (``resources/models/emoji-vae``), medians over rounds:

  grid      a 3 x 3 grid of variations as the Explorer makes it: nine jobs through studio's
            JobRunner, each the generator with its ``latent`` set, checked and enlarged to a
            128 px thumbnail;
  morph     24 frames as ``studio explore`` makes them (jobs one after another, 256 px);
  bare      the same nine latents through the decoder graph alone, one onnxruntime call
            (batch 9): what this machine needs for the pictures themselves;
  torch     the same weights in torch (the recipe's ``DecoderGraph``, weights read back from
            the ONNX initializers by name), batch 9, in a subprocess run by a python with torch
            (``--torch-python``): this process never imports torch. Its pictures must equal
            onnxruntime's (checked, within 1e-4).

Ratios: grid / bare is what the Explorer adds to the model (jobs, checks, enlarging); torch /
bare is how the graph runs in onnxruntime against torch eager on the same machine and threads.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import FIXTURES, TORCH_PYTHON_HELP, default_torch_python, median_time, reference_skipped  # bench/ is on sys.path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
FOLDER = REPO / "resources" / "models" / "emoji-vae"
SMOKE_FOLDER = FIXTURES / "latent" / "vae"
GRID, FRAMES = 9, 24


def latents(size: int, count: int, seed: int = 7):
    import numpy as np

    return np.random.default_rng(seed).standard_normal((count, size)).astype(np.float32)


# -- torch worker (a python with torch) -------------------------------------------------------


def torch_worker(settings: dict) -> dict:
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    sys.path.insert(0, str(REPO / "plugins" / "latent"))
    import recipe  # the recipe's own model classes

    torch.set_num_threads(settings["threads"])
    torch.set_num_interop_threads(1)
    torch.set_grad_enabled(False)
    folder = Path(settings["folder"])
    stored = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(folder / "decoder.onnx")).graph.initializer}
    size = settings["size"]
    graph = recipe.DecoderGraph(recipe.VAE(), torch.zeros(size), torch.eye(size)).eval()
    state = graph.state_dict()
    # Batch norm's step counter is not a weight (nothing in the graph reads it).
    missing = [name for name in state if name not in stored and not name.endswith("num_batches_tracked")]
    if missing:
        raise SystemExit(f"the decoder graph's weights are not all in decoder.onnx by name (e.g. {missing[:3]})")
    graph.load_state_dict({name: torch.from_numpy(stored[name].copy()) if name in stored else value for name, value in state.items()})
    z = torch.from_numpy(latents(settings["size"], GRID))
    pictures = graph(z)  # warm-up
    times = []
    for _ in range(settings["rounds"]):
        begin = time.perf_counter()
        pictures = graph(z)
        times.append(time.perf_counter() - begin)
    return {"seconds": statistics.median(times), "pictures": np.asarray(pictures).tolist(), "torch": torch.__version__}


# -- our side ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--torch-python", default=default_torch_python(), help=TORCH_PYTHON_HELP)
    parser.add_argument("--smoke", action="store_true", help="one round on a tiny fixture VAE: checks that the benchmark works")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(torch_worker(json.loads(args.worker))))
        return
    folder = SMOKE_FOLDER if args.smoke else FOLDER
    rounds = 1 if args.smoke else args.rounds

    import numpy as np

    from studio.core.engine.jobs import JobRunner
    from studio.core.engine.latent_values import recorded
    from studio.core.engine.runtime import Runtime
    from studio_plugins.latent.generator import LatentGenerator

    runtime = Runtime()
    runner = JobRunner(runtime)
    generator = LatentGenerator(folder, "latent:bench")
    size = generator.latent_space.size
    side = max(generator.model.image_size)
    grid_latents, morph_latents = latents(size, GRID), latents(size, FRAMES, seed=8)

    def pictures(batch, scale: int) -> list:
        jobs = [runner.submit(generator, generator.request({"latent": recorded(z), "scale": scale, "seed": 0})) for z in batch]
        for job in jobs:
            job.wait()
            assert job.result is not None, job.message
        return [job.result.value for job in jobs]

    thumbnail = generator.latent_space.thumbnail_params["scale"]
    grid_s, _ = median_time(lambda: pictures(grid_latents, thumbnail), rounds)
    morph_s, _ = median_time(lambda: pictures(morph_latents, max(1, 256 // side)), rounds)
    session = runtime.session(generator.model.files["decoder"]).session
    bare_s, ours = median_time(lambda: session.run(None, {"z": grid_latents})[0], rounds)
    runner.shutdown()

    rows = [
        (f"grid of {GRID} (Explorer: {GRID} jobs, {side * thumbnail} px)", grid_s, ""),
        (f"morph of {FRAMES} frames (jobs, {side * max(1, 256 // side)} px)", morph_s, ""),
        (f"bare onnxruntime, batch {GRID}", bare_s, ""),
    ]
    torch_s = None
    skipped = reference_skipped(args.torch_python)
    worker = {"folder": str(folder), "size": size, "rounds": rounds, "threads": runtime.cpu_threads}
    try:
        if skipped:
            raise OSError(skipped)
        out = subprocess.run([args.torch_python, str(HERE), "--worker", json.dumps(worker)], capture_output=True, text=True, check=True)
        reference = json.loads(out.stdout.strip().splitlines()[-1])
        torch_s = reference["seconds"]
        difference = float(np.abs(np.asarray(reference["pictures"], np.float32) - ours).max())
        rows.append((f"torch {reference['torch']} eager, batch {GRID}", torch_s, f"pictures differ from ours by {difference:.1e} at most"))
    except (OSError, subprocess.CalledProcessError) as exc:
        skipped = str(getattr(exc, "stderr", "") or exc).strip().splitlines()[-1]
        rows.append(("torch eager", float("nan"), f"torch side skipped: {skipped}"))

    print(f"latent explorer: {generator.model.title} ({folder.name}), latent {size}, {side} px pictures; "
          f"median of {rounds}; {runtime.cpu_threads} thread(s) for onnxruntime and torch")
    print(f"{'':48s} {'ms':>9s} {'ms/picture':>11s}  note")
    for name, seconds, note in rows:
        count = FRAMES if name.startswith("morph") else GRID
        print(f"{name:48s} {seconds * 1000:9.2f} {seconds * 1000 / count:11.2f}  {note}")
    print()
    print(f"{'ratio':48s} {'x':>9s}")
    print(f"{'grid/bare (what the Explorer adds)':48s} {grid_s / bare_s:9.2f}")
    if torch_s is not None:
        print(f"{'torch/bare (onnxruntime vs torch eager)':48s} {torch_s / bare_s:9.2f}")
        print(f"{'torch/grid (the Explorer, jobs and all, vs torch)':48s} {torch_s / grid_s:9.2f}")
    print(f"a grid of variations appears {grid_s * 1000:.0f} ms after Vary; a {FRAMES}-frame morph takes {morph_s:.2f} s")


if __name__ == "__main__":
    main()
