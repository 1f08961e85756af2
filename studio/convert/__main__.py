"""``python -m studio.convert FORMAT SOURCE OUT [--options JSON]``: one conversion, in a process of its own.

Started by ``studio/core/models/importing.py`` (the import job), never by the app's process
itself: torch lives and dies here. FORMAT picks the converter, imported only now:

    sd-checkpoint  studio.convert.sd_checkpoint    a single-file Stable Diffusion checkpoint
    diffusers      studio.convert.diffusers_folder a diffusers folder
    causal-lm      studio.convert.lm               a transformers causal-LM folder
    musicgen       studio.convert.musicgen         a transformers MusicGen folder

Each exposes ``convert(source, out, options, report) -> dict`` and writes the whole model folder
into OUT (a fresh folder; the parent installs it and writes the manifest). stdout carries the
protocol (``studio.convert.protocol``); everything else anyone prints goes to stderr.

Exit codes: 0 ``{"done": ...}``; 2 ``{"error": ...}`` for a ``ConvertError`` (or a full disk),
a message meant for the user; 1 ``{"error": "internal error: ..."}`` with the traceback on stderr.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from studio.convert import protocol
from studio.convert.protocol import ConvertError

CONVERTERS = {
    "sd-checkpoint": "studio.convert.sd_checkpoint",
    "diffusers": "studio.convert.diffusers_folder",
    "causal-lm": "studio.convert.lm",
    "musicgen": "studio.convert.musicgen",
}
EXIT_DONE, EXIT_INTERNAL, EXIT_ERROR = 0, 1, 2
DISK_FULL = "the disk is full"


def main(argv: list[str] | None = None) -> int:
    protocol.use_stream(_protocol_stream())
    try:
        args = _arguments(argv)
        options = _options(args.options)
        source, out = Path(args.source), Path(args.out)
        if not source.exists():
            raise ConvertError(f"{source} does not exist")
        out.mkdir(parents=True, exist_ok=True)
        _threads(options)
        converter = _converter(args.format)
        result = converter.convert(source, out, options, protocol.report)
        if not isinstance(result, dict):
            raise TypeError(f"{CONVERTERS[args.format]}.convert returned {type(result).__name__}, not a dict")
        protocol.done(result)
        return EXIT_DONE
    except ConvertError as exc:
        protocol.error(str(exc))
        return EXIT_ERROR
    except BaseException as exc:  # the parent shows the message, the traceback goes to its log
        if _disk_full(exc):
            print(f"{DISK_FULL}: {exc}", file=sys.stderr)
            protocol.error(f"{DISK_FULL}: free some space and import again")
            return EXIT_ERROR
        if isinstance(exc, SystemExit) and exc.code in (0, None):
            raise
        traceback.print_exc()
        sys.stderr.flush()
        protocol.error(f"internal error: {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL


def _converter(name: str) -> Any:
    """The converter module of FORMAT, imported only now (each pulls in torch and its library).
    Spelled out, not computed: the model-safety scan allows no import of a computed name."""
    if name == "sd-checkpoint":
        from studio.convert import sd_checkpoint as module
    elif name == "diffusers":
        from studio.convert import diffusers_folder as module
    elif name == "causal-lm":
        from studio.convert import lm as module
    else:
        from studio.convert import musicgen as module
    return module


def _protocol_stream() -> Any:
    """A private copy of stdout for the protocol; fd 1 itself then goes to stderr, so a library's
    print (torch's exporter warnings, a progress bar) lands in the log and never in a line."""
    sys.stdout.flush()
    private = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(private, "w", encoding="utf-8", buffering=1)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m studio.convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("format", choices=sorted(CONVERTERS))
    parser.add_argument("source", help="the checkpoint file or model folder to convert")
    parser.add_argument("out", help="an empty folder the ONNX model folder is written into")
    parser.add_argument("--options", default="{}", help="a JSON object: variant, name, architecture, threads")
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed why on stderr
        raise ConvertError(f"bad arguments to the converter (exit {exc.code}); see its log") from None


def _options(text: str) -> dict[str, Any]:
    try:
        options = json.loads(text)
    except ValueError as exc:
        raise ConvertError(f"the converter's options are not JSON: {exc}") from None
    if not isinstance(options, dict):
        raise ConvertError("the converter's options must be a JSON object")
    return options


def _threads(options: dict[str, Any]) -> None:
    """torch's threads: as many as the parent's onnxruntime sessions get (the window leaves the
    GUI thread a core, the command line takes them all); all cores but one when not told."""
    import torch

    threads = options.get("threads")
    if not isinstance(threads, int) or threads < 1:
        threads = max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(threads)


def _disk_full(exc: BaseException) -> bool:
    """ENOSPC, raised as an OSError or wrapped in a RuntimeError by torch's or onnx's C++ code."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


if __name__ == "__main__":
    sys.exit(main())
