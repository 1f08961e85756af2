"""Quantized language-model decoding: Studio beside llama.cpp (the engine under LM Studio,
KoboldCpp and GPT4All), on one weight set, in one run.

    python bench/llama_cpp.py --torch-python T --optimum-python O      # builds what it needs, then measures
    python bench/llama_cpp.py --smoke                                  # tiny test models, seconds

What it does (everything it makes lives under ``--work``, default <temp>/studio-bench/llama-cpp;
a later run reuses it):
  1. builds llama.cpp's own ``llama-bench`` and ``llama-quantize`` from the sources vendored in
     the ``llama-cpp-python`` sdist (bench/llama_cpp_build.py: cmake, a C++ compiler; minutes);
  2. makes one random weight set shaped like Qwen2.5-0.5B with Qwen2's real tokenizer
     (bench/llama_cpp_models.py, with ``--torch-python``), and from it: GGUF f32 with llama.cpp's
     ``convert_hf_to_gguf.py``, Q4_0 and Q8_0 with ``llama-quantize``; the onnxruntime-genai
     builder's int4 folder as written; an optimum fp32 export (``--optimum-python``), from which
     Studio itself makes its int8 and q4 through the generator's ``variant`` parameter
     (bench/llama_cpp_prepare.py);
  3. measures greedy decoding of 128 tokens after a 32-token prompt: llama.cpp with
     ``llama-bench -p 32 -n 128`` (tg128 rate; pp32 is its prompt time), Studio through its
     JobRunner as the CLI runs it, and a bare onnxruntime loop on the same session
     (bench/llama_cpp_studio.py). At 1 and 2 threads and at each tool's default (llama.cpp: its
     own default, all cores; Studio: the CLI's runtime). Engines alternate round by round
     (order reversed every other round); medians.

Prints ONE table: tok/s per engine and thread setting; Studio vs llama.cpp for the same kind of
weights; time to first token vs llama.cpp's prompt time; Studio's overhead over the bare loop;
bytes read per token against this machine's measured memory bandwidth (numpy copy). Then the
issue's goals, met or not, in numbers.

``--smoke`` measures the tiny test models in tests/fixtures (8 tokens, 1 round): every Studio
path (the CLI's runtime, int8 and q4 made by Studio, the genai folder, the bare loop, the table)
without torch and without a llama.cpp build; it says so when llama.cpp is not built.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import llama_cpp_build as build  # bench/ is the script's folder: on sys.path
from llama_cpp_prepare import prepare
from machine import FIXTURES, bandwidth_gbs, bench_folder, default_torch_python, log

HERE = Path(__file__).resolve()
DEFAULT_WORK = bench_folder("llama-cpp")
NEW_TOKENS, PROMPT_TOKENS = 128, 32
# (row, engine, weights key, Studio's variant asked, llama.cpp row it is compared with)
ROWS = (
    ("llama.cpp Q4_0", "llama", "q4_0.gguf", "", "llama.cpp Q4_0"),
    ("Studio q4 (made by Studio)", "studio", "onnx-fp32", "q4", "llama.cpp Q4_0"),
    ("Studio genai int4 folder", "studio", "genai-int4", "auto", "llama.cpp Q4_0"),
    ("llama.cpp Q8_0", "llama", "q8_0.gguf", "", "llama.cpp Q8_0"),
    ("Studio int8 (made by Studio)", "studio", "onnx-fp32", "int8", "llama.cpp Q8_0"),
    ("llama.cpp f32", "llama", "f32.gguf", "", "llama.cpp f32"),
    ("Studio fp32", "studio", "onnx-fp32", "fp32", "llama.cpp f32"),
)
LM_FIXTURES = FIXTURES / "lm" / "models"
SMOKE_MODELS = {"onnx-fp32": LM_FIXTURES / "llama",  # the tiny Llama, and the genai builder's int4 folder of it
                "genai-int4": next((p for p in (LM_FIXTURES / "llama-genai-int4", LM_FIXTURES / "llama-genai" / "cpu-int4") if p.is_dir()),
                                   LM_FIXTURES / "llama-genai-int4")}
GOALS = {"equal": 1.2, "default": 1.0, "overhead": 0.05}
TEXT = ("Now is the winter of our discontent made glorious summer by this sun of York, and all the clouds "
        "that lour'd upon our house in the deep bosom of the ocean buried. Now are our brows bound with victorious wreaths.")


def prompt_of(tokenizer_json: Path, count: int) -> str:
    """A text that the model's tokenizer reads as exactly ``count`` tokens (fewer if it cannot)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    ids = tokenizer.encode(TEXT * 4, add_special_tokens=False).ids
    for size in range(count, 0, -1):
        text = tokenizer.decode(ids[:size])
        if len(tokenizer.encode(text, add_special_tokens=False).ids) == count:
            return text
    return tokenizer.decode(ids[:count])


