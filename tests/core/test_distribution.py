"""Studio's distribution name is its own.

The name ``studio`` on PyPI belongs to an unrelated project: a plugin that declared
``dependencies = ["studio"]`` made pip fetch that. The import package stays ``studio``; the
distribution that installs it has a name of its own, and the README's plugin example, the
plugin manager (which tells built-in plugins by their distribution) and pip agree on it.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import studio
from studio.plugins import BUILTIN_DISTRIBUTION, PluginHost

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# Taken on PyPI by someone else (checked with `pip index versions studio`: 0.5, 0.5.1).
TAKEN = "studio"


def canonical(name: str) -> str:
    """A distribution name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def our_name() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]


def readme_plugin_dependencies() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"^```toml\n# studio-tone/pyproject.toml\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    assert block, "the README's plugin example (studio-tone/pyproject.toml) is missing"
    return tomllib.loads(block.group(1))["project"]["dependencies"]


def test_the_distribution_is_not_the_unrelated_pypi_project():
    assert canonical(our_name()) != TAKEN
    assert canonical(BUILTIN_DISTRIBUTION) == canonical(our_name())


def test_the_readme_plugin_example_depends_on_studios_real_distribution():
    names = [canonical(re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]) for requirement in readme_plugin_dependencies()]
    assert canonical(our_name()) in names
    assert TAKEN not in names


def test_importlib_metadata_finds_the_distribution_that_installs_the_studio_package():
    dist = metadata.distribution(our_name())
    assert canonical(dist.metadata["Name"]) == canonical(our_name())
    assert dist.version == studio.__version__
    assert {(e.name, e.value) for e in dist.entry_points if e.group == "studio"} >= {("cppn", "studio_plugins.cppn")}


def test_the_builtin_plugins_are_recognised_by_that_distribution():
    host = PluginHost().load()
    cppn = next(p for p in host.plugins if p.name == "cppn")
    assert cppn.builtin and canonical(cppn.distribution) == canonical(our_name())
