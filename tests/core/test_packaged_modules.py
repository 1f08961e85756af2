"""Every folder of Python code is in the wheel.

pyproject.toml lists Studio's packages one by one (``studio_plugins`` lives in ``plugins/``,
which setuptools' discovery cannot map). A new subpackage missing from that list works in an
editable checkout, where the folder is on the path, but is absent from an installed Studio:
its first import there fails.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def setuptools_table() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def packages_on_disk() -> set[str]:
    """The dotted name of every folder holding a .py file, under each package-dir root."""
    names = set()
    for package, folder in setuptools_table()["package-dir"].items():
        base = ROOT / folder
        for module in base.rglob("*.py"):
            if "__pycache__" not in module.parts:
                relative = module.parent.relative_to(base).parts
                names.add(".".join((package, *relative)))
    return names


def test_every_folder_of_python_code_is_a_listed_package():
    missing = packages_on_disk() - set(setuptools_table()["packages"])
    assert not missing, f"pyproject.toml's [tool.setuptools] packages lacks {sorted(missing)}: an installed Studio would not have them"