def llama_default_threads(tool: Path) -> int:
    """llama-bench's own default thread count (it prints it in --help)."""
    text = subprocess.run([str(tool), "--help"], capture_output=True, text=True).stdout
    for line in text.splitlines():
        if "--threads" in line and "default:" in line:
            return int(line.split("default:")[1].strip(" )").split(")")[0])
    return os.cpu_count() or 1


def llama_bench(tool: Path, gguf: Path, threads: int | None, new_tokens: int, prompt_tokens: int) -> dict:
    command = [str(tool), "-m", str(gguf), "-p", str(prompt_tokens), "-n", str(new_tokens), "-r", "1", "-o", "json"]
    if threads:
        command += ["-t", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"llama-bench failed on {gguf.name}: {done.stderr[-2000:]}")
    rows = json.loads(done.stdout)
    prompt = next(r for r in rows if r["n_prompt"] == prompt_tokens and r["n_gen"] == 0)
    decode = next(r for r in rows if r["n_gen"] == new_tokens and r["n_prompt"] == 0)
    return {"tokens_per_s": decode["avg_ts"], "ttft_s": prompt_tokens / prompt["avg_ts"], "threads": decode["n_threads"],
            "model_size": decode["model_size"]}


def gguf_bytes(sources: Path, gguf: Path) -> tuple[int, int]:
    """(bytes of all tensors, bytes read per token) with llama.cpp's own gguf-py: the token table
    is read whole only when it is also the output matrix (tied embeddings, no output.weight)."""
    sys.path.insert(0, str(sources / "gguf-py"))
    import gguf as gguf_py

    tensors = {t.name: int(t.n_bytes) for t in gguf_py.GGUFReader(str(gguf)).tensors}
    total = sum(tensors.values())
    return total, total - (tensors.get("token_embd.weight", 0) if "output.weight" in tensors else 0)


