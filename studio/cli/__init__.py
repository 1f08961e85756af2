"""The ``studio`` command: the window, and subcommands that never import QtWidgets.

``studio`` opens the window; ``studio generate``, ``plugins``, ``generators``, ``models`` and
``doctor`` work from a terminal through the same ``Host`` the window uses. Expected failures
(``StudioError``) print ``studio: error: <message>`` and exit 2, never a traceback; anything
else is logged with its traceback and reported as an internal error with the log's path.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import shlex
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, TextIO

from studio import terminal
from studio.errors import StudioError

SUFFIX = ".studio"  # a project file (studio.core.project.SUFFIX; not imported here: keep startup light)

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USER_ERROR = 2  # argparse uses 2 for usage errors too: one code for "your input"
EXIT_INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C


# -- the parser ------------------------------------------------------------------------


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
    generate.add_argument("--device", metavar="ID", help="cpu, cuda:0, ... (default: the device in the settings)")
    generate.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    generate.set_defaults(handler=cmd_generate)

    plugins = commands.add_parser("plugins", parents=[common], help="list plugins and whether they loaded")
    plugins.set_defaults(handler=cmd_plugins)

    generators = commands.add_parser("generators", parents=[common], help="list generators and the parameters they accept")
    generators.add_argument("only", nargs="?", metavar="GENERATOR", help="show only this generator")
    generators.set_defaults(handler=cmd_generators)

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

    doctor = commands.add_parser("doctor", parents=[common], help="what Studio finds on this machine, and why the GPU is or is not used")
    doctor.set_defaults(handler=cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    project = project_argument(parser, argv)
    if project is not None:  # `studio P.studio`: the window, with that project
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
    args = parser.parse_args(argv)
    if args.command is None:
        return open_window(args.safe_mode)
    try:
        from studio.core.logs import setup_logging

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
        from studio.core.logs import log_path

        log.exception("internal error in `studio %s`", args.command)
        print(f"studio: internal error: {type(exc).__name__}: {exc}. The details are in the log: {log_path()}", file=sys.stderr)
        return EXIT_INTERNAL


def open_window(safe_mode: bool, project: str | None = None) -> int:
    from studio.ui.app import run  # only the window pays for QtWidgets

    if project is None:
        return run(safe_mode=safe_mode)
    return run(safe_mode=safe_mode, project=project)


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


def user_error(message: str) -> int:
    print(f"studio: error: {message}", file=sys.stderr)
    return EXIT_USER_ERROR


def make_host(args: argparse.Namespace) -> Any:
    from studio.host import Host

    return Host(safe_mode=getattr(args, "safe_mode", False))


# -- studio generate -------------------------------------------------------------------


def cmd_generate(args: argparse.Namespace) -> int:
    from studio.core.outputs import check_writable

    values = parse_params(args.param)
    host = make_host(args)
    try:
        generator = host.generator(args.generator)
        if args.prompt is not None:
            add_prompt(generator, values, args.prompt)
        request = generator.request(values)
        device = host.runtime.device(args.device) if args.device else host.device()
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
        self.added: list[tuple[str, Any, str, float]] = []  # (title, result, model, seconds)

    @classmethod
    def open(cls, path: Path) -> "ProjectTarget":
        from studio.core.project import SUFFIX as PROJECT_SUFFIX
        from studio.core.project import Project

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
        from studio.core.project import load_project

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
        from studio.core.project_results import add_result, describe_added

        model = str(getattr(generator, "model_folder", None) or "")
        title = generator.title or generator.id
        entry = add_result(self.project, result, title, model, seconds)
        self.added.append((title, result, model, seconds))
        return describe_added(self.project, entry)

    def save(self) -> Path:
        """Add the results to the file as it is now, under its lock (read, add, write)."""
        from studio.core.file_lock import locked
        from studio.core.project import Project, save_project
        from studio.core.project_results import add_result

        with locked(self.path):
            self.new = not self.path.exists()
            project = Project() if self.new else self._load_whole(self.path)
            for title, result, model, seconds in self.added:
                add_result(project, result, title, model, seconds)
            return save_project(project, self.path)


def parse_params(pairs: Iterable[str]) -> dict[str, str]:
    """``["seed=7", "width=96"]`` -> ``{"seed": "7", "width": "96"}``; values stay strings
    (``Param.coerce`` parses them, so the CLI and the UI validate alike)."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise StudioError(f"--param {pair!r}: expected NAME=VALUE, for example --param seed=42")
        if name in values:
            raise StudioError(f"--param {name} is given twice")
        values[name] = value
    return values


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
    from studio.core.outputs import default_extension

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
    from studio.cli_interrupt import wait_for_job
    from studio.core.jobs import JobState
    from studio.core.outputs import write_result

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
            print(os.path.abspath(write_result(result, target)))  # absolute: a script can use it from any folder
        if project is not None:
            added.append(project.add(generator, result, seconds))
        print(reproduce_command(generator, result.params))
    if project is not None:
        path = project.save()
        for what in added:
            print(f"Added {what} to {'new project ' if project.new else ''}{os.path.abspath(path)}")
    return EXIT_OK


