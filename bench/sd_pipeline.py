"""Stable Diffusion: our pipeline beside diffusers' on the same weights, and beside the bare UNet.

    python bench/sd_pipeline.py                        # 256 and 512 px, 4 steps: ~8 minutes here
    python bench/sd_pipeline.py --rounds 2 --sizes 512 # more samples where it matters

    python bench/sd_pipeline.py --smoke                # the tiny test model in a scratch folder: checks the script

Needs the SD 1.5-shaped benchmark model (random weights, about 8.6 GB outside the repo):
``python bench/build_sd_bench_models.py``, run with a python that has torch and diffusers,
builds it into <temp>/studio-bench/sd (``--models`` elsewhere); without it the run stops
(exit 2) with that command. The fused UNet is made beside it on the first run
(models/optimized, 3.4 GB, seconds) and reused.

One run prints, per picture size, seconds per denoising step and per image, model loading time
and peak memory (the process's resident high-water mark) for:

  diffusers    StableDiffusionPipeline in torch on the same weights, run in a subprocess
               with the fixtures venv's python (``--torch-python``), so this process and the
               app's venv never import torch;
  ours         StableDiffusionGenerator through studio's JobRunner, as the app runs it, with
               the UNet as exported ("original") and as plugins/stable_diffusion/optimize.py
               fuses it ("fused");
  bare         the same onnxruntime sessions called directly with the same inputs: the text
               encoder twice, the UNet once per step, the VAE decoder once. Our overhead is
               ours / bare - 1;
  floor        the physical limit: the UNet's FLOPs (counted by torch on the real modules)
               at the best fp32 MatMul rate onnxruntime reaches on this machine.

Each step is one batch-2 UNet call (guidance 7.5: unconditional and conditional together).
A step's time is the interval between consecutive step-end events (steps 2..N), so all
variants are timed alike; an image is prompt to pixels, model loading excluded. torch and
onnxruntime get the same number of threads (``--threads``). The machine is shared and noisy:
each variant runs in its own process, one after another (never two at once), the order
reversed every round; inside our processes bare and pipeline runs alternate. Figures are
medians over every sample.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

from machine import (FIXTURES, TORCH_PYTHON_HELP, bench_folder, default_torch_python, log, no_model, peak_rss_gb,  # bench/ is the
                     reference_skipped, run_worker)  # script's folder: on sys.path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
DEFAULT_MODELS = bench_folder("sd")
BUILD = f"python bench/build_sd_bench_models.py --out {DEFAULT_MODELS}   (a python with torch, diffusers, transformers, onnx)"
SMOKE_MODEL = FIXTURES / "sd" / "models" / "sd1"
PROMPT = "a lighthouse on a cliff at dusk, oil painting, dramatic sky"
GUIDANCE = 7.5
SEED = 0
GOAL_RATIO_512 = 1.0
GOAL_OVERHEAD = 0.05


# -- measuring inside a worker process -----------------------------------------------------------




def step_intervals(stamps: list[float]) -> list[float]:
    """Seconds between consecutive step ends: steps 2..N (step 1 has no start mark)."""
    return [b - a for a, b in zip(stamps, stamps[1:])]


def torch_worker(config: dict) -> dict:
    """diffusers' own pipeline on the torch weights (runs under the fixtures venv)."""
    import torch
    from diffusers import StableDiffusionPipeline

    torch.set_num_threads(config["threads"])
    torch.set_num_interop_threads(1)
    started = time.perf_counter()
    pipe = StableDiffusionPipeline.from_pretrained(
        Path(config["models"]) / "torch", torch_dtype=torch.float32, safety_checker=None, requires_safety_checker=False
    )
    pipe.set_progress_bar_config(disable=True)
    result = {"load_s": time.perf_counter() - started, "sizes": {}, "version": f"torch {torch.__version__}, diffusers {__import__('diffusers').__version__}"}

    def image(size: int, steps: int) -> tuple[float, list[float]]:
        stamps: list[float] = []

        def on_step_end(_pipe, _index, _timestep, kwargs):
            stamps.append(time.perf_counter())
            return kwargs

        begin = time.perf_counter()
        with torch.inference_mode():
            pipe(PROMPT, height=size, width=size, num_inference_steps=steps, guidance_scale=GUIDANCE,
                 generator=torch.Generator().manual_seed(SEED), output_type="np", callback_on_step_end=on_step_end)
        return time.perf_counter() - begin, step_intervals(stamps)

    def unet_flops(size: int) -> float:
        """FLOPs of one guided (batch 2) UNet call, counted by torch on the real modules."""
        from torch.utils.flop_counter import FlopCounterMode

        latent = size // 8
        args = (torch.randn(2, 4, latent, latent), torch.tensor([500.0, 500.0]), torch.randn(2, 77, 768))
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            pipe.unet(*args)
        return float(counter.get_total_flops())

    for size in config["sizes"]:
        flops = unet_flops(size)  # doubles as the warm-up of the UNet at this size
        image(size, 1)  # warm-up: first-call allocations and kernel choices
        entry = {"image_s": [], "step_s": [], "unet_flops": flops}
        for _ in range(config["images"]):
            seconds, steps = image(size, config["steps"])
            entry["image_s"].append(seconds)
            entry["step_s"] += steps
        entry["peak_gb"] = peak_rss_gb()
        result["sizes"][str(size)] = entry
        log(f"diffusers {size}px: {entry}")
    return result


