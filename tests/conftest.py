"""Shared test setup: every test gets its own Studio profile, and Qt runs headless."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def studio_home(tmp_path_factory, monkeypatch):
    """A fresh STUDIO_HOME (settings, logs) per test, so no test sees the user's or another's."""
    home = tmp_path_factory.mktemp("studio-home")
    monkeypatch.setenv("STUDIO_HOME", str(home))
    monkeypatch.delenv("STUDIO_LOAD_PLUGINS", raising=False)
    return home
