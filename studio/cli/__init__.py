"""The ``studio`` command: the window, and subcommands that never import QtWidgets.

``studio`` opens the window; ``studio generate``, ``explore``, ``batch``, ``plugins``, ``generators``, ``models`` and
``doctor`` work from a terminal through the same ``Host`` the window uses. Expected failures
(``StudioError``) print ``studio: error: <message>`` and exit 2, never a traceback; anything
else is logged with its traceback and reported as an internal error with the log's path.

This module builds the parser from the subcommand modules (one each, which import only the
shared helpers, never one another) and runs the one asked for.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from studio.cli import batch, doctor, explore, generate, generators, models, plugins
from studio.cli.output import EXIT_INTERNAL, EXIT_INTERRUPTED, user_error
from studio.cli.window import open_project, open_window, project_argument
from studio.errors import StudioError

__all__ = ["main", "build_parser"]

log = logging.getLogger(__name__)

SUBCOMMANDS = (generate, explore, batch, plugins, generators, models, doctor)  # in the order `studio --help` lists them


def build_parser() -> argparse.ArgumentParser:
    from studio import __version__

    parser = argparse.ArgumentParser(
        prog="studio",
        description="A local creative studio: images, text and audio generated on your own machine. "
        "Without a command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    parser.add_argument("--safe-mode", action="store_true", help="load built-in plugins only")
    # --safe-mode is accepted after the subcommand too; SUPPRESS keeps a subparser from
    # resetting a --safe-mode given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--safe-mode", action="store_true", default=argparse.SUPPRESS, help="load built-in plugins only")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for subcommand in SUBCOMMANDS:
        subcommand.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    project = project_argument(parser, argv)
    if project is not None:  # `studio P.studio`: the window, with that project
        return open_project(parser, argv, project)
    args = parser.parse_args(argv)
    if args.command is None:
        return open_window(args.safe_mode)
    try:
        from studio.core.base.logs import setup_logging

        setup_logging()
        return args.handler(args)
    except StudioError as exc:
        return user_error(str(exc))
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `studio generators | head`: the reader left; stay quiet, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_INTERNAL
    except Exception as exc:
        from studio.core.base.logs import log_path

        log.exception("internal error in `studio %s`", args.command)
        print(f"studio: internal error: {type(exc).__name__}: {exc}. The details are in the log: {log_path()}", file=sys.stderr)
        return EXIT_INTERNAL
