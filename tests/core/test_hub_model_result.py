"""The "model" job kind (a download or an import): its result is the folder it installed, and
the core holds it to that before the window or the CLI uses it."""

from __future__ import annotations

import pytest

from studio.core.base import paths
from studio.core.engine.generators import Generator, Result, check_generator
from studio.core.engine.result_check import check_result
from studio.core.models.download import ModelDownload
from studio.core.models.manifest import Manifest, write_manifest
from studio.errors import ResultError


class Installer(Generator):
    id = "install:test"
    kind = "model"


def result(value):
    return Result("model", value, "install:test", {})


def test_a_model_generator_is_a_valid_generator_and_the_download_is_one():
    check_generator(Installer())
    check_generator(ModelDownload("onnx-community/tiny-llama-ONNX"))


def test_an_installed_folder_with_its_manifest_is_the_result(tmp_path):
    folder = paths.models() / "tiny"
    folder.mkdir(parents=True)
    write_manifest(folder, Manifest(name="tiny"))
    assert check_result(Installer(), result(str(folder))).value == str(folder)


@pytest.mark.parametrize("case, words", [
    ("not text", "a int, expected the installed folder's path as a str"),
    ("outside", "is not a model folder in"),
    ("no manifest", "has no studio-model.json, so it is not installed"),
    ("missing", "is not a model folder in"),
])
def test_anything_else_blames_the_generator(tmp_path, case, words):
    (paths.models() / "half").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    write_manifest(tmp_path / "elsewhere", Manifest(name="elsewhere"))
    value = {"not text": 7, "outside": str(tmp_path / "elsewhere"), "no manifest": str(paths.models() / "half"),
             "missing": str(paths.models() / "gone")}[case]
    with pytest.raises(ResultError, match="generator 'install:test'") as caught:
        check_result(Installer(), result(value))
    assert words in str(caught.value)
