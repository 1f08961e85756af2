"""``studio explore``: a morph through a latent generator's space, written as an animation.

``studio explore emoji-vae --from 7 --to 42 --frames 24 -o morph.webp`` draws the latents of
seed 7 and seed 42 (or takes those kept in pictures Studio made: ``--from a.png``), walks from
one to the other (through ``--via`` stops on the way) as the model's space asks (a great
circle for Gaussian latents, a straight line for StyleGAN's w), renders every frame as an
ordinary job of the generator with its ``latent`` set, and writes a looping GIF or WebP.
The first and last frames are the two pictures themselves.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from studio.cli.generate import parse_params
from studio.cli.host import make_host
from studio.cli.output import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, user_error
from studio.cli.progress import ProgressBar
from studio.errors import StudioError

EXPLORE_SETS = ("seed", "latent", "batch_count", "image")  # what explore chooses itself, per frame


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    explore = commands.add_parser(
        "explore", parents=[common],
        help="morph between two pictures of a latent generator (GAN, VAE, CPPN) into a GIF or WebP animation",
    )
    explore.add_argument("generator", metavar="GENERATOR", help="a latent generator's id (see `studio generators`)")
    explore.add_argument("--from", dest="start", required=True, metavar="SEED|PNG", help="the first picture: a seed, or a picture Studio made with this generator")
    explore.add_argument("--to", dest="end", required=True, metavar="SEED|PNG", help="the last picture: a seed, or a picture Studio made")
    explore.add_argument("--via", action="append", default=[], metavar="SEED|PNG", help="a picture to pass through on the way; repeat for more")
    explore.add_argument("--frames", type=int, default=24, metavar="N", help="frames in the animation, the two ends included (default 24)")
    explore.add_argument("--fps", type=float, default=12.0, help="frames a second (default 12)")
    explore.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="set a parameter of every frame (not seed or latent)")
    explore.add_argument("-o", "--output", metavar="FILE", help="the animation, .webp or .gif (default: <generator>-<from>-<to>.webp here)")
    explore.add_argument("--device", metavar="ID", help="cpu, cuda:0, ..., or ray (default: the device in the settings)")
    explore.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    explore.set_defaults(handler=cmd_explore)


def cmd_explore(args: argparse.Namespace) -> int:
    from studio.core.image.animation import write_animation
    from studio.core.image.latent_walk import MAX_FRAMES, morph

    values = parse_params(args.param)
    chosen = sorted(set(values) & set(EXPLORE_SETS))
    if chosen:
        return user_error(f"--param {', '.join(chosen)}: explore sets these itself (use --from, --to and --via)")
    if not 2 <= args.frames <= MAX_FRAMES:
        return user_error(f"--frames {args.frames}: an animation has 2 to {MAX_FRAMES} frames")
    if not 0.5 <= args.fps <= 60:
        return user_error(f"--fps {args.fps:g}: from 0.5 to 60 frames a second")
    output = Path(args.output) if args.output else Path(f"{_stem(args.generator)}-{_stem(args.start)}-{_stem(args.end)}.webp")
    problem = _output_problem(output)
    if problem:
        return user_error(problem)
    host = make_host(args)
    try:
        generator = host.generator(args.generator)
        space = generator.latent_space
        if space is None:
            latent_ones = ", ".join(g.id for g in host.generators.values() if g.latent_space is not None) or "none"
            return user_error(f"{generator.id} has no latent space to explore (latent generators: {latent_ones})")
        generator.request(values)  # every shared parameter checked before any work
        device = host.resolve_device(args.device) if args.device else host.device()
        stops = [args.start, *args.via, args.end]
        bar = ProgressBar(sys.stderr, enabled=not args.quiet)
        keys = [_key_latent(host, generator, stop, values, device) for stop in stops]
        if args.frames < len(keys):
            return user_error(f"--frames {args.frames}: at least one frame for each of the {len(keys)} pictures")
        latents = morph(keys, args.frames, space.interpolation)
        frames = _render(host, generator, latents, values, device, bar)
        bar.finish()
        if frames is None:
            print("studio: cancelled", file=sys.stderr)
            return EXIT_INTERRUPTED
        path = write_animation(frames, output, 1.0 / args.fps)
        print(os.path.abspath(path))
        return EXIT_OK
    except _JobFailed as failure:
        if failure.internal:
            print(f"studio: {failure}", file=sys.stderr)
            return EXIT_INTERNAL
        raise StudioError(str(failure)) from None
    finally:
        host.shutdown()


class _JobFailed(Exception):
    def __init__(self, message: str, internal: bool) -> None:
        super().__init__(message)
        self.internal = internal


def _key_latent(host: Any, generator: Any, stop: str, values: dict, device: Any) -> Any:
    """The latent of one stop: a seed's (as the generator draws it), or a picture's kept one."""
    import numpy as np

    from studio.core.project.outputs import read_parameters

    if stop.strip().lstrip("-").isdigit():
        job = _run(host, generator, {**values, "seed": stop, "batch_count": 1}, device)
        return np.asarray(job.result.params["latent"], dtype=np.float32)
    data = read_parameters(stop)  # an OutputError in words for a missing or damaged file
    if data is None or "latent" not in data["params"]:
        raise StudioError(f"{stop} holds no latent: give a seed, or a picture Studio made with a latent generator")
    if data["generator"] != generator.id:
        raise StudioError(f"{stop} was made by {data['generator']}, not {generator.id}: its latent belongs to another model")
    latent = generator.param("latent").coerce(data["params"]["latent"])
    if latent is None or len(latent) != generator.latent_space.size:
        raise StudioError(f"{stop}: its latent does not fit {generator.id} (a latent of {generator.latent_space.size} numbers)")
    return np.asarray(latent, dtype=np.float32)


def _render(host: Any, generator: Any, latents: list, values: dict, device: Any, bar: ProgressBar) -> list | None:
    """Every frame, each an ordinary job of the generator, in order; None when interrupted."""
    from studio.cli.interrupt import wait_for_job
    from studio.core.engine.generators import Progress
    from studio.core.engine.latent_values import recorded

    frames = []
    total = len(latents)
    for number, latent in enumerate(latents):
        request = generator.request({**values, "seed": 0, "batch_count": 1, "latent": recorded(latent)})
        job = host.runner.submit(generator, request, device)
        if wait_for_job(job, host.runner, before_hint=bar.finish):
            return None
        _check(job, generator)
        frames.append(job.result.value)
        bar(job, Progress(number + 1, total, f"frame {number + 1} of {total}"))  # drawn unless -q
    return frames


def _run(host: Any, generator: Any, values: dict, device: Any) -> Any:
    from studio.cli.interrupt import wait_for_job

    job = host.runner.submit(generator, generator.request(values), device)
    if wait_for_job(job, host.runner):
        raise KeyboardInterrupt
    _check(job, generator)
    return job


def _check(job: Any, generator: Any) -> None:
    from studio.core.engine.jobs import JobState

    if job.state is JobState.CANCELLED:
        raise KeyboardInterrupt
    if job.state is not JobState.FINISHED or job.result is None:
        raise _JobFailed(job.message or f"{generator.id} failed", job.internal_error)


def _output_problem(path: Path) -> str:
    """Why the animation cannot be written at ``path`` (checked before any frame is made)."""
    if path.suffix.lower() not in (".webp", ".gif"):
        return f"{path}: an animation is written as .webp or .gif"
    folder = path.expanduser().resolve().parent
    if not folder.is_dir():
        return f"{path}: the folder {folder} does not exist"
    if path.is_dir():
        return f"{path} is a folder"
    if not os.access(folder, os.W_OK):
        return f"{path}: the folder {folder} cannot be written to"
    return ""


def _stem(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "-", Path(text).stem if "." in text else text).strip("-.") or "x"
