"""``studio`` and ``studio P.studio``: opening the window, with a project given on the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from studio.cli.output import user_error

SUFFIX = ".studio"  # a project file (studio.core.project.format.SUFFIX; not imported here: keep startup light)


def open_window(safe_mode: bool, project: str | None = None) -> int:
    from studio.ui.app import run  # only the window pays for QtWidgets

    if project is None:
        return run(safe_mode=safe_mode)
    return run(safe_mode=safe_mode, project=project)


def open_project(parser: argparse.ArgumentParser, argv: list[str], project: str) -> int:
    """``studio [--safe-mode] P.studio``: the window with that project, if it is one."""
    argv.remove(project)
    args = parser.parse_args(argv)
    if args.command is not None:
        parser.error(f"a project ({project}) and a command ({args.command}) cannot be given together")
    path = Path(project).expanduser()
    if not path.exists():
        return user_error(f"no such project: {project}")
    if path.is_dir():
        return user_error(f"{project} is a folder, not a project file")
    return open_window(args.safe_mode, project=str(path))


def project_argument(parser: argparse.ArgumentParser, argv: Sequence[str]) -> str | None:
    """The project in ``studio [--safe-mode] P.studio``: the first word that is not an option
    or a command, when it names a ``.studio`` file (existing or not: a missing one is then
    reported as such) or any existing file. ``None`` leaves the words to the parser."""
    commands = _command_names(parser)
    for word in argv:
        if word == "--":
            return None
        if word.startswith("-"):
            continue
        if word in commands:
            return None
        if word.lower().endswith(SUFFIX) or Path(word).expanduser().is_file():
            return word
        return None
    return None


def _command_names(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:  # argparse keeps its subcommands here and nowhere public
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()
