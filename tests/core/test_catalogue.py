"""The curated model catalogue: real hub repositories Studio's pipelines read, shipped as data.

The shipped file must load whole and say plausible things (variant names Studio knows, sizes
that order as the weights' precision does, a default that is one of the variants, a source
for every fact). A damaged file, whoever damaged it, must not break the window that shows it:
each bad entry is named in a plain log message and left out, the good ones still load.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import pytest

from studio.core.models import catalogue
from studio.core.models.catalogue import CatalogueEntry, catalogue_groups, entry_for, load_catalogue
from studio.core.models.variants import VARIANTS, genai_variant

SHIPPED = Path(catalogue.__file__).resolve().parents[3] / "resources" / "catalogue.json"
KIND_OF_GROUP = {"painters": "image", "writers": "text", "musicians": "audio"}
MB, GB = 1000**2, 1000**3

GOOD = {
    "repo_id": "onnx-community/Qwen2.5-0.5B-Instruct",
    "title": "Qwen2.5 0.5B Instruct",
    "group": "writers",
    "kind": "text",
    "description": "A small chat model.",
    "license": "apache-2.0",
    "device": "CPU or GPU",
    "gated": False,
    "homepage": "https://huggingface.co/onnx-community/Qwen2.5-0.5B-Instruct",
    "variants": {"fp32": 2_000_000_000, "q4": 797_000_000},
    "default_variant": "q4",
}


def write_catalogue(tmp_path: Path, entries, **top) -> Path:
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"format": 1, "entries": entries, **top}), encoding="utf-8")
    return path


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == catalogue.__name__ and r.levelno >= logging.WARNING]


# ---------------------------------------------------------------- the shipped catalogue


def test_the_shipped_catalogue_loads_whole_without_a_warning(caplog):
    caplog.set_level(logging.WARNING)
    entries = load_catalogue()
    assert warnings_of(caplog) == []
    raw = json.loads(SHIPPED.read_text(encoding="utf-8"))
    assert len(entries) == len(raw["entries"]), "every shipped entry is valid"
    assert 8 <= len(entries) <= 15
    assert len({entry.repo_id for entry in entries}) == len(entries)


@pytest.mark.parametrize("entry", load_catalogue(), ids=lambda entry: entry.repo_id)
def test_every_shipped_entry_is_complete_and_plausible(entry: CatalogueEntry):
    owner, _, name = entry.repo_id.partition("/")
    assert owner and name and "/" not in name
    for text in (entry.title, entry.description, entry.license, entry.device):
        assert text.strip() and text == text.strip()
    assert len(entry.description) <= 160, "one line a painter, writer or musician reads"
    assert entry.kind == KIND_OF_GROUP[entry.group]
    assert entry.homepage == f"https://huggingface.co/{entry.repo_id}"
    assert "CPU" in entry.device or "GPU" in entry.device
    assert isinstance(entry.gated, bool)
    assert entry.variants and set(entry.variants) <= set(VARIANTS)
    assert list(entry.variants) == [name for name in VARIANTS if name in entry.variants], "shown in Studio's order"
    assert entry.default_variant in entry.variants
    for variant, size in entry.variants.items():
        assert isinstance(size, int) and 10 * MB <= size <= 50 * GB, (variant, size)
    # Fewer bits a weight, fewer bytes to download: a size typed against the wrong variant shows.
    sizes = entry.variants
    for smaller, larger in (("fp16", "fp32"), ("q4", "fp32"), ("int8", "fp32"), ("uint8", "fp32"), ("q4f16", "fp16")):
        if smaller in sizes and larger in sizes:
            assert sizes[smaller] < sizes[larger], (smaller, larger)
    if entry.subfolder:
        # An onnxruntime-genai folder names its precision; Studio's variant name follows it.
        assert not entry.subfolder.startswith("/") and ".." not in entry.subfolder.split("/")
        assert set(entry.variants) == {genai_variant(entry.subfolder)}


def test_the_groups_are_painters_writers_musicians_in_that_order_and_none_is_empty():
    groups = catalogue_groups()
    assert [group.name for group in groups] == ["painters", "writers", "musicians"]
    assert [group.title for group in groups] == ["For painters", "For writers", "For musicians"]
    for group in groups:
        assert group.entries, f"{group.title} is empty"
        assert {entry.group for entry in group.entries} == {group.name}
    assert sum(len(group.entries) for group in groups) == len(load_catalogue())


def test_the_painters_are_told_which_repository_needs_a_gpu():
    painters = next(group for group in catalogue_groups() if group.name == "painters").entries
    assert any("CPU" in entry.device for entry in painters), "at least one picture model runs on the CPU"
    cuda_only = [entry for entry in painters if entry.repo_id == "onnxruntime/sd-turbo"]
    if cuda_only:
        assert "CPU" not in cuda_only[0].device and "GPU" in cuda_only[0].device


def test_the_writers_include_a_genai_folder_with_the_subfolder_to_take():
    phi = entry_for("microsoft/Phi-3-mini-4k-instruct-onnx")
    assert phi is not None
    assert phi.subfolder == "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4"
    assert phi.default_variant == "q4"


def test_entry_for_finds_a_repo_by_its_id_and_says_none_for_another():
    musicgen = entry_for("Xenova/musicgen-small")
    assert musicgen is not None and musicgen.kind == "audio" and musicgen.group == "musicians"
    assert entry_for("xenova/MusicGen-Small") == musicgen, "the hub's repo ids are case-insensitive"
    assert entry_for("nobody/no-such-model") is None
    assert entry_for("") is None


def test_every_entry_names_where_its_facts_came_from():
    raw = json.loads(SHIPPED.read_text(encoding="utf-8"))
    sources = raw["_sources"]
    for entry in load_catalogue():
        assert entry.repo_id in sources and sources[entry.repo_id].strip(), entry.repo_id


def test_a_size_worked_out_rather_than_read_from_the_hub_says_so():
    raw = json.loads(SHIPPED.read_text(encoding="utf-8"))
    for item in raw["entries"]:
        if item.get("size_estimated"):
            assert "estimat" in raw["_sources"][item["repo_id"]].lower(), item["repo_id"]
    assert any(entry.size_estimated for entry in load_catalogue()) == any(i.get("size_estimated") for i in raw["entries"])


def test_the_default_download_size_is_the_default_variants():
    entry = load_catalogue()[0]
    assert entry.default_size == entry.variants[entry.default_variant]


# ---------------------------------------------------------------- a damaged catalogue


@pytest.mark.parametrize(
    "text, says",
    [
        ("{ not json", "not readable JSON"),
        ("[1, 2, 3]", "JSON object"),
        ('{"format": 1, "entries": "many"}', "list of entries"),
        ('{"format": 1}', "list of entries"),
        ('{"format": 1, "entries": [{"variants": {"q4": ' + "9" * 5000 + "}}]}", "not readable JSON"),
        ('{"format": 99, "entries": []}', "format 99"),
    ],
)
def test_a_damaged_file_gives_a_plain_message_and_no_entries(tmp_path, caplog, text, says):
    path = tmp_path / "catalogue.json"
    path.write_text(text, encoding="utf-8")
    caplog.set_level(logging.WARNING)
    assert load_catalogue(path) == []
    messages = warnings_of(caplog)
    assert len(messages) == 1 and says in messages[0] and str(path) in messages[0], messages
    assert "Traceback" not in caplog.text


def test_a_missing_binary_or_folder_file_gives_a_plain_message(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    assert load_catalogue(tmp_path / "absent.json") == []
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage\x81")
    assert load_catalogue(binary) == []
    folder = tmp_path / "folder.json"
    folder.mkdir()
    assert load_catalogue(folder) == []
    messages = warnings_of(caplog)
    assert len(messages) == 3, messages
    assert "absent.json" in messages[0] and "binary.json" in messages[1] and "folder.json" in messages[2]
    assert "Traceback" not in caplog.text


def test_a_file_past_the_size_limit_is_refused_before_it_is_read(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(catalogue, "MAX_FILE_BYTES", 1000)
    path = write_catalogue(tmp_path, [GOOD], _sources={"x": "y" * 2000})
    caplog.set_level(logging.WARNING)
    assert load_catalogue(path) == []
    assert "Studio reads such files up to" in warnings_of(caplog)[0]


def bad(**changes):
    entry = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if value is ...:
            entry.pop(key)
        else:
            entry[key] = value
    return entry


BAD_ENTRIES = [
    (bad(title=...), "title"),
    (bad(variants=...), "variants"),
    (bad(default_variant=...), "default_variant"),
    (bad(gated="no"), "gated"),
    (bad(gated=0), "gated"),
    (bad(title=42), "title"),
    (bad(title="x" * 500), "title"),
    (bad(description="two\nlines"), "description"),
    (bad(variants=["q4"]), "variants"),
    (bad(variants={}), "variants"),
    (bad(variants={"q4": "797 MB"}), "q4"),
    (bad(variants={"q4": True}), "q4"),
    (bad(variants={"q4": 7.5e8}), "q4"),
    (bad(variants={"q4": -1}), "q4"),
    (bad(variants={"q4": 0}), "q4"),
    (bad(variants={"q4": 10**30}), "q4"),
    (bad(variants={"q3": 1000}, default_variant="q3"), "q3"),
    (bad(default_variant="fp16"), "default_variant"),
    (bad(group="dancers"), "group"),
    (bad(kind="image"), "kind"),
    (bad(repo_id="../../etc/passwd"), "repo_id"),
    (bad(repo_id="no-owner"), "repo_id"),
    (bad(homepage="javascript:alert(1)"), "homepage"),
    (bad(subfolder="../outside"), "subfolder"),
    (bad(subfolder="/abs/path"), "subfolder"),
    (bad(size_estimated="maybe"), "size_estimated"),
    ("just a string", "not an object"),
    (None, "not an object"),
]


@pytest.mark.parametrize("entry, field", BAD_ENTRIES, ids=[f"{i}-{field}" for i, (_, field) in enumerate(BAD_ENTRIES)])
def test_a_bad_entry_is_left_out_with_a_message_and_the_good_ones_load(tmp_path, caplog, entry, field):
    other = bad(repo_id="Xenova/musicgen-small", group="musicians", kind="audio",
                homepage="https://huggingface.co/Xenova/musicgen-small")
    path = write_catalogue(tmp_path, [GOOD, entry, other])
    caplog.set_level(logging.WARNING)
    loaded = load_catalogue(path)
    assert [e.repo_id for e in loaded] == [GOOD["repo_id"], "Xenova/musicgen-small"]
    messages = warnings_of(caplog)
    assert len(messages) == 1, messages
    assert "entry 2" in messages[0] and field in messages[0] and str(path) in messages[0], messages[0]
    assert "Traceback" not in caplog.text


def test_a_repeated_repo_id_keeps_the_first_entry(tmp_path, caplog):
    second = bad(title="Another title")
    path = write_catalogue(tmp_path, [GOOD, second])
    caplog.set_level(logging.WARNING)
    loaded = load_catalogue(path)
    assert [e.title for e in loaded] == [GOOD["title"]]
    assert "twice" in warnings_of(caplog)[0]


def test_fields_a_later_studio_adds_are_ignored_not_refused(tmp_path, caplog):
    path = write_catalogue(tmp_path, [bad(tags=["chat"], min_ram_gb=4)])
    caplog.set_level(logging.WARNING)
    assert [e.repo_id for e in load_catalogue(path)] == [GOOD["repo_id"]]
    assert warnings_of(caplog) == []


def test_the_groups_of_a_damaged_catalogue_are_still_three_and_the_window_can_show_them(tmp_path, caplog):
    path = tmp_path / "catalogue.json"
    path.write_text("{ broken", encoding="utf-8")
    caplog.set_level(logging.WARNING)
    groups = catalogue_groups(path)
    assert [(g.name, g.entries) for g in groups] == [("painters", ()), ("writers", ()), ("musicians", ())]
    assert entry_for(GOOD["repo_id"], path) is None


def test_entries_are_frozen_so_a_caller_cannot_change_the_shared_data():
    entry = load_catalogue()[0]
    with pytest.raises(AttributeError):
        entry.title = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        entry.variants["fp32"] = 1  # type: ignore[index]


HOSTILE_VALUES = [None, True, 0, -1, 10**30, 1.5, float("inf"), "", "x" * 10_000, [], {}, ["q4"], {"q4": None}, "../.."]


def test_no_damage_to_the_shipped_file_makes_loading_raise(tmp_path, caplog):
    """Seeded damage of the real file: cut short, bytes flipped, any field of any entry given a
    hostile value. Loading never raises, and whatever it returns is complete."""
    import random

    caplog.set_level(logging.ERROR)
    original = SHIPPED.read_bytes()
    raw = json.loads(original)
    rng = random.Random(13)
    path = tmp_path / "catalogue.json"
    for round_ in range(150):
        if round_ % 3 == 0:
            damaged = original[: rng.randrange(len(original))]
        elif round_ % 3 == 1:
            data = bytearray(original)
            for _ in range(5):
                data[rng.randrange(len(data))] = rng.randrange(256)
            damaged = bytes(data)
        else:
            data = copy.deepcopy(raw)
            entry = rng.choice(data["entries"])
            entry[rng.choice(sorted(entry))] = rng.choice(HOSTILE_VALUES)
            damaged = json.dumps(data).encode()
        path.write_bytes(damaged)
        for entry in load_catalogue(path):
            assert entry.default_variant in entry.variants and entry.group in KIND_OF_GROUP
            assert all(isinstance(size, int) and size > 0 for size in entry.variants.values())
