"""A control parameter filled from the canvas: the chosen layer over the box the result covers."""

from __future__ import annotations

import numpy as np
import pytest

import studio
from studio.core.image.canvas_inputs import Placement
from studio.core.image.control_inputs import control_inputs
from studio.core.image.document import ImageDocument, Layer
from studio.errors import ParamError

PARAMS = (studio.Param("control_image", "control", optional=True), studio.Param("width", "int", 64), studio.Param("height", "int", 64))


def document_with(layer: Layer) -> ImageDocument:
    document = ImageDocument(100, 80)
    document.insert(Layer("paper", np.full((80, 100, 4), 255, np.uint8)))
    document.insert(layer)
    return document


def test_the_layer_is_cut_to_the_box_and_transparent_where_it_has_no_pixels():
    strokes = Layer("strokes", np.full((30, 40, 4), 200, np.uint8), x=50, y=40)
    document = document_with(strokes)
    # the result lands on a selection's box at (40, 30), 32 x 24
    values = control_inputs(document, PARAMS, {"control_image": "strokes", "width": 32, "height": 24}, Placement(40, 30, (32, 24)))
    picture = values["control_image"]
    assert picture.shape == (24, 32, 4) and picture.dtype == np.uint8
    assert (picture[10:, 10:] == 200).all()  # the layer from (50, 40) on
    assert (picture[:10] == 0).all() and (picture[:, :10] == 0).all()  # transparent where it is not


def test_without_a_box_the_picture_is_the_generated_size_at_the_corner():
    document = document_with(Layer("strokes", np.full((80, 100, 4), 9, np.uint8)))
    values = control_inputs(document, PARAMS, {"control_image": "strokes", "width": 64, "height": 48}, Placement())
    assert values["control_image"].shape == (48, 64, 4) and (values["control_image"] == 9).all()


@pytest.mark.parametrize("value", [None, "", "none"])
def test_no_layer_chosen_means_no_control_picture(value):
    document = document_with(Layer("strokes", np.zeros((8, 8, 4), np.uint8)))
    assert control_inputs(document, PARAMS, {"control_image": value}, Placement())["control_image"] is None


def test_a_layer_that_no_longer_exists_is_named_in_a_plain_message():
    document = document_with(Layer("strokes", np.zeros((8, 8, 4), np.uint8)))
    with pytest.raises(ParamError, match="the layer “sketch” no longer exists"):
        control_inputs(document, PARAMS, {"control_image": "sketch"}, Placement())


def test_an_absurd_generated_size_is_refused_before_the_picture_is_made():
    document = document_with(Layer("strokes", np.zeros((8, 8, 4), np.uint8)))
    with pytest.raises(ParamError, match="100000 × 100000"):
        control_inputs(document, PARAMS, {"control_image": "strokes", "width": 100_000, "height": 100_000}, Placement())
