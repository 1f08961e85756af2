"""The GPU check in one command: Studio's parity tests on CUDA, and its speed there.

    python bench/gpu_check.py            # a machine with an NVIDIA GPU (onnxruntime-gpu + CUDA libraries)
    python bench/gpu_check.py --smoke    # the same code on the CPU with the tiny test models (CI has no GPU)

1. Parity: the parity tests (tests/core/test_{sd,lm,musicgen}_parity.py: our pipelines against
   the goldens diffusers and transformers made) run with ``STUDIO_TEST_DEVICE=cuda:0``, which
   makes them submit their jobs to the CUDA device and fail if a session fell back to the CPU.
2. Speed, through Studio's own generators and JobRunner as the app runs them, each after a
   warm-up job (sessions created, CUDA kernels chosen):
   - Stable Diffusion 512 x 512, 50 steps, guidance 7.5: seconds per image and per step;
   - a language model: decode tokens/s over 128 new tokens, greedy;
   - MusicGen: real-time factor (seconds of audio per second of compute) for 5 s of audio;
   each beside the providers its sessions really got (``session.get_providers()``, never the
   list the build offers). The benchmark models are those bench/build_*_bench_models.py make
   (outside the repository); where one is not built, the tiny test model runs instead and the
   row says so.

On a machine without a working CUDA provider it says why in one line, runs the --smoke part and
exits 0. Exit 1 when a parity test fails or a figure cannot be measured.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from machine import FIXTURES, bench_folder  # bench/ is the script's folder: on sys.path

REPO = Path(__file__).resolve().parent.parent
PARITY_TESTS = ["tests/core/test_sd_parity.py", "tests/core/test_lm_parity.py", "tests/core/test_musicgen_parity.py",
                "tests/core/test_musicgen_optimum_layout.py"]
PARITY_TIMEOUT_S = 1800
MODELS = {  # what: (benchmark model, the command that builds it, the tiny test model)
    "sd": (bench_folder("sd", "onnx"), "python bench/build_sd_bench_models.py", FIXTURES / "sd" / "models" / "sd1"),
    "lm": (bench_folder("lm", "gpt2-100m"), "python bench/build_lm_bench_models.py", FIXTURES / "lm" / "models" / "gpt2"),
    "musicgen": (bench_folder("musicgen", "musicgen-small-random"), "python bench/build_musicgen_bench_models.py", FIXTURES / "musicgen" / "model"),
}
FULL = {"side": 512, "steps": 50, "tokens": 128, "seconds": 5.0}
SMOKE = {"side": 64, "steps": 2, "tokens": 8, "seconds": 0.2}
PROMPTS = {"sd": "a lighthouse on a cliff at dusk, oil painting", "lm": "ROMEO:\nBut, soft! what light through yonder window breaks?",
           "musicgen": "a calm piano melody with soft strings"}


@dataclass
class Row:
    what: str
    model: str
    figure: str
    providers: str
    ok: bool = True


def cuda_device(runtime):
    """The CUDA device if it really starts here, else None and the reason in a sentence."""
    from studio.errors import StudioError

    try:
        device = runtime.device("cuda:0")
    except StudioError as exc:
        return None, f"this onnxruntime build has no CUDA provider ({exc})"
    probe = runtime.probe(device)
    return (device, "") if probe.usable else (None, probe.reason)


def parity(device_id: str, smoke: bool) -> tuple[bool, str]:
    """Run the parity tests on ``device_id`` in a child pytest; (passed, its summary line)."""
    env = dict(os.environ, STUDIO_TEST_DEVICE=device_id, QT_QPA_PLATFORM="offscreen")
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    selected = PARITY_TESTS
    if smoke:  # the first case of each file: the switch and the plumbing, not every golden
        listed = subprocess.run([*base, "--collect-only", *PARITY_TESTS], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        ids = [line for line in listed.stdout.splitlines() if "::" in line]
        selected = [next(i for i in ids if i.startswith(f)) for f in PARITY_TESTS if any(i.startswith(f) for i in ids)]
        if len(selected) != len(PARITY_TESTS):
            return False, f"could not list the parity tests: {(listed.stdout + listed.stderr).strip().splitlines()[-1:]}"
    done = subprocess.run([*base, *selected], cwd=REPO, env=env, capture_output=True, text=True, timeout=PARITY_TIMEOUT_S)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    summary = lines[-1].strip("= ") if lines else done.stderr.strip()[-300:]
    if done.returncode != 0:
        failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
        summary += "".join(f"\n    {line}" for line in failed[:20])
    return done.returncode == 0, summary


def model_folder(what: str, smoke: bool, chosen: Path | None) -> tuple[Path, str]:
    bench, build, tiny = MODELS[what]
    if chosen:
        return chosen, chosen.name
    if not smoke and bench.is_dir():
        return bench, f"{bench.name} (bench)"
    note = "" if smoke else f" (tiny: build the bench model with `{build}`)"
    return tiny, f"{tiny.name}{note}"


def run_job(runner, generator, values: dict, device, timeout: float = 3600):
    from studio.core.engine.jobs import JobState

    job = runner.submit(generator, generator.request(values), device)
    if not job.wait(timeout):
        job.cancel()
        raise RuntimeError(f"{generator.id} did not finish within {timeout:.0f} s")
    if job.state is not JobState.FINISHED:
        raise RuntimeError(job.message)
    return job.result


def providers_used(runtime, device) -> tuple[str, bool]:
    """The providers the sessions really got; False when any fell back from the device's own."""
    got = sorted({s.providers[0] for s in runtime.cached_sessions()})
    return ", ".join(got) or "no session", all(p == device.providers[0] for p in got)


