"""What a generator gets from the canvas (image, mask, size) and where its picture lands."""

from __future__ import annotations

import numpy as np
import pytest

import studio
from studio.core.image.canvas_inputs import (
    GENERATE,
    INPAINT,
    REFINE,
    Placement,
    as_rgba,
    binary,
    canvas_inputs,
    canvas_to_hold,
    generation_size,
    layer_params,
    modes_for,
    place_result,
)
from studio.core.image.geometry import Rect
from studio.core.image.document import ImageDocument, Layer
from studio.core.image.selection import Selection
from studio.errors import ParamError

PARAMS = (
    studio.Param("prompt", "text", ""),
    studio.Param("init_image", "image", optional=True),
    studio.Param("mask", "mask", optional=True),
    studio.Param("width", "int", 512, min=64, max=2048, step=8),
    studio.Param("height", "int", 512, min=64, max=2048, step=8),
)


@pytest.fixture
def document():
    document = ImageDocument(200, 120)
    pixels = np.zeros((120, 200, 4), np.uint8)
    pixels[..., 0] = np.arange(200, dtype=np.uint8)[None, :]
    pixels[..., 1] = np.arange(120, dtype=np.uint8)[:, None]
    pixels[..., 3] = 255
    document.insert(Layer("base", pixels))
    return document


def test_a_selection_gives_its_box_of_the_composite_its_mask_and_its_size(document):
    document.selection = Selection.rectangle(200, 120, Rect(30, 20, 101, 70))
    values, placement = canvas_inputs(document, document.layers[0], PARAMS, {"prompt": "x", "width": 512, "height": 512}, INPAINT)
    image, mask = values["init_image"], values["mask"]
    assert image.shape == (70, 101, 4) and image.dtype == np.uint8
    assert image[0, 0, 0] == 30 and image[0, 0, 1] == 20 and image[-1, -1, 0] == 130
    assert mask.shape == (70, 101) and mask.min() == 255  # no painted mask: the selection
    assert (values["width"], values["height"]) == (104, 72)  # multiples of 8
    assert placement == Placement(30, 20, (101, 70), None, False, "selection", (101, 70))
    assert placement.preview_rect() == Rect(30, 20, 101, 70)


def test_a_painted_mask_wins_over_the_selection_and_becomes_0_or_255(document):
    document.selection = Selection.rectangle(200, 120, Rect(0, 0, 40, 40))
    document.ensure_mask()[10:20, 10:20] = 180
    document.mask[10, 10] = 90  # the soft edge of a stroke: under half, not painted
    values, _ = canvas_inputs(document, None, PARAMS, {}, INPAINT)
    mask = values["mask"]
    assert set(np.unique(mask)) == {0, 255} and mask[15, 15] == 255 and mask[10, 10] == 0 and mask[30, 30] == 0


def test_sizes_stay_inside_the_parameter_range(document):
    document.selection = Selection.rectangle(200, 120, Rect(0, 0, 20, 12))
    values, _ = canvas_inputs(document, None, PARAMS, {})
    assert (values["width"], values["height"]) == (64, 64)  # min 64


def test_a_lasso_selection_cuts_the_result_to_its_shape(document):
    document.selection = Selection.polygon(200, 120, [(10, 10), (90, 10), (10, 90)])
    values, placement = canvas_inputs(document, None, PARAMS, {})
    assert placement.clip is not None and placement.clip.shape == (80, 80)
    result = np.full((80, 80, 4), 255, np.uint8)
    placed = place_result(result, placement)
    assert placed[2, 2, 3] == 255 and placed[78, 78, 3] == 0  # inside the triangle / outside it


def test_without_a_selection_the_active_layer_is_the_image(document):
    layer = Layer("sketch", np.full((30, 40, 4), 7, np.uint8), x=50, y=60)
    document.insert(layer)
    document.ensure_mask()[65:70, 55:60] = 255
    values, placement = canvas_inputs(document, layer, PARAMS, {"width": 512, "height": 512}, INPAINT)
    assert values["init_image"].shape == (30, 40, 4) and values["init_image"] is not layer.pixels
    assert values["mask"].shape == (30, 40) and values["mask"][5:10, 5:10].min() == 255 and values["mask"].sum() == 25 * 255
    assert values["width"] == 512  # only a selection sets the size
    assert (placement.x, placement.y, placement.size, placement.source) == (50, 60, None, "layer")


def test_nothing_to_give_leaves_optional_pictures_out(document):
    values, placement = canvas_inputs(document, document.layers[0], PARAMS, {"width": 96, "height": 64}, GENERATE)
    assert values["init_image"] is None and values["mask"] is None
    assert placement == Placement(expected_size=(96, 64)) and placement.fit_canvas
    values, _ = canvas_inputs(ImageDocument(), None, PARAMS, {"width": 96, "height": 64})
    assert values["init_image"] is None


def test_a_required_picture_with_nothing_on_the_canvas_is_a_plain_error():
    params = (studio.Param("source", "image"),)
    with pytest.raises(ParamError, match="Source comes from the canvas: select an area"):
        canvas_inputs(ImageDocument(), None, params, {})


def test_generators_without_pictures_still_land_in_the_selection(document):
    params = (studio.Param("width", "int", 512, min=16, max=8192, step=8), studio.Param("height", "int", 512, min=16, max=8192, step=8))
    document.selection = Selection.rectangle(200, 120, Rect(5, 6, 50, 30))
    values, placement = canvas_inputs(document, None, params, {"width": 512, "height": 512})
    assert values == {"width": 48, "height": 32} and placement.size == (50, 30)
    placed = place_result(np.full((32, 48, 4), 99, np.uint8), placement)
    assert placed.shape == (30, 50, 4)  # fitted to the box


