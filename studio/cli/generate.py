"""``studio generate``: one image, text or sound from a generator, into a file or a project."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from studio.cli.host import make_host
from studio.cli.output import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, format_value, user_error
from studio.cli.progress import ProgressBar
from studio.cli.project_target import ProjectTarget
from studio.cli.text_stream import stream_text
from studio.errors import StudioError

LORA_NAMES = ("lora", "loras")  # --param lora=FILE:0.8, repeatable (loras= is the parameter's own name)
JSON_FILE_NAMES = ("lorebook",)  # --param lorebook=@lore.json reads the file (a JSON list never starts with @)


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    generate = commands.add_parser("generate", parents=[common], help="generate one image, text or sound into a file")
    generate.add_argument("generator", metavar="GENERATOR", help="a generator id (see `studio generators`)")
    generate.add_argument("--prompt", help="the prompt, for generators that take one")
    generate.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="set a parameter; repeat for more"
    )
    generate.add_argument("-o", "--output", metavar="FILE", help="where to write the result (default: <generator>-<seed>.<ext> here)")
    generate.add_argument(
        "--project", metavar="P.studio",
        help="add the result to this project (a new one if the file does not exist yet) and save it",
    )
    generate.add_argument("--device", metavar="ID", help="cpu, cuda:0, ..., or ray for the Ray cluster (default: the device in the settings)")
    generate.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    generate.add_argument(
        "--show-context", action="store_true",
        help="print what a language model would read (memory, lore, the story, the author's note, what was cut) and "
             "stop; with --project, for continuing that project's text with its notes",
    )
    generate.set_defaults(handler=cmd_generate)


def cmd_generate(args: argparse.Namespace) -> int:
    from studio.core.project.outputs import check_writable

    values = parse_params(args.param)
    host = make_host(args)
    try:
        generator = host.generator(args.generator)
        if args.prompt is not None:
            add_prompt(generator, values, args.prompt)
        if args.show_context:
            return show_context(generator, values, Path(args.project) if args.project else None)
        request = generator.request(values)
        device = host.resolve_device(args.device) if args.device else host.device()
        # Before generating: never waste a long job on a project or a path that cannot take it.
        project = ProjectTarget.open(Path(args.project)) if args.project else None
        if generator.kind == "text" and not args.output and project is None:
            return stream_text(host, generator, request, device)
        output = None
        if args.output or project is None:
            output = Path(args.output) if args.output else default_output_path(generator.id, request.seed, generator.kind)
            check_writable(output, generator.kind)
        return run_generation(host, generator, request, device, output, quiet=args.quiet, project=project)
    finally:
        host.shutdown()


def parse_params(pairs: Iterable[str]) -> dict[str, Any]:
    """``["seed=7", "width=96"]`` -> ``{"seed": "7", "width": "96"}``; values stay strings
    (``Param.coerce`` parses them, so the CLI and the UI validate alike). ``lora=FILE[:WEIGHT]``
    may be repeated: its entries gather, in order, under ``loras`` (a list of strings)."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise StudioError(f"--param {pair!r}: expected NAME=VALUE, for example --param seed=42")
        if name in LORA_NAMES:
            values.setdefault("loras", []).append(value)
            continue
        if name in values:
            raise StudioError(f"--param {name} is given twice")
        values[name] = read_json_file(name, value[1:]) if name in JSON_FILE_NAMES and value.startswith("@") else value
    return values