def ours_worker(config: dict) -> dict:
    """Our generator through the JobRunner, alternating with bare calls of the same sessions."""
    import numpy as np

    from studio.core.engine.generators import Progress
    from studio.core.engine.jobs import JobRunner, JobState
    from studio.core.engine.onnx_import import import_onnxruntime
    from studio.core.engine.runtime import CPU_DEVICE, Runtime
    from studio_plugins.stable_diffusion.generator import StableDiffusionLoader
    from studio_plugins.stable_diffusion.layout import SDModel

    onnxruntime = import_onnxruntime()

    folder = Path(config["folder"])
    runtime = Runtime(cpu_threads=config["threads"])
    model = SDModel.read(folder)
    started = time.perf_counter()
    sessions = {part: runtime.session(model.path(part), CPU_DEVICE).session for part in ("text_encoder", "unet", "vae_decoder")}
    load_s = time.perf_counter() - started
    generator = StableDiffusionLoader().load(folder)
    runner = JobRunner(runtime)
    result = {"load_s": load_s, "sizes": {}, "version": f"onnxruntime {onnxruntime.__version__}"}

    def pipeline_image(size: int, steps: int) -> tuple[float, list[float]]:
        stamps: list[float] = []

        def listener(job, event) -> None:  # on the worker thread, as the UI's bridge is
            if isinstance(event, Progress) and event.message.startswith("Step"):
                stamps.append(time.perf_counter())

        request = generator.request({"prompt": PROMPT, "steps": steps, "guidance": GUIDANCE, "scheduler": "euler",
                                     "seed": SEED, "width": size, "height": size})
        begin = time.perf_counter()
        job = runner.submit(generator, request, listeners=[listener])
        job.wait()
        seconds = time.perf_counter() - begin
        if job.state is not JobState.FINISHED:
            raise SystemExit(f"our pipeline failed at {size}px: {job.message}")
        return seconds, step_intervals(stamps)

    rng = np.random.default_rng(SEED)
    encoder, unet, decoder = sessions["text_encoder"], sessions["unet"], sessions["vae_decoder"]
    ids_type = np.int32 if encoder.get_inputs()[0].type == "tensor(int32)" else np.int64
    ids = np.full((1, 77), 49407, ids_type)
    ids[0, 0] = 49406
    timestep_shape = unet.get_inputs()[1].shape
    unet_output = unet.get_outputs()[0].name

    def bare_image(size: int, steps: int) -> tuple[float, list[float]]:
        """What the pipeline must do at the least: the same session calls, nothing between."""
        latent = size // 8
        feeds = {
            "sample": rng.standard_normal((2, 4, latent, latent), dtype=np.float32),
            "timestep": np.full([2] if len(timestep_shape) else [], 500.0, np.float32),
        }
        begin = time.perf_counter()
        hidden = [encoder.run(None, {"input_ids": ids})[0] for _ in range(2)]  # negative, positive
        feeds["encoder_hidden_states"] = np.concatenate(hidden)
        step_times = []
        for _ in range(steps):
            mark = time.perf_counter()
            unet.run([unet_output], feeds)
            step_times.append(time.perf_counter() - mark)
        decoder.run(None, {"latent_sample": feeds["sample"][:1]})
        return time.perf_counter() - begin, step_times[1:]  # steps 2..N, as for the pipelines

    result["matmul_gflops"] = matmul_gflops(runtime, side=256, runs=1) if config.get("smoke") else matmul_gflops(runtime)
    for size in config["sizes"]:
        # Warm-up of both paths: first-call allocations (the first timed run after a lone
        # pipeline warm-up still came out 10 % slow at 256 px, whichever path it was).
        pipeline_image(size, 1)
        bare_image(size, 2)
        entry = {"image_s": [], "step_s": [], "bare_image_s": [], "bare_step_s": []}
        for index in range(config["images"]):
            runs = [("bare_", bare_image), ("", pipeline_image)]
            for prefix, run in runs if index % 2 == 0 else runs[::-1]:
                seconds, steps = run(size, config["steps"])
                entry[prefix + "image_s"].append(seconds)
                entry[prefix + "step_s"] += steps
        entry["peak_gb"] = peak_rss_gb()
        result["sizes"][str(size)] = entry
        log(f"{config['variant']} {size}px: {entry}")
    runner.shutdown()
    return result


