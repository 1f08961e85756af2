"""Image and mask parameters: arrays from the canvas, files from the command line, bad files refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import studio
from studio.core.project.outputs import studio_parameters_json
from studio.errors import ParamError

IMAGE = studio.Param("init_image", "image", optional=True)
MASK = studio.Param("mask", "mask", optional=True)
REQUIRED = studio.Param("source", "image")


def test_arrays_pass_through_checked():
    rgba = np.zeros((8, 6, 4), np.uint8)
    assert IMAGE.coerce(rgba) is not None and IMAGE.coerce(rgba).shape == (8, 6, 4)
    assert MASK.coerce(np.zeros((8, 6), np.uint8)).shape == (8, 6)
    with pytest.raises(ParamError, match="init_image: an image is uint8 RGBA"):
        IMAGE.coerce(np.zeros((8, 6, 3), np.uint8))
    with pytest.raises(ParamError, match="mask: a mask is uint8"):
        MASK.coerce(np.zeros((8, 6), np.float32))


def test_optional_and_required():
    assert IMAGE.coerce(None) is None and IMAGE.coerce("") is None
    with pytest.raises(ParamError, match="source: an image is required"):
        REQUIRED.coerce(None)


def test_files_are_read_as_rgba_or_grey(tmp_path):
    Image.new("RGB", (5, 3), (10, 20, 30)).save(tmp_path / "a.jpg")
    Image.new("L", (5, 3), 200).save(tmp_path / "m.png")
    image = IMAGE.coerce(str(tmp_path / "a.jpg"))
    assert image.shape == (3, 5, 4) and image[0, 0, 3] == 255
    mask = MASK.coerce(tmp_path / "m.png")
    assert mask.shape == (3, 5) and mask[0, 0] == 200


def test_bad_files_are_named(tmp_path):
    (tmp_path / "fake.png").write_bytes(b"not a png at all")
    truncated = tmp_path / "cut.png"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(ParamError, match="no such file"):
        IMAGE.coerce(str(tmp_path / "missing.png"))
    with pytest.raises(ParamError, match="not an image Studio can read"):
        IMAGE.coerce(str(tmp_path / "fake.png"))
    with pytest.raises(ParamError, match="init_image: .*cut.png"):
        IMAGE.coerce(str(truncated))


def test_a_generator_with_a_required_image_registers_and_params_stay_readable():
    class Upscale(studio.Generator):
        id, kind = "upscale", "image"
        params = (REQUIRED,)

    from studio.core.engine.generators import check_generator

    check_generator(Upscale())
    request = Upscale().request({"source": np.zeros((300, 200, 4), np.uint8)})
    assert '"<image 200x300>"' in studio_parameters_json("upscale", request.params)