def read_json_file(name: str, path: str) -> str:
    """The text of the file named by ``--param NAME=@FILE`` (UTF-8; its JSON is checked by the
    generator, as a value typed in place)."""
    from studio.core.base.input_files import open_input
    from studio.core.text.story import MAX_LOREBOOK_CHARS

    try:
        with open_input(Path(path), f"{name} file", max_bytes=MAX_LOREBOOK_CHARS * 4) as file:
            return file.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StudioError(f"--param {name}=@{path}: the file is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise StudioError(f"--param {name}=@{path}: {exc.strerror or exc}") from None


def show_context(generator: Any, values: dict[str, Any], project: Path | None = None) -> int:
    """``--show-context``: the generator's own plan of what it would read, printed; nothing is
    generated. With a ``project``, its text (at its end) and story notes stand in for the values
    not given. A generator that does not say (no ``context_plan``) is a user error."""
    from studio.core.project.load import load_project
    from studio.core.text.context import ContextPlan, format_plan

    if project is not None:
        loaded = load_project(project)
        for problem in loaded.problems:
            print(f"studio: note: {project.name}: {problem}", file=sys.stderr)
        names = {param.name for param in generator.params}
        given = {"prompt": loaded.project.text, **loaded.project.notes.as_values()}
        values = {**{name: value for name, value in given.items() if name in names}, **values}
    plan = generator.context_plan(values)
    if not isinstance(plan, ContextPlan):
        return user_error(f"{generator.id} does not say what it reads, so --show-context cannot show it "
                          "(language models do: see `studio generators`)")
    print(format_plan(plan))
    return EXIT_OK


def add_prompt(generator: Any, values: dict[str, str], prompt: str) -> None:
    names = [p.name for p in generator.params]
    if "prompt" not in names:
        raise StudioError(
            f"{generator.id} takes no prompt, so --prompt cannot be used with it "
            f"(its parameters: {', '.join(names) or 'none'})"
        )
    if "prompt" in values:
        raise StudioError("the prompt is given twice: use either --prompt or --param prompt=..., not both")
    values["prompt"] = prompt


def default_output_path(generator_id: str, seed: int | None, kind: str, folder: Path | None = None) -> Path:
    """``<generator>-<seed>.<ext>`` in ``folder`` (the cwd); a number is added rather than
    overwrite an earlier result (the same seed with other parameters is another picture)."""
    from studio.core.project.outputs import default_extension

    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", generator_id).strip("-.") or "output"
    if seed is not None:
        stem = f"{stem}-{seed}"
    folder = folder or Path.cwd()
    extension = default_extension(kind)
    path = folder / f"{stem}{extension}"
    number = 2
    while path.exists():
        path = folder / f"{stem}-{number}{extension}"
        number += 1
    return path


def run_generation(
    host: Any, generator: Any, request: Any, device: Any, output: Path | None, quiet: bool, project: ProjectTarget | None = None
) -> int:
    from studio.cli.interrupt import wait_for_job
    from studio.core.engine.jobs import JobState
    from studio.core.project.outputs import write_result

    bar = ProgressBar(sys.stderr, enabled=not quiet)
    job = host.runner.submit(generator, request, device, listeners=[bar])
    interrupted = wait_for_job(job, host.runner, before_hint=bar.finish)
    bar.finish()
    if interrupted or job.state is JobState.CANCELLED:
        print(f"studio: {job.message or 'cancelled'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if job.state is not JobState.FINISHED or job.result is None:
        if job.internal_error:  # a plugin's bug, not the user's input: the CLI's internal-error code
            print(f"studio: {job.message}", file=sys.stderr)
            return EXIT_INTERNAL
        return user_error(job.message or f"{generator.id} failed")
    if not quiet:
        print(run_summary(job), file=sys.stderr)
    seconds = (job.ended or time.monotonic()) - (job.started or job.created)
    added = []
    for number, result in enumerate(job.results, start=1):
        for note in result.info.get("notes", ()):
            print(f"studio: note: {note}", file=sys.stderr)
        if output is not None:
            target = output if number == 1 else output.with_name(f"{output.stem}-{number}{output.suffix}")
            print(os.path.abspath(write_result(result, target, generator.digital_source)))  # absolute: a script can use it from any folder
        if project is not None:
            added.append(project.add(generator, result, seconds))
        print(reproduce_command(generator, result.params))
    if project is not None:
        path = project.save()
        for what in added:
            print(f"Added {what} to {'new project ' if project.new else ''}{os.path.abspath(path)}")
    return EXIT_OK


def run_summary(job: Any) -> str:
    """One line for stderr: how long, where, and the truth when an accelerator was not used."""
    seconds = (job.ended or time.monotonic()) - (job.started or job.created)
    provider = job.result.info.get("provider", "")
    where = f"{job.device.id}" + (f" ({provider})" if provider else "")
    line = f"done in {seconds:.2f} s on {where}"
    if not job.device.is_cpu and provider == "CPUExecutionProvider":
        line += f"; note: {job.device.id} was asked for but the model ran on the CPU (see `studio doctor`)"
    return line


def reproduce_command(generator: Any, params: Mapping[str, Any]) -> str:
    """The one command line that makes the same result again."""
    from studio.core.engine.generators import INPUT_TYPES
    from studio.core.engine.lora_values import lora_argument

    words = ["studio", "generate", generator.id]
    declared = {p.name: p.type for p in generator.params if p.type not in INPUT_TYPES}
    for name, value in params.items():
        if name not in declared:  # extra facts a generator records (mode, model) are not flags
            continue
        if declared[name] == "loras":
            for path, weight in value or ():
                words += ["--param", lora_argument(path, weight)]
        elif name == "prompt":
            words += ["--prompt", str(value)]
        else:
            words += ["--param", f"{name}={format_value(value)}"]
    return " ".join(shlex.quote(word) for word in words)
