"""The ``Host`` a subcommand works through: the same one the window uses, with ``--safe-mode``."""

from __future__ import annotations

import argparse
from typing import Any


def make_host(args: argparse.Namespace) -> Any:
    from studio.host import Host  # here, not at the top: `studio --help` stays light

    return Host(safe_mode=getattr(args, "safe_mode", False))
