"""Adding a model folder opens its ONNX files before saying "ok": `studio models add` (and the
window's File > Add model folder, through the same Host.add_model_folder) used to accept a
folder whose model.onnx was truncated or garbage, and the damage only showed when a job ran.
Now the folder is not added, and the message names the bad file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.models.check import check_onnx_files
from studio.core.base.paths import builtin_models
from studio.errors import ModelError
from studio.host import Host

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def studio(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garbage(path: Path) -> None:
    path.write_bytes(b"this is not an onnx model \x00\xff" * 40)


def empty(path: Path) -> None:
    path.write_bytes(b"")


def text(path: Path) -> None:
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 123\n")  # an LFS pointer


# (the model folder, the .onnx inside it to damage)
FOLDERS = {
    "cppn": (builtin_models() / "cppn", "model.onnx"),
    "lm": (FIXTURES / "lm" / "models" / "gpt2", None),
    "sd": (FIXTURES / "sd" / "models" / "sd1", "unet/model.onnx"),
    "musicgen": (FIXTURES / "musicgen" / "model", "onnx/decoder_model_merged.onnx"),
}


def damaged_copy(tmp_path: Path, kind: str, damage) -> tuple[Path, Path]:
    source, relative = FOLDERS[kind]
    folder = tmp_path / f"{kind}-{damage.__name__}"
    shutil.copytree(source, folder)
    if relative is None:
        relative = next(str(p.relative_to(folder)) for p in sorted(folder.rglob("*.onnx")))
    bad = folder / relative
    damage(bad)
    return folder, bad


@pytest.mark.parametrize("damage", [truncate, garbage, empty, text])
def test_cli_refuses_a_cppn_folder_whose_model_is_damaged_naming_the_file(tmp_path, damage):
    folder, bad = damaged_copy(tmp_path, "cppn", damage)

    run = studio("models", "add", str(folder), cwd=tmp_path)

    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("studio: error: ") and str(bad) in last, run.stderr
    assert "none yet" in studio("models", cwd=tmp_path).stdout  # nothing was remembered


@pytest.mark.parametrize("kind", ["lm", "sd", "musicgen"])
def test_every_built_in_loader_refuses_a_truncated_model_file(tmp_path, kind):
    folder, bad = damaged_copy(tmp_path, kind, truncate)
    host = Host()
    with pytest.raises(ModelError) as refused:
        host.add_model_folder(str(folder))
    assert str(bad) in str(refused.value)
    assert host.settings.model_folders == [] and Host().settings.model_folders == []


@pytest.mark.parametrize("kind", list(FOLDERS))
def test_healthy_folders_are_added(tmp_path, kind):
    folder = tmp_path / kind
    shutil.copytree(FOLDERS[kind][0], folder)
    entry = Host().add_model_folder(str(folder))
    assert entry.ok, entry.error


def test_the_check_names_the_file_and_what_is_wrong(tmp_path):
    folder, bad = damaged_copy(tmp_path, "cppn", garbage)
    with pytest.raises(ModelError, match="damaged or not an ONNX model") as refused:
        check_onnx_files(folder)
    assert str(bad) in str(refused.value)
