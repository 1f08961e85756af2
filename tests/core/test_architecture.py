"""No import circles among the modules of ``studio/`` and ``plugins/``, and the import-linter contracts hold.

What counts as an import (the definition this test enforces):

- every ``import a.b`` and ``from a.b import c`` in a module, at module level or inside a
  function or class: a function-level import runs too, only later, so a circle through one
  is still a circle (and hiding an import in a function is not a way out of one);
- except those under ``if TYPE_CHECKING:`` (``typing.TYPE_CHECKING`` too): they never run,
  they only tell the type checker a name;
- ``from package import name`` is an edge to ``package.name`` when that is a module, else to
  ``package`` (its ``__init__``); a relative import is resolved the way Python resolves it;
- importing ``a.b.c`` is an edge to ``a.b.c`` only, not to the packages ``a`` and ``a.b``
  that Python runs first: a package's ``__init__`` importing its submodules, which import
  each other through the package's full name, is not a circle;
- only Studio's own modules are nodes (``plugins/`` is the package ``studio_plugins``).

A circle is reported by module names, ``a -> b -> c -> a``, the shortest one in each knot.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {"studio": "studio", "studio_plugins": "plugins"}  # package name -> folder, as in pyproject


def module_files(root: Path) -> dict[str, Path]:
    """Every module under the source folders of ``root``, by dotted name."""
    modules = {}
    for package, folder in SOURCES.items():
        for path in sorted((root / folder).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = (package, *path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST):
    """The import statements of ``tree`` that run, at any depth, skipping ``if TYPE_CHECKING:`` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``modules`` that module ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source for alias in node.names]
        found.update(target for target in targets if target in modules and target != name)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = module_files(root)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def _knots(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan's, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    knots = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    knot = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        knot.add(member)
                        if member == node:
                            break
                    if len(knot) > 1:
                        knots.append(knot)
    return knots


def _shortest_cycle(graph: dict[str, set[str]], knot: set[str]) -> list[str]:
    best: list[str] = []
    for start in sorted(knot):
        previous = {start: ""}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for child in sorted(graph[node] & knot):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    cycle = [start, *reversed(path[:-1]), start]
                    if not best or len(cycle) < len(best):
                        best = cycle
                    queue.clear()
                    break
                if child not in previous:
                    previous[child] = node
                    queue.append(child)
    return best


def import_circles(root: Path) -> list[str]:
    """Each import circle under ``root``'s source folders, as ``a -> b -> a``."""
    graph = import_graph(root)
    return sorted(" -> ".join(_shortest_cycle(graph, knot)) for knot in _knots(graph))


def test_there_are_no_import_circles():
    circles = import_circles(ROOT)
    assert not circles, "import circles (module-level and function-level imports both):\n" + "\n".join(circles)


def test_the_graph_sees_the_imports_it_should():
    graph = import_graph(ROOT)
    assert "studio.core.engine.generators" in graph["studio.core.engine.jobs"]
    assert "studio.core.base.paths" in graph["studio.core.base.logs"]  # from studio.core.base import paths
    assert len(graph) > 100


def _copy_sources(tmp_path: Path) -> Path:
    for folder in SOURCES.values():
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return tmp_path


def test_a_planted_circle_is_found_and_named(tmp_path):
    root = _copy_sources(tmp_path)
    ids = root / "studio/core/base/ids.py"
    # Inside a function, as a circle is usually "hidden": it is found all the same.
    ids.write_text(ids.read_text(encoding="utf-8") + "\n\ndef _planted():\n    from studio.core.audio import timeline\n", encoding="utf-8")
    assert import_circles(root) == ["studio.core.audio.timeline -> studio.core.base.ids -> studio.core.audio.timeline"]


def test_a_planted_relative_circle_is_found(tmp_path):
    root = _copy_sources(tmp_path)
    (root / "plugins/cppn/planted_a.py").write_text('"""a"""\nfrom . import planted_b\n', encoding="utf-8")
    (root / "plugins/cppn/planted_b.py").write_text('"""b"""\nfrom .planted_a import x\n', encoding="utf-8")
    assert import_circles(root) == ["studio_plugins.cppn.planted_a -> studio_plugins.cppn.planted_b -> studio_plugins.cppn.planted_a"]


def test_an_import_under_type_checking_is_not_a_circle(tmp_path):
    root = _copy_sources(tmp_path)
    ids = root / "studio/core/base/ids.py"
    planted = "\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from studio.core.audio.timeline import Clip\n"
    ids.write_text(ids.read_text(encoding="utf-8") + planted, encoding="utf-8")
    assert import_circles(root) == []


def _lint_imports() -> subprocess.CompletedProcess[str]:
    executable = shutil.which("lint-imports") or shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if executable is None:
        pytest.skip("lint-imports (import-linter) is not installed: pip install -e '.[test]'")
    return subprocess.run([executable], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_the_layers_and_the_ui_boundaries_hold():
    """pyproject's [tool.importlinter] contracts: the core's layers, core never the UI or the CLI,
    built-in plugins never the UI (``test_no_qt`` checks the Qt contract on its own)."""
    done = _lint_imports()
    assert done.returncode == 0, f"lint-imports failed:\n{done.stdout}\n{done.stderr}"
    for contract in (
        "the core's layers: project > documents > models > engine > media > base KEPT",
        "studio.core never imports the UI or the CLI KEPT",
        "built-in plugins never import the UI or the CLI KEPT",
    ):
        assert contract in done.stdout


def plugin_helper_modules() -> set[str]:
    """The modules the plugin API's docstring (``studio/__init__.py``) names as public for plugins."""
    import re

    import studio

    return set(re.findall(r"``(studio(?:\.[a-z_]+)+)``", studio.__doc__ or ""))


def studio_imports(path: Path, modules: set[str]) -> list[tuple[int, str]]:
    """Every ``studio...`` module a file imports, with its line (``modules``: every module name)."""
    found = []
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "studio"]
        elif node.level == 0 and node.module and node.module.split(".")[0] == "studio":
            # `from studio.core.base import paths` imports the module studio.core.base.paths
            found += [(node.lineno, f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module)
                      for alias in node.names]
    return found


def off_api_imports(root: Path, allowed: set[str]) -> list[str]:
    modules = set(module_files(ROOT))
    return [
        f"{path.relative_to(root)}:{line}: {module}"
        for path in sorted((root / "plugins").rglob("*.py"))
        if path.name != "recipe.py"  # build-time code, run outside the app
        for line, module in dict.fromkeys(studio_imports(path, modules))
        if module != "studio" and module not in allowed
    ]


def test_built_in_plugins_use_only_the_api_and_the_core_modules_it_names():
    allowed = plugin_helper_modules()
    assert "studio.core.models.limits" in allowed and "studio.core.engine.onnx_import" in allowed, allowed
    assert off_api_imports(ROOT, allowed) == []


def test_an_import_outside_the_plugin_api_is_found(tmp_path):
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "plugins", copy / "plugins", ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "plugins" / "cppn" / "generator.py"
    target.write_text(target.read_text(encoding="utf-8") + "\n\ndef planted():\n    from studio.core.engine.jobs import JobRunner\n")

    assert [line.split(": ")[1] for line in off_api_imports(copy, plugin_helper_modules())] == ["studio.core.engine.jobs"]
