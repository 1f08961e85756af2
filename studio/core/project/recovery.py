"""The recovery folder: autosaves of running sessions, and the ones a crash left behind.

Each running window autosaves its project to ``<home>/recovery/<session>.studio`` beside a
small ``<session>.json`` that says which process wrote it, when, and which project file it
stands for. A clean exit deletes both. So whatever is still there when Studio starts, and
whose process is gone, is work a crash (or a kill, or a power cut) would otherwise have lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.base import paths
from studio.core.base.atomic_write import write_atomically
from studio.core.base.processes import process_alive, process_start
from studio.core.project.format import Project
from studio.core.project.save import save_project


def recovery_folder() -> Path:
    return paths.home() / "recovery"


@dataclass
class Autosave:
    """A recoverable autosave: the archive, and what its note says about it."""

    path: Path
    project: str  # the project file it stands for ("" for a project never saved)
    name: str  # what the window's title called it
    saved: float  # seconds since the epoch

    @property
    def note(self) -> Path:
        return self.path.with_suffix(".json")

    def discard(self) -> None:
        for path in (self.path, self.note):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


class RecoveryStore:
    """This session's autosave, and the autosaves of sessions that did not exit cleanly."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or recovery_folder()
        self.session = f"{os.getpid()}-{int(time.time() * 1000)}"
        self._started = process_start(os.getpid())

    @property
    def path(self) -> Path:
        return self.folder / f"{self.session}.studio"

    def autosave(self, project: Project, source: str | os.PathLike[str] | None, name: str) -> Path:
        """Write ``project`` as this session's autosave (atomically; no backup kept)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        save_project(project, self.path, backup=False)
        note = {"pid": os.getpid(), "started": self._started, "project": str(source or ""), "name": name, "saved": time.time()}
        write_atomically(self.path.with_suffix(".json"), json.dumps(note, ensure_ascii=False).encode("utf-8"))
        return self.path

    def clear(self) -> None:
        """A clean exit, or a save that made the autosave stale: nothing of ours to recover."""
        Autosave(self.path, "", "", 0.0).discard()

    def orphans(self) -> list[Autosave]:
        """Autosaves whose session is gone, newest first. Unreadable notes are skipped."""
        found = []
        with contextlib.suppress(OSError):
            for note in self.folder.glob("*.json"):
                archive = note.with_suffix(".studio")
                info = _read_note(note)
                if info is None or not archive.is_file() or archive == self.path:
                    continue
                if process_alive(int(info.get("pid", -1)), str(info.get("started", ""))):
                    continue  # another Studio window is running: its autosave is its own
                saved = info.get("saved")
                if not isinstance(saved, (int, float)) or isinstance(saved, bool):
                    saved = archive.stat().st_mtime
                found.append(Autosave(archive, str(info.get("project") or ""), str(info.get("name") or archive.stem), float(saved)))
        return sorted(found, key=lambda a: a.saved, reverse=True)


def _read_note(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
        return None
    return data
