"""The model library (studio/core/models/library.py): every model Studio knows — built-in, added,
downloaded — with its kind, generator, layout, variants and their sizes, source, license and
when it was added; removing one (a download is deleted and its bytes freed, an added folder is
only forgotten, a built-in one is refused) and choosing its default variant per device.

Real folders, real ONNX graphs, a real Host with the built-in plugins."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest

from studio.core.base import paths
from studio.core.base.paths import builtin_models
from studio.core.models import variant_defaults
from studio.core.models.library import (
    ModelRecord,
    find_record,
    installed_folders,
    model_records,
    remove_model,
    set_default,
)
from studio.core.models.manifest import Manifest, write_manifest
from studio.errors import StudioError
from studio.host import Host
from studio.settings import Settings

from test_variants import save_graph


def disk_bytes(folder: Path) -> int:
    """The bytes of every file under ``folder``, counted the way `du --apparent-size -b` would."""
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder) for name in names)


def downloaded_cppn(name: str = "abstract", **source: str) -> Path:
    """A model folder laid out as a download would leave it under paths.models(): the CPPN files,
    a q4 variant graph with external data, and the manifest written last."""
    folder = paths.models() / name
    shutil.copytree(builtin_models() / "cppn", folder)
    save_graph(folder / "model_q4.onnx", weights=4096, data_file="model_q4.onnx_data")
    write_manifest(folder, Manifest(
        name=name.title(),
        source=source or {"hub": "someone/abstract-art", "revision": "0123456789abcdef0123", "endpoint": "http://127.0.0.1:1"},
        license="mit",
        variants=["fp32", "q4"],
    ))
    return folder


def by_name(records: list[ModelRecord]) -> dict[str, ModelRecord]:
    return {record.name: record for record in records}


@pytest.fixture
def host():
    made = Host()
    yield made
    made.shutdown()


# -- built-in ------------------------------------------------------------------------------------


def test_the_built_in_models_are_listed_with_their_generator_layout_and_variant(host):
    records = by_name(model_records(host))

    cppn, shakespeare, chorale = records["cppn"], records["shakespeare"], records["chorale"]
    assert (cppn.kind, shakespeare.kind, chorale.kind) == ("image", "text", "audio")
    assert (cppn.generator_id, shakespeare.generator_id, chorale.generator_id) == ("cppn", "shakespeare", "chorale")
    assert (cppn.layout, shakespeare.layout, chorale.layout) == ("CPPN", "Language model", "Chorale sketcher")
    for record in (cppn, shakespeare, chorale):
        assert record.origin == "built-in" and record.error == "" and record.added == ""
        assert record.folder == (builtin_models() / record.name).resolve()
        assert list(record.variants) == ["fp32"]
        assert record.variants["fp32"].size == (record.folder / "model.onnx").stat().st_size
        assert record.size == disk_bytes(record.folder)
        assert record.source == "built-in" and record.license
        assert "fp32" in record.suits


def test_removing_a_built_in_model_is_refused_and_its_files_stay(host):
    cppn = find_record(host, "cppn")
    with pytest.raises(StudioError, match="built into Studio"):
        remove_model(host, cppn)
    assert (builtin_models() / "cppn" / "model.onnx").is_file()
    assert "cppn" in host.generators


# -- added folders ---------------------------------------------------------------------------------


def test_an_added_folder_is_listed_with_the_time_it_was_added(host, tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(builtin_models() / "cppn", mine)
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    host.add_model_folder(str(mine))
    record = find_record(host, "cppn:mine")

    assert (record.name, record.origin, record.kind, record.layout) == ("mine", "added", "image", "CPPN")
    assert record.folder == mine.resolve() and record.source == str(mine.resolve())
    assert before <= dt.datetime.fromisoformat(record.added) <= dt.datetime.now(dt.timezone.utc)
    assert record.license == "unknown"


def test_a_folder_added_before_times_were_kept_shows_no_time(host, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(builtin_models() / "cppn", old)
    Settings().model_folders = [str(old)]  # as an older Studio left the settings
    host.reload_model_folders()

    assert find_record(host, "old").added == ""


def test_removing_an_added_folder_forgets_it_and_keeps_its_files(host, tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(builtin_models() / "cppn", mine)
    host.add_model_folder(str(mine))
    set_default(find_record(host, "mine"), "cpu", "fp32")

    freed = remove_model(host, find_record(host, "mine"))

    assert freed == 0
    assert (mine / "model.onnx").is_file()
    assert Settings().model_folders == [] and Settings().model_folders_added == {}
    assert "cppn:mine" not in host.generators
    assert variant_defaults.default_variant(mine, "cpu") is None
    with pytest.raises(StudioError, match="no model called 'mine'"):
        find_record(host, "mine")


def test_an_added_folder_that_fails_to_load_is_listed_with_its_error(host, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(builtin_models() / "cppn", broken)
    host.add_model_folder(str(broken))
    (broken / "cppn.json").write_text("{ not json")
    host.reload_model_folders()

    record = find_record(host, str(broken))

    assert record.origin == "added" and record.generator_id == "" and record.layout == "CPPN"
    assert "not a readable CPPN description" in record.error
    assert list(record.variants) == ["fp32"]  # what the folder holds is still shown


# -- downloaded ----------------------------------------------------------------------------------


def test_a_downloaded_model_is_loaded_and_listed_with_its_variants_source_and_license(host):
    folder = downloaded_cppn()
    host.reload_model_folders()

    record = find_record(host, "Abstract")

    assert record.origin == "downloaded" and record.generator_id == "cppn:abstract" and record.kind == "image"
    assert record.folder == folder.resolve()
    assert list(record.variants) == ["fp32", "q4"]
    q4 = record.variants["q4"]
    assert q4.files == (folder.resolve() / "model_q4.onnx",)
    assert q4.size == (folder / "model_q4.onnx").stat().st_size + (folder / "model_q4.onnx_data").stat().st_size
    assert record.variants["fp32"].size == (folder / "model.onnx").stat().st_size
    assert record.size == disk_bytes(folder)
    assert record.source == "hub: someone/abstract-art @ 0123456"
    assert record.license == "mit"
    assert dt.datetime.fromisoformat(record.added).tzinfo is not None
    assert "cppn:abstract" in host.generators


def test_an_imported_model_says_where_it_came_from(host):
    downloaded_cppn("converted", **{"import": "/somewhere/model.safetensors"})
    host.reload_model_folders()

    record = find_record(host, "converted")

    assert record.origin == "imported" and record.source == "imported from /somewhere/model.safetensors"


def test_an_unfinished_download_is_never_listed(host):
    partial = paths.models() / ".partial" / "someone--abstract"
    shutil.copytree(builtin_models() / "cppn", partial)
    write_manifest(partial, Manifest(name="Half"))  # even with a manifest: it is a work area
    shutil.copytree(builtin_models() / "cppn", paths.models() / "no-manifest")  # never finished
    downloaded_cppn()

    host.reload_model_folders()

    assert installed_folders() == [paths.models() / "abstract"]
    names = {record.name for record in model_records(host)}
    assert "Abstract" in names and "Half" not in names and "no-manifest" not in names
    assert [e.path.name for e in host.plugins.model_folders] == ["abstract"]


def test_a_downloaded_folder_also_in_the_settings_is_listed_once(host, tmp_path):
    folder = downloaded_cppn()
    mine = tmp_path / "mine"
    shutil.copytree(builtin_models() / "cppn", mine)
    host.add_model_folder(str(mine))
    host.add_model_folder(str(folder))

    entries = [e.path.resolve() for e in host.plugins.model_folders]

    assert entries == [mine.resolve(), folder.resolve()]  # the settings' folders first
    assert [r.name for r in model_records(host)].count("Abstract") == 1
    assert find_record(host, "Abstract").origin == "downloaded"


def test_removing_a_download_deletes_it_frees_its_bytes_and_forgets_its_defaults(host):
    folder = downloaded_cppn()
    host.reload_model_folders()
    record = find_record(host, "abstract")
    set_default(record, "cpu", "q4")
    set_default(record, "gpu", "fp32")
    size = disk_bytes(folder)

    freed = remove_model(host, record)

    assert freed == size > 16_000
    assert not folder.exists()
    assert [p.name for p in paths.models().iterdir()] == []  # nothing left behind, not even a hidden work folder
    assert variant_defaults.default_variant(folder, "cpu") is None
    assert variant_defaults.default_variant(folder, "gpu") is None
    assert "cppn:abstract" not in host.generators
    assert "Abstract" not in {r.name for r in model_records(host)}


def test_a_damaged_manifest_is_listed_with_its_error_not_a_crash(host):
    folder = downloaded_cppn()
    (folder / "studio-model.json").write_text('{"format": 1}')
    host.reload_model_folders()

    record = find_record(host, "abstract")

    assert record.origin == "downloaded" and "names no model" in record.error
    assert record.generator_id == "cppn:abstract"  # the files themselves still load


# -- names -----------------------------------------------------------------------------------------


def test_find_record_by_name_or_generator_id_ignoring_case(host):
    downloaded_cppn()
    host.reload_model_folders()

    assert find_record(host, "SHAKESPEARE").name == "shakespeare"
    assert find_record(host, "CPPN:Abstract").name == "Abstract"
    assert find_record(host, "abstract").generator_id == "cppn:abstract"
    assert find_record(host, "Abstract").name == "Abstract"


def test_find_record_by_the_folder_name_of_a_download(host):
    downloaded_cppn("someone--art")  # the manifest says "Someone--Art"; the folder is named after the repo
    (paths.models() / "someone--art" / "studio-model.json").write_text(
        (paths.models() / "someone--art" / "studio-model.json").read_text().replace("Someone--Art", "Abstract art"))
    host.reload_model_folders()

    assert find_record(host, "SOMEONE--ART").name == "Abstract art"


def test_an_unknown_name_lists_the_known_ones(host):
    with pytest.raises(StudioError) as raised:
        find_record(host, "llama")
    message = str(raised.value)
    assert "no model called 'llama'" in message
    assert "cppn" in message and "shakespeare" in message and "chorale" in message


def test_two_models_of_one_name_ask_for_the_generator_id(host, tmp_path):
    for parent in ("a", "b"):
        (tmp_path / parent).mkdir()
        shutil.copytree(builtin_models() / "chorale", tmp_path / parent / "bach")
    host.add_model_folder(str(tmp_path / "a" / "bach"))
    Settings().add_model_folder(tmp_path / "b" / "bach")  # the same folder name: its generator clashes
    host.reload_model_folders()

    with pytest.raises(StudioError, match="2 models are called 'bach'"):
        find_record(host, "bach")
    assert find_record(host, "chorale:bach").folder == (tmp_path / "a" / "bach").resolve()


# -- default variants ------------------------------------------------------------------------------


def test_the_default_variant_per_device(host):
    folder = downloaded_cppn()
    host.reload_model_folders()
    record = find_record(host, "abstract")

    set_default(record, "cpu", "q4")
    assert variant_defaults.default_variant(folder, "cpu") == "q4"
    assert find_record(host, "abstract").defaults == {"cpu": "q4", "gpu": None}
    set_default(record, "cpu", None)
    assert variant_defaults.default_variant(folder, "cpu") is None


def test_a_variant_the_model_does_not_have_is_refused(host):
    downloaded_cppn()
    host.reload_model_folders()
    record = find_record(host, "abstract")

    with pytest.raises(StudioError, match=r"Abstract has no fp16 variant; it has fp32, q4"):
        set_default(record, "gpu", "fp16")
    with pytest.raises(StudioError, match="Abstract has no q3 variant"):
        set_default(record, "gpu", "q3")
    with pytest.raises(StudioError, match="cpu or gpu"):
        set_default(record, "tpu", "q4")
    assert variant_defaults.default_variant(record.folder, "gpu") is None


# -- license ---------------------------------------------------------------------------------------


def added_with(tmp_path: Path, host: Host, files: dict[str, str]) -> ModelRecord:
    folder = tmp_path / "lic"
    shutil.copytree(builtin_models() / "cppn", folder)
    for name, text in files.items():
        (folder / name).write_text(text)
    host.add_model_folder(str(folder))
    return find_record(host, "lic")


@pytest.mark.parametrize(
    "files, license",
    [
        ({"README.md": "---\nlanguage: en\nlicense: apache-2.0\ntags:\n- onnx\n---\n# Model\nlicense: mit\n"}, "apache-2.0"),
        ({"README.md": "---\nlicense: 'cc-by-4.0'\n---\n"}, "cc-by-4.0"),
        ({"README.md": "---\nlicense:\n  - mit\n  - apache-2.0\n---\n"}, "mit, apache-2.0"),
        ({"README.md": "# No front matter\nlicense: mit\n", "LICENSE": "\n  MIT License\n\nCopyright"}, "MIT License"),
        ({"config.json": json.dumps({"license": "bsd-3-clause"}), "LICENSE": "MIT"}, "bsd-3-clause"),
        ({"LICENSE.txt": "Apache License\nVersion 2.0"}, "Apache License"),
        ({}, "unknown"),
    ],
)
def test_the_license_comes_from_the_model_card_config_or_license_file(host, tmp_path, files, license):
    assert added_with(tmp_path, host, files).license == license


def test_words_from_a_manifest_or_model_card_are_one_printable_line(host, tmp_path):
    folder = paths.models() / "evil"
    shutil.copytree(builtin_models() / "cppn", folder)
    write_manifest(folder, Manifest(name="Evil\x1b[2J\nmodel", source={"hub": "a/b\x07"}, license="mit\r\n\x1b]0;owned\x07"))
    added = tmp_path / "card"
    shutil.copytree(builtin_models() / "cppn", added)
    (added / "README.md").write_text("---\nlicense: \"apache-2.0\x1b[31m\u200bx\"\n---\n")
    host.add_model_folder(str(added))

    evil, card = find_record(host, "cppn:evil"), find_record(host, "card")

    assert evil.name == "Evil [2J model" and evil.license == "mit ]0;owned" and evil.source == "hub: a/b"
    assert card.license == "apache-2.0 [31m x"


def test_a_link_in_the_models_folder_is_not_an_installed_model(host, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(builtin_models() / "cppn", elsewhere)
    write_manifest(elsewhere, Manifest(name="Linked"))
    paths.models().mkdir(parents=True)
    (paths.models() / "linked").symlink_to(elsewhere, target_is_directory=True)

    host.reload_model_folders()

    assert installed_folders() == []
    assert "Linked" not in {r.name for r in model_records(host)}
    assert (elsewhere / "model.onnx").is_file()


def test_an_added_folder_gone_from_disk_is_listed_and_can_be_forgotten(host, tmp_path):
    gone = tmp_path / "gone"
    shutil.copytree(builtin_models() / "cppn", gone)
    host.add_model_folder(str(gone))
    shutil.rmtree(gone)
    host.reload_model_folders()

    record = find_record(host, str(gone))
    assert record.origin == "added" and "model folder not found" in record.error and record.variants == {}

    assert remove_model(host, record) == 0
    assert Settings().model_folders == []


def test_a_variant_the_generator_makes_here_can_be_the_default(host, tmp_path):
    """A language model shipped in fp32 only: its generator offers int8 and int4 made here from the
    fp32 weights (plugins/text_lm/quantize.py); either can be the model's default on the CPU."""
    lm = tmp_path / "gpt2"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models" / "gpt2", lm)
    host.add_model_folder(str(lm))
    record = find_record(host, "gpt2")
    offered = next(p for p in host.generators[record.generator_id].params if p.name == "variant").choices

    assert list(record.variants) == ["fp32"]
    assert record.made_here == tuple(c for c in offered if c not in ("auto", "fp32")) and "int4" in record.made_here
    set_default(record, "cpu", "int4")
    assert variant_defaults.default_variant(lm, "cpu") == "int4"
    assert find_record(host, "gpt2").defaults["cpu"] == "int4"
    with pytest.raises(StudioError, match=r"gpt2 has no q4f16 variant; it has fp32 \(and can make int8, int4 here\)"):
        set_default(record, "cpu", "q4f16")


