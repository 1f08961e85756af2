"""``studio plugins``: the plugins found, whether each loaded, and what it provides."""

from __future__ import annotations

import argparse
from typing import Any

from studio.cli.host import make_host
from studio.cli.output import EXIT_OK, table


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    plugins = commands.add_parser("plugins", parents=[common], help="list plugins and whether they loaded")
    plugins.set_defaults(handler=cmd_plugins)


def cmd_plugins(args: argparse.Namespace) -> int:
    host = make_host(args)
    plugins = host.plugins.plugins
    if not plugins:
        print("No plugins found (not even the built-in ones: is Studio installed with pip?)")
        return EXIT_OK
    rows = [["NAME", "STATUS", "SOURCE", "GENERATORS", "MODEL LOADERS"]]
    notes: dict[int, str] = {}
    for plugin in plugins:
        source = "built-in" if plugin.builtin else " ".join(filter(None, [plugin.distribution, plugin.version])) or plugin.module
        rows.append([plugin.name, plugin.status, source, ", ".join(plugin.generators) or "-", ", ".join(plugin.loaders) or "-"])
        if plugin.error:
            notes[len(rows) - 1] = plugin.error
    for index, line in enumerate(table(rows)):
        print(line)
        if index in notes:
            print(f"    error: {notes[index]}" if rows[index][1] == "failed" else f"    {notes[index]}")
    if host.plugins.safe_mode:
        print("\nSafe mode: only built-in plugins were loaded.")
    return EXIT_OK
