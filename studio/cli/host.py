"""The ``Host`` a subcommand works through: the same one the window uses, with ``--safe-mode``."""

from __future__ import annotations

import argparse
from typing import Any


def make_host(args: argparse.Namespace) -> Any:
    """The host with every core for onnxruntime: a command line has no GUI thread to keep
    responsive, so nothing is held back (the window keeps its measured share instead)."""
    from studio.core.engine.runtime import Runtime, all_cores
    from studio.host import Host  # here, not at the top: `studio --help` stays light

    return Host(safe_mode=getattr(args, "safe_mode", False), runtime=Runtime(cpu_threads=all_cores()))
