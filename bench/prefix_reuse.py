"""Prefix reuse: time to first token of a continuation after an edit near the end of a long
document, with the last generation's key/value cache kept (plugins/text_lm/prefix_cache.py)
and without it, side by side in one run.

    python bench/prefix_reuse.py                          # both models, 5 rounds: a minute or two here
    python bench/prefix_reuse.py --models gpt2-100m --rounds 3
    python bench/prefix_reuse.py --models /path/to/a/causal-lm-folder
    python bench/prefix_reuse.py --smoke                  # the tiny test model, 1 round: checks the script works
    python bench/prefix_reuse.py --models shakespeare --llama-cpp --rounds 2   # and llama.cpp beside ours (minutes)

Models (a missing one stops the run, exit 2, with the command that builds it):
  shakespeare  the built-in model, resources/models/shakespeare: its context is 256 tokens, so
               of the 2,000-token document it reads the last ~200 (the cut is at a multiple of
               a quarter of its context: 161 to 224 tokens with 32 new ones)
  gpt2-100m    the 98.6 M-parameter GPT-2-shaped bench model (1,024 tokens of context), built
               by ``python bench/build_lm_bench_models.py`` (see bench/lm_pipeline.py)

The scenario, per model and round, through the JobRunner as the app runs it (greedy, 32 new
tokens, one thread unless --threads):

  1. the writer continues a 2,000-token document (Shakespeare's words, seeded), and the
     continuation is on the page (untimed: this fills the cache);
  2. a word 40 tokens before the end of the page is changed;
  3. Continue, timed two ways, order alternating by round:
       fresh   the kept cache dropped first: the whole prompt is computed, as before this work
       reused  the cache from step 1, cut where the text changed: only the rest is computed
     and a Retry of that (the same prompt again: all but two tokens reused), and a Continue
     of the page of step 1 without the edit (the tokens generated one by one are fed again:
     only keys and values computed in chunks are reused, see prefix_cache.py).

Printed per model: the prompt's tokens, how many were reused and fed, time to first token
(from submitting the job to its first token's event: tokenizing, the cut, the prompt's
computation, the first token), the pipeline's own ``ttft_s``, and fresh/reuse ratios; the
texts of the fresh and the reused run must be identical (checked and printed). Medians.

``--llama-cpp``: the Qwen2.5-0.5B-shaped random weights bench/llama_cpp.py makes, ours on their
onnxruntime-genai int4 folder and llama.cpp's ``llama-bench`` on their Q4_0 GGUF: its prompt
time for the whole prompt and for the tokens we fed with the rest already in its KV cache
(``-d``, what its server's ``cache_prompt`` keeps). llama-bench times the batch's decode only
(no tokenizing, no cut, no sampling): set beside our ``ttft_s``.

The prompt's left cut moves on a grid (a quarter of the context, pipeline.cut_step): a
continuation that moves it reuses nothing and costs what "fresh" costs. The document is picked
where the cut does not move between steps 1 and 3; the table then weighs both by how often a
continuation of that many tokens moves it (new tokens / grid step).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import FIXTURES, bench_folder, log, no_model  # bench/ is the script's folder: on sys.path

os.environ.setdefault("STUDIO_HOME", str(Path(tempfile.gettempdir()) / "studio-bench-home"))
HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))
MODEL_FOLDERS = {
    "shakespeare": REPO / "resources" / "models" / "shakespeare",
    "gpt2-100m": bench_folder("lm", "gpt2-100m"),
}
BUILD = {"gpt2-100m": f"python bench/build_lm_bench_models.py --out {bench_folder('lm')}   (a venv with optimum-onnx and torch)",
         "shakespeare": "python plugins/text_lm/recipe.py   (the built-in model's recipe)"}
SMOKE_MODEL = FIXTURES / "lm" / "models" / "gpt2"
LLAMA_CPP = bench_folder("llama-cpp")  # what bench/llama_cpp.py builds and makes
QWEN = "qwen2.5-0.5b"
WORDS = (REPO / "resources" / "models" / "shakespeare" / "words.txt").read_text().split()
DOCUMENT_TOKENS = 2000
EDIT_TOKENS_FROM_END = 40
NEW_TOKENS = 32


def document(tokenizer, tokens: int, skip: int = 0) -> str:
    """Shakespeare's words in lines of seven (seeded), ``tokens`` tokens long or just over."""
    rng = random.Random(16)
    words = [rng.choice(WORDS) for _ in range(tokens + skip)][skip:]
    text = ""
    while len(tokenizer.encode(text)) < tokens and words:
        line, words = words[:7], words[7:]
        text += " ".join(line) + "\n"
    return text


