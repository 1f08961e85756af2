"""Every image Studio writes says what made it: IPTC's DigitalSourceType in XMP, read back by
readers that share no code with the writer (exiftool, and Pillow's own XMP parser)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.engine.generators import Result
from studio.core.image.document import Layer
from studio.core.project.load import load_project
from studio.core.project.outputs import read_parameters, write_result
from studio.core.project.provenance import (
    ALGORITHMIC,
    COMPOSITE_SYNTHETIC,
    COMPOSITE_TRAINED,
    TRAINED,
    VOCABULARY,
    composite_source,
    xmp_packet,
)

SD_PARAMS = {"prompt": "a lighthouse", "seed": 5, "model": "sd15-dreamy"}
SUFFIXES = (".png", ".jpg", ".webp")


def picture(alpha: int = 255) -> np.ndarray:
    pixels = np.zeros((12, 20, 4), np.uint8)
    pixels[..., 0] = np.arange(20, dtype=np.uint8)[None, :] * 12
    pixels[..., 3] = alpha
    return pixels


def pillow_source_type(path: Path) -> str | None:
    """The DigitalSourceType as Pillow's XMP parser (defusedxml) reads it."""
    with Image.open(path) as image:
        xmp = image.getxmp()
    if not xmp:
        return None
    description = xmp["xmpmeta"]["RDF"]["Description"]
    return description.get("DigitalSourceType")


def exiftool_tags(path: Path) -> dict:
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (CI installs libimage-exiftool-perl)")
    run = subprocess.run(["exiftool", "-j", "-XMP:all", str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)[0]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_generated_picture_says_a_trained_model_made_it_in_every_format(tmp_path, suffix):
    path = write_result(Result("image", picture(), "sd:sd15-dreamy", dict(SD_PARAMS)), tmp_path / f"out{suffix}")

    assert pillow_source_type(path) == VOCABULARY + TRAINED
    tags = exiftool_tags(path)
    assert tags["DigitalSourceType"] == VOCABULARY + TRAINED
    assert tags["AISystemUsed"] == "Studio sd:sd15-dreamy (sd15-dreamy)"
    assert tags["CreatorTool"] == "Studio"
    # beside the parameters, which are still there and still read back
    assert read_parameters(path)["params"]["prompt"] == "a lighthouse"
    # the prompt is not spread into the provenance mark
    assert "lighthouse" not in json.dumps(tags)


def test_the_source_type_asked_for_is_written_and_a_picture_nothing_generated_makes_no_claim(tmp_path):
    composite = write_result(Result("image", picture(), "sd:x", {}), tmp_path / "c.png", COMPOSITE_TRAINED)
    painted = write_result(Result("image", picture(), "", {}), tmp_path / "p.png")

    assert exiftool_tags(composite)["DigitalSourceType"] == VOCABULARY + COMPOSITE_TRAINED
    assert pillow_source_type(painted) is None
    assert "DigitalSourceType" not in exiftool_tags(painted)


def test_an_unknown_source_type_is_refused_rather_than_written():
    with pytest.raises(ValueError, match="unknown digital source type"):
        xmp_packet("madeUpMedia")


def test_a_hostile_model_name_cannot_break_out_of_the_packet(tmp_path):
    params = {"model": 'x" Iptc4xmpExt:DigitalSourceType="digitalCapture'}
    path = write_result(Result("image", picture(), "sd:x", params), tmp_path / "h.png")

    tags = exiftool_tags(path)
    assert tags["DigitalSourceType"] == VOCABULARY + TRAINED
    assert tags["AISystemUsed"] == 'Studio sd:x (x" Iptc4xmpExt:DigitalSourceType="digitalCapture)'


# -- a canvas of layers ------------------------------------------------------------------------


def layer(generator: str = "", painted: bool = False, visible: bool = True, alpha: int = 255) -> Layer:
    made = Layer(generator or "paint", picture(alpha), visible=visible, generator=generator)
    made.painted_over = painted
    return made


SOURCES = {"sd:a": TRAINED, "sd:b": TRAINED, "cppn": ALGORITHMIC}


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ([layer("sd:a")], TRAINED),
        ([layer("sd:a"), layer("sd:b")], TRAINED),
        ([layer("cppn")], ALGORITHMIC),
        ([layer("sd:a", painted=True)], COMPOSITE_TRAINED),
        ([layer(), layer("sd:a")], COMPOSITE_TRAINED),  # inpainted into a photo or a painting
        ([layer("cppn"), layer("sd:a")], COMPOSITE_TRAINED),
        ([layer("cppn"), layer()], COMPOSITE_SYNTHETIC),
        ([layer()], None),
        ([layer("sd:a", visible=False), layer()], None),  # hidden: not in the picture
        ([layer("sd:a"), layer(alpha=0)], TRAINED),  # an empty layer adds nothing
    ],
)
def test_the_source_type_of_a_flattened_canvas(layers, expected):
    assert composite_source(layers, lambda gid: SOURCES.get(gid, TRAINED)) == expected


def test_a_generator_that_is_gone_counts_as_a_trained_model():
    assert composite_source([layer("sd:uninstalled")], lambda gid: SOURCES.get(gid, TRAINED)) == TRAINED


def test_painted_over_survives_a_project_save_and_load(tmp_path):
    from studio.core.image.document import ImageDocument
    from studio.core.project.format import Project
    from studio.core.project.save import save_project

    document = ImageDocument(20, 12)
    document.insert(layer("sd:a", painted=True))
    document.insert(layer("sd:a"))
    path = save_project(Project(image=document), tmp_path / "p.studio")

    loaded = load_project(path).project.image.layers
    assert [item.painted_over for item in loaded] == [True, False]


def test_the_command_line_marks_the_built_in_pattern_network_as_algorithmic(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "studio", "generate", "cppn", "-o", "x.webp", "--param", "seed=3", "--param", "width=32", "--param", "height=32"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert pillow_source_type(tmp_path / "x.webp") == VOCABULARY + ALGORITHMIC
    assert exiftool_tags(tmp_path / "x.webp")["AISystemUsed"] == "Studio cppn"
