"""Decode speed of a language model imported by Studio (int4) against onnxruntime-genai's builder.

    python bench/lm_import_speed.py [--source DIR] [--genai-python PY] [--threads N]

The same transformers folder (default: the random Qwen2.5-0.5B-shaped one that
``build_import_bench_models.py`` writes under ``<temp>/studio-bench-import/``) goes through

    ours   python -m studio.convert causal-lm SOURCE OUT --options '{"variant": "int4"}'
    genai  PY -m onnxruntime_genai.models.builder -i SOURCE -o OUT -p int4 -e cpu

(``PY``: a python with onnxruntime-genai, never Studio's own venv, where it would pull in a
second onnxruntime; default $STUDIO_TORCH_PYTHON; without one the genai column is skipped with a
note). Each int4 graph then decodes in a worker process of its own under Studio's onnxruntime,
the same loop for both (the KV cache kept in onnxruntime's buffers between steps, as the text
plugin keeps it): a 32-token prompt, then greedy tokens; rounds alternate between the two graphs
and the best of each is printed, with the ratio (issue 14: the builder's int4 decodes at 1.17x
llama.cpp Q4_0, an optimum export quantized afterwards at 0.91x).

``--smoke``: the tiny Qwen2 of tests/fixtures/convert/lm, one round, a few tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import REPO, bench_folder, default_torch_python, log, no_model, run_worker  # bench/ is on sys.path

DEFAULT_SOURCE = Path(tempfile.gettempdir(), "studio-bench-import", "qwen2.5-0.5b-random")
SMOKE_SOURCE = REPO / "tests" / "fixtures" / "convert" / "lm" / "qwen2"
BUILD = "python bench/build_import_bench_models.py --out <temp>/studio-bench-import"
PROMPT_TOKENS = 32


# ---------------------------------------------------------------- the worker: one graph's decode loop


def decode(path: str, threads: int, new_tokens: int, cache_shape: list[int]) -> dict:
    """tokens/s of ``path``'s greedy decode; ``cache_shape``: (KV heads, head size)."""
    import numpy as np

    sys.path.insert(0, str(REPO))
    from studio.core.engine.onnx_import import import_onnxruntime

    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    started = time.perf_counter()
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    load_s = time.perf_counter() - started
    inputs = {i.name: i for i in session.get_inputs()}
    past_names = [n for n in inputs if n.startswith("past_key_values.")]
    present_names = [n.replace("past_key_values.", "present.") for n in past_names]
    vocab = session.get_outputs()[0].shape[-1]
    feed = [(7 * i + 11) % min(1000, vocab) for i in range(PROMPT_TOKENS)]
    past, seen, times = None, 0, []
    for _ in range(new_tokens):
        binding = session.io_binding()
        total = seen + len(feed)
        binding.bind_cpu_input("input_ids", np.array([feed], np.int64))
        binding.bind_cpu_input("attention_mask", np.ones((1, total), np.int64))
        if "position_ids" in inputs:
            binding.bind_cpu_input("position_ids", np.arange(seen, total, dtype=np.int64)[None])
        for index, name in enumerate(past_names):
            if past is None:
                binding.bind_cpu_input(name, np.zeros((1, cache_shape[0], 0, cache_shape[1]), np.float32))
            else:
                binding.bind_ortvalue_input(name, past[index])
        binding.bind_output("logits", "cpu")
        for name in present_names:
            binding.bind_output(name, "cpu")
        step = time.perf_counter()
        session.run_with_iobinding(binding)
        values = binding.get_outputs()
        token = int(values[0].numpy()[0, -1].argmax())
        times.append(time.perf_counter() - step)
        past, seen, feed = values[1:], total, [token]
    decode_s = sum(times[1:])
    return {"load_s": load_s, "prompt_s": times[0], "tokens_per_s": (len(times) - 1) / decode_s if decode_s else 0.0}


# ---------------------------------------------------------------- the two conversions


def graph_bytes(graph: Path) -> int:
    """The int4 graph and its weights file (``model_q4.onnx_data``, ``model.onnx.data``)."""
    return sum(p.stat().st_size for p in graph.parent.iterdir() if p.is_file() and p.name.startswith(graph.name))


