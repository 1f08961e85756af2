"""The core (and the plugin API) never imports Qt: the CLI and these tests run headless."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

IMPORT_EVERYTHING = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import studio, studio.core
    names = ["studio", "studio.errors", "studio.hookspecs", "studio_plugins.cppn",
             "studio_plugins.cppn.generator"]
    names += [m.name for m in pkgutil.walk_packages(studio.core.__path__, "studio.core.")]
    for name in names:
        importlib.import_module(name)
    qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "shiboken6", "studio"))
    print(json.dumps({"imported": names, "qt": [m for m in qt if not m.startswith("studio")],
                      "studio_ui": [m for m in qt if m.startswith("studio.ui")]}))
    """
)


def test_importing_the_core_and_the_plugin_api_loads_no_qt():
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    core = [name for name in report["imported"] if name.startswith("studio.core.")]
    for expected in ("studio.core.engine.generators", "studio.core.engine.jobs", "studio.core.engine.runtime", "studio.core.models.loaders"):
        assert expected in core, f"{expected} was not found by the package walk"
    assert report["qt"] == [], f"Qt was imported by the core: {report['qt']}"
    assert report["studio_ui"] == []


def test_the_import_linter_contract_holds():
    executable = shutil.which("lint-imports") or shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if executable is None:
        pytest.skip("lint-imports (import-linter) is not installed: pip install -e '.[test]'")
    done = subprocess.run([executable], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, f"lint-imports failed:\n{done.stdout}\n{done.stderr}"
    assert "studio.core is free of Qt KEPT" in done.stdout
