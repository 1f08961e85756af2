"""Shared test setup: every test gets its own Studio profile, and Qt runs headless."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _null_audio_device() -> None:
    """Playback tests play into ALSA's null device: silent, present on any Linux with ALSA.

    PortAudio reads ALSA's configuration when it first loads, so this runs before any test
    imports sounddevice. ``.ci/run`` sets the same; a run that set its own path keeps it.
    """
    if "ALSA_CONFIG_PATH" in os.environ:
        return
    folder = tempfile.mkdtemp(prefix="studio-alsa-")
    path = os.path.join(folder, "asound.conf")
    with open(path, "w") as file:
        file.write("pcm.!default { type null }\n")
    os.environ["ALSA_CONFIG_PATH"] = path


_null_audio_device()


@pytest.fixture(autouse=True)
def studio_home(tmp_path_factory, monkeypatch):
    """A fresh STUDIO_HOME (settings, logs) per test, so no test sees the user's or another's."""
    home = tmp_path_factory.mktemp("studio-home")
    monkeypatch.setenv("STUDIO_HOME", str(home))
    monkeypatch.delenv("STUDIO_LOAD_PLUGINS", raising=False)
    return home


@pytest.fixture(autouse=True)
def repeatable_drawn_seeds(monkeypatch):
    """A seed left to chance (a Retry, "random" in the form) is drawn from a generator seeded
    the same for every test, not from the system: a real model sampled with a seed drawn anew
    each run now and then writes nothing at all (the tiny Llama fixture ends at once for one
    seed in sixty), and a test must pass or fail the same way every time."""
    import random

    drawn = random.Random(20261204)
    monkeypatch.setattr(random, "SystemRandom", lambda: drawn)


@pytest.fixture
def stand_in_hub(monkeypatch):
    """A stand-in Hugging Face hub on 127.0.0.1 serving the fixture repositories, with
    ``HF_ENDPOINT`` pointing at it (tests/fixtures/hub/README.md)."""
    import sys
    from pathlib import Path

    fixtures = str(Path(__file__).resolve().parent / "fixtures")
    if fixtures not in sys.path:
        sys.path.insert(0, fixtures)
    from hub import running_hub

    with running_hub(monkeypatch) as hub:
        yield hub


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """A real two-node Ray cluster on 127.0.0.1 (tests/ray_cluster.py), for the session."""
    from ray_cluster import LocalCluster, ray_or_skip

    ray_or_skip()
    cluster = LocalCluster(tmp_path_factory.mktemp("ray-cluster")).start()
    yield cluster
    cluster.stop()