def convert_ours(source: Path, out: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "studio.convert", "causal-lm", str(source), str(out), "--options", json.dumps({"variant": "int4"})],
                          cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"Studio's import failed (exit {done.returncode}): {done.stdout.strip().splitlines()[-1:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def convert_genai(python: str, source: Path, out: Path, cache: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([python, "-m", "onnxruntime_genai.models.builder", "-i", str(source), "-o", str(out), "-p", "int4", "-e", "cpu",
                           "-c", str(cache)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the onnxruntime-genai builder failed (exit {done.returncode}):\n{done.stdout[-3000:]}")
    return time.perf_counter() - started


def genai_graph(folder: Path) -> Path:
    config = json.loads((folder / "genai_config.json").read_text())
    return folder / config["model"]["decoder"]["filename"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help=f"a transformers causal-LM folder (default {DEFAULT_SOURCE})")
    parser.add_argument("--genai-python", default=default_torch_python(), help="a python with onnxruntime-genai (default $STUDIO_TORCH_PYTHON)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--tokens", type=int, default=128, help="greedy tokens decoded per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=bench_folder("lm-import-speed"), help="where the two int4 folders are written")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        config = json.loads(args.worker)
        print(json.dumps(decode(config["path"], config["threads"], config["tokens"], config["cache_shape"])))
        return 0
    source = args.source or (SMOKE_SOURCE if args.smoke else DEFAULT_SOURCE)
    if not (source / "config.json").is_file():
        raise no_model(source, BUILD)
    config = json.loads((source / "config.json").read_text())
    heads = config["num_attention_heads"]
    cache_shape = [config.get("num_key_value_heads", heads), config.get("head_dim") or config["hidden_size"] // heads]
    tokens, rounds = (6, 1) if args.smoke else (args.tokens, args.rounds)
    context = config.get("max_position_embeddings") or config.get("n_positions") or 2048
    tokens = max(2, min(tokens, context - PROMPT_TOKENS - 1))  # GroupQueryAttention's rotary tables end at the context
    work = Path(tempfile.mkdtemp(prefix="lm-import-speed-")) if args.smoke else args.work
    shutil.rmtree(work / "ours", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    log(f"importing {source} with Studio (int4)")
    graphs, notes = {}, []
    ours_s = convert_ours(source, work / "ours")
    graphs["ours"] = work / "ours" / "onnx" / "model_q4.onnx"
    genai_s = None
    if not args.genai_python or not Path(args.genai_python).exists():
        notes.append("genai skipped: no python with onnxruntime-genai given (--genai-python or $STUDIO_TORCH_PYTHON)")
    else:
        shutil.rmtree(work / "genai", ignore_errors=True)
        log(f"building the same folder with onnxruntime-genai's builder ({args.genai_python})")
        genai_s = convert_genai(args.genai_python, source, work / "genai", work / "genai-cache")
        graphs["genai"] = genai_graph(work / "genai")
    best: dict[str, dict] = {}
    for round_ in range(rounds):
        for name, graph in graphs.items():
            log(f"round {round_ + 1}/{rounds}: {name} decoding {tokens} tokens at {args.threads} threads")
            job = {"path": str(graph), "threads": args.threads, "tokens": tokens, "variant": name, "cache_shape": cache_shape}
            result = run_worker(Path(__file__), sys.executable, job)
            if name not in best or result["tokens_per_s"] > best[name]["tokens_per_s"]:
                best[name] = result
    print(f"\nsource: {source}   threads: {args.threads}   tokens: {tokens}   rounds: {rounds} (best of each)")
    print(f"{'graph':<8}{'convert s':>11}{'int4 graph MB':>15}{'load s':>9}{'prompt s':>10}{'decode tok/s':>14}")
    for name, seconds in (("ours", ours_s), ("genai", genai_s)):
        if name in best:
            print(f"{name:<8}{seconds:>11.1f}{graph_bytes(graphs[name]) / 1e6:>15.0f}{best[name]['load_s']:>9.2f}"
                  f"{best[name]['prompt_s']:>10.3f}{best[name]['tokens_per_s']:>14.1f}")
    if "genai" in best:
        print(f"\nours/genai decode tok/s: {best['ours']['tokens_per_s'] / best['genai']['tokens_per_s']:.2f}x")
    else:
        print("\nours/genai decode tok/s: skipped")
    for note in notes:
        print(f"note: {note}")
    if args.smoke:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
