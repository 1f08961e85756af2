"""ARCHITECTURE.md and the README's "Project layout" match the tree (issue 12).

Every path the two documents name must exist: the folders and files of their layout trees (a
fenced block, one entry a line, nesting by indentation) and the paths in their code spans,
read from the repository root. And every package folder under studio/ and plugins/ must be
named in ARCHITECTURE.md. A folder moved, renamed or added without the documents fails here,
so the map cannot drift silently from the house.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED_PACKAGE_ROOTS = ("studio", "plugins")

# One path as written in a document: names joined by '/', perhaps ending in '/' (a folder);
# a <placeholder> stands for any name (plugins/<name>/).
PATH_PATTERN = re.compile(r"^[\w.<>-]+(/[\w.<>-]+)*/?$")
FILE_NAME_PATTERN = re.compile(r"\.[A-Za-z]\w*$")
CODE_SPAN_PATTERN = re.compile(r"`([^`\n]+)`")
FENCE = "```"


def is_path_token(token: str) -> bool:
    """A folder (ends in '/'), a path (holds a '/'), or a file name with an extension."""
    if not PATH_PATTERN.match(token):
        return False
    return "/" in token or bool(FILE_NAME_PATTERN.search(token))


def split_prose_and_fences(text: str) -> tuple[str, list[list[str]]]:
    """The text outside fenced blocks, and the lines of each fenced block."""
    prose, blocks, block = [], [], None
    for line in text.splitlines():
        if line.lstrip().startswith(FENCE):
            if block is None:
                block = []
            else:
                blocks.append(block)
                block = None
        elif block is None:
            prose.append(line)
        else:
            block.append(line)
    return "\n".join(prose), blocks


def tree_paths(lines: list[str]) -> set[str]:
    """The paths a layout tree names, each relative to the repository root.

    A line's leading path tokens are entries (``image/ text/ audio/`` are three siblings);
    the words after them describe it. An entry's parent is the nearest folder above it that
    is indented less; a line whose first word is no path (a description going on) is skipped.
    """
    paths, parents = set(), []  # parents: (indent, folder path) from the root down
    for line in lines:
        words = line.split()
        entries = []
        for word in words:
            if not is_path_token(word):
                break
            entries.append(word)
        if not entries:
            continue
        indent = len(line) - len(line.lstrip(" "))
        while parents and parents[-1][0] >= indent:
            parents.pop()
        prefix = parents[-1][1] if parents else ""
        named = [prefix + entry for entry in entries]
        paths.update(named)
        folders = [path for path in named if path.endswith("/")]
        if len(folders) == 1 and len(named) == 1:
            parents.append((indent, folders[0]))
    return paths


def span_paths(prose: str) -> set[str]:
    """The paths written in code spans of the prose (`studio/core/engine/`, `plugins/cppn/recipe.py`)."""
    return {span for span in CODE_SPAN_PATTERN.findall(prose) if "/" in span and is_path_token(span)}


def documented_paths(text: str) -> set[str]:
    prose, blocks = split_prose_and_fences(text)
    paths = span_paths(prose)
    for block in blocks:
        paths |= tree_paths(block)
    return paths


def missing_paths(root: Path, paths: set[str]) -> list[str]:
    """The documented paths that do not exist under `root` (a placeholder checks its parent)."""
    missing = []
    for path in sorted(paths):
        if "<" in path:
            exists = (root / path.split("<")[0]).is_dir()  # the folders before the placeholder
        elif path.endswith("/"):
            exists = (root / path).is_dir()
        else:
            exists = (root / path).is_file()
        if not exists:
            missing.append(path)
    return missing


def package_folders(root: Path, package_roots=DOCUMENTED_PACKAGE_ROOTS) -> set[str]:
    """Every folder holding Python code under the package roots, as 'studio/core/engine/'."""
    folders = set()
    for package_root in package_roots:
        for module in (root / package_root).rglob("*.py"):
            if "__pycache__" not in module.parts:
                folders.add(module.parent.relative_to(root).as_posix() + "/")
    return folders


def undocumented_package_folders(root: Path, architecture: str) -> list[str]:
    named = documented_paths(architecture)
    return sorted(folder for folder in package_folders(root) if folder not in named)


def section(text: str, heading: str) -> str:
    """The lines under a '## heading' up to the next heading of that level (outside fences)."""
    lines, inside, in_fence = [], False, False
    for line in text.splitlines():
        if line.lstrip().startswith(FENCE):
            in_fence = not in_fence
        if not in_fence and line.startswith("## "):
            if inside:
                break
            inside = line[3:].strip() == heading
            continue
        if inside:
            lines.append(line)
    return "\n".join(lines)


def architecture_text() -> str:
    return (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")


def readme_layout() -> str:
    return section((ROOT / "README.md").read_text(encoding="utf-8"), "Project layout")


def test_every_path_architecture_md_names_exists():
    paths = documented_paths(architecture_text())
    assert "studio/core/" in paths, f"no layout tree was read from ARCHITECTURE.md: {sorted(paths)}"
    missing = missing_paths(ROOT, paths)
    assert not missing, f"ARCHITECTURE.md names paths that do not exist: {missing}"


def test_every_path_the_readme_project_layout_names_exists():
    layout = readme_layout()
    assert "ARCHITECTURE.md" in layout, "the README's Project layout should point to ARCHITECTURE.md"
    paths = documented_paths(layout)
    assert "studio/core/" in paths, f"no layout tree was read from the README's Project layout: {sorted(paths)}"
    missing = missing_paths(ROOT, paths)
    assert not missing, f"the README's Project layout names paths that do not exist: {missing}"


def test_every_package_folder_is_named_in_architecture_md():
    undocumented = undocumented_package_folders(ROOT, architecture_text())
    assert not undocumented, f"ARCHITECTURE.md does not name these package folders: {undocumented}"


# The checks above must be able to fail: a planted tree, and documents that drift from it.

PLANTED_DOC = """\
# A house