def stream_text(host: Any, generator: Any, request: Any, device: Any) -> int:
    """Text without ``-o``: the generated text goes to stdout as it streams, facts to stderr.

    Streaming chunks is optional for a generator: a result that nothing streamed before is
    printed whole, so stdout always holds what ``-o`` and ``--project`` would keep."""
    from studio.cli_interrupt import wait_for_job
    from studio.core.generators import Preview, Result
    from studio.core.jobs import JobState

    streamed = False

    def write(job: Any, event: Any) -> None:
        nonlocal streamed
        if isinstance(event, Preview) and event.kind == "text":
            text, streamed = str(event.value), True
        elif isinstance(event, Result) and event.kind == "text":
            text, streamed = ("" if streamed else str(event.value)), False
        else:
            return
        sys.stdout.write(text)
        sys.stdout.flush()

    job = host.runner.submit(generator, request, device, listeners=[write])
    if wait_for_job(job, host.runner, before_hint=lambda: print(flush=True)):  # the hint on a line of its own
        print(f"studio: {job.message if job.abandoned else 'stopped'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if job.state is not JobState.FINISHED or job.result is None:
        if job.state is JobState.CANCELLED:
            return EXIT_INTERRUPTED
        if job.internal_error:
            print(f"studio: {job.message}", file=sys.stderr)
            return EXIT_INTERNAL
        return user_error(job.message or f"{generator.id} failed")
    sys.stdout.write("\n")
    info = job.result.info
    for note in info.get("notes", ()):
        print(f"studio: note: {note}", file=sys.stderr)
    if "tokens_per_s" in info:
        print(
            f"studio: {info.get('new_tokens', '?')} tokens, {info['tokens_per_s']:.1f} tokens/s, "
            f"first token after {info.get('ttft_s', 0):.3f} s, seed {request.seed}",
            file=sys.stderr,
        )
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
    from studio.core.generators import INPUT_TYPES

    words = ["studio", "generate", generator.id]
    declared = {p.name for p in generator.params if p.type not in INPUT_TYPES}
    for name, value in params.items():
        if name not in declared:  # extra facts a generator records (mode, model) are not flags
            continue
        if name == "prompt":
            words += ["--prompt", str(value)]
        else:
            words += ["--param", f"{name}={format_value(value)}"]
    return " ".join(shlex.quote(word) for word in words)


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


class ProgressBar:
    """A job listener that draws progress on a stream.

    On a terminal it redraws one line with ``\\r``; into a file or a pipe (CI logs) it writes
    a plain line now and then, so the log shows life without thousands of lines.
    """

    WIDTH = 24
    LINE_INTERVAL = 2.0  # seconds between plain lines

    def __init__(self, stream: TextIO, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = _isatty(stream)
        self._lock = threading.Lock()  # events arrive on the job's worker thread
        self._drawn = 0  # length of the line on screen (tty)
        self._last_line = 0.0
        self._last_text = ""

    def __call__(self, job: Any, event: Any) -> None:
        from studio.core.generators import Progress

        if self.enabled and isinstance(event, Progress):
            self.update(event)

    def update(self, progress: Any) -> None:
        text = self.render(progress)
        with self._lock:
            if self.tty:
                self._redraw(text)
            else:
                self._maybe_print(progress, text)

    def render(self, progress: Any) -> str:
        """``[#####-----]  40% 6/16 message`` on a terminal; ``40% (6/16) message`` in a log."""
        fraction = progress.fraction
        message = progress.message or ("" if fraction is not None else "working…")
        if fraction is None:
            text = f"[{'·' * self.WIDTH}] {message}" if self.tty else message
        elif self.tty:
            filled = round(fraction * self.WIDTH)
            text = f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {fraction * 100:3.0f}% {progress.step}/{progress.total} {message}"
        else:
            text = f"{fraction * 100:.0f}% ({progress.step}/{progress.total}) {message}"
        return text.rstrip()

    def _redraw(self, text: str) -> None:
        columns = shutil.get_terminal_size((80, 24)).columns
        text = text[: max(10, columns - 1)]
        self.stream.write("\r" + text.ljust(self._drawn))
        self.stream.flush()
        self._drawn = len(text)

    def _maybe_print(self, progress: Any, text: str) -> None:
        now = time.monotonic()
        final = progress.total > 0 and progress.step >= progress.total
        new_phase = progress.fraction is None and text != self._last_text
        if final or new_phase or now - self._last_line >= self.LINE_INTERVAL:
            if text != self._last_text:
                print(text, file=self.stream, flush=True)
            self._last_line, self._last_text = now, text

    def finish(self) -> None:
        """Clear the bar (tty) so the next message starts on a clean line."""
        with self._lock:
            if self.tty and self._drawn:
                self.stream.write("\r" + " " * self._drawn + "\r")
                self.stream.flush()
            self._drawn = 0


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# -- studio plugins / generators ---------------------------------------------------------


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
    return format_value(param.default)


# What a picture or sound parameter takes on the command line: a file's path.
FILE_ACCEPTS = {
    "image": "image file (PNG, JPEG, WebP)",
    "mask": "mask image file (white = repaint)",
    "audio": "sound file (WAV, FLAC, OGG)",
}


def describe_accepts(param: Any) -> str:
    from studio.core.generators import SEED_MAX

    if param.type == "seed":
        return f"0 to {SEED_MAX}, or -1/random"
    if param.type == "choice":
        return " | ".join(param.choices)
    if param.type == "bool":
        return "true | false"
    if param.type == "text":
        return "text"
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


def table(rows: list[list[str]]) -> list[str]:
    """Rows as left-aligned columns two spaces apart (the last column is not padded)."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths)] + [str(row[-1])]
        lines.append("  ".join(cells).rstrip())
    return lines


# -- studio models ---------------------------------------------------------------------


def cmd_models_list(args: argparse.Namespace) -> int:
    from studio.core.paths import builtin_models

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


def describe_model_folder(entry: Any) -> str:
    loader = entry.loader
    loader_name = f"{loader.title or loader.id} (loader {loader.id})" if loader else ""
    if entry.ok:
        return f"ok: {loader_name}, generator {entry.generator.id}"
    return "error: " + (f"{loader_name}: " if loader_name else "") + entry.error


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


# -- studio doctor ---------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
    from studio import __version__
    from studio.core import paths
    from studio.core.logs import log_path

    print(f"Studio {__version__}")
    print(f"Python: {platform.python_version()} ({sys.executable})")
    print(f"Platform: {platform.platform()}")
    host = make_host(args)
    print()
    for line in runtime_lines(host):
        print(line)
    print()
    print("Plugins:" + ("  (safe mode: built-in only)" if host.plugins.safe_mode else ""))
    for plugin in host.plugins.plugins:
        where = "built-in" if plugin.builtin else f"{plugin.distribution} {plugin.version}".strip()
        line = f"  {plugin.name}: {plugin.status} ({where})"
        if plugin.generators:
            line += f", generators: {', '.join(plugin.generators)}"
        print(line)
        if plugin.error:
            print(f"      {plugin.error}")
    if not host.plugins.plugins:
        print("  none found")
    print()
    print("Model folders:")
    for entry in host.plugins.model_folders:
        print(f"  {entry.path}: {describe_model_folder(entry)}")
    if not host.plugins.model_folders:
        print("  none added")
    print(f"  built-in: {paths.builtin_models()}")
    print()
    print(f"Audio output: {audio_output_line()}")
    print(f"Settings file: {host.settings.path}")
    print(f"Log file: {log_path()}")
    return EXIT_OK


def runtime_lines(host: Any) -> list[str]:
    """What onnxruntime offers, what each device really got, and why the GPU is (not) used."""
    try:
        report = host.runtime.report()
    except StudioError as exc:
        return [f"onnxruntime: not usable: {exc}"]
    lines = [
        f"onnxruntime: {report.version} (package {report.package})",
        f"  providers in this build: {', '.join(report.available)}",
        "  (a provider listed here may still not run: below is what a session really got)",
        "  devices:",
    ]
    for probe in report.devices:
        lines.append(f"    {probe.device.id}: {probe.device.name}")
        lines.append(f"      asked for: {', '.join(probe.asked)}")
        lines.append(f"      really got: {', '.join(probe.got) or 'nothing (the session failed)'}")
        lines.append(f"      usable: {'yes' if probe.usable else 'no'}" + (f" - {probe.reason}" if probe.reason else ""))
    lines.append(f"  GPU: {report.gpu_status}")  # the sentence the window's status bar shows
    lines.append(f"  CPU threads: {report.cpu_threads}")
    selected = host.device()
    lines.append(f"  device setting: {host.settings.device} -> {selected.id} ({selected.name})")
    return lines


def audio_output_line() -> str:
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: the PortAudio library is missing
        return f"no audio output device: sounddevice cannot start ({exc})"
    try:
        device = sounddevice.query_devices(kind="output")
    except sounddevice.PortAudioError as exc:
        return f"no audio output device: {exc}"
    return f"{device['name']} ({device['max_output_channels']} channels, {device['default_samplerate']:g} Hz)"


if __name__ == "__main__":  # pragma: no cover - `python -m studio` goes through __main__.py
    sys.exit(main())