def test_a_looping_link_in_the_settings_does_not_stop_the_host(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop")  # a link to itself: resolving it fails
    Settings().model_folders = [str(loop)]
    downloaded_cppn()

    host = Host()
    try:
        assert "cppn:abstract" in host.generators
        (entry, _) = host.plugins.model_folders
        assert entry.path == loop and entry.error
        assert {r.name for r in model_records(host)} >= {"loop", "Abstract"}
        assert remove_model(host, find_record(host, str(loop))) == 0  # and it can be forgotten
        assert Settings().model_folders == []
    finally:
        host.shutdown()


def test_removing_a_download_removes_the_copies_studio_made_of_it(host):
    """int8 weights made here from a downloaded language model live in the cache, as large as
    the model's weights: removing the model removes them too, and says so in the bytes freed."""
    folder = paths.models() / "tiny-llama"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models" / "llama", folder)
    write_manifest(folder, Manifest(name="tiny-llama", source={"hub": "someone/tiny-llama", "revision": "0" * 40},
                                    variants=["fp32"]))
    other = paths.cache() / "int8" / "someone-else-0123"  # a copy of another model's: it stays
    other.mkdir(parents=True)
    (other / paths.MADE_FROM).write_text(str(paths.models() / "another" / "model.onnx"), encoding="utf-8")
    host.reload_model_folders()
    record = find_record(host, "tiny-llama")
    job = host.submit(record.generator_id, {"prompt": "To be", "max_new_tokens": 2, "variant": "int8"})
    assert job.wait(120) and job.result is not None, job.message
    copies = [m.parent for m in paths.cache().glob(f"*/*/{paths.MADE_FROM}") if m.parent != other]
    assert copies, "the int8 copy names its source"
    made = sum(disk_bytes(copy) for copy in copies)
    in_folder = disk_bytes(folder)
    freed = remove_model(host, find_record(host, "tiny-llama"))
    assert freed == in_folder + made
    assert not any(copy.exists() for copy in copies) and other.is_dir()
