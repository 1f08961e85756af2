"""``studio generators``: each generator and the parameters it accepts, wrapped to the terminal."""

from __future__ import annotations

import argparse
from typing import Any

import studio.cli.terminal as terminal
from studio.cli.host import make_host
from studio.cli.output import EXIT_OK, format_value


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    generators = commands.add_parser("generators", parents=[common], help="list generators and the parameters they accept")
    generators.add_argument("only", nargs="?", metavar="GENERATOR", help="show only this generator")
    generators.set_defaults(handler=cmd_generators)


def cmd_generators(args: argparse.Namespace) -> int:
    host = make_host(args)
    generators = [host.generator(args.only)] if args.only else [host.generators[k] for k in sorted(host.generators)]
    if not generators:
        print("No generators: no plugin provides one (see `studio plugins`).")
        return EXIT_OK
    columns = terminal.width()
    for number, generator in enumerate(generators):
        if number:
            print()
        print(describe_generator(generator, columns))
    if not args.only:
        print()
        print("\n".join(terminal.wrap("Set a parameter with: studio generate GENERATOR --param NAME=VALUE", columns)))
    return EXIT_OK


def describe_generator(generator: Any, columns: int = terminal.UNLIMITED) -> str:
    """The generator and its parameters, wrapped to ``columns`` (the terminal's width)."""
    owner = getattr(generator, "plugin_name", "")
    folder = getattr(generator, "model_folder", None)
    source = ", ".join(filter(None, [f"plugin {owner}" if owner else "", f"model folder {folder}" if folder else ""]))
    heading = f"{generator.id}  ({generator.kind})  {generator.title}" + (f"  [{source}]" if source else "")
    lines = terminal.wrap(heading, columns, continuation="    ")
    if generator.description:
        lines += terminal.wrap(generator.description, columns, indent="  ")
    if generator.params:
        rows = [["PARAMETER", "TYPE", "DEFAULT", "ACCEPTS", "HELP"]]
        rows += [[p.name, p.type, describe_default(p), describe_accepts(p), p.help] for p in generator.params]
        lines += ["  " + line for line in terminal.fit_table(rows, columns - 2)]
    else:
        lines.append("  (no parameters)")
    return "\n".join(lines)


def describe_default(param: Any) -> str:
    if param.type == "seed" and param.default in (None, -1):
        return "random"
    if param.type == "text" and not param.default:
        return '""'
    if param.type == "loras":
        return ", ".join(f"{path}:{weight:g}" for path, weight in param.default or ()) or "none"
    if param.type == "latent" and param.default is None:
        return "from the seed"
    return format_value(param.default)


# What a picture or sound parameter takes on the command line: a file's path.
FILE_ACCEPTS = {
    "image": "image file (PNG, JPEG, WebP)",
    "mask": "mask image file (white = repaint)",
    "audio": "sound file (WAV, FLAC, OGG)",
}


def describe_accepts(param: Any) -> str:
    from studio.core.engine.generators import SEED_MAX

    if param.type == "seed":
        return f"0 to {SEED_MAX}, or -1/random"
    if param.type == "choice":
        return " | ".join(param.choices)
    if param.type == "bool":
        return "true | false"
    if param.type == "text":
        return "text"
    if param.type == "loras":
        return "LoRA .safetensors file, weight -4 to 4: --param lora=FILE[:WEIGHT], repeatable"
    if param.type == "latent":
        return "numbers separated by commas, or a JSON list; empty: from the seed"
    if param.type in FILE_ACCEPTS:
        return FILE_ACCEPTS[param.type] + (", or empty" if param.optional else "")
    kind = "whole number" if param.type == "int" else "number"
    if param.min is None and param.max is None:
        return f"any {kind}"
    low = "-inf" if param.min is None else f"{param.min:g}"
    high = "inf" if param.max is None else f"{param.max:g}"
    # A step is enforced (Param.coerce): say it, unless it is every whole number anyway.
    steps = f", in steps of {param.step:g}" if param.step and not (param.type == "int" and param.step == 1) else ""
    return f"{kind}, {low} to {high}{steps}"