def edit_before_end(tokenizer, text: str, tokens_from_end: int) -> str:
    """``text`` with the word that starts about ``tokens_from_end`` tokens before its end changed."""
    ids = tokenizer.encode(text, special=False)
    target = len(ids) - tokens_from_end
    starts = [i + 1 for i, char in enumerate(text) if char in " \n"]
    low, high = 0, len(starts) - 1
    while low < high:  # the first word start whose prefix holds at least ``target`` tokens
        mid = (low + high) // 2
        if len(tokenizer.encode(text[: starts[mid]], special=False)) >= target:
            high = mid
        else:
            low = mid + 1
    at = starts[low]
    end = min((i for i in (text.find(" ", at), text.find("\n", at)) if i >= 0), default=len(text))
    word = text[at:end]
    return text[:at] + ("summer" if word != "summer" else "winter") + text[end:]


def shared(a: list[int], b: list[int]) -> int:
    count = 0
    while count < min(len(a), len(b)) and a[count] == b[count]:
        count += 1
    return count


def measure(folder: Path, rounds: int, threads: int, doc_tokens: int, new_tokens: int) -> dict:
    from studio.core.engine.generators import Progress, Result
    from studio.core.engine.jobs import JobRunner, JobState
    from studio.core.engine.runtime import Runtime
    from studio_plugins.text_lm.generator import LMLoader
    from studio_plugins.text_lm.pipeline import cut_step, prompt_ids

    runner = JobRunner(Runtime(cpu_threads=threads))
    generator = LMLoader().load(folder)
    tokenizer = generator.tokenizer()
    values = {"max_new_tokens": new_tokens, "temperature": 0.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "repetition_penalty": 1.0,
              "seed": 0, "stop": "", "variant": "fp32" if "fp32" in generator.present else "auto"}

    def run(prompt: str) -> dict:
        stamps: list[float] = []
        results: list[Result] = []

        def listener(job, event) -> None:  # on the worker thread, as the UI's bridge is
            if isinstance(event, Progress) and event.total > 0 and not stamps:
                stamps.append(time.perf_counter())  # the first token's event
            elif isinstance(event, Result):
                results.append(event)

        begin = time.perf_counter()
        job = runner.submit(generator, generator.request({**values, "prompt": prompt}), listeners=[listener])
        job.wait()
        if job.state is not JobState.FINISHED:
            raise SystemExit(f"the generation failed: {job.message}")
        info = results[0].info
        return {"ttft_s": stamps[0] - begin, "reported_ttft_s": info["ttft_s"], "reused": info["reused_tokens"],
                "prompt": info["prompt_tokens"], "text": results[0].value}

    def ids(text: str) -> list[int]:
        return prompt_ids(tokenizer, generator.model, text, "", new_tokens)[0]

    # A document where the left cut stays put between the first continuation and the edited one.
    page = edited = ""
    moved = 0
    for skip in range(0, 400, 7):
        doc = document(tokenizer, doc_tokens, skip)
        generator.prefix_cache.clear()
        first = run(doc)
        page = doc + first["text"]
        edited = edit_before_end(tokenizer, page, EDIT_TOKENS_FROM_END)
        if shared(ids(doc), ids(edited)) > len(ids(edited)) - EDIT_TOKENS_FROM_END - 8:
            break
        moved += 1
    room = generator.model.context_length - new_tokens
    result = {"fresh": [], "reused": [], "retry": [], "continue": [], "tried": moved + 1, "cut_step": cut_step(generator.model.context_length, room),
              "context": generator.model.context_length,
              "doc_tokens": len(tokenizer.encode(doc)), "new_tokens": new_tokens, "same_text": True, "provider": runner.runtime.session(generator.model.model_file).providers[0]}
    for index in range(rounds):
        order = ("fresh", "reused") if index % 2 == 0 else ("reused", "fresh")
        for kind in order:
            generator.prefix_cache.clear()
            if kind == "reused":
                run(doc)  # step 1 again: the cache holds the document as the first continuation read it
            figures = run(edited)
            result[kind].append(figures)
            if kind == "reused":
                result["retry"].append(run(edited))
                generator.prefix_cache.clear()
                run(doc)
                result["continue"].append(run(page))  # no edit: the first continuation's text is fed again
            log(f"{folder.name} {kind}: ttft {figures['ttft_s'] * 1e3:.1f} ms, {figures['reused']} reused of {figures['prompt']}")
        result["same_text"] &= result["fresh"][-1]["text"] == result["reused"][-1]["text"] == result["retry"][-1]["text"]
    runner.shutdown()
    return result