class StudioWorker:
    """bench/llama_cpp_studio.py in its own process (Studio's python), kept for a thread setting."""

    def __init__(self, threads: int, models: dict, prompt: str, new_tokens: int) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS=str(threads or 1))
        env.setdefault("STUDIO_HOME", str(bench_folder("home")))  # Studio's int8/q4 copies are cached there
        config = {"threads": threads, "models": models, "prompt": prompt, "new_tokens": new_tokens}
        self.process = subprocess.Popen([sys.executable, str(HERE.parent / "llama_cpp_studio.py"), json.dumps(config)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.info = self._answer()

    def _answer(self) -> dict:
        for line in self.process.stdout:
            if line.startswith("{"):
                return json.loads(line)
        raise SystemExit(f"Studio's worker ended (exit {self.process.wait()}); its log is above")

    def run(self, label: str, kind: str) -> dict:
        self.process.stdin.write(json.dumps({"label": label, "kind": kind}) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        self.process.stdin.write(json.dumps({"quit": True}) + "\n")
        self.process.stdin.close()
        self.process.wait()


def studio_default_threads() -> int:
    from studio.cli.host import make_host

    return make_host(argparse.Namespace(safe_mode=False)).runtime.cpu_threads


def measure(args, weights: dict, tools: dict | None, prompt: str, new_tokens: int, sources: Path | None) -> dict:
    """Every sample, keyed (row, threads); and what each side said about itself."""
    studio_models = {row: {"folder": str(weights[key]), "variant": variant}
                     for row, engine, key, variant, _ in ROWS if engine == "studio" and key in weights}
    llama_rows = [(row, weights[key]) for row, engine, key, _, _ in ROWS if engine == "llama" and key in weights and tools]
    llama_default = llama_default_threads(tools["llama-bench"]) if tools else None
    studio_default = studio_default_threads()
    settings = sorted(set(args.threads) | {studio_default} | ({llama_default} if llama_default else set()))
    samples: dict = {"llama_default": llama_default, "studio_default": studio_default, "settings": settings,
                     "explicit": list(args.threads),
                     "runs": {}, "studio": {}, "missing": {}, "bytes": {}, "load": {}}
    for row, gguf in llama_rows:
        samples["bytes"][row] = gguf_bytes(sources, gguf)
    for row, engine, key, _, _ in ROWS:
        if engine == "llama" and not (tools and key in weights):
            samples["missing"][row] = "llama.cpp not built" if not tools else f"no {key}"
    for threads in settings:
        llama_here = llama_rows if threads in set(args.threads) | {llama_default} else []
        worker = None
        if studio_models and threads in set(args.threads) | {studio_default}:
            log(f"studio: loading at {threads} thread(s) (making its int8/q4 copies the first time)")
            worker = StudioWorker(0 if threads == studio_default else threads, studio_models, prompt, new_tokens)
            samples["studio"][threads] = worker.info
            samples["missing"].update(worker.info["missing"])
            for row, model in worker.info["models"].items():
                samples["bytes"][row] = (model["weight_bytes"], model["bytes_per_token"])
        samples["load"][threads] = [os.getloadavg()[0]]  # the machine is shared: say how busy it was
        units = [("llama", row) for row, _ in llama_here] + [("studio", row) for row in (worker.info["models"] if worker else ())]
        for index in range(args.rounds):
            for engine, row in (units if index % 2 == 0 else units[::-1]):
                if engine == "llama":
                    figures = {"llama": llama_bench(tools["llama-bench"], dict(llama_here)[row], None if threads == llama_default else threads,
                                                    new_tokens, PROMPT_TOKENS)}
                else:
                    kinds = ("ours", "bare") if index % 2 == 0 else ("bare", "ours")
                    figures = {kind: worker.run(row, kind) for kind in kinds}
                samples["runs"].setdefault(f"{row}|{threads}", []).append(figures)
                first = figures.get("llama") or figures["ours"]
                log(f"{threads}t round {index + 1} {row}: {first['tokens_per_s']:.1f} tok/s, ttft {first['ttft_s'] * 1e3:.0f} ms")
                samples["load"][threads].append(os.getloadavg()[0])
        if worker:
            worker.close()
    return samples


def median(samples: dict, row: str, threads: int | None, kind: str, key: str) -> float | None:
    runs = samples["runs"].get(f"{row}|{threads}")
    return statistics.median(r[kind][key] for r in runs) if runs else None


def table(samples: dict, bandwidth: float) -> tuple[list[str], dict]:
    from llama_cpp_table import render

    return render(ROWS, samples, bandwidth, median, GOALS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"llama.cpp build and weight files (default {DEFAULT_WORK})")
    parser.add_argument("--torch-python", default=default_torch_python(), help="a python with torch, transformers, gguf and "
                        "onnxruntime-genai (the weights, GGUF, genai builder); default $STUDIO_TORCH_PYTHON")
    parser.add_argument("--optimum-python", default=os.environ.get("STUDIO_OPTIMUM_PYTHON"),
                        help="a python with optimum-onnx (the fp32 export); default $STUDIO_OPTIMUM_PYTHON")
    parser.add_argument("--threads", type=lambda s: [int(t) for t in s.split(",")], default=[1, 2], help="equal thread counts (default 1,2)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="parallel jobs for the llama.cpp build")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    parser.add_argument("--smoke", action="store_true", help="the tiny test models, 8 tokens, 1 round")
    args = parser.parse_args(argv)
    new_tokens = NEW_TOKENS
    notes: list[str] = []
    tools = build.built(args.work)
    sources = build.source_tree(args.work)
    if args.smoke:
        args.rounds, args.threads, new_tokens = 1, [1], 8
        weights = dict(SMOKE_MODELS)
        notes.append("llama.cpp: not built (run without --smoke to build it)" if tools is None else
                     "llama.cpp: built, not measured in --smoke (no tiny GGUF here)")
        tools = None
        tokenizer_json = weights["onnx-fp32"] / "tokenizer.json"
    else:
        if not args.torch_python or not Path(args.torch_python).exists():
            parser.error("the weights are made with torch: give --torch-python (or $STUDIO_TORCH_PYTHON), a python with "
                         "torch, transformers, gguf and onnxruntime-genai (never Studio's own venv)")
        args.work.mkdir(parents=True, exist_ok=True)
        tools = build.build(args.work, args.jobs)
        sources = build.source_tree(args.work)
        weights, more = prepare(args.work / "models" / "qwen2.5-0.5b", sources, tools, args.torch_python, args.optimum_python, tiny=False)
        notes += more
        tokenizer_json = weights["hf"] / "tokenizer.json"
    prompt = prompt_of(tokenizer_json, PROMPT_TOKENS if not args.smoke else 8)
    bandwidth = bandwidth_gbs(16, 1) if args.smoke else bandwidth_gbs()
    log(f"memory bandwidth (numpy copy, one core): {bandwidth:.1f} GB/s")
    samples = measure(args, weights, tools, prompt, new_tokens, sources)
    # The machine is shared: a copy measured while others run reads low. The best of a measure
    # before and one after the rounds is nearer what the memory can do.
    after = bandwidth_gbs(16, 1) if args.smoke else bandwidth_gbs()
    log(f"memory bandwidth after the rounds: {after:.1f} GB/s")
    bandwidth = max(bandwidth, after)
    print(f"greedy decoding of {new_tokens} tokens after a {PROMPT_TOKENS if not args.smoke else 8}-token prompt; "
          f"medians of {args.rounds} alternating round(s)")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}); "
          f"{build.version(args.work) if not args.smoke else 'tiny test models'}")
    lines, verdicts = table(samples, bandwidth)
    print("\n".join(lines + notes))
    if args.json:
        args.json.write_text(json.dumps({"samples": samples, "bandwidth_gbs": bandwidth, "verdicts": verdicts}, indent=1))
    broken = [row for row in ("Studio fp32", "Studio int8 (made by Studio)") if row in samples["missing"]]
    if broken:  # Studio's plain paths must work: a smoke run fails when they do not
        print(f"error: {', '.join(broken)} could not run: {samples['missing'][broken[0]]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
