"""Lost updates: Studios writing one project file, or the settings, at the same moment.

Two `studio generate … --project same.studio` at once lost one result in 2 of 3 trials,
both printing "Added …"; six concurrent `studio models add` kept one folder of six. Every
read-modify-write of a project or of the settings now holds a file lock, and reads again
under it. These run the real command in real processes, all started together.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from studio.core.base.paths import builtin_models
from studio.core.project.load import load_project


def _start(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "studio", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(runs: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    outcomes = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        outcomes.append((run.returncode, out, err))
    return outcomes


def test_four_generations_into_one_project_at_once_all_land(tmp_path):
    runs = [_start("generate", "cppn", "--param", "width=64", "--param", "height=64", "--param", f"seed={seed}",
                   "--project", "same.studio", "-q", cwd=tmp_path) for seed in range(4)]
    outcomes = _finish(runs)
    for code, out, err in outcomes:
        assert code == 0, err
        assert "Added layer" in out, out
    loaded = load_project(tmp_path / "same.studio")
    assert loaded.problems == []
    project = loaded.project
    assert sorted(layer.params.get("seed") for layer in project.image.layers) == [0, 1, 2, 3]
    assert sorted(entry.params["seed"] for entry in project.history) == [0, 1, 2, 3]
    assert not list(tmp_path.glob("*.lock")), "the lock file is removed once the last writer is done"


def test_six_model_folders_added_at_once_are_all_kept(tmp_path):
    folders = []
    for n in range(6):
        folder = tmp_path / f"cppn-{n}"
        shutil.copytree(builtin_models() / "cppn", folder)
        folders.append(folder)
    outcomes = _finish([_start("models", "add", str(folder), cwd=tmp_path) for folder in folders])
    for code, out, err in outcomes:
        assert code == 0, err
    from studio.settings import Settings

    assert sorted(Settings().model_folders) == sorted(str(folder.resolve()) for folder in folders)


def test_a_lock_in_a_missing_folder_is_refused_plainly_and_creates_nothing(tmp_path):
    from studio.core.base.file_lock import locked
    from studio.errors import StudioError

    target = tmp_path / "gone" / "deeper" / "p.studio"
    try:
        with locked(target):
            raise AssertionError("locked a file in a folder that does not exist")
    except StudioError as exc:
        assert "does not exist" in str(exc)
    assert list(tmp_path.iterdir()) == []
