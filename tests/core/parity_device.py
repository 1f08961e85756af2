"""The device the parity tests run on: the CPU, or the one ``STUDIO_TEST_DEVICE`` names.

``bench/gpu_check.py`` sets ``STUDIO_TEST_DEVICE=cuda:0`` to run the same parity tests on an
NVIDIA GPU. A device that was asked for must really run them: one that does not start here,
or a session that fell back to the CPU, fails the run instead of passing on the CPU unseen.
"""

from __future__ import annotations

import os

import pytest

from studio.core.engine.runtime import CPU_DEVICE, Device, Runtime

VARIABLE = "STUDIO_TEST_DEVICE"


def parity_device() -> Device:
    wanted = os.environ.get(VARIABLE, "").strip() or "cpu"
    if wanted == "cpu":
        return CPU_DEVICE
    runtime = Runtime()
    device = runtime.device(wanted)
    probe = runtime.probe(device)
    if not probe.usable:
        pytest.fail(f"{VARIABLE}={wanted}, but it does not start here: {probe.reason}", pytrace=False)
    return device


def check_sessions_ran_on(runtime: Runtime, device: Device) -> None:
    """Every session the tests made runs on ``device``'s first provider (none fell back)."""
    wrong = [f"{s.path.name}: {s.providers[0]}" for s in runtime.cached_sessions() if s.providers[:1] != device.providers[:1]]
    assert not wrong, f"sessions not on {device.providers[0]}: {', '.join(wrong)}"
