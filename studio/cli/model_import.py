"""``studio models import PATH``: a checkpoint or Hugging Face folder converted to ONNX, from a terminal.

The same job the window's Import dialog starts (``studio.core.models.importing``): what the
source is on the first line, progress per component on stderr, Ctrl-C cancels (the converter
is killed and its partial output removed), and at the end the installed folder and the command
that uses it. A source Studio cannot import, a machine without the room, a missing convert
extra: one sentence and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from studio.cli.host import make_host
from studio.cli.output import EXIT_INTERNAL, EXIT_INTERRUPTED, user_error


def register(model_commands: Any, common: argparse.ArgumentParser) -> None:
    command = model_commands.add_parser(
        "import", parents=[common], help="convert a checkpoint (.safetensors) or Hugging Face folder into a model Studio runs",
        description="Import a Stable Diffusion checkpoint (.safetensors: SD 1.x, 2.x, SDXL, inpainting), a diffusers "
                    "folder, a Hugging Face causal language model folder or a MusicGen folder (safetensors weights). "
                    "Needs the convert extra (torch's CPU build).")
    command.add_argument("path", metavar="PATH", help="the .safetensors checkpoint or the model folder")
    command.add_argument("--variant", default="", help="a smaller variant made beside fp32: fp16 (Stable Diffusion, "
                         "for GPUs), int4 or int8 (language models, for the CPU)")
    command.add_argument("--name", default="", help="the installed model's name; default: the file's or folder's")
    command.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    command.set_defaults(handler=cmd_models_import)


def cmd_models_import(args: argparse.Namespace) -> int:
    from studio.cli.interrupt import wait_for_job
    from studio.cli.progress import ProgressBar
    from studio.core.engine.jobs import JobState
    from studio.core.models.importing import start_import

    host = make_host(args)
    bar = ProgressBar(sys.stderr, enabled=not args.quiet)
    try:
        job = start_import(host, args.path, name=args.name, variant=args.variant, listeners=[bar])
        source = job.generator.source
        bar.say(f"Importing {source.path} ({source.description})")  # the job may be printing already
        interrupted = wait_for_job(job, host.runner, before_hint=bar.finish)
        bar.finish()
        if interrupted or job.state is JobState.CANCELLED:
            print("studio: import cancelled; nothing was installed", file=sys.stderr)
            return EXIT_INTERRUPTED
        if job.state is not JobState.FINISHED or job.result is None:
            if job.internal_error:
                print(f"studio: {job.message}", file=sys.stderr)
                return EXIT_INTERNAL
            return user_error(job.message or f"the import of {args.path} failed")
        info = job.result.info
        variants = ", ".join(info.get("variants") or []) or "fp32"
        print(f"Imported {source.path.name} as {info.get('name')} ({variants}) in:", file=sys.stderr)
        print(job.result.value)
        return _use_it(host, job.result.value)
    finally:
        host.shutdown()


def _use_it(host: Any, folder: str) -> int:
    """Say which generator the new folder became, or why none did."""
    import shlex
    from pathlib import Path

    from studio.cli.output import EXIT_OK

    wanted = Path(folder).resolve()
    for entry in host.reload_model_folders():
        if Path(entry.path).expanduser().resolve() == wanted:
            if entry.ok:
                print(f"Use it with: studio generate {shlex.quote(entry.generator.id)}")
                return EXIT_OK
            return user_error(f"imported, but Studio cannot run it: {entry.error}")
    return user_error(f"imported to {folder}, but Studio did not find it among its models")