The engine lives in `studio/core/engine/`; the API in `studio/hookspecs.py`. Words with
slashes that are no code span, like UI/core, are not paths; nor is the command `studio models`.

```
studio/               the app
  hookspecs.py        hooks
  core/               no Qt
    engine/ models/   two siblings
                      a description going on: canvas/, editor/
  ui/
plugins/<name>/       built-ins
.ci/run               CI
```
"""


def plant_tree(root: Path) -> None:
    for folder in ("studio/core/engine", "studio/core/models", "studio/ui", "plugins/cppn", ".ci"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
    (root / "studio" / "__init__.py").write_text("")
    (root / "studio" / "hookspecs.py").write_text("")
    (root / ".ci" / "run").write_text("")


def test_the_parser_reads_trees_siblings_spans_and_placeholders():
    assert documented_paths(PLANTED_DOC) == {
        "studio/", "studio/hookspecs.py", "studio/core/", "studio/core/engine/", "studio/core/models/",
        "studio/ui/", "plugins/<name>/", ".ci/run",
    }


def test_a_documented_folder_that_is_missing_is_named(tmp_path):
    plant_tree(tmp_path)
    assert missing_paths(tmp_path, documented_paths(PLANTED_DOC)) == []
    (tmp_path / "studio" / "core" / "models" / "__init__.py").unlink()
    (tmp_path / "studio" / "core" / "models").rmdir()
    assert missing_paths(tmp_path, documented_paths(PLANTED_DOC)) == ["studio/core/models/"]


def test_a_missing_documented_file_and_placeholder_parent_are_named(tmp_path):
    plant_tree(tmp_path)
    (tmp_path / "studio" / "hookspecs.py").unlink()
    for leftover in (tmp_path / "plugins" / "cppn" / "__init__.py", tmp_path / "plugins" / "cppn", tmp_path / "plugins"):
        leftover.unlink() if leftover.is_file() else leftover.rmdir()
    assert missing_paths(tmp_path, documented_paths(PLANTED_DOC)) == ["plugins/<name>/", "studio/hookspecs.py"]


def test_an_undocumented_package_folder_is_named(tmp_path):
    plant_tree(tmp_path)
    # plugins/<name>/ names no folder in particular: each plugin's folder must be listed.
    assert undocumented_package_folders(tmp_path, PLANTED_DOC) == ["plugins/cppn/"]
    (tmp_path / "studio" / "core" / "audio").mkdir()
    (tmp_path / "studio" / "core" / "audio" / "mixer.py").write_text("")
    assert undocumented_package_folders(tmp_path, PLANTED_DOC) == ["plugins/cppn/", "studio/core/audio/"]


def test_the_readme_section_ends_at_the_next_heading_outside_fences():
    text = "## A\none\n```\n## not a heading\n```\n## Project layout\nmine\n```\n# comment\n```\n## B\nother\n"
    assert section(text, "Project layout") == "mine\n```\n# comment\n```"
