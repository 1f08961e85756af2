"""The CLI (and so every batch run) gives onnxruntime every core: no window needs one kept free.
The window keeps its own measured default (runtime.window_cpu_threads)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli.host import make_host
from studio.core.engine import runtime as rt
from studio.core.engine.runtime import CPU_DEVICE

CPPN = Path(__file__).resolve().parents[2] / "resources" / "models" / "cppn"


def onnx_file() -> Path:
    return next(CPPN.glob("*.onnx"))


def test_the_cli_runtime_creates_sessions_with_every_core():
    host = make_host(argparse.Namespace(safe_mode=True))
    try:
        session = host.runtime.session(onnx_file(), CPU_DEVICE).session
        assert session.get_session_options().intra_op_num_threads == os.cpu_count()
        assert host.runtime.session_options(CPU_DEVICE).intra_op_num_threads == os.cpu_count()
    finally:
        host.shutdown()


@pytest.mark.parametrize("cores", [1, 2, 16])
def test_the_cli_uses_every_core_however_many(monkeypatch, cores):
    monkeypatch.setattr(rt.os, "cpu_count", lambda: cores)
    host = make_host(argparse.Namespace(safe_mode=True))
    try:
        assert host.runtime.session_options(CPU_DEVICE).intra_op_num_threads == cores
    finally:
        host.shutdown()


def test_studio_doctor_reports_every_core(tmp_path):
    done = subprocess.run([sys.executable, "-m", "studio", "doctor"], capture_output=True, text=True, cwd=tmp_path,
                          env=dict(os.environ), timeout=120)
    assert f"CPU threads: {os.cpu_count()}" in done.stdout, done.stdout + done.stderr


def test_the_window_default_is_the_measured_one_not_the_cli_one(monkeypatch):
    monkeypatch.setattr(rt.os, "cpu_count", lambda: 16)
    assert rt.Runtime().cpu_threads == rt.window_cpu_threads()
    assert rt.all_cores() == 16
