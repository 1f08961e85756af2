"""MusicGen past its window: time and peak memory of 30 s, 60 s and 120 s pieces, side by side.

    python bench/musicgen_long.py                          # 30, 60, 120 s; the bench model, else the test model
    python bench/musicgen_long.py --lengths 30 60 120 240 --model /path/to/musicgen-folder
    python bench/musicgen_long.py --smoke                  # the tiny test model, 12 s and 24 s: checks the script works

A piece longer than the decoder's window is made window by window, each continuing the last
seconds of codes of the one before, and decoded to audio segment by segment
(plugins/musicgen/long_piece.py). The decoder's key/value cache is one window's whatever the
length, so the memory a generation needs should not grow with the piece: only its output
samples (and a few bytes of codes per frame) do. This bench shows it.

The model: ``--model``; by default the musicgen-small-shaped bench model
(<temp>/studio-bench/musicgen/musicgen-small-random, built by
``bench/build_musicgen_bench_models.py``), else the tiny test model in tests/fixtures/musicgen
(a window of 10.18 s, so 30 s already takes several windows). The output says which.

Each length runs in a fresh child process (so one length's high-water mark cannot hide
another's), through studio's JobRunner as the app runs it, guidance 3 (batch 2), top-k 250,
temperature 1, seed 0. In the child: a short warm-up generation opens the sessions (the model
is loaded); then the resident-memory high-water mark (VmHWM) is reset to the current resident
size where Linux allows it (``/proc/self/clear_refs``), read once, the piece generated, and read
again. The difference is the generation's peak memory. Printed per length: compute seconds,
real-time factor (seconds of audio per second of compute), that peak, the output samples'
size (float32) and what is left of the peak without them, and each as a ratio to the first
length's. A last row does the same for one window: all that transformers'
``MusicgenForConditionalGeneration.generate()`` makes.

What grows with the length is the audio: the decoded segments kept until the end and, at the
end, their join into one array. On the test model, from 30 s to 240 s, the peak grows about
2.5 MB per MB of output samples (each kept segment is a slice of its decode, whose context
seconds stay with it, and the join copies them all). Ten minutes of 32 kHz audio, the longest
piece, is 77 MB of samples, next to the model's gigabytes. The decoder's caches and
onnxruntime's buffers do not grow: they are one window's.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

from machine import FIXTURES, REPO, bench_folder, log, no_model, run_worker  # bench/ is the script's folder: on sys.path

HERE = Path(__file__).resolve()
DEFAULT_MODEL = bench_folder("musicgen", "musicgen-small-random")
TEST_MODEL = FIXTURES / "musicgen" / "model"
BUILD = f"python bench/build_musicgen_bench_models.py --out {bench_folder('musicgen')}   (a venv with optimum-onnx and torch)"
PROMPT = "lofi hip hop beat with warm piano and soft drums"
SETTINGS = {"guidance_scale": 3.0, "top_k": 250, "temperature": 1.0, "seed": 0}
LENGTHS = (30.0, 60.0, 120.0)
SMOKE_LENGTHS = (12.0, 24.0)  # two and four windows of the test model
MB = 2**20


# -- the child: one generation, its time and its memory -----------------------------------------


def _status_kb(key: str) -> int | None:
    """A ``/proc/self/status`` field in kB (None where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _peak_kb() -> int:
    """This process's resident-memory high-water mark, in kB."""
    peak = _status_kb("VmHWM")
    if peak is not None:
        return peak
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, kB elsewhere


def _reset_peak() -> bool:
    """Set the high-water mark to the current resident size (Linux 4.0+: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def worker(config: dict) -> dict:
    import studio
    from studio.core.engine.jobs import JobRunner, JobState
    from studio.core.engine.runtime import Runtime
    from studio_plugins.musicgen.generator import MusicGenLoader

    runner = JobRunner(Runtime(cpu_threads=config["threads"]))
    generator = MusicGenLoader().load(Path(config["folder"]))
    settings = {**SETTINGS, "top_k": min(SETTINGS["top_k"], int(generator.param("top_k").max))}

    def once(seconds: float) -> tuple[float, object, int]:
        windows = set()

        def listen(job, event):
            if isinstance(event, studio.Progress) and event.message.startswith("Window "):
                windows.add(event.message.split(" · ")[0])

        request = generator.request({"prompt": PROMPT, "duration": seconds, **settings})
        begin = time.perf_counter()
        job = runner.submit(generator, request, listeners=[listen])
        job.wait()
        elapsed = time.perf_counter() - begin
        if job.state is not JobState.FINISHED:
            raise SystemExit(f"the generation of {seconds:g} s failed: {job.message}")
        return elapsed, job.result, max(1, len(windows))

    once(0.2)  # opens the sessions: from here on the model is loaded
    gc.collect()
    reset = _reset_peak()
    before_kb = _peak_kb()
    elapsed, result, windows = once(config["seconds"])
    after_kb = _peak_kb()
    runner.shutdown()
    audio = result.value
    return {
        "compute_s": elapsed, "audio_s": audio.shape[0] / result.sample_rate, "windows": windows,
        "loaded_mb": before_kb / 1024, "peak_delta_mb": (after_kb - before_kb) / 1024, "output_mb": audio.nbytes / MB,
        "peak_reset": reset, "provider": result.info.get("provider", "?"),
    }


# -- the parent: one child per length, the table -------------------------------------------------


def describe(folder: Path) -> str:
    try:
        return str(folder.resolve().relative_to(REPO))
    except ValueError:
        return str(folder)


def table(rows: list[tuple[str, dict]]) -> list[str]:
    first = rows[0][1]
    header = (f"  {'piece':<24} {'windows':>7} {'audio s':>8} {'compute s':>10} {'RTF':>7} {'peak MB':>8} {'output MB':>10} "
              f"{'peak-output':>12} {'x first: length':>16} {'time':>6} {'peak':>6} {'peak-output':>12}")
    lines = [header, "  " + "-" * (len(header) - 2)]
    for label, row in rows:
        rest, first_rest = row["peak_delta_mb"] - row["output_mb"], first["peak_delta_mb"] - first["output_mb"]
        lines.append(
            f"  {label:<24} {row['windows']:>7} {row['audio_s']:>8.2f} {row['compute_s']:>10.2f} {row['audio_s'] / row['compute_s']:>7.2f} "
            f"{row['peak_delta_mb']:>8.1f} {row['output_mb']:>10.1f} {rest:>12.1f} {row['audio_s'] / first['audio_s']:>16.2f} "
            f"{row['compute_s'] / first['compute_s']:>6.2f} {_ratio(row['peak_delta_mb'], first['peak_delta_mb']):>6} {_ratio(rest, first_rest):>12}")
    return lines


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base > 0.05 else "-"  # a peak under 0.05 MB is below what the counter shows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="MusicGen past its window: time and peak memory by length")
    parser.add_argument("--model", type=Path, help=f"a MusicGen folder; default {DEFAULT_MODEL} if built, else the test model")
    parser.add_argument("--lengths", type=float, nargs="+", default=LENGTHS, metavar="SECONDS", help="piece lengths (default 30 60 120)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="the tiny test model, 12 s and 24 s, 1 thread: checks that the benchmark works")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    if args.smoke:
        args.model, args.lengths, args.threads = TEST_MODEL, SMOKE_LENGTHS, 1
    if args.model is not None and not (args.model / "config.json").is_file():
        raise no_model(args.model, BUILD)
    if any(length <= 0 for length in args.lengths):
        parser.error("--lengths: every length must be above 0 s")
    model = args.model
    if model is None:
        model = DEFAULT_MODEL if (DEFAULT_MODEL / "config.json").is_file() else TEST_MODEL
    from studio_plugins.musicgen.generator import LONGEST_SECONDS, window_frames  # reads config.json only
    from studio_plugins.musicgen.layout import MusicGenModel

    read = MusicGenModel.read(model)
    window_s = window_frames(read) / read.frame_rate
    if max(args.lengths) > LONGEST_SECONDS:
        parser.error(f"--lengths: the generator makes at most {LONGEST_SECONDS:g} s")
    if model.resolve() == DEFAULT_MODEL.resolve():
        which = "the bench model (musicgen-small's shapes, random weights)"
    elif model.resolve() != TEST_MODEL.resolve():
        which = "the model given"
    elif args.model is None:
        which = "the tiny test model (the bench model is not built: " + BUILD.split("   ")[0] + ")"
    else:
        which = "the tiny test model"
    print(f"MusicGen past its window: {describe(model)}, {which}; a window of {window_s:g} s "
          f"({read.sampling_rate // 1000} kHz, {read.frame_rate} code frames/s)")
    print(f"guidance 3 (batch 2), top-k 250, temperature 1, seed 0; {args.threads} thread(s); each piece in a fresh process, "
          f"peak = resident high-water mark during the generation, after the model is loaded")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared; load average {os.getloadavg()[0]:.1f})")
    rows: list[tuple[str, dict]] = []
    # A length that is exactly one window (30 s on the released models) is the one-window row.
    one_window = [length for length in args.lengths if round(length * read.frame_rate) == window_frames(read)]
    pieces = [(f"{length:g} s" + (" (one window)" if length in one_window else ""), length) for length in args.lengths]
    if not one_window:
        pieces.append((f"one window ({window_s:g} s)", window_s))
    for label, seconds in pieces:
        log(f"{label}")
        config = {"folder": str(model), "seconds": seconds, "threads": args.threads, "variant": label}
        rows.append((label, run_worker(HERE, sys.executable, config)))
    print()
    print("\n".join(table(rows)))
    print(f"  (ratios are to the first row, {rows[0][0]}; peak-output: the peak without the output samples, "
          f"float32 at {read.sampling_rate} Hz)")
    print(f"  model loaded (resident before each generation): {min(row['loaded_mb'] for _, row in rows):.0f}"
          f"-{max(row['loaded_mb'] for _, row in rows):.0f} MB")
    asked = rows[:len(args.lengths)]
    shortest = min(asked, key=lambda item: item[1]["audio_s"])[1]
    longest = max(asked, key=lambda item: item[1]["audio_s"])[1]
    if longest["output_mb"] > shortest["output_mb"]:
        peak_grown, output_grown = longest["peak_delta_mb"] - shortest["peak_delta_mb"], longest["output_mb"] - shortest["output_mb"]
        print(f"  from {shortest['audio_s']:g} s to {longest['audio_s']:g} s: the peak grows {peak_grown:+.1f} MB, the output samples "
              f"{output_grown:+.1f} MB: {peak_grown / output_grown:.1f} MB of peak per MB of output")
    if not all(row["peak_reset"] for _, row in rows):
        print("  (this system cannot reset the high-water mark: the warm-up's peak is in the baseline)")
    print(f"  one window is all transformers' MusicgenForConditionalGeneration.generate() makes ({window_s:g} s here, 30 s on the "
          f"released models): it has no continuation, the released generation_config stops it at 1500 steps, and past "
          f"max_position_embeddings it runs on positions the model never learned")
    print(f"provider: {rows[-1][1]['provider']}; onnxruntime in each child process")
    if args.json:
        args.json.write_text(json.dumps({"model": str(model), "lengths": args.lengths, "rows": dict(rows)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
