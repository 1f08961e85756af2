"""How much memory the machine can still give, and a refusal before a step that needs more.

Running out of memory is not an exception a program can handle: Linux kills the process (the
whole window with it), and an allocation refused by a limit can surface deep in onnxruntime or
a Rust library as an abort. So a pipeline that is about to allocate from sizes a user or a
model file chose asks ``ensure_memory`` first, and a step that cannot fit becomes a plain
message instead of a dead window.
"""

from __future__ import annotations

import os
import sys

from studio.errors import StudioError


def _meminfo_available() -> int | None:
    """Linux: MemAvailable, the kernel's own estimate of what can be had without swapping."""
    try:
        with open("/proc/meminfo", encoding="ascii") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """A container's own limit (cgroup v2): the machine may be large while this box is small."""
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as file:
            limit = file.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as file:
            used = int(file.read().strip())
        return max(0, int(limit) - used)
    except (OSError, ValueError):
        return None


def _address_space_room() -> int | None:
    """Room left under this process's address-space limit (``ulimit -v``), when it has one."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status", encoding="ascii") as file:
            for line in file:
                if line.startswith("VmSize:"):
                    return max(0, soft - int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sysconf_available() -> int | None:
    """Free physical pages where the OS reports them (other Unixes); not the page cache."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _windows_available() -> int | None:
    if sys.platform != "win32":
        return None
    import ctypes

    class MemoryStatus(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong)] + [
            (name, ctypes.c_ulonglong)
            for name in ("ullTotalPhys", "ullAvailPhys", "ullTotalPageFile", "ullAvailPageFile",
                         "ullTotalVirtual", "ullAvailVirtual", "ullAvailExtendedVirtual")
        ]

    status = MemoryStatus()
    status.dwLength = ctypes.sizeof(MemoryStatus)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
        return None
    return int(status.ullAvailPhys)


def available_memory() -> int | None:
    """Bytes this process can still allocate, as far as the system says; ``None`` if unknown.

    The smallest of what the machine has free, what the container allows and what the
    process's own address-space limit leaves."""
    system = _meminfo_available()
    if system is None:
        system = _windows_available()
    if system is None and sys.platform != "darwin":  # macOS counts only never-used pages as free
        system = _sysconf_available()
    known = [room for room in (system, _cgroup_room(), _address_space_room()) if room is not None]
    return min(known) if known else None


def describe_bytes(nbytes: float) -> str:
    if nbytes >= 1e9:
        return f"{nbytes / 1e9:.1f} GB"
    return f"{max(nbytes, 0) / 1e6:.0f} MB"


def ensure_memory(nbytes: float, what: str) -> None:
    """Raise a ``StudioError`` when ``what`` needs about ``nbytes`` and the machine has less free.

    Estimates are of the arrays a step allocates, so they are lower bounds: a refusal is
    certain to be right, and a pass still leaves the operating system the last word."""
    room = available_memory()
    if room is not None and nbytes > room:
        raise StudioError(
            f"{what} needs about {describe_bytes(nbytes)} of memory; this machine has {describe_bytes(room)} free. "
            "Ask for less (a smaller size or a shorter length), or close other programs"
        )
