"""What the converter child says to Studio: one JSON object a line on its protocol stream.

    {"progress": {"component": "unet", "step": 2, "total": 5, "message": "Exporting the UNet"}}
    {"done": {"layout": "sd", "variants": ["fp32", "fp16"], "description": "Stable Diffusion 1.x"}}
    {"error": "the checkpoint holds no UNet: ..."}

The protocol stream is the process's original stdout; ``__main__`` points file descriptor 1 at
stderr before any converter runs, so whatever torch, diffusers or a converter prints goes to the
log (stderr, kept by the parent for the error message) and cannot break a line of the protocol.
Each line is written whole and flushed at once: the parent turns it into a job's progress while
the conversion runs.

Converters raise ``ConvertError`` for what a person can act on (a part missing from the
checkpoint, an architecture the converter does not know); ``__main__`` sends its message as the
job's error, without a traceback.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO


class ConvertError(Exception):
    """An expected failure: its message is shown to the user as it is (plain words, what to do)."""


_lock = threading.Lock()  # a converter may report from a worker thread
_stream: TextIO | None = None


def use_stream(stream: TextIO) -> None:
    """Send the protocol lines to ``stream`` (``__main__`` passes a copy of the original stdout)."""
    global _stream
    _stream = stream


def write_line(message: dict[str, Any]) -> None:
    """Write one protocol line (compact JSON, no raw newlines inside) and flush it."""
    line = json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)
    stream = _stream or sys.stdout
    with _lock:
        stream.write(line + "\n")
        stream.flush()


def report(component: str, step: int, total: int, message: str = "") -> None:
    """Progress of one component: ``step`` of ``total`` (total 0: no count known)."""
    write_line({"progress": {"component": str(component), "step": int(step), "total": int(total),
                             "message": str(message)}})


def done(result: dict[str, Any]) -> None:
    write_line({"done": result})


def error(message: str) -> None:
    write_line({"error": str(message)})
