"""The README's test command works as written, for root without sudo and for a user with it.

It is run here up to its system-library part, in bash, against stand-in ``apt-get`` and
``sudo`` programs on a PATH of their own (the real ones need a network and root), and
``.ci/run`` must run that same line word for word.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CI = ROOT / ".ci" / "run"


def test_command() -> str:
    """The Quick start's second command: the shell block that installs and runs the tests."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    found = [block.strip() for block in blocks if "python -m pytest" in block]
    assert len(found) == 1, found
    return found[0]


test_command.__test__ = False  # a helper, not a test


def system_part(command: str) -> str:
    """The command up to the Python install (the part that needs root)."""
    head, sep, _ = command.partition(" && pip install")
    assert sep, command
    return head


def fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    fake(folder, "apt-get", f'echo "apt-get $*" >> {tmp_path / "calls"}')
    return folder


def run_as_written(bin_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/bash", "-euo", "pipefail", "-c", system_part(test_command())],
        env={"PATH": str(bin_dir)}, capture_output=True, text=True, timeout=60,
    )


def test_the_readme_test_command_works_without_sudo_as_root(bin_dir, tmp_path):
    run = run_as_written(bin_dir)  # no sudo anywhere on PATH, as for root in a container
    assert run.returncode == 0, run.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0] == "apt-get update"
    assert calls[1].startswith("apt-get install -y ") and "libportaudio2" in calls[1]


def test_the_readme_test_command_uses_sudo_where_there_is_one(bin_dir, tmp_path):
    fake(bin_dir, "sudo", f'echo "sudo $1" >> {tmp_path / "calls"}\nexec "$@"')
    run = run_as_written(bin_dir)
    assert run.returncode == 0, run.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[:2] == ["sudo apt-get", "apt-get update"]
    assert calls[2] == "sudo apt-get" and calls[3].startswith("apt-get install -y ")


def test_ci_runs_the_readme_test_command_word_for_word():
    ci = CI.read_text(encoding="utf-8")
    match = re.search(r"^read -r TEST_COMMAND <<'COMMAND'\n(.*)\nCOMMAND$", ci, flags=re.MULTILINE)
    assert match, "TEST_COMMAND is no longer read from a quoted here-document in .ci/run"
    assert match.group(1) == test_command()
    assert "sudo()" not in ci  # no stand-in needed: the command works for root as written


def test_every_apt_get_hint_in_the_readme_works_without_sudo():
    text = README.read_text(encoding="utf-8")
    assert text.count("apt-get install") >= 3  # the test command and the two hints before it
    assert "sudo apt-get" not in text, "a bare `sudo apt-get` fails for root, who has no sudo here"
