"""Nothing leaves the machine: onnxruntime's telemetry stays off, everywhere Studio runs it.

onnxruntime writes a device id and a database of model file names and errors under
``~/.cache/Microsoft/DeveloperTools/.onnxruntime/`` as soon as it is imported, unless its
telemetry is turned off first. Each test runs Studio in a child process whose home and
cache folders are fresh, then looks for that folder.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The one module through which Studio imports onnxruntime (see its docstring).
THE_ONE_PLACE = ROOT / "studio" / "core" / "engine" / "onnx_import.py"
# Scripts that run in a torch environment of their own, where Studio need not be installed:
# the fixture builders and the recipes of the trained built-in models.
OUTSIDE_THE_APP = {
    ROOT / "tests" / "fixtures",
    ROOT / "plugins" / "text_lm" / "recipe.py",
    ROOT / "plugins" / "chorale" / "recipe.py",
    ROOT / "plugins" / "latent" / "recipe.py",
}


@pytest.fixture
def fresh_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    env.pop("ORT_DISABLE_TELEMETRY", None)  # the app must turn it off itself
    return home, env


def assert_no_telemetry(home: Path) -> None:
    written = [str(p.relative_to(home)) for p in (home / ".cache").rglob("*")] if (home / ".cache").exists() else []
    assert not (home / ".cache" / "Microsoft").exists(), f"onnxruntime wrote telemetry: {written}"


def test_a_cli_generation_in_a_fresh_home_writes_no_telemetry(fresh_home, tmp_path):
    home, env = fresh_home
    run = subprocess.run(
        [sys.executable, "-m", "studio", "generate", "cppn", "-o", str(tmp_path / "x.png"),
         "--param", "width=32", "--param", "height=32"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "x.png").is_file()
    assert_no_telemetry(home)


def test_the_core_runner_in_a_fresh_home_writes_no_telemetry(fresh_home, tmp_path):
    """The Qt-free runner as a worker process or another program would use it."""
    home, env = fresh_home
    script = textwrap.dedent(
        """
        from studio.core.engine.jobs import JobRunner, JobState
        from studio.core.base.paths import builtin_models
        from studio.core.engine.runtime import Runtime
        from studio_plugins.cppn.generator import CPPNGenerator

        runner = JobRunner(Runtime())
        generator = CPPNGenerator(builtin_models() / "cppn")
        request = generator.request({"width": 16, "height": 16, "seed": 1})
        job = runner.submit(generator, request)
        assert job.wait(60)
        assert job.state is JobState.FINISHED, job.message
        runner.shutdown()
        print("generated")
        """
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "generated" in run.stdout, run.stderr
    assert_no_telemetry(home)


def test_a_plugin_that_imports_onnxruntime_itself_writes_no_telemetry(fresh_home, tmp_path):
    """A third-party plugin may ``import onnxruntime`` at its top, before Studio's door is used."""
    home, env = fresh_home
    site = tmp_path / "site"
    (site / "studio_fixture_ort-0.1.dist-info").mkdir(parents=True)
    (site / "studio_fixture_ort-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: studio-fixture-ort\nVersion: 0.1\n", encoding="utf-8"
    )
    (site / "studio_fixture_ort-0.1.dist-info" / "entry_points.txt").write_text(
        "[studio]\nort_user = studio_fixture_ort\n", encoding="utf-8"
    )
    (site / "studio_fixture_ort.py").write_text("import onnxruntime  # noqa: F401\n", encoding="utf-8")
    env["PYTHONPATH"] = str(site)
    run = subprocess.run(
        [sys.executable, "-m", "studio", "plugins"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "ort_user" in run.stdout and "loaded" in run.stdout.split("ort_user", 1)[1].splitlines()[0]
    assert_no_telemetry(home)


def onnxruntime_imports(path: Path) -> list[str]:
    """Every place in ``path`` that imports onnxruntime (or a part of it) by itself."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module", "__import__", "importorskip"
        ):
            names = [arg.value for arg in node.args[:1] if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        for name in names:
            if name == "onnxruntime" or name.startswith("onnxruntime."):
                where = path.relative_to(ROOT) if ROOT in path.parents else path
                found.append((node.lineno, f"{where}:{node.lineno}: {name}"))
    return [text for _, text in sorted(found)]


def test_onnxruntime_is_imported_only_through_the_one_place():
    """Telemetry is turned off before onnxruntime loads only if every import goes through one door."""
    assert THE_ONE_PLACE.is_file()
    sources = [
        path
        for folder in ("studio", "plugins", "bench", "tests")
        for path in (ROOT / folder).rglob("*.py")
        if path != THE_ONE_PLACE and not any(outside == path or outside in path.parents for outside in OUTSIDE_THE_APP)
    ]
    assert len(sources) > 50  # the scan saw the tree
    offenders = [found for path in sources for found in onnxruntime_imports(path)]
    assert offenders == [], "import onnxruntime through studio.core.engine.onnx_import:\n" + "\n".join(offenders)


def test_the_scan_finds_a_direct_import(tmp_path):
    """The scan above would see each way of importing onnxruntime."""
    module = tmp_path / "probe.py"
    module.write_text(
        "import onnxruntime as ort\nfrom onnxruntime.quantization import x\n"
        "import importlib\nimportlib.import_module('onnxruntime.transformers')\nfrom studio import onnx\n"
        "ort = pytest.importorskip('onnxruntime')\n",
        encoding="utf-8",
    )
    assert [line.split(": ", 1)[1] for line in onnxruntime_imports(module)] == [
        "onnxruntime", "onnxruntime.quantization", "onnxruntime.transformers", "onnxruntime"
    ]
