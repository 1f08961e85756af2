"""Every benchmark runs as the README says, from a fresh clone: each in its --smoke mode.

A smoke run uses tiny sizes and the tiny models in tests/fixtures, so it checks that a
benchmark works (arguments, model paths, workers, its table), not what it measures. The
torch reference is not in Studio's venv: a smoke run must say it skipped it, not fail.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"

# benchmark -> what its ratio table always prints
TABLES = {
    "text_streaming.py": "p99/goal",
    "long_manuscript.py": "open/goal",
    "ui_responsiveness.py": "p99/goal",
    "lm_pipeline.py": "ours vs bare: tokens/s",
    "musicgen_pipeline.py": "ours vs the bandwidth limit",
    "sd_pipeline.py": "ours/diffusers step, image",
    "chorale_sketcher.py": "x real time",
    "mixer.py": "x goal (1 ms)",
    "soak.py": "growth not content",
    "llama_cpp.py": "x l.cpp",
    "gpu_check.py": "GPU check",
    "import_models.py": "x write-limited",
    "lm_import_speed.py": "ours/genai decode tok/s",
    "taesd_preview.py": "x cheaper than the VAE",
    "prefix_reuse.py": "fresh/reused TTFT",
    "musicgen_long.py": "peak-output",
    "piano_roll_edit.py": "goal < 16 ms",
    "midi_import.py": "render x real time",
    "mix_export.py": "GUI stall on GUI/worker",
    "render_nodes.py": "ray/local",
    "latent_explorer.py": "grid/bare",
}
# Smoke runs that convert real (tiny) models in child processes take longer than the rest.
SMOKE_TIMEOUTS = {"import_models.py": 600}
NEEDS_TORCH = {"lm_pipeline.py", "musicgen_pipeline.py", "sd_pipeline.py", "chorale_sketcher.py", "latent_explorer.py"}
BUILDERS = ["build_lm_bench_models.py", "build_musicgen_bench_models.py", "build_sd_bench_models.py", "build_import_bench_models.py",
            "build_taesd_bench_models.py"]
# Modules a benchmark runs or imports, not benchmarks themselves (the llama.cpp one's parts).
HELPERS = ["llama_cpp_build.py", "llama_cpp_models.py", "llama_cpp_prepare.py", "llama_cpp_studio.py", "llama_cpp_table.py"]


def run_bench(script: str, *args: str, timeout: float = 240, temp: Path | None = None) -> subprocess.CompletedProcess:
    """``temp``: the benchmark's temp folder, where it looks for its models by default."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    if temp is not None:
        env["TMPDIR"] = str(temp)
    env.pop("STUDIO_TORCH_PYTHON", None)  # as in a fresh clone: no reference python
    return subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, env=env, timeout=timeout,
                          cwd=BENCH.parent)


def test_every_benchmark_has_a_smoke_run_here():
    scripts = {p.name for p in BENCH.glob("*.py")} - {"machine.py", *BUILDERS, *HELPERS}
    assert scripts == set(TABLES)


@pytest.mark.parametrize("script", sorted(TABLES))
def test_benchmark_runs_in_smoke_mode_and_prints_its_table(script):
    done = run_bench(script, "--smoke", timeout=SMOKE_TIMEOUTS.get(script, 240))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert TABLES[script] in done.stdout, done.stdout[-3000:]
    if script in NEEDS_TORCH:
        assert "skipped" in done.stdout, done.stdout[-3000:]  # the reference column, with a note
    assert "Traceback" not in done.stderr, done.stderr[-3000:]


@pytest.mark.parametrize("script, args", [
    ("lm_pipeline.py", ["--models", "gpt2-100m"]),
    ("prefix_reuse.py", ["--models", "gpt2-100m"]),
    ("musicgen_pipeline.py", []),
    ("musicgen_long.py", []),
    ("sd_pipeline.py", []),
])
def test_a_missing_benchmark_model_names_the_command_that_builds_it(script, args, tmp_path):
    env_args = {"musicgen_pipeline.py": ["--model", str(tmp_path / "none")], "musicgen_long.py": ["--model", str(tmp_path / "none")],
                "sd_pipeline.py": ["--models", str(tmp_path / "none")]}
    # An empty temp folder: a benchmark model built on this machine must not count as there.
    done = run_bench(script, *args, *env_args.get(script, []), timeout=60, temp=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "build it first" in done.stderr and "python bench/build_" in done.stderr
    assert "/work/" not in done.stderr + done.stdout  # no path that exists on one machine only
    assert "Traceback" not in done.stderr


def test_the_long_musicgen_bench_falls_back_to_the_test_model_and_measures_each_length(tmp_path):
    # An empty temp folder: no bench model, so the tiny test model (a window of 10.18 s).
    done = run_bench("musicgen_long.py", "--lengths", "15", "25", "--threads", "1", timeout=120, temp=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout[-3000:] + done.stderr[-3000:]
    assert "the tiny test model" in done.stdout and "python bench/build_musicgen_bench_models.py" in done.stdout
    rows = {line[:26].strip(): line[26:].split() for line in done.stdout.splitlines() if line.startswith("  ") and line[26:27] == " "}
    # windows, audio s, compute s, RTF, peak MB, output MB, peak-output, then the ratios
    assert rows["15 s"][:2] == ["2", "15.00"] and rows["25 s"][:2] == ["4", "25.00"]  # 10.18 s, then 6.1 s each
    assert rows["one window (10.18 s)"][:2] == ["1", "10.18"]
    for row, seconds in ((rows["15 s"], 15), (rows["25 s"], 25)):
        assert float(row[5]) == pytest.approx(seconds * 8000 * 4 / 2**20, abs=0.05)  # float32 samples at 8 kHz
        assert float(row[4]) > float(row[5])  # the peak holds the samples
    # Two more windows do not double what the generation holds besides its samples: the caches are one window's.
    assert float(rows["25 s"][6]) < 2 * float(rows["15 s"][6])


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is here: the builders would really build")
@pytest.mark.parametrize("script", BUILDERS)
def test_a_builder_without_torch_says_what_to_install(script):
    done = run_bench(script, "--out", os.devnull, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "needs" in done.stderr and "pip install" in done.stderr and "Traceback" not in done.stderr