def matmul_gflops(runtime, side: int = 2048, runs: int = 5) -> float:
    """The machine's fp32 compute ceiling as onnxruntime reaches it: the best of a few big
    MatMuls on the same threads and session options as the pipeline's."""
    import numpy as np
    from onnx import TensorProto, helper

    from studio.core.engine.runtime import CPU_DEVICE

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])], "matmul",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [side, side]) for n in ("a", "b")],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [side, side])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)  # what onnxruntime reads
    ort = runtime.ort
    session = ort.InferenceSession(model.SerializeToString(), runtime.session_options(CPU_DEVICE), providers=["CPUExecutionProvider"])
    feeds = {n: np.random.default_rng(0).standard_normal((side, side), dtype=np.float32) for n in ("a", "b")}
    session.run(None, feeds)
    best = float("inf")
    for _ in range(runs):
        begin = time.perf_counter()
        session.run(None, feeds)
        best = min(best, time.perf_counter() - begin)
    return 2 * side**3 / best / 1e9




# -- orchestration (the app's venv: never imports torch) ---------------------------------------


def fused_view(models: Path) -> tuple[Path, dict]:
    """A model folder like ``models/onnx`` whose UNet is the fused copy (made once, cached)."""
    from studio_plugins.stable_diffusion.optimize import optimized_unet

    source = models / "onnx"
    started = time.perf_counter()
    fused = optimized_unet(source / "unet" / "model.onnx", models / "optimized")
    seconds = time.perf_counter() - started
    # Hard links, not symbolic ones: Studio refuses a model file that links out of its folder.
    view = models / "onnx-fused"
    if view.exists():
        shutil.rmtree(view)  # only links: cheap to make again, and never stale
    shutil.copytree(source, view, copy_function=os.link, ignore=lambda folder, names: ["unet"] if Path(folder) == source else [])
    unet = view / "unet"
    unet.mkdir()
    for item in fused.parent.iterdir():  # the fused graph and its external data, under their own names
        if item.is_file() and item.suffix != ".json":
            os.link(item, unet / item.name)
    if fused.name != "model.onnx":
        os.link(fused, unet / "model.onnx")
    if (source / "unet" / "config.json").is_file():
        os.link(source / "unet" / "config.json", unet / "config.json")
    info = json.loads((fused.parent / "optimized.json").read_text())
    info["seconds"] = seconds
    return view, info