def measure(what: str, folder: Path, device, sizes: dict, threads: int) -> tuple[str, object]:
    """Warm up, then time one job of ``what`` on ``device``; (the figure, the runtime used)."""
    from studio.core.engine.jobs import JobRunner
    from studio.core.engine.runtime import Runtime

    runtime = Runtime(cpu_threads=threads)
    runner = JobRunner(runtime)
    try:
        if what == "sd":
            from studio_plugins.stable_diffusion.generator import StableDiffusionLoader

            generator = StableDiffusionLoader().load(folder)
            side, steps = sizes["side"], sizes["steps"]
            values = {"prompt": PROMPTS["sd"], "width": side, "height": side, "guidance": 7.5, "scheduler": "euler", "seed": 0}
            run_job(runner, generator, {**values, "steps": 1}, device)
            started = time.perf_counter()
            result = run_job(runner, generator, {**values, "steps": steps}, device)
            seconds = result.info.get("seconds") or time.perf_counter() - started
            return f"{seconds:.2f} s/image ({seconds / steps:.3f} s/step)", runtime
        if what == "lm":
            from studio_plugins.text_lm.generator import LMLoader

            generator = LMLoader().load(folder)
            values = {"prompt": PROMPTS["lm"], "temperature": 0.0, "seed": 0}
            run_job(runner, generator, {**values, "max_new_tokens": 4}, device)
            result = run_job(runner, generator, {**values, "max_new_tokens": sizes["tokens"]}, device)
            return f"{result.info['tokens_per_s']:.1f} tok/s ({result.info['new_tokens']} tokens)", runtime
        from studio_plugins.musicgen.generator import MusicGenLoader

        generator = MusicGenLoader().load(folder)
        values = {"prompt": PROMPTS["musicgen"], "seed": 0}
        shortest = next(p for p in generator.params if p.name == "duration").min
        run_job(runner, generator, {**values, "duration": shortest}, device)
        result = run_job(runner, generator, {**values, "duration": max(shortest, sizes["seconds"])}, device)
        return f"{result.info['real_time_factor']:.2f} x real time ({result.info['audio_s']:.1f} s of audio)", runtime
    finally:
        runner.shutdown()


def check(device, smoke: bool, threads: int, chosen: dict[str, Path | None]) -> int:
    from studio.core.engine.onnx_import import import_onnxruntime

    onnxruntime = import_onnxruntime()
    sizes = SMOKE if smoke else FULL
    mode = "smoke: the CPU and the tiny test models" if smoke else f"{device.name}"
    print(f"GPU check — {mode}; onnxruntime {onnxruntime.__version__}, {threads} CPU thread(s)\n", flush=True)
    passed, summary = parity(device.id, smoke)
    print(f"parity tests on {device.id}: {summary}  {'OK' if passed else 'FAILED'}\n", flush=True)
    side = sizes["side"]
    titles = {"sd": f"SD {side}x{side} x {sizes['steps']} steps", "lm": "LM decode", "musicgen": f"MusicGen {sizes['seconds']:g} s"}
    rows = []
    for what, title in titles.items():
        folder, label = model_folder(what, smoke, chosen.get(what))
        try:
            figure, runtime = measure(what, folder, device, sizes, threads)
            providers, on_device = providers_used(runtime, device)
            rows.append(Row(title, label, figure, providers + ("" if on_device else "  (FELL BACK to the CPU)"), on_device))
        except Exception as exc:  # noqa: BLE001 - a row says what went wrong; the others still run
            rows.append(Row(title, label, f"failed: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}", "", False))
    print(f"{'GPU check':<24}{'model':<34}{'figure':<40}providers (session.get_providers())")
    for row in rows:
        print(f"{row.what:<24}{row.model[:33]:<34}{row.figure:<40}{row.providers}")
    return 0 if passed and all(row.ok for row in rows) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the CPU and the tiny test models: checks that the script works")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="onnxruntime CPU threads (default: every core)")
    for what in MODELS:
        parser.add_argument(f"--{what}", type=Path, help=f"the {what} model folder (default: {MODELS[what][0]})")
    args = parser.parse_args(argv)
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-gpu-check-"))  # caches made here stay here
    from studio.core.engine.runtime import CPU_DEVICE, Runtime

    chosen = {what: getattr(args, what) for what in MODELS}
    if args.smoke:
        return check(CPU_DEVICE, True, args.threads, chosen)
    device, reason = cuda_device(Runtime(cpu_threads=args.threads))
    if device is None:
        reason = reason.replace("; running on the CPU", "")
        print(f"No CUDA here: {reason}. Running the CPU smoke part only.", flush=True)
        return check(CPU_DEVICE, True, args.threads, chosen)
    return check(device, False, args.threads, chosen)


if __name__ == "__main__":
    sys.exit(main())
