"""Result writers: formats, the parameters inside the files, atomic writes, plain errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile
from PIL import Image

from studio.core.engine.generators import Result
from studio.core.project.outputs import (
    EXIF_IFD,
    EXIF_USER_COMMENT,
    UNICODE_PREFIX,
    check_writable,
    parameters_text,
    read_parameters,
    write_result,
)
from studio.errors import OutputError, StudioError

PARAMS = {"seed": 123, "width": 24, "height": 16, "scale": 2.0, "colour_mode": "colour"}


def gradient(height: int = 16, width: int = 24, channels: int = 4) -> np.ndarray:
    image = np.zeros((height, width, channels), dtype=np.uint8)
    image[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    image[..., 1] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    image[..., 2] = 77
    if channels == 4:
        image[..., 3] = 200
    return image


def image_result(pixels: np.ndarray | None = None, params: dict | None = None, generator: str = "cppn") -> Result:
    return Result("image", gradient() if pixels is None else pixels, generator, dict(PARAMS if params is None else params))


def tone(frames: int = 2205, channels: int = 2) -> np.ndarray:
    t = np.arange(frames, dtype=np.float32) / 22050
    wave = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.stack([wave, -wave], axis=1)[:, :channels] if channels > 1 else wave


# -- images ------------------------------------------------------------------------------


def test_png_keeps_pixels_and_round_trips_parameters(tmp_path):
    path = write_result(image_result(), tmp_path / "out.png")

    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGBA" and image.size == (24, 16)
        assert np.array_equal(np.asarray(image), gradient())
        assert image.text["parameters"] == (
            "Seed: 123, Width: 24, Height: 16, Scale: 2.0, Colour mode: colour, Generator: cppn"
        )
    assert read_parameters(path) == {"generator": "cppn", "params": PARAMS}


def test_png_parameters_follow_a1111_with_prompt_and_negative_prompt(tmp_path):
    params = {"prompt": "a lighthouse, at dusk", "negative_prompt": "blurry", "seed": 5, "style": "oil, dark", "steps": 20}
    path = write_result(image_result(params=params, generator="sd:tiny"), tmp_path / "lighthouse.png")

    with Image.open(path) as image:
        lines = image.text["parameters"].split("\n")
    assert lines == [
        "a lighthouse, at dusk",
        "Negative prompt: blurry",
        # A value with a comma is quoted, as A1111 does, so "Key: value, " parsing still works.
        'Seed: 5, Style: "oil, dark", Steps: 20, Generator: "sd:tiny"',
    ]
    assert read_parameters(path) == {"generator": "sd:tiny", "params": params}


def test_non_latin_prompt_round_trips(tmp_path):
    params = {"prompt": "雪の富士山, ölmalerei", "seed": 1}
    path = write_result(image_result(params=params), tmp_path / "fuji.png")
    assert read_parameters(path)["params"]["prompt"] == "雪の富士山, ölmalerei"


def test_rgb_and_grey_images_are_written(tmp_path):
    rgb = write_result(image_result(gradient(channels=3)), tmp_path / "rgb.png")
    grey = write_result(image_result(gradient(channels=3)[..., 0].copy()), tmp_path / "grey.png")
    with Image.open(rgb) as image:
        assert image.mode == "RGB" and np.array_equal(np.asarray(image), gradient(channels=3))
    with Image.open(grey) as image:
        assert image.mode == "L" and image.size == (24, 16)


def test_jpeg_drops_alpha_and_keeps_parameters_in_exif(tmp_path):
    params = {"prompt": "a fox", **PARAMS}
    path = write_result(image_result(params=params), tmp_path / "fox.jpg")

    with Image.open(path) as image:
        assert image.format == "JPEG" and image.mode == "RGB" and image.size == (24, 16)
        comment = image.getexif().get_ifd(EXIF_IFD)[EXIF_USER_COMMENT]
    assert comment.startswith(UNICODE_PREFIX)
    assert comment[len(UNICODE_PREFIX):].decode("utf-16-be") == parameters_text("cppn", params)
    assert read_parameters(path) == {"generator": "cppn", "params": params}


def test_webp_keeps_alpha_and_parameters(tmp_path):
    path = write_result(image_result(), tmp_path / "out.WEBP")  # the extension's case does not matter
    with Image.open(path) as image:
        assert image.format == "WEBP" and image.mode == "RGBA"
    assert read_parameters(path) == {"generator": "cppn", "params": PARAMS}


def test_unknown_extension_names_the_supported_ones(tmp_path):
    with pytest.raises(OutputError) as caught:
        write_result(image_result(), tmp_path / "out.gif")
    assert ".gif" in str(caught.value) and ".png" in str(caught.value) and ".webp" in str(caught.value)
    with pytest.raises(OutputError, match=r"\.wav"):
        write_result(Result("audio", tone(), "tone", {}, sample_rate=22050), tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


# -- audio -------------------------------------------------------------------------------


def test_wav_is_lossless_float_with_parameters_in_its_comment(tmp_path):
    samples = tone(channels=2)
    result = Result("audio", samples, "chorale", {"seed": 9, "bars": 4, "prompt": "a calm chorale"}, sample_rate=22050)
    path = write_result(result, tmp_path / "chorale.wav")

    data, rate = soundfile.read(path, dtype="float32")
    assert rate == 22050 and data.shape == (2205, 2)
    assert np.array_equal(data, samples)
    with soundfile.SoundFile(path) as file:
        assert file.subtype == "FLOAT"
        assert file.title == "a calm chorale"
    assert read_parameters(path) == {"generator": "chorale", "params": {"seed": 9, "bars": 4, "prompt": "a calm chorale"}}


@pytest.mark.parametrize("name, subtype", [("mono.flac", "PCM_24"), ("mono.ogg", "VORBIS")])
def test_flac_and_ogg_are_written_with_parameters(tmp_path, name, subtype):
    result = Result("audio", tone(channels=1), "chorale", {"seed": 3}, sample_rate=22050)
    path = write_result(result, tmp_path / name)

    data, rate = soundfile.read(path, dtype="float32")
    assert rate == 22050 and data.ndim == 1 and len(data) == 2205
    assert np.abs(data - tone(channels=1)).max() < 0.05  # lossy or 16-bit: close, not equal
    with soundfile.SoundFile(path) as file:
        assert file.subtype == subtype
    assert read_parameters(path) == {"generator": "chorale", "params": {"seed": 3}}


def test_flac_clips_rather_than_wraps_loud_samples(tmp_path):
    loud = np.array([0.0, 1.7, -2.5, 0.25], dtype=np.float32)
    path = write_result(Result("audio", loud, "x", {}, sample_rate=8000), tmp_path / "loud.flac")
    data, _ = soundfile.read(path, dtype="float32")
    assert data[1] > 0.99 and data[2] == -1.0


def test_wav_too_long_a_comment_is_left_out_not_cut(tmp_path):
    result = Result("audio", tone(), "chorale", {"prompt": "la " * 2000, "seed": 1}, sample_rate=22050)
    path = write_result(result, tmp_path / "long.wav")
    assert soundfile.read(path)[0].shape == (2205, 2)
    assert read_parameters(path) is None


def test_invalid_audio_is_refused(tmp_path):
    with pytest.raises(OutputError, match="NaN"):
        write_result(Result("audio", np.array([0.0, np.nan], np.float32), "x", {}, sample_rate=8000), tmp_path / "a.wav")
    with pytest.raises(OutputError, match="sample rate"):
        write_result(Result("audio", tone(), "x", {}, sample_rate=0), tmp_path / "a.wav")
    with pytest.raises(OutputError, match="floating-point"):
        write_result(Result("audio", np.zeros(10, np.int16), "x", {}, sample_rate=8000), tmp_path / "a.wav")
    assert list(tmp_path.iterdir()) == []


# -- text --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sonnet.txt", "sonnet.md"])
def test_text_is_written_as_utf8(tmp_path, name):
    text = "Shall I compare thee to a summer’s day?\nThou art more lovely — and more temperate.\n"
    path = write_result(Result("text", text, "bard", {"seed": 1}), tmp_path / name)
    assert path.read_bytes() == text.encode("utf-8")


def test_text_result_that_is_not_text_is_refused(tmp_path):
    with pytest.raises(OutputError, match="not text"):
        write_result(Result("text", b"bytes", "bard", {}), tmp_path / "x.txt")


# -- atomic writes and plain errors ------------------------------------------------------


def test_failed_write_leaves_the_existing_file_intact(tmp_path):
    path = tmp_path / "keep.png"
    write_result(image_result(), path)
    before = path.read_bytes()

    bad = image_result(np.zeros((16, 24, 4), dtype=np.float32))  # not 8-bit pixels
    with pytest.raises(OutputError, match="8-bit"):
        write_result(bad, path)

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]  # no temp file left behind


def test_overwrite_replaces_the_file_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "out.png"
    write_result(image_result(params={"seed": 1}), path)
    write_result(image_result(params={"seed": 2}), path)
    assert read_parameters(path)["params"] == {"seed": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_new_file_gets_normal_permissions(tmp_path):
    path = write_result(image_result(), tmp_path / "out.png")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not the private 0600 of a temp file


def test_missing_folder_is_a_plain_error(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(OutputError) as caught:
        write_result(image_result(), missing / "x.png")
    assert str(caught.value) == f"cannot write {missing / 'x.png'}: the folder {missing} does not exist"


def test_check_writable(tmp_path):
    assert check_writable(tmp_path / "x.wav", "audio") == tmp_path / "x.wav"
    with pytest.raises(OutputError, match="it is a folder"):
        check_writable(tmp_path, "image")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_writable(tmp_path / "file" / "x.png", "image")
    with pytest.raises(OutputError, match=r"use one of \.txt, \.md"):
        check_writable(tmp_path / "x.png", "text")
    with pytest.raises(OutputError, match="kind"):
        check_writable(tmp_path / "x.png", "video")


# -- reading parameters back -------------------------------------------------------------


def test_read_parameters_of_an_image_without_them_is_none(tmp_path):
    path = tmp_path / "plain.png"
    Image.fromarray(gradient()).save(path)
    assert read_parameters(path) is None


def test_read_parameters_of_a_non_image_or_damaged_file_is_an_error(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(StudioError, match="not an image"):
        read_parameters(text)

    truncated = tmp_path / "cut.png"
    whole = write_result(image_result(gradient(64, 64)), tmp_path / "whole.png").read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(OutputError, match="damaged"):
        read_parameters(truncated)

    garbage = tmp_path / "noise.wav"
    garbage.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(OutputError, match="not a sound file"):
        read_parameters(garbage)

    with pytest.raises(OutputError, match="no such file"):
        read_parameters(tmp_path / "missing.png")
