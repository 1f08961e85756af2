"""The recovery folder: which autosaves a crash left behind, and which belong to a live window."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from studio.core.image.document import Layer
from studio.core.project.format import Project
from studio.core.project.load import load_project
from studio.core.project.recovery import RecoveryStore, recovery_folder


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(done.stdout)


def leave_autosave(folder, name, pid, started="", saved=None, project=""):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.studio").write_bytes(b"an archive")
    note = {"pid": pid, "started": started, "project": project, "name": name, "saved": saved or time.time()}
    (folder / f"{name}.json").write_text(json.dumps(note))


def test_the_folder_is_under_studio_home(studio_home):
    assert recovery_folder() == studio_home / "recovery"


def test_an_autosave_round_trips_and_a_clean_exit_clears_it(tmp_path):
    store = RecoveryStore(tmp_path / "recovery")
    project = Project(text="not saved yet")
    project.image.insert(Layer("dot", np.full((4, 4, 4), 9, np.uint8)))
    path = store.autosave(project, tmp_path / "piece.studio", "piece")
    loaded = load_project(path)
    assert loaded.problems == [] and loaded.project.text == "not saved yet"
    assert np.array_equal(loaded.project.image.layers[0].pixels, np.full((4, 4, 4), 9, np.uint8))
    note = json.loads(path.with_suffix(".json").read_text())
    assert note["pid"] == os.getpid() and note["project"] == str(tmp_path / "piece.studio")
    assert store.orphans() == []  # our own autosave is never offered to ourselves
    store.clear()
    assert list((tmp_path / "recovery").iterdir()) == []


def test_autosaves_of_dead_sessions_are_offered_newest_first(tmp_path):
    folder = tmp_path / "recovery"
    pid = dead_pid()
    leave_autosave(folder, "old", pid, saved=1000.0, project="/music/old.studio")
    leave_autosave(folder, "new", pid, saved=2000.0)
    leave_autosave(folder, "alive", os.getppid())  # another Studio still running: not ours to take
    found = RecoveryStore(folder).orphans()
    assert [a.name for a in found] == ["new", "old"]
    assert found[1].project == "/music/old.studio" and found[0].project == ""
    found[0].discard()
    assert not (folder / "new.studio").exists() and not (folder / "new.json").exists()
    assert [a.name for a in RecoveryStore(folder).orphans()] == ["old"]


def test_a_reused_pid_does_not_hide_a_dead_session(tmp_path):
    """After a reboot the dead session's pid may belong to another process: the recorded
    start time tells them apart (Linux)."""
    folder = tmp_path / "recovery"
    leave_autosave(folder, "before-reboot", os.getppid(), started="1")
    names = [a.name for a in RecoveryStore(folder).orphans()]
    assert names == (["before-reboot"] if os.path.isdir("/proc") else [])


def test_broken_notes_and_missing_archives_are_skipped(tmp_path):
    folder = tmp_path / "recovery"
    folder.mkdir()
    (folder / "garbage.json").write_bytes(b"\xff\xfe not json")
    (folder / "garbage.studio").write_bytes(b"x")
    (folder / "list.json").write_text("[1, 2]")
    (folder / "list.studio").write_bytes(b"x")
    (folder / "nopid.json").write_text(json.dumps({"pid": "twelve"}))
    (folder / "nopid.studio").write_bytes(b"x")
    (folder / "orphan-note.json").write_text(json.dumps({"pid": dead_pid()}))  # its archive is gone
    (folder / "badtime.json").write_text(json.dumps({"pid": dead_pid(), "saved": "noon"}))
    (folder / "badtime.studio").write_bytes(b"x")
    found = RecoveryStore(folder).orphans()
    assert [a.path.name for a in found] == ["badtime.studio"]  # the time falls back to the file's
    assert RecoveryStore(tmp_path / "never-made").orphans() == []
