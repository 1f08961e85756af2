"""A save that cannot finish (file size limit, full disk, read-only folder or disk, no folder,
a folder in the way) leaves the previous file byte for byte and says so.

The tests run as root, where file modes do not stop writes: the read-only folder is made
with the immutable attribute (chattr +i), the full and read-only disks are small tmpfs
mounts. Where the machine allows neither, those cases are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from studio.core.project.format import Project, backup_path
from studio.core.project.load import load_project
from studio.core.project.save import save_project
from studio.errors import OutputError
from test_project_samples import content, sample_project

ROOT = Path(__file__).resolve().parents[2]


def _previous(folder: Path) -> tuple[Path, bytes]:
    path = save_project(sample_project(1, layers=1, side=16, seconds=0.001), folder / "work.studio")
    return path, path.read_bytes()


def _assert_survived(path: Path, before: bytes, message: str) -> None:
    assert path.read_bytes() == before
    assert "the previous version is untouched" in message
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".saving")]  # no temp left
    assert content(load_project(path).project) == content(sample_project(1, layers=1, side=16, seconds=0.001))


def test_a_file_size_limit_fails_the_save_and_keeps_the_previous_file(tmp_path):
    path, before = _previous(tmp_path)
    limit = 64 * 1024
    assert len(before) < limit
    child = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_project_samples import sample_project
        from studio.core.project.save import save_project
        from studio.errors import OutputError
        big = sample_project(2, layers=2, side=256, seconds=1.0)  # ~0.9 MB: past the limit
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))  # writes past it fail with EFBIG
        try:
            save_project(big, {str(path)!r})
        except OutputError as exc:
            print(exc)
            sys.exit(3)
    """)
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 3, done.stderr
    message = done.stdout.strip()
    assert "larger than this disk or this account allows" in message
    _assert_survived(path, before, message)


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(OutputError, match=r"the folder .*nowhere does not exist; nothing was written"):
        save_project(Project(), tmp_path / "nowhere" / "p.studio")
    assert not (tmp_path / "nowhere").exists()


def test_a_folder_at_the_target_path_is_left_alone(tmp_path):
    target = tmp_path / "p.studio"
    target.mkdir()
    (target / "inside").write_text("keep")
    with pytest.raises(OutputError, match="it is a folder"):
        save_project(Project(), target)
    assert [p.name for p in target.iterdir()] == ["inside"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.studio"]


@contextlib.contextmanager
def _immutable(folder: Path):
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot make a read-only folder as root here (chattr +i: {done.stderr.strip() or 'not found'})")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_folder_fails_the_save_and_keeps_the_previous_file(tmp_path):
    path, before = _previous(tmp_path)
    with _immutable(tmp_path):
        with pytest.raises(OutputError) as caught:
            save_project(sample_project(3, side=16), path)
        message = str(caught.value)
        assert "permission denied" in message and "cannot be written" in message
        _assert_survived(path, before, message)
    assert not backup_path(path).exists()


@contextlib.contextmanager
def _small_disk(folder: Path, size: str):
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a small disk here ({done.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_disk_fails_the_save_and_keeps_the_previous_file(tmp_path):
    with _small_disk(tmp_path / "disk", "256k") as disk:
        path, before = _previous(disk)
        with pytest.raises(OutputError) as caught:
            save_project(sample_project(4, layers=2, side=256, seconds=1.0), path)  # ~0.9 MB
        assert "the disk is full" in str(caught.value)
        _assert_survived(path, before, str(caught.value))


def test_a_read_only_disk_fails_the_save_and_keeps_the_previous_file(tmp_path):
    with _small_disk(tmp_path / "disk", "1m") as disk:
        path, before = _previous(disk)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        with pytest.raises(OutputError) as caught:
            save_project(sample_project(5, side=16), path)
        assert "the disk is read-only" in str(caught.value)
        _assert_survived(path, before, str(caught.value))
