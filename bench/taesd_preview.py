"""Step previews: TAESD's decode against the VAE's, at 512 x 512, in onnxruntime and in diffusers.

    python bench/build_taesd_bench_models.py        # once, with a python that has torch and diffusers
    python bench/taesd_preview.py [--runs 3]
    python bench/taesd_preview.py --smoke           # the tiny test decoders at 64 px: checks the script

A Stable Diffusion step preview decodes the predicted clean latents. Decoding them with the VAE
costs about as much as a UNet step; TAESD (plugins/stable_diffusion/taesd.py) is meant to be
about 40 times cheaper. Both decoders have their real shapes (SD 1.5's VAE, madebyollin's TAESD)
with random weights: speed depends on shapes, not weights. Each is timed in onnxruntime (the
session Studio makes, CPU, every core) on one (1, 4, 64, 64) latent, the median of ``--runs``
after a warm-up; diffusers' own decode times, measured by the builder, are the reference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import FIXTURES, bench_folder, no_model  # noqa: E402  (bench/ is the script's folder: on sys.path)
from studio.core.engine.runtime import Runtime, all_cores  # noqa: E402


def seconds(runtime: Runtime, path: Path, side: int, runs: int) -> float:
    session = runtime.session(path).session
    latents = np.random.default_rng(0).standard_normal((1, 4, side // 8, side // 8)).astype(np.float32)
    feed = {session.get_inputs()[0].name: latents}
    session.run(None, feed)  # warm-up: first-run allocations
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=bench_folder("taesd"), help="what build_taesd_bench_models.py wrote")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="the tiny test decoders at 64 px")
    args = parser.parse_args(argv)
    if args.smoke:
        vae, taesd, side, runs, reference = FIXTURES / "sd" / "models" / "sd1" / "vae_decoder" / "model.onnx", FIXTURES / "sd" / "taesd" / "vae_decoder" / "model.onnx", 64, 2, None
    else:
        vae, taesd, side, runs = args.folder / "vae_decoder" / "model.onnx", args.folder / "taesd" / "vae_decoder" / "model.onnx", 512, args.runs
        if not (vae.is_file() and taesd.is_file()):
            raise no_model(args.folder, "python bench/build_taesd_bench_models.py   # a python with torch and diffusers")
        reference = json.loads((args.folder / "torch.json").read_text()) if (args.folder / "torch.json").is_file() else None
    runtime = Runtime(cpu_threads=all_cores())
    ours = {"vae": seconds(runtime, vae, side, max(1, runs)), "taesd": seconds(runtime, taesd, side, max(3, runs * 3))}
    print(f"\nDecoding one step preview at {side} x {side} (CPU, {all_cores()} threads)\n")
    print(f"{'':22}{'VAE (s)':>10}{'TAESD (s)':>12}{'x cheaper than the VAE':>26}")
    print(f"{'onnxruntime (ours)':22}{ours['vae']:>10.3f}{ours['taesd']:>12.4f}{ours['vae'] / ours['taesd']:>26.1f}")
    if reference:
        print(f"{'diffusers (torch)':22}{reference['vae']:>10.3f}{reference['taesd']:>12.4f}{reference['vae'] / reference['taesd']:>26.1f}")
        print(f"{'ours / diffusers':22}{ours['vae'] / reference['vae']:>10.2f}{ours['taesd'] / reference['taesd']:>12.2f}")
    else:
        print("reference skipped: " + ("--smoke has no torch copy of the tiny decoders" if args.smoke else "no torch.json (run the builder again)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