def table(name: str, result: dict) -> tuple[list[str], float]:
    lines = [f"{name}: context {result['context']} tokens; document {result['doc_tokens']:,} tokens + the {result['new_tokens']} of the first continuation, "
             f"a word changed {EDIT_TOKENS_FROM_END} tokens before the end; provider {result['provider']}"]
    step, new = result["cut_step"], result["new_tokens"]
    lines.append(f"  the left cut moves every {step} tokens the text grows; this document was picked where it does not "
                 f"({result['tried']} tried)")
    header = f"  {'continuation':<30} {'prompt':>7} {'reused':>7} {'fed':>5} {'TTFT ms':>9} {'ttft_s ms':>10}"
    lines += [header, "  " + "-" * (len(header) - 2)]
    medians = {}
    for kind, label in (("fresh", "fresh (cache dropped)"), ("reused", "reused (cache cut at the edit)"), ("retry", "Retry (same prompt again)"),
                         ("continue", "Continue, no edit")):
        runs = result[kind]
        ttft = statistics.median(r["ttft_s"] for r in runs)
        reported = statistics.median(r["reported_ttft_s"] for r in runs)
        medians[kind] = ttft
        last = runs[-1]
        lines.append(f"  {label:<30} {last['prompt']:>7} {last['reused']:>7} {last['prompt'] - last['reused']:>5} {ttft * 1e3:>9.1f} {reported * 1e3:>10.1f}")
    ratio = medians["fresh"] / medians["reused"]
    lines.append(f"  fresh/reused TTFT: {ratio:.1f}x after the edit, {medians['fresh'] / medians['retry']:.1f}x on Retry; "
                 f"texts identical with and without reuse: {result['same_text']}")
    crossing = min(1.0, new / step)  # a continuation of ``new`` tokens crosses a grid line this often
    averaged = crossing * medians["fresh"] + (1 - crossing) * medians["reused"]
    lines.append(f"  where the cut falls, averaged (a continuation of {new} tokens moves it {crossing:.1%} of the time, and then reuses "
                 f"nothing): {averaged * 1e3:.1f} ms, {medians['fresh'] / averaged:.1f}x")
    return lines, ratio


