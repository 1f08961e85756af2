"""Causal LM decoding: our pipeline beside transformers' generate() and a bare onnxruntime loop.

    python bench/lm_pipeline.py                  # both models, 3 rounds: a few minutes here
    python bench/lm_pipeline.py --models gpt2-100m --rounds 1
    python bench/lm_pipeline.py --smoke          # the tiny test model, 8 tokens: checks the script works

Models (a missing one stops the run, exit 2, with the command that builds it):
  shakespeare  the built-in model, resources/models/shakespeare (plugins/text_lm/recipe.py)
  gpt2-100m    a 98.6 M-parameter GPT-2-shaped model with random weights, built outside the
               repo by ``python bench/build_lm_bench_models.py`` in a venv with optimum-onnx
               and torch (into <temp>/studio-bench/lm/gpt2-100m; ``--out`` elsewhere)

One run prints, per model, greedy decoding of 128 new tokens after a warm-up: tokens/s (tokens
2..N over the time from the first token to the last), time to first token (prompt in, first
token out) and each process's peak resident memory, for

  torch   transformers' ``generate(do_sample=False)`` on the same weights, in a subprocess with
          the fixtures venv's python (``--torch-python``): this process never imports torch.
          Its weights are the model's torch checkpoint (``<model>/torch``) or, for a folder
          without one (the built-in model), read back from the ONNX initializers by name and
          checked against onnxruntime's logits before any timing;
  ours    plugins/text_lm's generator through studio's JobRunner, as the app and CLI run it
          (TTFT from its first event, the rate from the first event to the result);
  bare    the same onnxruntime session, called in a plain loop with the same KV-cache feeding
          (IOBinding, present.* bound back as past_key_values.*) and a numpy argmax: what a
          pipeline must do at the least. Our overhead is bare/ours tokens/s - 1.

and the physical limit: decoding at batch 1 reads every weight once per token, so tokens/s
cannot pass (memory bandwidth) / (bytes of weights read per token). Bandwidth is measured here
(numpy copy, best of 5); bytes are the ONNX initializers except gather-only tables (token and
position embeddings: one row per token). torch and onnxruntime get the same thread count
(``--threads``). The machine is shared and noisy: variants run one after another, never at once;
ours and bare alternate inside one process (they share the session); medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from machine import (FIXTURES, TORCH_PYTHON_HELP, bandwidth_gbs, bench_folder, default_torch_python, log, no_model,  # bench/ is the
                     peak_rss_gb, reference_skipped, run_worker)  # script's folder: on sys.path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
MODEL_FOLDERS = {
    "shakespeare": REPO / "resources" / "models" / "shakespeare",
    "gpt2-100m": bench_folder("lm", "gpt2-100m"),
}
BUILD = {"gpt2-100m": f"python bench/build_lm_bench_models.py --out {bench_folder('lm')}   (a venv with optimum-onnx and torch)",
         "shakespeare": "python plugins/text_lm/recipe.py   (the built-in model's recipe)"}
SMOKE_MODEL = FIXTURES / "lm" / "models" / "gpt2"
PROMPT = "ROMEO:\nBut, soft! what light through yonder window breaks? It is the east, and Juliet is the sun."
NEW_TOKENS = 128
GOAL_VS_TORCH = 1.5
GOAL_OVERHEAD = 0.05




def timing(begin: float, stamps: list[float]) -> dict:
    """TTFT and decode rate from one timestamp per new token (as our pipeline reports them)."""
    decode = stamps[-1] - stamps[0]
    return {"ttft_s": stamps[0] - begin, "tokens_per_s": (len(stamps) - 1) / decode if decode > 0 else 0.0,
            "new_tokens": len(stamps)}




# -- torch worker (fixtures venv) ------------------------------------------------------------


def torch_model_from_onnx(folder: Path, onnx_path: Path):
    """A GPT-2 built from config.json with the ONNX file's initializers, matched by name.

    The exporter keeps parameter names but stores identical tensors once (LayerNorm ones and
    zeros of an untrained model), so a missing name keeps its init value; the caller checks the
    logits against onnxruntime before trusting the result."""
    import onnx
    import torch
    from onnx import numpy_helper
    from transformers import AutoConfig, AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder), dtype=torch.float32)
    graph = onnx.load(str(onnx_path)).graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    state = {k: torch.from_numpy(weights[k].copy()) for k in model.state_dict() if k in weights}
    missing = [k for k in model.state_dict() if k not in state and k != "lm_head.weight"]
    model.load_state_dict(state, strict=False)
    model.tie_weights()
    return model.eval(), missing


def onnx_file(folder: Path) -> Path:
    for sub in (".", "onnx"):
        for name in ("model.onnx", "decoder_model_merged.onnx"):
            if (folder / sub / name).is_file():
                return folder / sub / name
    raise SystemExit(f"no model.onnx in {folder}")


def torch_worker(config: dict) -> dict:
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(config["threads"])
    torch.set_num_interop_threads(1)
    torch.set_grad_enabled(False)
    folder = Path(config["folder"])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    note = ""
    if (folder / "torch").is_dir():
        model = AutoModelForCausalLM.from_pretrained(folder / "torch", dtype=torch.float32).eval()
    else:
        from studio.core.engine.onnx_import import import_onnxruntime

        onnxruntime = import_onnxruntime()
        model, missing = torch_model_from_onnx(folder, onnx_file(folder))
        session = onnxruntime.InferenceSession(str(onnx_file(folder)), providers=["CPUExecutionProvider"])
        feeds = {"input_ids": ids.numpy(), "attention_mask": np.ones_like(ids.numpy()),
                 "position_ids": np.arange(ids.shape[1])[None]}
        for i in session.get_inputs():
            if i.name.startswith("past_key_values."):
                feeds[i.name] = np.zeros((1, i.shape[1], 0, i.shape[3]), np.float32)
        feeds = {k: v for k, v in feeds.items() if k in {i.name for i in session.get_inputs()}}
        ort_logits = session.run(["logits"], feeds)[0]
        diff = float(np.abs(model(ids).logits.numpy() - ort_logits).max())
        note = f"torch weights read back from the ONNX file ({len(missing)} tensors at init value); logits vs onnxruntime max abs {diff:.1e}"
        if diff > 1e-3:
            return {"error": f"could not rebuild the torch model from the ONNX weights (logits differ by {diff:.2e})"}
        del session

    class Clock:  # generate() calls put() with the prompt, then once per new token
        def __init__(self) -> None:
            self.stamps: list[float] = []

        def put(self, value) -> None:
            self.stamps.append(time.perf_counter())

        def end(self) -> None:
            pass

    def run(new_tokens: int) -> tuple[dict, list[int]]:
        clock = Clock()
        begin = time.perf_counter()
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens, do_sample=False,
                             streamer=clock, pad_token_id=tokenizer.eos_token_id)
        return timing(begin, clock.stamps[1:]), out[0, ids.shape[1]:].tolist()

    run(8)  # warm-up
    runs = []
    for _ in range(config["rounds"]):
        figures, tokens = run(config["new_tokens"])
        runs.append(figures)
    import transformers

    return {"runs": runs, "text": tokenizer.decode(tokens), "peak_gb": peak_rss_gb(), "note": note,
            "version": f"torch {torch.__version__}, transformers {transformers.__version__}"}


# -- ours + bare worker (the app's venv) ------------------------------------------------------


def weight_bytes_per_token(path: Path) -> tuple[int, int]:
    """(bytes of all initializers, bytes read per decode step): tables only gathered from
    (embeddings) contribute one row per token, which is negligible."""
    import onnx

    model = onnx.load(str(path), load_external_data=True)
    gathered = set()
    users: dict[str, set[str]] = {}
    for node in model.graph.node:
        for name in node.input:
            users.setdefault(name, set()).add(node.op_type)
    for name, ops in users.items():
        if ops == {"Gather"}:
            gathered.add(name)
    sizes = {i.name: onnx.numpy_helper.to_array(i).nbytes for i in model.graph.initializer}
    return sum(sizes.values()), sum(b for n, b in sizes.items() if n not in gathered)


def ours_worker(config: dict) -> dict:
    import numpy as np

    from studio.core.engine.generators import Progress, Result
    from studio.core.engine.jobs import JobRunner, JobState
    from studio.core.engine.onnx_import import import_onnxruntime
    from studio.core.engine.runtime import CPU_DEVICE, Runtime
    from studio_plugins.text_lm.generator import LMLoader

    onnxruntime = import_onnxruntime()

    folder = Path(config["folder"])
    runtime = Runtime(cpu_threads=config["threads"])
    generator = LMLoader().load(folder)
    started = time.perf_counter()
    session = runtime.session(generator.model.model_file, CPU_DEVICE).session  # the one jobs get
    load_s = time.perf_counter() - started
    runner = JobRunner(runtime)
    ids = generator.tokenizer().encode(PROMPT)

    def ours(new_tokens: int, weights: str = "as exported") -> tuple[dict, str]:
        stamps: list[float] = []
        results: list[Result] = []

        def listener(job, event) -> None:  # on the worker thread, as the UI's bridge is
            if isinstance(event, Progress) and event.total > 0 and not stamps:
                stamps.append(time.perf_counter())  # the first token's event (later ones are batched)
            elif isinstance(event, Result):
                stamps.append(time.perf_counter())  # the last token is out when the result is
                results.append(event)

        request = generator.request({"prompt": PROMPT, "max_new_tokens": new_tokens, "temperature": 0.0, "top_k": 0,
                                     "top_p": 1.0, "min_p": 0.0, "repetition_penalty": 1.0, "seed": 0, "stop": "",
                                     "weights": weights})
        begin = time.perf_counter()
        job = runner.submit(generator, request, listeners=[listener])
        job.wait()
        if job.state is not JobState.FINISHED:
            raise SystemExit(f"our pipeline failed: {job.message}")
        count = results[0].info["new_tokens"]
        decode = stamps[-1] - stamps[0]
        figures = {"ttft_s": stamps[0] - begin, "tokens_per_s": (count - 1) / decode if decode > 0 else 0.0, "new_tokens": count}
        figures["reported"] = {k: results[0].info.get(k) for k in ("tokens_per_s", "ttft_s", "new_tokens")}
        return figures, results[0].value

    inputs = {i.name: i for i in session.get_inputs()}
    past_names = [n for n in inputs if n.startswith("past_key_values.")]
    present_names = [n.replace("past_key_values.", "present.") for n in past_names]
    merged = "use_cache_branch" in inputs

    def bare(new_tokens: int) -> dict:
        """Greedy decoding with nothing but the session: the least a pipeline can do."""
        stamps = []
        feed, past, length = list(ids), None, 0
        begin = time.perf_counter()
        for _ in range(new_tokens):
            binding = session.io_binding()
            total = length + len(feed)
            binding.bind_cpu_input("input_ids", np.array([feed], np.int64))
            binding.bind_cpu_input("attention_mask", np.ones((1, total), np.int64))
            if "position_ids" in inputs:
                binding.bind_cpu_input("position_ids", np.arange(length, total, dtype=np.int64)[None])
            if merged:
                binding.bind_cpu_input("use_cache_branch", np.array([past is not None]))
            for index, name in enumerate(past_names):
                if past is None:
                    shape = inputs[name].shape
                    binding.bind_cpu_input(name, np.zeros((1, shape[1], 0, shape[3]), np.float32))
                else:
                    binding.bind_ortvalue_input(name, past[index])
            binding.bind_output("logits", "cpu")
            for name in present_names:
                binding.bind_output(name, "cpu")
            session.run_with_iobinding(binding)
            values = binding.get_outputs()
            token = int(values[0].numpy()[0, -1].argmax())
            stamps.append(time.perf_counter())
            past, length, feed = values[1:], total, [token]
        return timing(begin, stamps)

    ours(8)  # warm-up of both paths: first-call allocations and kernel choices
    bare(8)
    result = {"ours": [], "bare": [], "load_s": load_s, "version": f"onnxruntime {onnxruntime.__version__}",
              "provider": session.get_providers()[0], "past_inputs": len(past_names)}
    ours(8, "int8")  # makes the int8 copy (once) and warms it up
    result["ours_int8"] = []
    for index in range(config["rounds"]):
        order = ("bare", "ours", "ours_int8") if index % 2 == 0 else ("ours_int8", "ours", "bare")
        for variant in order:
            if variant == "ours":
                figures, text = ours(config["new_tokens"])
                result["text"] = text
            elif variant == "ours_int8":
                figures, _ = ours(config["new_tokens"], "int8")
            else:
                figures = bare(config["new_tokens"])
            result[variant].append(figures)
            log(f"{folder.name} {variant}: {figures['tokens_per_s']:.1f} tok/s, ttft {figures['ttft_s'] * 1e3:.0f} ms")
    result["peak_gb"] = peak_rss_gb()
    result["bandwidth_gbs"] = bandwidth_gbs(16, 1) if config["smoke"] else bandwidth_gbs()
    result["weight_bytes"], result["bytes_per_token"] = weight_bytes_per_token(generator.model.model_file)
    runner.shutdown()
    return result


# -- orchestration (the app's venv: never imports torch) ---------------------------------------




def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def model_table(name: str, torch_result: dict, ours_result: dict) -> tuple[list[str], dict]:
    lines = []
    limit = ours_result["bandwidth_gbs"] * 1e9 / ours_result["bytes_per_token"]
    rows = {}
    if "error" not in torch_result:
        rows["torch generate()"] = (torch_result["runs"], torch_result["peak_gb"])
    rows["ours (JobRunner)"] = (ours_result["ours"], ours_result["peak_gb"])
    rows["bare onnxruntime loop"] = (ours_result["bare"], ours_result["peak_gb"])
    if ours_result.get("ours_int8"):  # the way past the fp32 bandwidth limit: a quarter of the bytes
        rows["ours, int8 weights"] = (ours_result["ours_int8"], ours_result["peak_gb"])
    lines.append(f"{name}: {ours_result['weight_bytes'] / 1e6:.1f} MB of weights, {ours_result['bytes_per_token'] / 1e6:.1f} MB read per "
                 f"token; bandwidth {ours_result['bandwidth_gbs']:.1f} GB/s -> limit {limit:.1f} tok/s; provider {ours_result['provider']}")
    if torch_result.get("note"):
        lines.append(f"  {torch_result['note']}")
    if "error" in torch_result:
        lines.append(f"  torch: {torch_result['error']}")
    header = f"  {'variant':<24} {'tok/s':>7} {'TTFT ms':>8} {'tokens':>6} {'peak GB':>8} {'of limit':>9}"
    lines += [header, "  " + "-" * (len(header) - 2)]
    figures = {}
    for label, (runs, peak) in rows.items():
        rate, ttft = median(runs, "tokens_per_s"), median(runs, "ttft_s")
        figures[label] = (rate, ttft)
        lines.append(f"  {label:<24} {rate:>7.1f} {ttft * 1e3:>8.1f} {runs[-1]['new_tokens']:>6} {peak:>8.2f} {rate / limit * 100:>8.0f} %")
    ours_rate, ours_ttft = figures["ours (JobRunner)"]
    bare_rate, bare_ttft = figures["bare onnxruntime loop"]
    summary = {"overhead": bare_rate / ours_rate - 1}
    lines.append(f"  ours vs bare: tokens/s {ours_rate / bare_rate:.3f}x (overhead {summary['overhead'] * 100:+.1f} %; goal <= {GOAL_OVERHEAD * 100:.0f} %), "
                 f"TTFT {ours_ttft / bare_ttft:.2f}x")
    if "torch generate()" in figures:
        torch_rate, torch_ttft = figures["torch generate()"]
        summary["vs_torch"] = ours_rate / torch_rate
        lines.append(f"  ours vs torch: tokens/s {summary['vs_torch']:.2f}x (goal >= {GOAL_VS_TORCH}x), TTFT {torch_ttft / ours_ttft:.2f}x faster; "
                     f"bare vs torch {bare_rate / torch_rate:.2f}x")
        if "ours, int8 weights" in figures:
            int8_rate = figures["ours, int8 weights"][0]
            lines.append(f"  ours with int8 weights vs torch (fp32): tokens/s {int8_rate / torch_rate:.2f}x (the legitimate way past the fp32 limit; the text differs slightly)")
        same = torch_result["text"] == ours_result.get("text")
        lines.append(f"  greedy text identical to torch's: {same}")
    if "peak_gb" in ours_result:
        lines.append("  peak GB: each process's resident high-water mark (ours and bare share one process and session)")
    return lines, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Causal LM decoding: ours vs transformers vs a bare onnxruntime loop")
    parser.add_argument("--models", nargs="+", default=list(MODEL_FOLDERS), help=f"of {', '.join(MODEL_FOLDERS)} or model folders")
    parser.add_argument("--torch-python", default=default_torch_python(), help=TORCH_PYTHON_HELP)
    parser.add_argument("--rounds", type=int, default=3, help="timed generations per variant")
    parser.add_argument("--threads", type=int, default=1, help="threads for torch and onnxruntime alike (default 1: the UI keeps a core)")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    parser.add_argument("--smoke", action="store_true", help="the tiny test model, 8 tokens, 1 round: checks that the benchmark works")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    new_tokens = NEW_TOKENS
    if args.smoke:
        args.models, args.rounds, new_tokens = [str(SMOKE_MODEL)], 1, 8

    if args.worker:
        config = json.loads(args.worker)
        work = torch_worker if config["variant"] == "torch" else ours_worker
        print(json.dumps(work(config)), flush=True)
        return 0

    try:
        import studio_plugins.text_lm.generator  # noqa: F401  (the pipeline under test)
    except ImportError as exc:
        parser.error(f"the text_lm plugin is not importable yet ({exc})")

    folders = {name: MODEL_FOLDERS.get(name, Path(name)) for name in args.models}
    for name, folder in folders.items():
        if not (folder / "config.json").is_file():
            raise no_model(folder, BUILD.get(name, "a causal LM folder in the optimum ONNX layout (see README, Benchmarks)"))
    print(f"greedy decoding, {new_tokens} new tokens after a warm-up, {args.threads} thread(s) for torch and onnxruntime alike; "
          f"medians of {args.rounds} run(s)")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared; load average {os.getloadavg()[0]:.1f})")
    everything = {}
    summaries = {}
    for name, folder in folders.items():
        print()
        base = {"folder": str(folder), "threads": args.threads, "rounds": args.rounds, "new_tokens": new_tokens, "smoke": args.smoke}
        skipped = reference_skipped(args.torch_python)
        log(f"{name}: torch")
        torch_result = {"error": skipped} if skipped else run_worker(HERE, args.torch_python, {**base, "variant": "torch"})
        log(f"{name}: ours and bare")
        ours_result = run_worker(HERE, sys.executable, {**base, "variant": "ours"})
        everything[name] = {"torch": torch_result, "ours": ours_result}
        lines, summaries[name] = model_table(name, torch_result, ours_result)
        print("\n".join(lines), flush=True)
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1))
    if everything:
        first = next(iter(everything.values()))
        print(f"\nversions: {first['torch'].get('version', '?')}; {first['ours']['version']}")
    if summaries:
        print("ratios: " + "; ".join(f"{name} ours/bare {1 / (1 + s['overhead']):.2f}x" + (f", ours/torch {s['vs_torch']:.2f}x" if "vs_torch" in s else "")
                                     for name, s in summaries.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
