"""What a plugin's generator returns, through the command line: `-o`, `--project` and stdout.

The plugin is ``tests/fixtures/plugins/malformed``, installed as a distribution is (its module
and a ``.dist-info`` with its entry point, in a folder on ``PYTHONPATH``), so ``python -m studio``
discovers it as it discovers any plugin. Its generators return results that break the contract,
one way each, and text generators that use the contract's freedoms.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.project.load import load_project

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "plugins" / "malformed"
MODULE = "studio_fixture_malformed"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The fixture plugin installed into a folder of its own: its module and its metadata.

    Written directly (what pip would leave, minus the RECORD), which costs no build: the
    entry point is what discovery reads."""
    folder = tmp_path_factory.mktemp("malformed-site")
    shutil.copy(FIXTURE / f"{MODULE}.py", folder)
    info = folder / "studio_fixture_malformed-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: studio-fixture-malformed\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[studio]\nmalformed = {MODULE}\n")
    return folder


@pytest.fixture
def studio(site, tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
        return subprocess.run([sys.executable, "-m", "studio", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    return run


BAD = {
    "empty-image": ("png", ["returned a bad image", "shape (0, 32, 4)", "at least 1"]),
    "channels-first": ("wav", ["returned a bad audio", "shape (2, 22050)", "channels first", "frames first"]),
    "nan-audio": ("wav", ["returned a bad audio", "NaN or infinite"]),
    "inf-audio": ("wav", ["returned a bad audio", "NaN or infinite"]),
    "int16-audio": ("wav", ["returned a bad audio", "int16 samples", "floating-point"]),
    "image-as-audio": ("wav", ["'image' result", "its kind is 'audio'"]),
}


def assert_blamed(run: subprocess.CompletedProcess, generator: str, words: list[str]) -> None:
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"studio: error: plugin 'malformed' (generator '{generator}') "), run.stderr
    assert "cannot write" not in run.stderr
    for word in words:
        assert word in last, last


@pytest.mark.parametrize("generator", sorted(BAD))
def test_a_malformed_result_is_blamed_on_the_plugin_and_no_file_is_written(studio, tmp_path, generator):
    extension, words = BAD[generator]
    run = studio("generate", generator, "-q", "-o", f"out.{extension}")
    assert_blamed(run, generator, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a file was written"


@pytest.mark.parametrize("generator", sorted(BAD))
def test_a_malformed_result_creates_no_project(studio, tmp_path, generator):
    run = studio("generate", generator, "-q", "--project", "new.studio")
    assert_blamed(run, generator, BAD[generator][1])
    assert not (tmp_path / "new.studio").exists()


def test_a_malformed_result_leaves_an_existing_project_as_it_was(studio, tmp_path):
    made = studio("generate", "cppn", "-q", "--param", "width=16", "--param", "height=16", "--project", "mine.studio")
    assert made.returncode == 0, made.stderr
    before = (tmp_path / "mine.studio").read_bytes()
    for generator in ("empty-image", "channels-first", "nan-audio"):
        assert_blamed(studio("generate", generator, "-q", "--project", "mine.studio"), generator, [])
    assert (tmp_path / "mine.studio").read_bytes() == before
    loaded = load_project(tmp_path / "mine.studio")
    assert loaded.problems == [] and len(loaded.project.image.layers) == 1


# -- text: the four paths agree -----------------------------------------------------------


def test_text_that_comes_only_in_the_result_is_printed_written_and_added_alike(studio, tmp_path):
    expected = "[Ahoy] and then, quietly, the end."
    printed = studio("generate", "quiet-text", "--prompt", "Ahoy", "--param", "seed=1")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == expected + "\n"  # was: nothing at all, exit 0

    written = studio("generate", "quiet-text", "-q", "--prompt", "Ahoy", "-o", "out.txt")
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == expected

    added = studio("generate", "quiet-text", "-q", "--prompt", "Ahoy", "--project", "p.studio")
    assert added.returncode == 0, added.stderr
    assert load_project(tmp_path / "p.studio").project.text == expected


def test_a_text_generator_without_a_prompt_streams_writes_and_adds(studio, tmp_path):
    printed = studio("generate", "proverb")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == "Still waters run deep.\n"
    added = studio("generate", "proverb", "-q", "--project", "p.studio", "-o", "p.txt")
    assert added.returncode == 0, added.stderr
    assert load_project(tmp_path / "p.studio").project.text == (tmp_path / "p.txt").read_text(encoding="utf-8") == "Still waters run deep."


def test_a_lone_surrogate_in_generated_text_becomes_a_replacement_character_everywhere(studio, tmp_path):
    printed = studio("generate", "surrogate-text")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == "broken \ufffd byte\n"
    added = studio("generate", "surrogate-text", "-q", "--project", "p.studio", "-o", "p.txt")
    assert added.returncode == 0, added.stderr
    loaded = load_project(tmp_path / "p.studio")
    assert loaded.problems == [] and loaded.project.text == "broken \ufffd byte"
    assert (tmp_path / "p.txt").read_text(encoding="utf-8") == "broken \ufffd byte"