def llama_bench(work: Path, prompt: int, depth: int, threads: int, rounds: int) -> float:
    """llama.cpp's own prompt time, seconds: ``llama-bench -p prompt -d depth -n 0`` on the Q4_0
    weights bench/llama_cpp.py made (``-d``: that many tokens already in its KV cache, filled
    before the timing, as its server's ``cache_prompt`` keeps them)."""
    command = [str(work / "build" / "bin" / "llama-bench"), "-m", str(work / "models" / QWEN / "q4_0.gguf"), "-p", str(prompt),
               "-d", str(depth), "-n", "0", "-t", str(threads), "-r", str(rounds), "-o", "json"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"llama-bench failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)[0]["avg_ns"] / 1e9


def llama_cpp_lines(work: Path, result: dict, threads: int, rounds: int) -> list[str]:
    """Rows for llama.cpp on the same weights (Q4_0) and the same token counts as ours."""
    last = result["reused"][-1]
    prompt, reused = last["prompt"], last["reused"]
    log(f"llama.cpp: pp{prompt}, then pp{prompt - reused} at depth {reused}")
    fresh, cached = llama_bench(work, prompt, 0, threads, rounds), llama_bench(work, prompt - reused, reused, threads, rounds)
    ours = statistics.median(r["reported_ttft_s"] for r in result["fresh"]) / statistics.median(r["reported_ttft_s"] for r in result["reused"])
    return [f"  {'llama.cpp Q4_0, fresh':<30} {prompt:>7} {0:>7} {prompt:>5} {'':>9} {fresh * 1e3:>10.1f}",
            f"  {'llama.cpp Q4_0, cached prefix':<30} {prompt:>7} {reused:>7} {prompt - reused:>5} {'':>9} {cached * 1e3:>10.1f}",
            f"  llama.cpp's prompt time (llama-bench: the batch's decode only) fresh/cached: {fresh / cached:.1f}x; ours (ttft_s) {ours:.1f}x; "
            f"ours/llama.cpp with the cached prefix: {statistics.median(r['reported_ttft_s'] for r in result['reused']) / cached:.2f}x the time"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODEL_FOLDERS), help=f"of {', '.join(MODEL_FOLDERS)} or model folders")
    parser.add_argument("--rounds", type=int, default=5, help="timed continuations of each kind")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime's threads (default 1: the UI keeps a core)")
    parser.add_argument("--llama-cpp", nargs="?", type=Path, const=LLAMA_CPP, metavar="WORK", help=(
        "also the Qwen2.5-0.5B-shaped weights bench/llama_cpp.py made under WORK (default <temp>/studio-bench/llama-cpp): ours on "
        "their onnxruntime-genai int4 folder beside llama.cpp's llama-bench on their Q4_0 GGUF (fresh, and at the depth we reused)"))
    parser.add_argument("--smoke", action="store_true", help="the tiny test model, a short document, 1 round: checks that the benchmark works")
    args = parser.parse_args(argv)
    doc_tokens, new_tokens = DOCUMENT_TOKENS, NEW_TOKENS
    if args.smoke:
        args.models, args.rounds, doc_tokens, new_tokens = [str(SMOKE_MODEL)], 1, 300, 8
    folders = {name: MODEL_FOLDERS.get(name, Path(name)) for name in args.models}
    if args.llama_cpp:
        if not (args.llama_cpp / "build" / "bin" / "llama-bench").is_file() or not (args.llama_cpp / "models" / QWEN / "q4_0.gguf").is_file():
            raise no_model(args.llama_cpp, "python bench/llama_cpp.py --torch-python T --optimum-python O   (builds llama.cpp and the weights)")
        folders[f"{QWEN}-int4"] = args.llama_cpp / "models" / QWEN / "genai-int4"
    for name, folder in folders.items():
        if not (folder / "config.json").is_file() and not (folder / "genai_config.json").is_file():
            raise no_model(folder, BUILD.get(name, "a causal LM folder in the optimum ONNX layout (see README, Benchmarks)"))
    print(f"Prefix reuse: time to first token of a continuation after an edit near the end of a {doc_tokens:,}-token document, "
          f"greedy, {new_tokens} new tokens, {args.threads} thread(s); medians of {args.rounds} round(s)")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared; load average {os.getloadavg()[0]:.1f})")
    ratios = {}
    for name, folder in folders.items():
        print()
        log(f"{name}: measuring")
        result = measure(folder, args.rounds, args.threads, doc_tokens, new_tokens)
        lines, ratios[Path(name).name] = table(Path(name).name, result)
        if args.llama_cpp and name == f"{QWEN}-int4":
            lines += llama_cpp_lines(args.llama_cpp, result, args.threads, min(args.rounds, 2))
        print("\n".join(lines), flush=True)
    print("\nratios (fresh/reused TTFT): " + "; ".join(f"{name} {ratio:.1f}x" for name, ratio in ratios.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
