"""Whether the process that left a file behind (a temp file, an autosave) is still running."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def process_start(pid: int) -> str:
    """When process ``pid`` started (Linux: field 22 of /proc/PID/stat), or "" where unknown.

    Recorded beside a pid, it tells a dead process from a new one that was given the same
    pid (after a reboot, or after enough processes came and went).
    """
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    return ""


def process_alive(pid: int, started: str = "") -> bool:
    """True for this process, and for a running ``pid`` (that started at ``started``, if given)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    except OSError:
        return False
    return not started or not Path("/proc").is_dir() or process_start(pid) == started
