"""Animations written by the Explorer and ``studio explore``: GIF and WebP with every frame, their
size, time and looping; WebP frames exact; written atomically; bad paths and frames refused in words."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image, ImageSequence

from studio.core.image.animation import encode_animation, write_animation
from studio.errors import OutputError


def frames(count: int = 5, size: tuple[int, int] = (48, 32)) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    width, height = size
    out = []
    for n in range(count):
        frame = np.zeros((height, width, 4), np.uint8)
        frame[..., 0] = n * 40
        frame[..., 1] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
        frame[..., 2] = rng.integers(0, 40, (height, width))
        frame[..., 3] = 255
        out.append(frame)
    return out


def read_back(path) -> tuple[Image.Image, list[np.ndarray]]:
    image = Image.open(path)
    return image, [np.array(frame.convert("RGBA")) for frame in ImageSequence.Iterator(image)]


@pytest.mark.parametrize("suffix", [".webp", ".gif", ".GIF"])
def test_every_frame_is_written_at_its_size_time_and_looping(tmp_path, suffix):
    made = frames()
    path = write_animation(made, tmp_path / f"morph{suffix}", 0.15)
    image, shown = read_back(path)
    assert image.format == ("WEBP" if suffix == ".webp" else "GIF")
    assert image.n_frames == 5 and image.size == (48, 32)
    assert image.info["duration"] == 150 and image.info["loop"] == 0
    for got, want in zip(shown, made):
        difference = np.abs(got.astype(int) - want).mean()
        assert difference == 0 if suffix == ".webp" else difference < 3  # WebP lossless; GIF 256 colours
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left beside it


def test_played_once_when_asked(tmp_path):
    gif = write_animation(frames(3), tmp_path / "once.gif", 0.1, loop=False)
    assert "loop" not in Image.open(gif).info
    webp = write_animation(frames(3), tmp_path / "once.webp", 0.1, loop=False)
    assert Image.open(webp).info["loop"] == 1


def test_rgb_frames_are_taken_too():
    data = encode_animation([frame[..., :3] for frame in frames(2)], "WEBP", 0.1)
    assert data[:4] == b"RIFF"


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "keep.webp"
    path.write_bytes(b"old")
    with pytest.raises(OutputError, match="share one size"):
        write_animation([frames(1)[0], frames(1, (10, 10))[0]], path, 0.1)
    assert path.read_bytes() == b"old"


@pytest.mark.parametrize("name, words", [
    ("morph.png", "a .gif or a .webp file"),
    ("missing/morph.gif", "does not exist"),
    (".", "it is a folder"),
])
def test_bad_paths_are_refused_in_words(tmp_path, name, words):
    target = tmp_path / name if name != "." else tmp_path / "folder.gif"
    if name == ".":
        target.mkdir()
    with pytest.raises(OutputError, match=words):
        write_animation(frames(2), target, 0.1)


@pytest.mark.parametrize("bad, words", [
    ([], "at least one frame"),
    ([np.zeros((4, 4, 4), np.float32)], "not a picture"),
    ([np.zeros((4, 4), np.uint8)], "not a picture"),
])
def test_bad_frames_are_refused_in_words(tmp_path, bad, words):
    with pytest.raises(OutputError, match=words):
        write_animation(bad, tmp_path / "x.gif", 0.1)


def test_a_frame_time_out_of_range_is_refused(tmp_path):
    with pytest.raises(OutputError, match="seconds"):
        write_animation(frames(2), tmp_path / "x.webp", 0.0)
