"""``studio models download`` and ``studio models inspect``, run as a user runs them (a
subprocess) against the stand-in hub; then the downloaded model generates from the same command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from studio.core.base import paths

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from hub import GATED_REPO, LLAMA_REPO  # noqa: E402


def studio(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_download_prints_progress_the_folder_and_how_to_use_it_then_it_generates(stand_in_hub, tmp_path):
    stand_in_hub.throttle(200_000)  # bytes/s: 3 s, so a progress line comes mid-way (one every 2 s in a log)
    run = studio("models", "download", LLAMA_REPO, "--variant", "fp32", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    folder = paths.models() / "tiny-llama-ONNX"
    assert run.stdout.splitlines() == [str(folder), "Use it with: studio generate lm:tiny-llama-ONNX"]
    # the progress printer's lines: bytes, rate and time left
    assert re.search(r"^\d+% \(\d+/661\) [\d.]+ KB of 677\.0 KB · [\d.]+ KB/s · about \d+ s left$", run.stderr, re.MULTILINE), run.stderr
    assert f"Installed {LLAMA_REPO} (fp32) in:" in run.stderr
    assert (folder / "studio-model.json").is_file()

    made = studio("generate", "lm:tiny-llama-ONNX", "--param", "prompt=Once", "--param", "max_new_tokens=5",
                  "--param", "temperature=0", "-o", str(tmp_path / "out.txt"), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "out.txt").read_text(encoding="utf-8")


def test_download_failures_are_one_sentence_and_exit_code_2(stand_in_hub, tmp_path):
    run = studio("models", "download", "nobody/nothing-here", cwd=tmp_path)
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if line.startswith("studio: ")]
    assert errors == [
        f"studio: error: there is no repository nobody/nothing-here on {stand_in_hub.endpoint} (check the name; "
        "a private one needs a token: give Studio a token: set HF_TOKEN, or run `hf auth login`)"]
    run = studio("models", "download", GATED_REPO, "-q", cwd=tmp_path)
    assert run.returncode == 2 and "is gated: accept its license on the hub page" in run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.splitlines()) == 1  # -q: the sentence only
    run = studio("models", "download", "not a repo id", cwd=tmp_path)
    assert run.returncode == 2 and "is not a hub repository id" in run.stderr


def test_inspect_lists_files_variants_with_sizes_and_the_verdict(stand_in_hub, tmp_path):
    run = studio("models", "inspect", LLAMA_REPO, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"{LLAMA_REPO} @ {stand_in_hub.repos[LLAMA_REPO].sha[:12]}")
    assert "License: apache-2.0" in lines
    assert "Studio can run this as a language model (variants: fp32, q4)" in lines
    assert any(line.split()[:3] == ["fp32", "677.0", "KB"] for line in lines)
    assert any(line.split()[:3] == ["q4", "322.2", "KB"] and line.endswith("default on the CPU") for line in lines)
    assert any(line.strip().endswith("onnx/model_q4.onnx_data") for line in lines)
    assert lines[-1] == f"Download with: studio models download {LLAMA_REPO} --variant q4"
    assert stand_in_hub.fetched("GET") == []  # listing downloads nothing


def test_a_killed_download_resumes_where_it_stopped(stand_in_hub, tmp_path):
    import signal
    import time

    stand_in_hub.throttle(100_000)  # bytes/s: model.onnx (652 KB) takes seconds
    process = subprocess.Popen([sys.executable, "-m", "studio", "models", "download", LLAMA_REPO, "--variant", "fp32", "-q"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    partial = paths.models() / ".partial" / "tiny-llama-ONNX" / "onnx" / "model.onnx.incomplete"
    deadline = time.monotonic() + 60
    while not (partial.is_file() and partial.stat().st_size >= 200_000) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # no goodbye: as a crash or a closed laptop lid would
    process.communicate(timeout=10)
    kept = partial.stat().st_size
    assert 200_000 <= kept < 652_119
    assert not (paths.models() / "tiny-llama-ONNX" / "studio-model.json").exists()

    stand_in_hub.throttle(0)
    stand_in_hub.requests.clear()
    run = studio("models", "download", LLAMA_REPO, "--variant", "fp32", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    gets = [r for r in stand_in_hub.fetched("GET") if r.file == "onnx/model.onnx"]
    assert [r.range for r in gets] == [f"bytes={kept}-"]
    # the files finished before the kill (in the repository's order, before model.onnx) are not asked for again
    assert {r.file for r in stand_in_hub.fetched("GET")} == {"onnx/model.onnx", "tokenizer.json", "tokenizer_config.json"}


def test_the_librarys_own_warnings_go_to_the_log_not_the_terminal(stand_in_hub, tmp_path):
    stand_in_hub.drop_after("onnx/model.onnx", 100_000)  # huggingface_hub warns "Trying to resume download..."
    run = studio("models", "download", LLAMA_REPO, "--variant", "fp32", "-q", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "resume" not in run.stderr and "Error while downloading" not in run.stderr, run.stderr
    assert "Trying to resume download" in paths.log_file().read_text(encoding="utf-8")
