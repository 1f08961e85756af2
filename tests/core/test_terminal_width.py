"""`studio generators` fits the terminal: rows wrap within their columns, nothing is lost."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from studio.plugins import PluginHost


def generators_output(tmp_path, columns: int) -> str:
    env = dict(os.environ, COLUMNS=str(columns))
    run = subprocess.run(
        [sys.executable, "-m", "studio", "generators"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def words(text: str) -> set[str]:
    return set(re.findall(r"\S+", text))


def test_generators_fit_80_columns_and_keep_every_word(tmp_path):
    out = generators_output(tmp_path, 80)
    too_long = [line for line in out.splitlines() if len(line) > 80]
    assert too_long == [], f"{len(too_long)} lines over 80 columns, e.g. {too_long[0]!r}"
    said = words(out)
    for generator in PluginHost().load().generators.values():
        assert f"{generator.id}  ({generator.kind})" in out
        for param in generator.params:
            assert param.name in said
            assert words(param.help) <= said, (generator.id, param.name)  # wrapped, not cut
        assert words(generator.description) <= said


def test_a_terminal_too_narrow_for_the_columns_gets_a_paragraph_per_parameter(tmp_path):
    out = generators_output(tmp_path, 44)
    assert max(len(line) for line in out.splitlines()) <= 44
    said = words(out)
    for generator in PluginHost().load().generators.values():
        for param in generator.params:
            assert f"  {param.name}" in out.splitlines()
            assert words(param.help) <= said


def test_a_wide_terminal_keeps_one_line_per_parameter(tmp_path):
    out = generators_output(tmp_path, 400)
    rows = [line.split()[0] for line in out.splitlines() if line.startswith("  ") and line.split()]
    cppn = PluginHost().load().generator("cppn")
    for param in cppn.params:
        assert rows.count(param.name) >= 1
    assert max(len(line) for line in out.splitlines()) > 100  # nothing was wrapped that fitted


def test_fit_table_wraps_the_widest_columns_and_aligns_the_rest():
    from studio.cli.terminal import fit_table

    rows = [["NAME", "HELP"], ["seed", "one two three four five six seven eight nine ten"]]
    lines = fit_table(rows, 24)
    assert all(len(line) <= 24 for line in lines)
    assert lines[0].startswith("NAME  HELP")
    assert lines[1].startswith("seed  one two")
    continuation = lines[2:]
    assert continuation and all(line.startswith(" " * 6) for line in continuation)
    assert " ".join(" ".join(line.split()) for line in lines[1:]).split()[1:] == rows[1][1].split()


def test_wrap_indents_every_line():
    from studio.cli.terminal import wrap

    assert wrap("aa bb cc dd", 7, indent="  ") == ["  aa bb", "  cc dd"]


def test_a_word_longer_than_the_line_is_cut_across_lines_and_kept_whole():
    """A model folder's path in a deep checkout is longer than a narrow terminal."""
    from studio.cli.terminal import fit_table, wrap

    path = "/home/someone/projects/studio/checkout/resources/models/shakespeare"
    lines = wrap(f"model folder {path}", 30, indent="    ")
    assert all(len(line) <= 30 for line in lines)
    assert lines[0] == "    model folder"  # a path that fits a line of its own is not cut
    assert "".join(line.strip() for line in lines[1:]) == path
    table = fit_table([["NAME", "SOURCE"], ["shakespeare", path]], 30)
    assert all(len(line) <= 30 for line in table)
    assert "".join(line.strip() for line in table).endswith(path.split("/")[-1])
    assert path in "".join(line.strip() for line in table)
