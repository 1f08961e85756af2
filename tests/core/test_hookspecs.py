"""Every hook is documented and tested (datasette's rule): adding a hook without both fails here."""

from __future__ import annotations

import inspect
from pathlib import Path

import pluggy
import pytest

from studio import hookspecs

TESTS = Path(__file__).resolve().parents[1]


def hook_names() -> list[str]:
    """The hooks pluggy itself finds in ``studio.hookspecs``."""
    pm = pluggy.PluginManager("studio")
    pm.add_hookspecs(hookspecs)
    return sorted(name for name in vars(pm.hook) if not name.startswith("_"))


def test_the_hooks_are_found():
    # Guards the two tests below against passing vacuously on an empty list.
    assert {"register_generators", "register_model_loaders"} <= set(hook_names())


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_has_a_docstring(name):
    doc = inspect.getdoc(getattr(hookspecs, name))
    assert doc and doc.strip(), f"hookspec {name} in studio/hookspecs.py has no docstring"


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_is_used_in_a_test(name):
    this = Path(__file__).resolve()
    tests = [path for path in TESTS.rglob("test_*.py") if path.resolve() != this]
    using = [path for path in tests if name in path.read_text(encoding="utf-8")]
    assert using, f"hook {name} is not mentioned by any test under {TESTS} (besides {this.name}): write one"
