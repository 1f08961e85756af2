"""No module in studio/, plugins/ or bench/ is over 500 lines (issue 12).

A module past 500 lines has usually stopped having one job; the limit makes the split happen
while the module grows, not years later. The failure names every offender with its line
count, so whoever grew one knows which to split.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED_FOLDERS = ("studio", "plugins", "bench")
MOST_LINES = 500


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def python_modules(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def oversized_modules(root: Path, folders=CHECKED_FOLDERS, most_lines=MOST_LINES) -> dict[str, int]:
    """Each module over `most_lines` lines, by its path relative to `root`, with its line count."""
    found = {}
    for folder in folders:
        for module in python_modules(root / folder):
            lines = line_count(module)
            if lines > most_lines:
                found[module.relative_to(root).as_posix()] = lines
    return found


def test_the_checked_folders_hold_modules():
    # A moved or renamed folder would otherwise make the size test pass by checking nothing.
    for folder in CHECKED_FOLDERS:
        assert python_modules(ROOT / folder), f"{folder}/ holds no Python module"


def test_no_module_is_over_500_lines():
    offenders = oversized_modules(ROOT)
    listing = "\n".join(f"  {path}: {lines} lines" for path, lines in sorted(offenders.items()))
    assert not offenders, f"modules over {MOST_LINES} lines (split each by its jobs):\n{listing}"


def test_an_oversized_module_is_named_with_its_line_count(tmp_path):
    (tmp_path / "studio" / "core").mkdir(parents=True)
    (tmp_path / "studio" / "core" / "small.py").write_text("x = 1\n" * MOST_LINES)
    (tmp_path / "studio" / "core" / "big.py").write_text("x = 1\n" * (MOST_LINES + 1))
    (tmp_path / "plugins").mkdir()
    (tmp_path / "bench").mkdir()
    assert oversized_modules(tmp_path) == {"studio/core/big.py": MOST_LINES + 1}
