"""``studio models download REPO_ID`` and ``studio models inspect REPO_ID``: models from the
Hugging Face hub, from a terminal.

``inspect`` lists what a repository holds (its files, its variants with the bytes each would
download, its license) and whether Studio can run it. ``download`` fetches one variant as a
job (the same job the window's Download dialog starts): progress with rate and time left on
stderr, Ctrl-C cancels and keeps what arrived (the same command resumes it), and at the end
the installed folder and the command that uses it. A failure is one sentence and exit code 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from studio.cli.host import make_host
from studio.cli.output import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, user_error


def register(model_commands: Any, common: argparse.ArgumentParser) -> None:
    download = model_commands.add_parser(
        "download", parents=[common], help="download a model from the Hugging Face hub (one variant)")
    download.add_argument("repo_id", metavar="REPO_ID", help="the hub repository, owner/name")
    download.add_argument("--variant", default="", help="q4, int8, fp16, fp32...; default: the best for the CPU")
    download.add_argument("--revision", default="", help="a branch, tag or commit; default: main")
    download.add_argument("--subfolder", default="", help="the build to take from a repository that holds several "
                          "(Microsoft's genai repos: cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4)")
    download.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    download.set_defaults(handler=cmd_models_download)
    inspect = model_commands.add_parser(
        "inspect", parents=[common], help="what a hub repository holds and whether Studio can run it")
    inspect.add_argument("repo_id", metavar="REPO_ID")
    inspect.add_argument("--revision", default="")
    inspect.set_defaults(handler=cmd_models_inspect)


def cmd_models_download(args: argparse.Namespace) -> int:
    from studio.cli.interrupt import wait_for_job
    from studio.cli.progress import ProgressBar
    from studio.core.engine.jobs import JobState
    from studio.core.models.download import start_download

    host = make_host(args)
    bar = ProgressBar(sys.stderr, enabled=not args.quiet)
    try:
        job = start_download(host, args.repo_id, variant=args.variant, revision=args.revision, subfolder=args.subfolder,
                             listeners=[bar])
        interrupted = wait_for_job(job, host.runner, before_hint=bar.finish)
        bar.finish()
        if interrupted or job.state is JobState.CANCELLED:
            print("studio: download cancelled; what arrived is kept: the same command resumes it", file=sys.stderr)
            return EXIT_INTERRUPTED
        if job.state is not JobState.FINISHED or job.result is None:
            if job.internal_error:
                print(f"studio: {job.message}", file=sys.stderr)
                return EXIT_INTERNAL
            return user_error(job.message or f"the download of {args.repo_id} failed")
        info = job.result.info
        print(f"Installed {info['repo_id']} ({info['variant']}) in:", file=sys.stderr)
        print(job.result.value)
        return _use_it(host, job.result.value)
    finally:
        host.shutdown()


def _use_it(host: Any, folder: str) -> int:
    """Say which generator the new folder became, or why none did."""
    from pathlib import Path

    wanted = Path(folder).resolve()
    for entry in host.reload_model_folders():
        if Path(entry.path).expanduser().resolve() == wanted:
            if entry.ok:
                print(f"Use it with: studio generate {shlex.quote(entry.generator.id)}")
                return EXIT_OK
            return user_error(f"downloaded, but Studio cannot run it: {entry.error}")
    return user_error(f"downloaded to {folder}, but Studio did not find it among its models")


def cmd_models_inspect(args: argparse.Namespace) -> int:
    from studio.core.models.hub import inspect_repo
    from studio.core.models.variants import SUITS, human_size, preferred

    listing = inspect_repo(args.repo_id, args.revision)
    print(f"{listing.repo_id} @ {listing.revision[:12]}   {listing.page}")
    print(f"License: {listing.license or 'not stated'}" + ("   Gated: accept the license on the hub page first" if listing.gated else ""))
    print(listing.verdict)
    if listing.variants:
        best = preferred(list(listing.variants), "cpu")
        print("\nVariants (bytes to download, shared files included):")
        for name, size in listing.variants.items():
            mark = "   default on the CPU" if name == best else ""
            print(f"  {name:<10} {human_size(size):>10}   {SUITS.get(name, '')}{mark}")
    print(f"\nFiles ({len(listing.files)}):")
    for file in listing.files:
        print(f"  {human_size(file.size):>10}  {file.path}")
    if listing.runnable:
        print(f"\nDownload with: studio models download {shlex.quote(listing.repo_id)}"
              + (f" --variant {best}" if listing.variants else ""))
    return EXIT_OK
