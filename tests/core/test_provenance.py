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
from studio.core.image.provenance import (
    ALGORITHMIC,
    COMPOSITE_SYNTHETIC,
    COMPOSITE_TRAINED,
    TRAINED,
    VOCABULARY,
    composite_source,
    painted_over,
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


def layer(source: str | None = None, visible: bool = True, alpha: int = 255, generator: str = "") -> Layer:
    return Layer("layer", picture(alpha), visible=visible, generator=generator, source=source)


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ([layer(TRAINED)], TRAINED),
        ([layer(TRAINED), layer(TRAINED)], TRAINED),
        ([layer(ALGORITHMIC)], ALGORITHMIC),
        ([layer(COMPOSITE_TRAINED)], COMPOSITE_TRAINED),  # painted over
        ([layer(), layer(TRAINED)], COMPOSITE_TRAINED),  # inpainted into a photo or a painting
        ([layer(ALGORITHMIC), layer(TRAINED)], COMPOSITE_TRAINED),
        ([layer(ALGORITHMIC), layer()], COMPOSITE_SYNTHETIC),
        ([layer(COMPOSITE_SYNTHETIC), layer(ALGORITHMIC)], COMPOSITE_SYNTHETIC),
        ([layer()], None),
        ([layer(TRAINED, visible=False), layer()], None),  # hidden: not in the picture
        ([layer(TRAINED), layer(alpha=0)], TRAINED),  # an empty layer adds nothing
    ],
)
def test_the_source_type_of_a_flattened_canvas(layers, expected):
    assert composite_source(layers) == expected


def test_painting_over_a_picture_makes_a_composite_and_a_painting_stays_a_painting():
    assert painted_over(TRAINED) == COMPOSITE_TRAINED
    assert painted_over(ALGORITHMIC) == COMPOSITE_SYNTHETIC
    assert painted_over(COMPOSITE_TRAINED) == COMPOSITE_TRAINED
    assert painted_over(None) is None


def test_flattening_keeps_what_made_the_picture():
    from studio.core.image.document import ImageDocument
    from studio.core.image.merge import flatten

    document = ImageDocument(20, 12)
    document.insert(layer(TRAINED))
    assert flatten(document).source == TRAINED
    document.insert(layer())
    assert flatten(document).source == COMPOSITE_TRAINED


def test_the_source_survives_a_project_save_and_load_and_old_or_hostile_records_get_the_cautious_claim(tmp_path):
    from studio.core.image.document import ImageDocument
    from studio.core.project.format import Project
    from studio.core.project.load import layer_source
    from studio.core.project.save import save_project

    document = ImageDocument(20, 12)
    for source in (COMPOSITE_TRAINED, ALGORITHMIC, None):
        document.insert(layer(source))
    path = save_project(Project(image=document), tmp_path / "p.studio")

    loaded = load_project(path).project.image.layers
    assert [item.source for item in loaded] == [COMPOSITE_TRAINED, ALGORITHMIC, None]
    assert layer_source({}, "sd:x") == TRAINED  # saved before layers kept their source
    assert layer_source({}, "") is None
    assert layer_source({"source": "digitalCapture"}, "sd:x") == TRAINED  # not Studio's to claim
    assert layer_source({"source": ["x"] * 3}, "") is None


def test_a_result_added_to_a_project_from_the_command_line_keeps_its_generators_source(tmp_path):
    from studio.core.project.format import Project
    from studio.core.project.results import add_result

    project = Project()
    add_result(project, Result("image", picture(), "cppn", {"seed": 1}), "CPPN", source=ALGORITHMIC)
    add_result(project, Result("image", picture(), "sd:x", {"seed": 1}), "SD")
    assert [item.source for item in project.image.layers] == [ALGORITHMIC, TRAINED]


def test_the_command_line_marks_the_built_in_pattern_network_as_algorithmic(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "studio", "generate", "cppn", "-o", "x.webp", "--param", "seed=3", "--param", "width=32", "--param", "height=32"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert pillow_source_type(tmp_path / "x.webp") == VOCABULARY + ALGORITHMIC
    assert exiftool_tags(tmp_path / "x.webp")["AISystemUsed"] == "Studio cppn"
