"""The Explorer's kept latents in a project file: written in canvas.json beside the layers, read
back exactly (every float32 number of the latent), absent in projects saved before them, and a
damaged entry left out and named while the rest of the project opens."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from studio.core.engine.latent_values import latent_for_seed, recorded
from studio.core.image.document import Layer
from studio.core.image.kept_latents import MAX_KEPT, KeptLatent, kept_latent, read_kept
from studio.core.project.format import Project
from studio.core.project.load import load_project, read_project
from studio.core.project.save import save_project, write_archive
from studio.errors import StudioError


def kept_project() -> Project:
    project = Project()
    project.image.layers.append(Layer("Morph", np.full((8, 8, 4), 200, np.uint8), generator="cppn"))
    project.image.kept_latents = [
        kept_latent("cppn", {"seed": 7, "latent": recorded(latent_for_seed(7, 8) * np.float32(0.3)), "colour_mode": "hsv",
                             "batch_count": 4, "image": np.zeros((4, 4, 4), np.uint8)}),
        kept_latent("latent:vae", {"seed": 0, "latent": (0.1, -2.5, 1e-7, 3.0)}),
    ]
    return project


def archive(project: Project) -> bytes:
    buffer = io.BytesIO()
    write_archive(project, buffer)
    return buffer.getvalue()


def rewritten(data: bytes, member: str, change) -> bytes:
    """The archive with one JSON member changed (and the manifest's size for it updated)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    record = change(json.loads(source.read(member)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        manifest = json.loads(source.read("manifest.json"))
        body = json.dumps(record).encode()
        manifest["members"][member] = len(body)
        for name in source.namelist():
            if name != "manifest.json":
                target.writestr(name, body if name == member else source.read(name))
        target.writestr("manifest.json", json.dumps(manifest))
    return out.getvalue()


def test_kept_latents_are_saved_and_read_back_exactly(tmp_path):
    project = kept_project()
    path = save_project(project, tmp_path / "kept.studio")
    loaded = load_project(path)
    assert loaded.problems == []
    kept = loaded.project.image.kept_latents
    assert [k.generator for k in kept] == ["cppn", "latent:vae"]
    assert kept[0].latent == tuple(float(x) for x in (latent_for_seed(7, 8) * np.float32(0.3)))
    assert kept[0].seed == 7 and kept[0].params["colour_mode"] == "hsv"
    assert "batch_count" not in kept[0].params and "image" not in kept[0].params  # one picture; no input picture kept
    assert kept[1].latent == tuple(float(np.float32(x)) for x in (0.1, -2.5, 1e-7, 3.0))
    assert kept == project.image.kept_latents  # equal entries, as plain data
    assert len(loaded.project.image.layers) == 1


def test_a_project_without_kept_latents_writes_none_and_old_files_open_with_none():
    project = kept_project()
    project.image.kept_latents = []
    data = archive(project)
    assert "kept_latents" not in json.loads(zipfile.ZipFile(io.BytesIO(data)).read("canvas.json"))
    assert read_project(data).project.image.kept_latents == []


def test_a_background_save_writes_the_kept_latents_of_the_moment_it_was_frozen():
    project = kept_project()
    frozen = project.frozen_copy()
    project.image.kept_latents.append(kept_latent("cppn", {"latent": [1.0] * 8}))
    assert len(read_project(archive(frozen)).project.image.kept_latents) == 2


@pytest.mark.parametrize("damage, left", [
    (lambda kept: kept + [{"generator": "cppn"}], 2),  # no latent
    (lambda kept: kept + [{"generator": "", "params": {"latent": [1.0]}}], 2),  # no generator
    (lambda kept: kept + [{"generator": "cppn", "params": {"latent": [1.0, "x"]}}], 2),
    (lambda kept: kept + [{"generator": "cppn", "params": {"latent": [float("1e308") * 10]}}], 2),
    (lambda kept: kept + [["cppn", [1.0]]], 2),
    (lambda kept: [kept[1]], 1),
])
def test_a_damaged_kept_entry_is_left_out_and_said(damage, left):
    data = rewritten(archive(kept_project()), "canvas.json", lambda record: {**record, "kept_latents": damage(record["kept_latents"])})
    loaded = read_project(data)
    assert len(loaded.project.image.kept_latents) == left
    assert len(loaded.project.image.layers) == 1  # the rest of the canvas opens
    assert (loaded.problems != []) == (left == 2)
    assert all("kept pictures" in problem for problem in loaded.problems)


def test_kept_latents_that_are_not_a_list_are_left_out_and_the_canvas_opens():
    data = rewritten(archive(kept_project()), "canvas.json", lambda record: {**record, "kept_latents": {"a": 1}})
    loaded = read_project(data)
    assert loaded.project.image.kept_latents == [] and len(loaded.project.image.layers) == 1
    assert loaded.problems == ["The Explorer's kept pictures could not be read and were left out (they are not a list)."]


def test_a_hostile_number_of_kept_entries_is_bounded():
    problems: list[str] = []
    kept = read_kept([{"generator": "cppn", "params": {"latent": [0.5]}}] * (MAX_KEPT + 5), problems)
    assert len(kept) == MAX_KEPT and "first 512" in problems[0]


def test_a_kept_latent_needs_a_generator_and_a_latent():
    with pytest.raises(StudioError, match="latent"):
        kept_latent("cppn", {"seed": 3})
    with pytest.raises(StudioError, match="generator"):
        kept_latent("", {"latent": [1.0]})
    entry = kept_latent("cppn", {"latent": np.float32([1.5, 2.0]), "seed": 4, "note": object()})
    assert entry == KeptLatent("cppn", {"latent": [1.5, 2.0], "seed": 4})  # what JSON cannot hold is left out