def test_results_of_any_channel_count_become_rgba():
    assert as_rgba(np.zeros((2, 3), np.uint8)).shape == (2, 3, 4)
    rgb = as_rgba(np.full((2, 3, 3), 5, np.uint8))
    assert rgb[..., 3].min() == 255 and rgb[..., 0].max() == 5
    with pytest.raises(ValueError):
        as_rgba(np.zeros((2, 3, 4), np.float32))
    assert binary(np.array([[0, 127, 128, 255]], np.uint8)).tolist() == [[0, 0, 255, 255]]


def test_layers_keep_descriptions_of_input_pictures_not_the_pictures():
    kept = layer_params({"seed": 3, "init_image": np.zeros((30, 40, 4), np.uint8), "mask": np.zeros((30, 40), np.uint8), "prompt": "x"})
    assert kept == {"seed": 3, "init_image": "<image 40x30>", "mask": "<mask 40x30>", "prompt": "x"}


# -- the mode is the user's choice ----------------------------------------------------------------


def test_the_modes_a_generator_offers_follow_the_pictures_it_takes():
    assert modes_for(PARAMS) == (GENERATE, REFINE, INPAINT)
    assert modes_for(PARAMS[:2]) == (GENERATE, REFINE)  # an image, no mask
    assert modes_for((studio.Param("width", "int", 512),)) == ()  # nothing to start from: no choice
    assert modes_for((studio.Param("source", "image"),)) == ()  # an upscaler always takes the canvas


def test_generate_gives_no_picture_even_with_a_layer_and_a_selection(document):
    values, placement = canvas_inputs(document, document.layers[0], PARAMS, {"width": 512, "height": 512}, GENERATE)
    assert values["init_image"] is None and values["mask"] is None and placement.source == ""
    document.selection = Selection.rectangle(200, 120, Rect(8, 8, 96, 72))
    values, placement = canvas_inputs(document, document.layers[0], PARAMS, {"width": 512, "height": 512}, GENERATE)
    assert values["init_image"] is None and values["mask"] is None
    assert (values["width"], values["height"]) == (96, 72) and placement.rect_for(96, 72) == Rect(8, 8, 96, 72)  # lands in it


def test_refine_gives_the_picture_and_no_mask(document):
    document.ensure_mask()[0:10, 0:10] = 255
    values, placement = canvas_inputs(document, document.layers[0], PARAMS, {"width": 512, "height": 512}, REFINE)
    assert values["init_image"].shape == (120, 200, 4) and values["mask"] is None and placement.source == "layer"


def test_refine_from_an_empty_layer_is_refused_in_plain_words(document):
    stray = Layer("Layer 2", np.zeros((120, 200, 4), np.uint8))  # a stray click's new layer
    document.insert(stray)
    with pytest.raises(ParamError, match="the layer “Layer 2” has nothing painted on it.*choose Generate"):
        canvas_inputs(document, stray, PARAMS, {}, REFINE)
    with pytest.raises(ParamError, match="Inpaint starts from a picture"):
        canvas_inputs(document, stray, PARAMS, {}, INPAINT)
    values, _ = canvas_inputs(document, stray, PARAMS, {}, GENERATE)  # from the prompt: fine
    assert values["init_image"] is None


def test_refine_of_a_selection_over_nothing_is_refused():
    document = ImageDocument(64, 64)
    document.insert(Layer("corner", np.full((8, 8, 4), 255, np.uint8)))
    document.selection = Selection.rectangle(64, 64, Rect(32, 32, 16, 16))  # nothing painted there
    with pytest.raises(ParamError, match="the selection holds no picture"):
        canvas_inputs(document, document.layers[0], PARAMS, {}, REFINE)


def test_refine_or_inpaint_with_nothing_to_start_from_say_what_to_do():
    with pytest.raises(ParamError, match="Refine starts from a picture: select an area or choose a layer"):
        canvas_inputs(ImageDocument(), None, PARAMS, {}, REFINE)
    with pytest.raises(ParamError, match="Inpaint repaints where the mask is: paint a mask"):
        canvas_inputs(ImageDocument(), None, PARAMS, {}, INPAINT)


def test_inpaint_on_a_layer_without_a_painted_mask_is_refused(document):
    with pytest.raises(ParamError, match="paint a mask \\(K\\) or select an area"):
        canvas_inputs(document, document.layers[0], PARAMS, {}, INPAINT)


def test_the_size_follows_the_canvas_or_the_selection_on_the_parameters_grid(document):
    assert generation_size(document, PARAMS) == ({"width": 200, "height": 120}, "canvas")
    document.selection = Selection.rectangle(200, 120, Rect(3, 4, 101, 70))
    assert generation_size(document, PARAMS) == ({"width": 104, "height": 72}, "selection")  # step 8
    assert generation_size(document, (studio.Param("prompt", "text", ""),)) == ({}, "selection")


def test_the_canvas_size_that_holds_a_larger_picture(document):
    assert canvas_to_hold(document, Rect(0, 0, 200, 120)) is None  # it fits
    assert canvas_to_hold(document, Rect(0, 0, 768, 768)) == (768, 768)
    assert canvas_to_hold(document, Rect(150, 100, 64, 64)) == (214, 164)  # grows right and down
    assert canvas_to_hold(ImageDocument(), Rect(0, 0, 768, 768)) is None  # an empty canvas takes its size anyway
