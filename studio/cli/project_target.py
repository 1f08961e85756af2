"""``studio generate --project P.studio``: the project a headless result goes into, saved once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from studio.core.base.paths import builtin_models
from studio.errors import StudioError


class ProjectTarget:
    """The project a headless generation goes into: loaded whole (or new), then saved once.

    Loaded before generating, so a project that cannot take the result fails at once; each
    result is placed in that copy (checked and described there). ``save`` then reads the
    file again under its lock and places the results in the file as it is NOW: another
    Studio may have added to it while this one generated, and its work must not be lost.
    """

    def __init__(self, path: Path, project: Any, new: bool) -> None:
        self.path = path
        self.project = project
        self.new = new
        self.added: list[tuple[str, Any, str, float, str | None]] = []  # (title, result, model, seconds, source)

    @classmethod
    def open(cls, path: Path) -> "ProjectTarget":
        from studio.core.project.format import SUFFIX as PROJECT_SUFFIX
        from studio.core.project.format import Project

        path = path.expanduser()
        if path.is_dir():
            raise StudioError(f"--project {path}: it is a folder; give a project file (name.studio)")
        if not path.exists():
            if path.suffix.lower() != PROJECT_SUFFIX:
                raise StudioError(f"--project {path}: a project file's name ends in {PROJECT_SUFFIX} (did you mean {path}{PROJECT_SUFFIX}?)")
            if not path.parent.is_dir():
                raise StudioError(f"--project {path}: the folder {path.parent} does not exist")
            if not os.access(path.parent, os.W_OK):
                raise StudioError(f"--project {path}: the folder {path.parent} is not writable")
            return cls(path, Project(), new=True)
        return cls(path, cls._load_whole(path), new=False)

    @staticmethod
    def _load_whole(path: Path) -> Any:
        from studio.core.project.load import load_project

        loaded = load_project(path)
        if loaded.problems:
            # Saving would drop the parts that could not be read: the user's work. Refuse.
            listed = "\n".join(f"  - {problem}" for problem in loaded.problems)
            raise StudioError(
                f"{path} could not be read completely, so nothing was added and it was not saved over "
                f"(that would lose what could not be read):\n{listed}\n"
                "Open it in the window to see what is left, or give another --project file."
            )
        return loaded.project

    def add(self, generator: Any, result: Any, seconds: float) -> str:
        from studio.core.project.results import add_result, describe_added

        model = str(getattr(generator, "model_folder", None) or "")
        if model and Path(model).resolve().is_relative_to(builtin_models().resolve()):
            model = ""  # a built-in model has no folder of the user's to record (as in the window)
        title = generator.title or generator.id
        source = generator.digital_source or None  # "": a resampler, its input from a file
        entry = add_result(self.project, result, title, model, seconds, source)
        self.added.append((title, result, model, seconds, source))
        return describe_added(self.project, entry)

    def save(self) -> Path:
        """Add the results to the file as it is now, under its lock (read, add, write)."""
        from studio.core.base.file_lock import locked
        from studio.core.project.format import Project
        from studio.core.project.save import save_project
        from studio.core.project.results import add_result

        with locked(self.path):
            self.new = not self.path.exists()
            project = Project() if self.new else self._load_whole(self.path)
            for title, result, model, seconds, source in self.added:
                add_result(project, result, title, model, seconds, source)
            return save_project(project, self.path)
