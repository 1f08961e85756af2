"""`studio models` (list), `studio models show NAME`, `studio models remove NAME|PATH` and
`studio models default NAME --cpu V --gpu V`, run as a user runs them: `python -m studio` in a
subprocess, with this test's own STUDIO_HOME (tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from studio.core.base import paths
from studio.core.base.paths import builtin_models
from studio.core.models import variant_defaults
from studio.core.models.variants import human_size

from test_cli import assert_user_error, studio
from test_library import disk_bytes, downloaded_cppn


def studio_in(columns: int, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`studio ARGS` in a terminal ``columns`` wide (pytest itself sets COLUMNS=80)."""
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_models_lists_every_model_in_a_table(tmp_path):
    downloaded_cppn()
    mine = tmp_path / "mine"
    shutil.copytree(builtin_models() / "cppn", mine)
    assert studio("models", "add", str(mine), cwd=tmp_path).returncode == 0

    run = studio_in(400, "models", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    header = next(line for line in lines if line.split()[:2] == ["NAME", "KIND"])
    assert header.split() == ["NAME", "KIND", "GENERATOR", "VARIANTS", "SOURCE", "LICENSE"]
    rows = {line.split()[0]: line for line in lines if line.startswith("  ") and len(line.split()) > 3}
    assert rows["cppn"].split()[1:3] == ["image", "cppn"] and "built-in" in rows["cppn"]
    assert rows["shakespeare"].split()[1:3] == ["text", "shakespeare"]
    assert rows["chorale"].split()[1:3] == ["audio", "chorale"]
    q4 = (paths.models() / "abstract" / "model_q4.onnx").stat().st_size + 4096 * 4
    assert f"q4 {human_size(q4)}" in rows["Abstract"]
    assert "hub: someone/abstract-art @ 0123456" in rows["Abstract"] and rows["Abstract"].endswith("mit")
    assert str(mine.resolve()) in rows["mine"] and "cppn:mine" in rows["mine"]
    assert studio_in(400, "models", "list", cwd=tmp_path).stdout == run.stdout

    narrow = studio_in(60, "models", cwd=tmp_path)  # too narrow for the columns: a paragraph a model
    assert narrow.returncode == 0 and all(len(line) <= 60 for line in narrow.stdout.splitlines()[:20])
    assert "  Abstract\n" in narrow.stdout and "kind: image" in narrow.stdout and "license: mit" in narrow.stdout


def test_models_show_tells_everything_of_one_model(tmp_path):
    folder = downloaded_cppn()
    variant_defaults.set_default_variant(folder, "gpu", "fp32")

    run = studio("models", "show", "abstract", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.startswith("Abstract\n")
    for expected in ("generator: cppn:abstract", "kind: image", "layout: CPPN", f"folder: {folder.resolve()}",
                     "origin: downloaded", "source: hub: someone/abstract-art @ 0123456", "license: mit",
                     f"size on disk: {human_size(disk_bytes(folder))}"):
        assert expected in " ".join(out.split()), (expected, out)
    variant_lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("    ")}
    assert "CPU (fastest there); GPU" in variant_lines["q4"] and "CPU or GPU" in variant_lines["fp32"]
    assert "default on CPU: q4 (Studio's choice; none set)" in " ".join(out.split())
    assert "default on GPU: fp32 (your choice)" in " ".join(out.split())
    assert "added: 20" in " ".join(out.split())


def test_models_show_of_a_built_in_by_its_generator_id_in_any_case(tmp_path):
    run = studio("models", "show", "SHAKESPEARE", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "origin: built-in" in " ".join(run.stdout.split())
    assert "layout: Language model" in " ".join(run.stdout.split())


def test_an_unknown_name_lists_the_known_ones(tmp_path):
    assert_user_error(studio("models", "show", "llama", cwd=tmp_path), "no model called 'llama'", "cppn", "shakespeare")


def test_models_remove_deletes_a_download_and_says_what_it_freed(tmp_path):
    folder = downloaded_cppn()
    variant_defaults.set_default_variant(folder, "cpu", "q4")
    size = disk_bytes(folder)

    run = studio("models", "remove", "Abstract", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    first, *rest = run.stdout.splitlines()
    assert first == f"Deleting Abstract ({folder.resolve()}): this frees {human_size(size)}"
    assert f"Removed Abstract: {human_size(size)} freed" in rest
    assert not folder.exists()
    assert variant_defaults.default_variant(folder, "cpu") is None
    assert "Abstract" not in studio("models", cwd=tmp_path).stdout


def test_models_remove_of_a_built_in_is_refused(tmp_path):
    assert_user_error(studio("models", "remove", "cppn", cwd=tmp_path), "built into Studio", "cannot be removed")
    assert (builtin_models() / "cppn" / "model.onnx").is_file()


def test_models_remove_of_an_added_folder_by_name_keeps_its_files(tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(builtin_models() / "cppn", mine)
    assert studio("models", "add", str(mine), cwd=tmp_path).returncode == 0

    run = studio("models", "remove", "cppn:mine", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    assert "its files are untouched" in run.stdout
    assert (mine / "model.onnx").is_file()
    assert_user_error(studio("models", "remove", str(mine), cwd=tmp_path), "not one of your model folders")


def test_models_default_sets_and_clears_the_variant_per_device(tmp_path):
    folder = downloaded_cppn()

    run = studio("models", "default", "abstract", "--cpu", "q4", "--gpu", "fp32", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    assert variant_defaults.default_variant(folder, "cpu") == "q4"
    assert variant_defaults.default_variant(folder, "gpu") == "fp32"
    assert "Abstract: default on CPU: q4; on GPU: fp32" in run.stdout
    assert studio("models", "default", "abstract", "--cpu", "auto", cwd=tmp_path).returncode == 0
    assert variant_defaults.default_variant(folder, "cpu") is None
    shown = studio("models", "default", "abstract", cwd=tmp_path)
    assert "default on CPU: q4 (Studio's choice" in shown.stdout and "on GPU: fp32 (your choice)" in shown.stdout


def test_models_default_refuses_a_variant_the_model_lacks(tmp_path):
    folder = downloaded_cppn()
    assert_user_error(studio("models", "default", "abstract", "--gpu", "fp16", cwd=tmp_path),
                      "Abstract has no fp16 variant; it has fp32, q4")
    assert_user_error(studio("models", "default", "abstract", "--gpu", "q3", cwd=tmp_path), "Abstract has no q3 variant")
    assert variant_defaults.default_variant(folder, "gpu") is None


def test_a_model_downloaded_from_the_hub_is_listed_shown_and_removed(stand_in_hub, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
    from hub import LLAMA_REPO

    assert studio("models", "download", LLAMA_REPO, "--variant", "q4", "-q", cwd=tmp_path).returncode == 0
    folder = paths.models() / "tiny-llama-ONNX"
    sha = stand_in_hub.repos[LLAMA_REPO].sha

    listed = studio_in(400, "models", cwd=tmp_path)
    row = next(line for line in listed.stdout.splitlines() if "lm:tiny-llama-ONNX" in line)
    assert row.split()[1] == "text" and f"hub: {LLAMA_REPO} @ {sha[:7]}" in row and row.endswith("apache-2.0")
    assert "q4 " in row and "fp32" not in row  # only the variant that was downloaded is on disk
    shown = " ".join(studio("models", "show", "lm:tiny-llama-ONNX", cwd=tmp_path).stdout.split())
    assert "origin: downloaded" in shown and "default on CPU: q4 (Studio's choice; none set)" in shown

    removed = studio("models", "remove", "lm:tiny-llama-ONNX", cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert not folder.exists() and "freed" in removed.stdout


def test_a_broken_model_is_listed_and_shown_with_its_error(tmp_path):
    folder = downloaded_cppn()
    (folder / "cppn.json").write_text("{ not json")  # damaged after it was installed

    listed = studio_in(400, "models", cwd=tmp_path)
    shown = studio("models", "show", "abstract", cwd=tmp_path)

    assert listed.returncode == 0 and shown.returncode == 0, listed.stderr + shown.stderr
    assert "  Abstract: error: " in listed.stdout and "not a readable CPPN description" in listed.stdout
    assert "generator: none (the folder did not load)" in " ".join(shown.stdout.split())
    assert "error:" in shown.stdout and "Traceback" not in shown.stderr
