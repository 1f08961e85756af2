"""``studio models import PATH``, run as a user runs it (a subprocess): the import with its progress,
the model it installs generating from the same command line, the exit codes of what it refuses,
Ctrl-C mid-conversion, and a Python without the convert extra (a real environment: a venv that
has every package of this one but torch, diffusers, transformers, safetensors and onnxscript)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from studio.core.base import paths
from studio.core.models.importing import WORK

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "convert"
QWEN2 = FIXTURES / "lm" / "qwen2"
SD1 = FIXTURES / "sd" / "sd1.safetensors"
CONVERT_PACKAGES = ("torch", "functorch", "diffusers", "transformers", "safetensors", "onnxscript")


def studio(*args: str, cwd: Path, python: str = sys.executable, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "studio", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def leftovers() -> list[str]:
    place = paths.models()
    if not place.is_dir():
        return []
    work = place / WORK
    return sorted(p.name for p in place.iterdir() if not p.name.startswith(".")) + (
        sorted(p.name for p in work.iterdir()) if work.is_dir() else [])


def test_import_prints_progress_the_folder_and_how_to_use_it_then_it_generates(tmp_path):
    run = studio("models", "import", str(QWEN2), "--variant", "int8", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    folder = paths.models() / "qwen2"
    assert run.stdout.splitlines() == [str(folder), "Use it with: studio generate lm:qwen2"]
    lines = run.stderr.splitlines()
    assert f"Importing {QWEN2} (a Qwen2 language model)" in lines, run.stderr
    # the converter's own progress, per component, step of total
    assert any(re.fullmatch(r"\d+% \(\d+/2\) Model: .+", line) for line in lines), run.stderr
    assert lines[-1] == "Imported qwen2 as qwen2 (fp32, int8) in:"
    assert (folder / "onnx" / "model_int8.onnx").is_file()

    listed = studio("models", "list", cwd=tmp_path)
    assert f"imported from {QWEN2}" in listed.stdout, listed.stdout
    made = studio("generate", "lm:qwen2", "--param", "prompt=Once", "--param", "max_new_tokens=4",
                  "--param", "temperature=0", "-o", str(tmp_path / "out.txt"), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "out.txt").is_file()


def test_what_import_refuses_is_one_sentence_and_exit_code_2(tmp_path):
    pickled = tmp_path / "model.ckpt"
    pickled.write_bytes(b"\x80\x04K\x01.")
    run = studio("models", "import", str(pickled), cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.splitlines() == [
        "studio: error: model.ckpt is a pickled file (.ckpt): loading a pickle can run any code hidden in it, so "
        "Studio reads only .safetensors weights. The same model is almost always published as .safetensors too: "
        "download that one and import it"]
    run = studio("models", "import", str(QWEN2), "--variant", "fp16", cwd=tmp_path)
    assert run.returncode == 2 and "cannot be imported with a fp16 variant (offered: int4, int8)" in run.stderr
    assert leftovers() == []


def test_ctrl_c_mid_conversion_cancels_kills_the_converter_and_installs_nothing(tmp_path):
    command = [sys.executable, "-m", "studio", "models", "import", str(SD1)]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    heard = []
    try:
        for line in process.stderr:  # a log, not a terminal: one line a phase
            heard.append(line.rstrip())
            if not line.startswith(("Importing ", "Starting the import", "Checking the room")):
                break  # the converter's first word: it is converting now
        converters = [pid for pid in _pids()  # this test's own: its output goes to this test's models folder
                      if b"studio.convert" in _command(pid) and str(paths.models()).encode() in _command(pid)]
        assert converters, heard
        os.kill(process.pid, signal.SIGINT)
        rest = process.stderr.read()
        code = process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 130, (heard, rest)
    assert "studio: import cancelled; nothing was installed" in rest
    time.sleep(0.2)
    assert not [pid for pid in converters if _alive(pid)]
    assert leftovers() == []


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.fixture(scope="module")
def python_without_the_convert_extra(tmp_path_factory) -> str:
    """A venv with every package of this environment (Studio's editable install too) linked in,
    except the convert extra's: the Python a user has who installed Studio without ``[convert]``."""
    venv = tmp_path_factory.mktemp("no-convert") / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith(CONVERT_PACKAGES) and not (site / entry.name).exists():
            (site / entry.name).symlink_to(entry)
    return str(python)


def test_without_the_convert_extra_the_exact_command_is_given(tmp_path, python_without_the_convert_extra):
    python = python_without_the_convert_extra
    probe = subprocess.run([python, "-c", "import importlib.util as u; print(u.find_spec('torch'), u.find_spec('studio') is not None)"],
                           capture_output=True, text=True)
    assert probe.stdout.split() == ["None", "True"], probe.stderr  # Studio is there, torch is not
    run = studio("models", "import", str(QWEN2), cwd=tmp_path, python=python)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith("studio: error: Importing models needs Studio's convert extra")
    assert "torch, diffusers, transformers, safetensors, onnxscript are not installed" in run.stderr
    assert f"  {python} -m pip install --extra-index-url https://download.pytorch.org/whl/cpu 'studio-desktop[convert]'" in run.stderr.splitlines()
    assert leftovers() == []
