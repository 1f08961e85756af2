"""Batch files (``studio batch``): every line checked before anything runs, and the record that
makes a run resumable. Real generators from the built-in plugins; no Qt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.core.project.batch_file import MAX_BATCH_BYTES, MAX_REQUESTS, line_key, read_batch
from studio.core.project.batch_record import RECORD_NAME, BatchRecord
from studio.errors import StudioError
from studio.plugins import PluginHost

SMALL = {"width": 32, "height": 32}


@pytest.fixture(scope="module")
def plugins():
    return PluginHost(safe_mode=True).load()


def write_lines(path: Path, *lines: str | dict) -> Path:
    path.write_text("".join((json.dumps(line) if isinstance(line, dict) else line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_good_lines_become_requests_with_their_line_numbers(plugins, tmp_path):
    path = write_lines(
        tmp_path / "b.jsonl",
        "# 200 seeds x 3 prompts, made by a script",
        {"generator": "cppn", "params": {"seed": 7, **SMALL}},
        "",
        {"generator": "cppn", "params": {"seed": "8", "width": "32", "height": 32.0, "colour_mode": "hsv"}},
        {"generator": "shakespeare", "params": {"seed": 3, "max_new_tokens": 4}, "prompt": "ROMEO:"},
    )

    batch = read_batch(path, plugins.generator)

    assert batch.problems == []
    assert [(r.line, r.generator.id, r.seed) for r in batch.requests] == [(2, "cppn", 7), (4, "cppn", 8), (5, "shakespeare", 3)]
    # Strings as --param gives them and JSON numbers come out the same typed values.
    assert batch.requests[1].request().params == {
        "seed": 8, "width": 32, "height": 32, "scale": 2.0, "complexity": 1.0, "colour_mode": "hsv", "batch_count": 1, "latent": None,
    }  # fmt: skip
    assert batch.requests[2].request()["prompt"] == "ROMEO:"  # the shorthand, folded in


def test_a_seed_left_to_chance_is_drawn_once_and_kept(plugins, tmp_path):
    path = write_lines(tmp_path / "b.jsonl", {"generator": "cppn", "params": SMALL}, {"generator": "cppn", "params": {"seed": "random", **SMALL}})

    first, second = read_batch(path, plugins.generator).requests

    assert isinstance(first.seed, int) and isinstance(second.seed, int)
    assert first.request().seed == first.request().seed == first.seed  # the request made to run is the one checked
    # The drawn seed is not part of the line: its key is the line's, so a re-run can find it.
    assert first.key == line_key({"generator": "cppn", "params": SMALL})


def test_the_key_ignores_spacing_and_key_order_and_changes_with_any_value(plugins, tmp_path):
    path = write_lines(
        tmp_path / "b.jsonl",
        '{"generator": "cppn", "params": {"seed": 7, "width": 32, "height": 32}}',
        '{ "params" : {"height":32,"width":32,"seed":7},"generator":"cppn" }',
        '{"generator": "cppn", "params": {"seed": 7, "width": 32, "height": 40}}',
    )

    one, same, other = read_batch(path, plugins.generator).requests

    assert one.key == same.key != other.key


BAD_LINES = [
    ('{"generator": "cppn", "params": {"seed": 7,', "not valid JSON"),
    ('{"generator": "cpnn"}', "unknown generator 'cpnn'. Did you mean: cppn?"),
    ('{"generator": "cppn", "params": {"width": 15}}', "width: 15 is out of range (16 to 8192)"),
    ('{"generator": "cppn", "params": {"width": "wide"}}', "width: expected a whole number, got 'wide'"),
    ('{"generator": "cppn", "params": {"colour": "red"}}', "cppn has no parameter colour"),
    ('{"generator": "cppn", "parmas": {"seed": 1}}', "unknown key 'parmas'"),
    ('["cppn", 7]', "expected a JSON object"),
    ('{"params": {"seed": 1}}', 'no "generator"'),
    ('{"generator": "cppn", "params": [7]}', '"params" must be an object'),
    ('{"generator": "cppn", "params": {"seed": 1, "seed": 2}}', "'seed' is given twice"),
    ('{"generator": "cppn", "params": {"width": {"px": 32}}}', "params.width: expected a single value, not an object"),
    ('{"generator": "cppn", "prompt": "a fox"}', "cppn takes no prompt"),
    ('{"generator": "shakespeare", "prompt": 7}', '"prompt" must be text'),
    ('{"generator": "shakespeare", "prompt": "a", "params": {"prompt": "b"}}', "the prompt is given twice"),
]


def test_every_bad_line_is_reported_with_its_number_and_the_good_ones_are_kept(plugins, tmp_path):
    good = {"generator": "cppn", "params": {"seed": 1, **SMALL}}
    path = write_lines(tmp_path / "b.jsonl", good, *[line for line, _ in BAD_LINES], good)

    batch = read_batch(path, plugins.generator)

    assert [line for line, _ in batch.problems] == list(range(2, 2 + len(BAD_LINES)))
    for (line, message), (_, expected) in zip(batch.problems, BAD_LINES):
        assert expected in message, (line, message)
    assert [r.line for r in batch.requests] == [1, 2 + len(BAD_LINES)]


def test_a_line_that_is_not_utf8_is_reported_and_a_bom_is_not(plugins, tmp_path):
    path = tmp_path / "b.jsonl"
    line = json.dumps({"generator": "cppn", "params": {"seed": 1, **SMALL}}).encode()
    latin1 = b'{"generator": "cppn", "prompt": "caf\xe9"}'  # "café" from an editor set to Latin-1
    path.write_bytes(b"\xef\xbb\xbf" + line + b"\r\n" + latin1 + b"\n")

    batch = read_batch(path, plugins.generator)

    assert [r.line for r in batch.requests] == [1]
    byte = latin1.index(b"\xe9") + 1
    assert batch.problems == [(2, f"not UTF-8 text (byte {byte} of the line)")]


def test_a_file_too_large_or_with_too_many_requests_is_refused_before_any_line_is_checked(plugins, tmp_path):
    large = tmp_path / "large.jsonl"
    with open(large, "wb") as file:
        file.truncate(MAX_BATCH_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(StudioError, match="larger than any batch file"):
        read_batch(large, plugins.generator)

    many = tmp_path / "many.jsonl"
    many.write_text("# comments and blank lines do not count\n\n" + "{}\n" * (MAX_REQUESTS + 1), encoding="utf-8")
    with pytest.raises(StudioError, match="holds 100,001 requests; a batch runs at most 100,000"):
        read_batch(many, plugins.generator)

    with pytest.raises(StudioError, match="no such file"):
        read_batch(tmp_path / "missing.jsonl", plugins.generator)


# -- the record ----------------------------------------------------------------------------


def test_the_record_knows_what_is_done_across_runs(tmp_path):
    (tmp_path / "00001-cppn-7.png").write_bytes(b"png")
    (tmp_path / "00002-cppn-8.png").write_bytes(b"png")
    record = BatchRecord(tmp_path)
    record.add(1, "key-1", [tmp_path / "00001-cppn-7.png"], 7)
    record.add(2, "key-2", [tmp_path / "00002-cppn-8.png"], 8)
    record.close()

    again = BatchRecord(tmp_path)

    assert again.done(1, "key-1").files == ("00001-cppn-7.png",)
    assert again.done(1, "key-1").seed == 7
    assert again.done(1, "changed line") is None
    assert again.done(3, "key-1") is None
    (tmp_path / "00002-cppn-8.png").unlink()
    assert again.done(2, "key-2") is None  # a deleted result is made again


def test_a_record_entry_cut_short_is_skipped_and_the_next_starts_on_its_own_line(tmp_path):
    (tmp_path / "a.png").write_bytes(b"png")
    (tmp_path / RECORD_NAME).write_text(
        '{"line": 1, "key": "k1", "files": ["a.png"], "seed": 1}\n'
        '{"line": 1, "key": "k1", "files": ["../elsewhere.png"], "seed": 1}\n'  # never a path out of the folder
        '{"line": 2, "key": "k2", "fil', encoding="utf-8",
    )  # fmt: skip
    record = BatchRecord(tmp_path)
    assert record.done(1, "k1") is not None and record.done(2, "k2") is None

    record.add(2, "k2", ["a.png"], None)
    record.close()

    lines = (tmp_path / RECORD_NAME).read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1]) == {"line": 2, "key": "k2", "files": ["a.png"], "seed": None}
    assert BatchRecord(tmp_path).done(2, "k2") is not None
