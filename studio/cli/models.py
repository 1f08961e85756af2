"""``studio models``: list, add or remove model folders."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from studio.cli.host import make_host
from studio.cli.output import EXIT_OK, describe_model_folder
from studio.errors import StudioError


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    models = commands.add_parser("models", parents=[common], help="list, add or remove model folders")
    models.set_defaults(handler=cmd_models_list)
    model_commands = models.add_subparsers(dest="models_command", metavar="ACTION")
    models_list = model_commands.add_parser("list", parents=[common], help="your model folders and what became of each")
    models_list.set_defaults(handler=cmd_models_list)
    models_add = model_commands.add_parser("add", parents=[common], help="add a model folder")
    models_add.add_argument("path", metavar="PATH")
    models_add.set_defaults(handler=cmd_models_add)
    models_remove = model_commands.add_parser("remove", parents=[common], help="forget a model folder (its files stay)")
    models_remove.add_argument("path", metavar="PATH")
    models_remove.set_defaults(handler=cmd_models_remove)


def cmd_models_list(args: argparse.Namespace) -> int:
    from studio.core.base.paths import builtin_models

    host = make_host(args)
    print("Your model folders:")
    if not host.plugins.model_folders:
        print("  none yet; add one with: studio models add PATH")
    for entry in host.plugins.model_folders:
        print(f"  {entry.path}")
        print(f"      {describe_model_folder(entry)}")
    builtin = builtin_models()
    names = sorted(p.name for p in builtin.iterdir() if p.is_dir()) if builtin.is_dir() else []
    print(f"\nBuilt-in models ({builtin}):")
    print("  " + (", ".join(names) if names else "none"))
    return EXIT_OK


def cmd_models_add(args: argparse.Namespace) -> int:
    host = make_host(args)
    entry = host.add_model_folder(args.path)
    print(f"Added {entry.path}")
    print(f"  {describe_model_folder(entry)}")
    print(f"  Use it with: studio generate {shlex.quote(entry.generator.id)}")
    return EXIT_OK


def cmd_models_remove(args: argparse.Namespace) -> int:
    from studio.settings import Settings

    settings = Settings()
    if not settings.remove_model_folder(args.path):
        known = ", ".join(settings.model_folders)
        raise StudioError(f"{args.path} is not one of your model folders ({'they are: ' + known if known else 'you have none'})")
    print(f"Removed {args.path} from your model folders (its files are untouched)")
    return EXIT_OK
