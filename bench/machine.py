"""What the machine itself allows, measured the same way by every benchmark."""

from __future__ import annotations

import time


def bandwidth_gbs(megabytes: int = 256, runs: int = 5) -> float:
    """Memory bandwidth one core reaches: a numpy copy (read + write), best of a few.

    A decoder at batch 1 reads every weight once per step, so this over the bytes of the
    weights is the fastest any implementation can step on this machine.
    """
    import numpy as np

    src = np.ones(megabytes * 2**20 // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = float("inf")
    for _ in range(runs):
        begin = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - begin)
    return 2 * src.nbytes / best / 1e9
