"""``studio models``: the model library from a terminal.

``studio models`` (or ``list``) tables every model Studio knows; ``show NAME`` tells all of one;
``add PATH`` adds a folder of yours; ``remove NAME|PATH`` deletes a download (saying what it
frees) or forgets an added folder (its files stay); ``default NAME --cpu V --gpu V`` picks the
variant a generator uses on each kind of device when its ``variant`` is ``auto``. NAME is a
model's name or generator id, in any case. ``download`` comes from ``model_download``, ``import``
from ``model_import``.
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import shutil
from typing import Any

import studio.cli.terminal as terminal
from studio.cli.host import make_host
from studio.cli.output import EXIT_OK, describe_model_folder, table
from studio.errors import StudioError

AUTO = "auto"


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    models = commands.add_parser("models", parents=[common], help="the models Studio knows: list, show, add, remove, default variant, download, import")
    models.set_defaults(handler=cmd_models_list)
    model_commands = models.add_subparsers(dest="models_command", metavar="ACTION")
    models_list = model_commands.add_parser("list", parents=[common], help="every model: kind, generator, variants with sizes, source, license")
    models_list.set_defaults(handler=cmd_models_list)
    models_show = model_commands.add_parser("show", parents=[common], help="everything of one model")
    models_show.add_argument("name", metavar="NAME", help="the model's name or generator id")
    models_show.set_defaults(handler=cmd_models_show)
    models_add = model_commands.add_parser("add", parents=[common], help="add a model folder of yours")
    models_add.add_argument("path", metavar="PATH")
    models_add.set_defaults(handler=cmd_models_add)
    models_remove = model_commands.add_parser(
        "remove", parents=[common], help="delete a downloaded model, or forget a folder of yours (its files stay)")
    models_remove.add_argument("path", metavar="NAME|PATH")
    models_remove.set_defaults(handler=cmd_models_remove)
    models_default = model_commands.add_parser(
        "default", parents=[common], help="the variant used on each kind of device when a generator's variant is auto")
    models_default.add_argument("name", metavar="NAME")
    models_default.add_argument("--cpu", metavar="VARIANT", help=f"the variant on the CPU ({AUTO}: let Studio pick)")
    models_default.add_argument("--gpu", metavar="VARIANT", help=f"the variant on a GPU ({AUTO}: let Studio pick)")
    models_default.set_defaults(handler=cmd_models_default)
    # `studio models download REPO_ID`, when the downloads module is installed beside this one.
    if importlib.util.find_spec("studio.cli.model_download") is not None:
        from studio.cli import model_download

        model_download.register(model_commands, common)
    # `studio models import PATH`: checkpoints and Hugging Face folders converted to ONNX.
    from studio.cli import model_import

    model_import.register(model_commands, common)


def _sizes(record: Any) -> str:
    from studio.core.models.variants import human_size

    return ", ".join(f"{name} {human_size(v.size)}" for name, v in record.variants.items()) or "-"


def cmd_models_list(args: argparse.Namespace) -> int:
    from studio.core.base.paths import builtin_models, models as models_folder
    from studio.core.models.library import model_records, resolved_folder

    host = make_host(args)
    records = model_records(host)
    print("Models (studio models show NAME tells all of one):")
    rows = [["NAME", "KIND", "GENERATOR", "VARIANTS", "SOURCE", "LICENSE"]]
    rows += [[r.name, r.kind or "-", r.generator_id or "-", _sizes(r), r.source, r.license] for r in records]
    for line in terminal.fit_table(rows, terminal.width() - 2):  # a pipe gets one line per model
        print("  " + line)
    for record in records:
        if record.error and record.origin != "added":  # an added folder's state is told below
            print(f"  {record.name}: error: {record.error}")

    print("\nYour model folders:")
    yours = {resolved_folder(f) for f in host.settings.model_folders}
    added = [e for e in host.plugins.model_folders if resolved_folder(e.path) in yours]
    if not added:
        print("  none yet; add one with: studio models add PATH")
    for entry in added:
        print(f"  {entry.path}")
        print(f"      {describe_model_folder(entry)}")
    builtin = sorted(r.name for r in records if r.origin == "built-in")
    print(f"\nBuilt-in models ({builtin_models()}): {', '.join(builtin) or 'none'}")
    installed = sum(r.origin in ("downloaded", "imported") for r in records)
    print(f"Downloaded models ({models_folder()}): {installed or 'none yet'}")
    return EXIT_OK


def _default_text(record: Any, kind: str) -> str:
    from studio.core.models.variants import preferred

    chosen = record.defaults.get(kind)
    if chosen:
        return f"{chosen} (your choice)"
    picked = preferred(list(record.variants), kind)
    return f"{picked} (Studio's choice; none set)" if picked else "none (no variant found)"


def cmd_models_show(args: argparse.Namespace) -> int:
    from studio.core.models.library import find_record
    from studio.core.models.variants import human_size

    record = find_record(make_host(args), args.name)
    print(record.name)
    generator = record.generator_id or "none (the folder did not load)"
    if record.generator_id:
        generator += f"   (use it: studio generate {shlex.quote(record.generator_id)})"
    facts = [
        ("generator", generator),
        ("kind", record.kind or "-"),
        ("layout", record.layout or "no installed plugin reads it"),
        ("folder", str(record.folder)),
        ("origin", record.origin),
        ("source", record.source),
        ("license", record.license),
        ("added", record.added or "-"),
        ("size on disk", human_size(record.size)),
    ]
    for label, value in facts:
        print(f"  {label + ':':<14}{value}")
    print("  variants:" if record.variants else "  variants:     none found")
    rows = [[name, human_size(v.size), record.variant_suits(name)] for name, v in record.variants.items()]
    rows += [[name, "-", "made here from fp32 the first time it is used"] for name in record.made_here]
    for line in table(rows) if rows else []:
        print("    " + line)
    if record.required_device:
        print(f"  device:       {record.required_device}")
    print(f"  default on CPU: {_default_text(record, 'cpu')}")
    print(f"  default on GPU: {_default_text(record, 'gpu')}")
    if record.error:
        print(f"  error:        {record.error}")
    return EXIT_OK


def cmd_models_add(args: argparse.Namespace) -> int:
    host = make_host(args)
    entry = host.add_model_folder(args.path)
    print(f"Added {entry.path}")
    print(f"  {describe_model_folder(entry)}")
    print(f"  Use it with: studio generate {shlex.quote(entry.generator.id)}")
    return EXIT_OK


def _free_space(folder: Any) -> str:
    from studio.core.models.variants import human_size

    try:
        return human_size(shutil.disk_usage(folder).free)
    except OSError:
        return "unknown"


def cmd_models_remove(args: argparse.Namespace) -> int:
    from studio.core.base.paths import models as models_folder
    from studio.core.models.library import find_record, remove_model
    from studio.core.models.variants import human_size

    host = make_host(args)
    try:
        record = find_record(host, args.path)
    except StudioError:
        known = ", ".join(host.settings.model_folders)
        if "/" in args.path or "\\" in args.path:  # a path, as `remove` took before names: say it as then
            raise StudioError(f"{args.path} is not one of your model folders "
                              f"({'they are: ' + known if known else 'you have none'})") from None
        raise
    if not record.deletes_files:
        remove_model(host, record)  # refuses a built-in one
        print(f"Removed {record.folder} from your model folders (its files are untouched)")
        return EXIT_OK
    print(f"Deleting {record.name} ({record.folder}): this frees {human_size(record.size)}")
    before = _free_space(models_folder())
    freed = remove_model(host, record)
    print(f"Removed {record.name}: {human_size(freed)} freed")
    print(f"Free space there: {before} before, {_free_space(models_folder())} now")
    return EXIT_OK


def cmd_models_default(args: argparse.Namespace) -> int:
    from studio.core.models.library import find_record, set_default

    host = make_host(args)
    record = find_record(host, args.name)
    for kind, wanted in (("cpu", args.cpu), ("gpu", args.gpu)):
        if wanted is not None:
            set_default(record, kind, None if wanted.lower() == AUTO else wanted)
    if args.cpu is None and args.gpu is None:
        print(f"{record.name}: default on CPU: {_default_text(record, 'cpu')}; on GPU: {_default_text(record, 'gpu')}")
        print(f"  change it with: studio models default {shlex.quote(args.name)} --cpu VARIANT --gpu VARIANT "
              f"(variants: {', '.join([*record.variants, *record.made_here]) or 'none'}; {AUTO} lets Studio pick)")
        return EXIT_OK
    defaults = record.defaults
    print(f"{record.name}: default on CPU: {defaults['cpu'] or AUTO}; on GPU: {defaults['gpu'] or AUTO}")
    return EXIT_OK