def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(results: dict[str, list[dict]], config: dict, fusion: dict) -> str:
    sizes = [str(s) for s in config["sizes"]]
    lines = []
    lines.append(
        f"Stable Diffusion 1.5-shaped model (860 M-parameter UNet, random weights), {config['steps']} steps of euler, "
        f"guidance {GUIDANCE} (each step one batch-2 UNet call); {config['threads']} threads for torch and onnxruntime alike"
    )
    lines.append(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared; load average now {os.getloadavg()[0]:.1f}); "
        f"medians of {config['rounds']} round(s) x {config['images']} image(s); a step = steps 2..{config['steps']}"
    )
    lines.append(f"fused UNet: {fusion.get('fused')} ({fusion['seconds']:.1f} s to get it now; made once per model)")
    samples = {v: len([x for run in results[v] for x in run["sizes"][str(config['sizes'][-1])]["step_s"]]) for v in results}
    lines.append(f"step samples per variant and size: {samples}")
    lines.append("")
    header = f"{'size':>5}  {'variant':<26} {'s/step':>7} {'s/image':>8} {'load s':>7} {'peak GB':>8}  {'ours/diffusers step, image':>27}  {'overhead vs bare step, image':>29}"
    lines.append(header)
    lines.append("-" * len(header))
    summary = []
    for size in sizes:
        def gather(variant: str, key: str) -> list[float]:
            return [v for run in results[variant] for v in run["sizes"][size][key]]

        def peak(variant: str) -> float:
            return max(run["sizes"][size]["peak_gb"] for run in results[variant])

        def load(variant: str) -> float:
            return median([run["load_s"] for run in results[variant]])

        reference = bool(results.get("diffusers"))
        ref_step, ref_image = (median(gather("diffusers", "step_s")), median(gather("diffusers", "image_s"))) if reference else (float("nan"),) * 2
        flops = results["diffusers"][0]["sizes"][size]["unet_flops"] if reference else float("nan")  # counted by torch
        gflops = max(run["matmul_gflops"] for variant in ("original", "fused") for run in results[variant])
        floor = flops / (gflops * 1e9)
        if reference:
            lines.append(f"{size:>5}  {'diffusers (torch)':<26} {ref_step:>7.2f} {ref_image:>8.2f} {load('diffusers'):>7.1f} {peak('diffusers'):>8.2f}  {'1.00, 1.00':>27}")
        else:
            lines.append(f"{size:>5}  {'diffusers (torch)':<26} {fusion.get('reference_note', 'reference skipped')}")
        for variant, label in (("original", "ours, UNet as exported"), ("fused", "ours, fused UNet")):
            step, image = median(gather(variant, "step_s")), median(gather(variant, "image_s"))
            bare_step, bare_image = median(gather(variant, "bare_step_s")), median(gather(variant, "bare_image_s"))
            ratio = f"{step / ref_step:.2f}, {image / ref_image:.2f}"
            overhead = f"{(step / bare_step - 1) * 100:+.1f} %, {(image / bare_image - 1) * 100:+.1f} %"
            lines.append(f"{size:>5}  {label:<26} {step:>7.2f} {image:>8.2f} {load(variant):>7.1f} {peak(variant):>8.2f}  {ratio:>27}  {overhead:>29}")
            lines.append(f"{size:>5}  {'  bare sessions, same':<26} {bare_step:>7.2f} {bare_image:>8.2f} {'':>7} {'(same)':>8}")
            summary.append((size, variant, step / ref_step, image / ref_image, step / bare_step - 1, image / bare_image - 1))
        lines.append(f"{size:>5}  {'  compute floor':<26} {floor:>7.2f} {'':>8} {'':>7} {'':>8}  "
                     f"{flops / 1e9:,.0f} GFLOP per step at {gflops:.0f} GFLOP/s (best fp32 MatMul here)")
        fastest = min(median(gather(v, "step_s")) for v in ("original", "fused"))
        lines.append(f"{size:>5}  {'':<26} our fastest step runs at {floor / fastest * 100:.0f} % of that floor; diffusers at {floor / ref_step * 100:.0f} %")
    lines.append("")
    lines.append(f"Goals: ours/diffusers <= {GOAL_RATIO_512:.2f} at 512 px; overhead vs the bare session <= {GOAL_OVERHEAD * 100:.0f} %.")
    for size, variant, step_ratio, image_ratio, step_over, image_over in summary:
        if size == "512":
            verdict = "met" if max(step_ratio, image_ratio) <= GOAL_RATIO_512 else "NOT met"
            lines.append(f"  512 px, {variant} UNet: speed goal {verdict} (step {step_ratio:.2f}, image {image_ratio:.2f})")
        verdict = "met" if max(step_over, image_over) <= GOAL_OVERHEAD else "NOT met"
        lines.append(f"  {size} px, {variant} UNet: overhead goal {verdict} (step {step_over * 100:+.1f} %, image {image_over * 100:+.1f} %)")
    lines.append("Peak memory is each process's resident high-water mark after that size (sizes run smallest first);")
    lines.append("'ours' processes also ran the bare calls, on the same sessions.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Stable Diffusion: ours vs diffusers vs the bare UNet session")
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS, help=f"built by bench/build_sd_bench_models.py (default {DEFAULT_MODELS})")
    parser.add_argument("--torch-python", default=default_torch_python(), help=TORCH_PYTHON_HELP)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--images", type=int, default=2, help="timed images per size in each process (bare and ours alternate who goes first)")
    parser.add_argument("--rounds", type=int, default=1, help="processes per variant, order reversed each round")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, help="also write every sample here")
    parser.add_argument("--smoke", action="store_true", help="the tiny test model (copied to a scratch folder), 64 px, 2 steps: checks that the benchmark works")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        config = json.loads(args.worker)
        work = torch_worker if config["variant"] == "diffusers" else ours_worker
        print(json.dumps(work(config)), flush=True)
        return 0

    skipped = reference_skipped(args.torch_python)
    if args.smoke:  # the fused UNet and its view are written beside the model: never into tests/fixtures
        import tempfile

        args.models = Path(tempfile.mkdtemp(prefix="studio-sd-smoke-"))
        shutil.copytree(SMOKE_MODEL, args.models / "onnx")
        (args.models / "build.json").write_text("{}")
        args.sizes, args.steps, args.images, args.rounds, args.threads = [64], 2, 1, 1, 1
        skipped = "reference skipped: --smoke has no torch/ copy of the tiny model"
    models = args.models.resolve()
    if not (models / "build.json").is_file():
        raise no_model(models, BUILD)
    if args.steps < 2:
        parser.error("--steps must be at least 2 (a step is timed from the end of the one before)")
    sizes = sorted(args.sizes)
    view, fusion = fused_view(models)
    fusion["reference_note"] = skipped
    base = {"models": str(models), "sizes": sizes, "steps": args.steps, "images": args.images, "threads": args.threads, "smoke": args.smoke}
    variants = [
        ("original", sys.executable, {"folder": str(models / "onnx")}),
        ("fused", sys.executable, {"folder": str(view)}),
    ]
    if not skipped:
        variants.insert(0, ("diffusers", args.torch_python, {}))
    results: dict[str, list[dict]] = {name: [] for name, _, _ in variants}
    for round_index in range(args.rounds):
        for name, python, extra in variants if round_index % 2 == 0 else variants[::-1]:
            log(f"round {round_index + 1}/{args.rounds}: {name}")
            results[name].append(run_worker(HERE, python, {**base, **extra, "variant": name}))
    config = {**base, "rounds": args.rounds}
    if args.json:
        args.json.write_text(json.dumps({"config": config, "fusion": fusion, "results": results}, indent=1))
    print(table(results, config, fusion))
    print(f"versions: {results['diffusers'][0]['version'] if results.get('diffusers') else 'torch: skipped'}; {results['original'][0]['version']}")
    if args.smoke:
        shutil.rmtree(models)  # the scratch copy and its fused UNet
    return 0


if __name__ == "__main__":
    sys.exit(main())
