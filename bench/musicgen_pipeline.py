"""MusicGen: our numpy + onnxruntime pipeline beside transformers' torch ``generate()``.

    python bench/musicgen_pipeline.py                       # 5 s of audio, 2 threads, guidance 3
    python bench/musicgen_pipeline.py --seconds 2 --rounds 2 --model /path/to/musicgen-folder
    python bench/musicgen_pipeline.py --smoke               # the tiny test model: checks the script works

The model: musicgen-small's shapes with random weights, built outside the repo by
``python bench/build_musicgen_bench_models.py`` in a venv with optimum-onnx and torch
(<temp>/studio-bench/musicgen/musicgen-small-random: the ONNX layout and ``torch/``, the same
weights). Without it the run stops (exit 2) with that command.

One run prints, after a warm-up generation each, for the same duration, sampling settings
(guidance 3, top-k 250, temperature 1: batch 2, as the app runs it) and thread count:

  torch  ``MusicgenForConditionalGeneration.generate`` in a subprocess with the optimum venv's
         python (``--torch-python``; the transformers that exported the model): this process
         never imports torch;
  ours   plugins/musicgen's generator through studio's JobRunner, as the app and CLI run it;

the real-time factor (seconds of audio per second of compute, text encoding and EnCodec
included; above 1 is faster than real time), decoder steps/s (from per-step timestamps) and the
median step time (robust to stalls caused by other processes on a shared machine), each
process's peak resident memory, and the physical limit: every decoder step reads the weights of
the cached decoder once (both guidance rows share the read), so steps/s cannot pass (memory
bandwidth) / (bytes read per step). Bandwidth is measured here (numpy copy, best of 5); the
bytes are the initializers the merged decoder's cache branch uses, except gather-only tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from machine import (FIXTURES, TORCH_PYTHON_HELP, bandwidth_gbs, bench_folder, default_torch_python, log, no_model,  # bench/ is the
                     peak_rss_gb, reference_skipped, run_worker)  # script's folder: on sys.path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
DEFAULT_MODEL = bench_folder("musicgen", "musicgen-small-random")
BUILD = f"python bench/build_musicgen_bench_models.py --out {bench_folder('musicgen')}   (a venv with optimum-onnx and torch)"
SMOKE_MODEL = FIXTURES / "musicgen" / "model"
PROMPT = "lofi hip hop beat with warm piano and soft drums"
SETTINGS = {"guidance_scale": 3.0, "top_k": 250, "temperature": 1.0}






def steps_per_s(stamps: list[float]) -> float:
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else 0.0


def median_step_ms(stamps: list[float]) -> float:
    """The median time between steps: what a step costs when no other process gets in the way
    (this machine is shared: a stall of another worker's making shows in the mean, not here)."""
    gaps = sorted(b - a for a, b in zip(stamps, stamps[1:]))
    return gaps[len(gaps) // 2] * 1e3 if gaps else 0.0


# -- torch worker (optimum venv) ---------------------------------------------------------------


def torch_worker(config: dict) -> dict:
    import torch
    import transformers
    from transformers import LogitsProcessor, LogitsProcessorList, MusicgenForConditionalGeneration, T5TokenizerFast

    torch.set_num_threads(config["threads"])
    checkpoint = Path(config["folder"]) / "torch"
    model = MusicgenForConditionalGeneration.from_pretrained(str(checkpoint)).eval()
    tokenizer = T5TokenizerFast.from_pretrained(str(checkpoint))
    inputs = tokenizer(PROMPT, return_tensors="pt")
    rate = model.config.audio_encoder.sampling_rate

    class Stamp(LogitsProcessor):
        """Called once per decoder step: the time each step's logits arrive."""

        def __init__(self) -> None:
            self.stamps: list[float] = []

        def __call__(self, input_ids, scores):
            self.stamps.append(time.perf_counter())
            return scores

    def once(steps: int) -> dict:
        stamp = Stamp()
        torch.manual_seed(0)
        begin = time.perf_counter()
        with torch.no_grad():
            audio = model.generate(**inputs, do_sample=True, max_new_tokens=steps, logits_processor=LogitsProcessorList([stamp]), **SETTINGS)
        seconds = time.perf_counter() - begin
        audio_s = audio.shape[-1] / rate
        return {"compute_s": seconds, "audio_s": audio_s, "rtf": audio_s / seconds, "steps": len(stamp.stamps), "steps_per_s": steps_per_s(stamp.stamps),
                "median_step_ms": median_step_ms(stamp.stamps)}

    once(8)  # warm-up
    runs = [once(config["steps"]) for _ in range(config["rounds"])]
    return {"runs": runs, "peak_gb": peak_rss_gb(), "version": f"torch {torch.__version__}, transformers {transformers.__version__}"}


# -- our worker (app venv) -----------------------------------------------------------------------


def cache_branch_bytes(path: Path) -> int:
    """Bytes of the initializers the cached branch of a merged decoder reads per step."""
    import onnx

    model = onnx.load(str(path), load_external_data=True)
    sizes = {i.name: onnx.numpy_helper.to_array(i).nbytes for i in model.graph.initializer}

    def uses(graph, ops: dict) -> dict:
        for node in graph.node:
            for name in node.input:
                ops.setdefault(name, set()).add(node.op_type)
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    uses(attribute.g, ops)
        return ops

    branches = [a.g for node in model.graph.node if node.op_type == "If" for a in node.attribute if a.type == onnx.AttributeProto.GRAPH]
    totals = []
    for branch in branches or [model.graph]:
        ops = uses(branch, {})
        totals.append(sum(size for name, size in sizes.items() if name in ops and ops[name] != {"Gather"}))
    return min(totals)  # the cache branch skips the cross-attention key/value projections


def ours_worker(config: dict) -> dict:
    import studio
    from studio.core.engine.jobs import JobRunner, JobState
    from studio.core.engine.onnx_import import import_onnxruntime
    from studio.core.engine.runtime import Runtime
    from studio_plugins.musicgen.generator import MusicGenLoader

    onnxruntime = import_onnxruntime()

    folder = Path(config["folder"])
    runner = JobRunner(Runtime(cpu_threads=config["threads"]))
    generator = MusicGenLoader().load(folder)

    def once(seconds: float) -> dict:
        stamps: list[float] = []

        def listen(job, event):
            if isinstance(event, studio.Progress) and event.message == "Composing…":
                stamps.append(time.perf_counter())

        settings = {**SETTINGS, "top_k": min(SETTINGS["top_k"], int(generator.param("top_k").max))}  # as transformers clamps it
        request = generator.request({"prompt": PROMPT, "duration": seconds, "seed": 0, **settings})
        begin = time.perf_counter()
        job = runner.submit(generator, request, listeners=[listen])
        job.wait()
        elapsed = time.perf_counter() - begin
        if job.state is not JobState.FINISHED:
            raise SystemExit(f"our generation failed: {job.message}")
        audio_s = job.result.value.shape[0] / job.result.sample_rate
        return {"compute_s": elapsed, "audio_s": audio_s, "rtf": audio_s / elapsed, "steps": len(stamps),
                "steps_per_s": steps_per_s(stamps), "median_step_ms": median_step_ms(stamps), "provider": job.result.info["provider"]}

    begin = time.perf_counter()
    once(0.2)  # warm-up: creates the sessions (timed separately)
    load_s = time.perf_counter() - begin
    runs = [once(config["seconds"]) for _ in range(config["rounds"])]
    runner.shutdown()
    return {
        "runs": runs, "peak_gb": peak_rss_gb(), "load_s": load_s,
        "bytes_per_step": cache_branch_bytes(generator.model.onnx("decoder_model_merged.onnx")),
        "bandwidth_gbs": bandwidth_gbs(16, 1) if config.get("smoke") else bandwidth_gbs(), "version": f"onnxruntime {onnxruntime.__version__}",
    }




def best(runs: list[dict], key: str) -> float:
    return max(run[key] for run in runs)


def table(config: dict, torch_result: dict, ours_result: dict) -> list[str]:
    limit_steps = ours_result["bandwidth_gbs"] * 1e9 / ours_result["bytes_per_step"]
    steps = config["steps"]
    # The RTF if every step ran at the bandwidth limit (text encoder and EnCodec free).
    limit_rtf = config["seconds"] * limit_steps / steps
    lines = [
        f"{Path(config['folder']).name}: {ours_result['bytes_per_step'] / 1e9:.2f} GB read per decoder step; bandwidth "
        f"{ours_result['bandwidth_gbs']:.1f} GB/s -> limit {limit_steps:.1f} steps/s = real-time factor {limit_rtf:.3f}; "
        f"provider {ours_result['runs'][-1]['provider']}; our session loading (warm-up) {ours_result['load_s']:.1f} s",
    ]
    header = (f"  {'variant':<18} {'RTF':>7} {'compute s':>10} {'audio s':>8} {'steps':>6} {'steps/s':>8} {'median ms/step':>15} "
              f"{'peak GB':>8} {'of limit':>9}")
    lines += [header, "  " + "-" * (len(header) - 2)]
    if "error" in torch_result:
        lines.append(f"  torch: {torch_result['error']}")
    for label, result in (("torch generate()", torch_result), ("ours (JobRunner)", ours_result)):
        if "error" in result:
            continue
        run = max(result["runs"], key=lambda r: r["rtf"])
        lines.append(f"  {label:<18} {run['rtf']:>7.3f} {run['compute_s']:>10.1f} {run['audio_s']:>8.2f} {run['steps']:>6} "
                     f"{run['steps_per_s']:>8.2f} {run['median_step_ms']:>15.1f} {result['peak_gb']:>8.2f} {run['steps_per_s'] / limit_steps * 100:>8.0f} %")
    if "error" in torch_result:
        lines.append(f"  ours vs the bandwidth limit: {best(ours_result['runs'], 'rtf') / limit_rtf * 100:.0f} % of the limit's RTF; ours vs torch: skipped")
        return lines
    ratio = best(ours_result["runs"], "rtf") / best(torch_result["runs"], "rtf")
    step_ratio = best(ours_result["runs"], "steps_per_s") / best(torch_result["runs"], "steps_per_s")
    median_ratio = min(r["median_step_ms"] for r in torch_result["runs"]) / min(r["median_step_ms"] for r in ours_result["runs"])
    lines.append(f"  ours vs torch: real-time factor {ratio:.2f}x, decoder steps/s {step_ratio:.2f}x, median step {median_ratio:.2f}x faster; "
                 f"ours vs the bandwidth limit: {best(ours_result['runs'], 'rtf') / limit_rtf * 100:.0f} % of the limit's RTF")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="MusicGen: ours vs transformers' generate()")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--torch-python", default=default_torch_python(), help=TORCH_PYTHON_HELP)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="timed generations per variant (the best is shown)")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    parser.add_argument("--smoke", action="store_true", help="the tiny test model, 0.2 s of audio, 1 round: checks that the benchmark works")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke and not args.worker:
        args.model, args.seconds, args.rounds, args.threads = SMOKE_MODEL, 0.2, 1, 1

    if args.worker:
        config = json.loads(args.worker)
        work = torch_worker if config["variant"] == "torch" else ours_worker
        print(json.dumps(work(config)), flush=True)
        return 0

    if not (args.model / "config.json").is_file():
        raise no_model(args.model, BUILD)
    from studio_plugins.musicgen.layout import MusicGenModel  # no torch: reads config.json only
    from studio_plugins.musicgen.pipeline import new_tokens_for

    steps = new_tokens_for(MusicGenModel.read(args.model), args.seconds)  # what our pipeline runs
    config = {"folder": str(args.model), "threads": args.threads, "rounds": args.rounds, "seconds": args.seconds,
              "steps": steps, "smoke": args.smoke}
    print(f"MusicGen, {args.seconds:g} s of audio ({config['steps']} decoder steps), guidance 3 (batch 2), top-k 250, "
          f"temperature 1; {args.threads} thread(s) for torch and onnxruntime alike; best of {args.rounds} run(s) after a warm-up")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared; load average {os.getloadavg()[0]:.1f})")
    log("torch")
    skipped = reference_skipped(args.torch_python)
    torch_result = {"error": skipped, "version": "torch: skipped"} if skipped else run_worker(HERE, args.torch_python, {**config, "variant": "torch"})
    log("ours")
    ours_result = run_worker(HERE, sys.executable, {**config, "variant": "ours"})
    print()
    print("\n".join(table(config, torch_result, ours_result)))
    print(f"\nversions: {torch_result['version']}; {ours_result['version']}")
    if args.json:
        args.json.write_text(json.dumps({"config": config, "torch": torch_result, "ours": ours_result}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
