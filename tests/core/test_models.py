"""Model folders: which loader understands a folder, and how every failure is reported."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from studio.core.engine.generators import Generator, Result
from studio.core.models.loaders import ModelFolder, ModelLoader, check_folder, find_loader, load_folder, load_folders
from studio.errors import ModelError


class Tone(Generator):
    kind = "audio"

    def __init__(self, folder: Path) -> None:
        self.id = f"tone:{folder.name}"
        self.folder = folder

    def generate(self, request, ctx):
        yield Result("audio", None, self.id, {})


class MarkerLoader(ModelLoader):
    """Understands folders that contain a given marker file."""

    def __init__(self, marker: str, layout: str | None = None) -> None:
        self.id = marker.split(".")[0]
        self.title = self.id.capitalize()
        self.marker = marker
        self.layout = f"a folder with {marker}" if layout is None else layout
        self.detected: list[Path] = []

    def detect(self, folder):
        self.detected.append(folder)
        return (folder / self.marker).is_file()

    def load(self, folder):
        return Tone(folder)


class BrokenDetect(ModelLoader):
    id = "broken"
    title = "Broken"
    layout = "whatever it is"

    def detect(self, folder):
        raise RuntimeError("detect bug")

    def load(self, folder):  # pragma: no cover - never reached
        raise AssertionError


def folder_with(tmp_path: Path, *files: str, name: str = "model") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file in files:
        (folder / file).write_text("{}")
    return folder


def test_find_loader_on_a_missing_path(tmp_path):
    with pytest.raises(ModelError) as caught:
        find_loader(tmp_path / "nowhere", [MarkerLoader("tone.json")])
    assert str(caught.value) == f"model folder not found: {tmp_path / 'nowhere'}"


def test_find_loader_on_a_file_says_to_add_the_folder(tmp_path):
    file = tmp_path / "model.onnx"
    file.write_bytes(b"x")
    with pytest.raises(ModelError) as caught:
        find_loader(file, [MarkerLoader("tone.json")])
    assert str(caught.value) == f"{file} is a file; a model is added as the folder that contains it"


def test_find_loader_picks_the_loader_that_recognises_the_folder(tmp_path):
    tone, beep = MarkerLoader("tone.json"), MarkerLoader("beep.json")
    folder = folder_with(tmp_path, "beep.json")
    assert find_loader(folder, [tone, beep]) is beep
    assert tone.detected == [folder.resolve()]  # loaders get the resolved path


def test_find_loader_takes_the_first_of_several(tmp_path):
    tone, beep = MarkerLoader("tone.json"), MarkerLoader("beep.json")
    folder = folder_with(tmp_path, "beep.json", "tone.json")
    assert find_loader(folder, [tone, beep]) is tone
    assert beep.detected == []


def test_find_loader_accepts_strings_and_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    folder_with(tmp_path, "tone.json")
    tone = MarkerLoader("tone.json")
    assert find_loader("~/model", [tone]) is tone
    assert check_folder("~/model") == (tmp_path / "model").resolve()


def test_a_folder_nobody_understands_lists_what_each_loader_expects(tmp_path):
    folder = folder_with(tmp_path, "weights.bin")
    loaders = [MarkerLoader("tone.json"), MarkerLoader("beep.json"), MarkerLoader("quiet.json", layout="")]
    with pytest.raises(ModelError) as caught:
        find_loader(folder, loaders)
    message = str(caught.value)
    assert message.startswith(f"no installed plugin understands the model folder {folder.resolve()}")
    assert "Tone: a folder with tone.json" in message
    assert "Beep: a folder with beep.json" in message
    assert "Quiet" not in message  # a loader that describes nothing is left out, not shown blank


def test_a_folder_with_no_loaders_installed(tmp_path):
    with pytest.raises(ModelError, match="no model loaders are installed"):
        find_loader(folder_with(tmp_path), [])


def test_a_loader_whose_detect_raises_does_not_hide_the_others(tmp_path, caplog):
    folder = folder_with(tmp_path, "tone.json")
    tone = MarkerLoader("tone.json")
    with caplog.at_level(logging.ERROR, logger="studio"):
        assert find_loader(folder, [BrokenDetect(), tone]) is tone
    assert "model loader broken failed to inspect" in caplog.text
    assert "detect bug" in caplog.text  # the traceback went to the log

    with pytest.raises(ModelError) as caught:  # and when nobody matches, it is still listed
        find_loader(folder_with(tmp_path, name="empty"), [BrokenDetect(), tone])
    assert "Broken: whatever it is" in str(caught.value)


# -- load_folder never raises -----------------------------------------------------------------


def test_load_folder_success(tmp_path):
    folder = folder_with(tmp_path, "tone.json")
    tone = MarkerLoader("tone.json")
    entry = load_folder(folder, [tone])
    assert isinstance(entry, ModelFolder)
    assert entry.ok and entry.error == ""
    assert entry.loader is tone
    assert entry.generator.id == "tone:model"
    assert entry.path == folder


def test_load_folder_captures_a_missing_folder(tmp_path):
    entry = load_folder(tmp_path / "gone", [MarkerLoader("tone.json")])
    assert not entry.ok
    assert entry.loader is None and entry.generator is None
    assert entry.error == f"model folder not found: {tmp_path / 'gone'}"


def test_load_folder_captures_an_unrecognised_folder(tmp_path):
    entry = load_folder(folder_with(tmp_path, "x.bin"), [MarkerLoader("tone.json")])
    assert not entry.ok
    assert "no installed plugin understands" in entry.error


def test_load_folder_captures_a_model_error_from_the_loader(tmp_path):
    class Picky(MarkerLoader):
        def load(self, folder):
            raise ModelError(f"{folder} has tone.json but no tone.onnx")

    folder = folder_with(tmp_path, "tone.json")
    entry = load_folder(folder, [Picky("tone.json")])
    assert not entry.ok
    assert entry.error == f"{folder.resolve()} has tone.json but no tone.onnx"


def test_load_folder_captures_a_loader_bug_and_logs_it(tmp_path, caplog):
    class Buggy(MarkerLoader):
        def load(self, folder):
            return {}["weights"]

    folder = folder_with(tmp_path, "tone.json")
    with caplog.at_level(logging.ERROR, logger="studio"):
        entry = load_folder(folder, [Buggy("tone.json")])
    assert not entry.ok
    assert entry.error == f"tone failed to load {folder}: KeyError: 'weights'"
    assert "Traceback" in caplog.text


def test_load_folder_rejects_what_the_loader_returns_if_it_is_not_a_generator(tmp_path):
    class Wrong(MarkerLoader):
        def load(self, folder):
            return "a generator, promise"

    entry = load_folder(folder_with(tmp_path, "tone.json"), [Wrong("tone.json")])
    assert not entry.ok and entry.generator is None
    assert "not a studio.Generator" in entry.error


def test_load_folders_keeps_every_outcome_in_order(tmp_path):
    good = folder_with(tmp_path, "tone.json", name="good")
    bad = folder_with(tmp_path, name="bad")
    entries = load_folders([good, tmp_path / "missing", bad], [MarkerLoader("tone.json")])
    assert [e.ok for e in entries] == [True, False, False]
    assert [e.path for e in entries] == [good, tmp_path / "missing", bad]


def test_the_base_loader_must_be_subclassed(tmp_path):
    with pytest.raises(NotImplementedError):
        ModelLoader().detect(tmp_path)
    with pytest.raises(NotImplementedError):
        ModelLoader().load(tmp_path)
