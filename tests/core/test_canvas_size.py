"""Canvas size (crop/extend around an anchor), image resize, and the outpainting border."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.image.canvas_size import anchor_shift, extend_for_outpainting, resample, resize_canvas, scale_image
from studio.core.image.geometry import Rect
from studio.core.image.document import ImageDocument, Layer
from studio.core.image.selection import Selection
from studio.errors import StudioError


def document_with_layer(width=40, height=20):
    document = ImageDocument(width, height)
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[..., 0] = np.arange(width, dtype=np.uint8)[None, :]  # column index in red
    pixels[..., 3] = 255
    document.insert(Layer("base", pixels))
    return document


@pytest.mark.parametrize(
    "anchor, shift",
    [("top-left", (0, 0)), ("center", (10, 5)), ("bottom-right", (20, 10)), ("top", (10, 0)), ("left", (0, 5))],
)
def test_anchor_shift(anchor, shift):
    assert anchor_shift((40, 20), (60, 30), anchor) == shift
    with pytest.raises(ValueError):
        anchor_shift((1, 1), (2, 2), "middle")


def test_extending_moves_layers_mask_and_selection_and_keeps_pixels():
    document = document_with_layer()
    document.ensure_mask()[0, 0] = 255
    document.selection = Selection.rectangle(40, 20, Rect(0, 0, 4, 4))
    resize_canvas(document, 60, 30, "center")
    layer = document.layers[0]
    assert (document.width, document.height, layer.x, layer.y) == (60, 30, 10, 5)
    assert document.mask.shape == (30, 60) and document.mask[5, 10] == 255 and document.mask.sum() == 255
    assert document.selection.bbox == Rect(10, 5, 4, 4)
    out = document.composite()
    assert out[5, 10, 3] == 255 and out[0, 0, 3] == 0 and out[5, 12, 0] == 2


def test_cropping_keeps_the_layer_whole():
    document = document_with_layer()
    document.selection = Selection.rectangle(40, 20, Rect(0, 0, 4, 4))
    resize_canvas(document, 10, 20, "right")
    layer = document.layers[0]
    assert layer.x == -30 and layer.pixels.shape == (20, 40, 4)  # nothing thrown away
    assert document.composite()[0, 0, 0] == 30  # the canvas now starts at the old column 30
    assert document.selection is None  # it was cropped away entirely
    resize_canvas(document, 40, 20, "right")
    assert layer.x == 0 and document.composite()[0, 0, 0] == 0  # growing back shows it all again


def test_a_refused_size_changes_nothing():
    document = document_with_layer()
    with pytest.raises(StudioError, match="16384 pixels a side"):
        resize_canvas(document, 20000, 20)
    with pytest.raises(StudioError):
        scale_image(document, 1, 300_000)
    assert (document.width, document.height, document.layers[0].x) == (40, 20, 0)
    assert document.layers[0].pixels.shape == (20, 40, 4)


def test_scaling_resamples_layers_offsets_mask_and_selection():
    document = document_with_layer()
    small = Layer("patch", np.full((4, 6, 4), 200, np.uint8), x=10, y=8)
    document.insert(small)
    document.ensure_mask()[8:12, 10:16] = 255
    document.selection = Selection.rectangle(40, 20, Rect(10, 8, 6, 4))
    revision = small.revision
    scale_image(document, 80, 40)
    assert (document.width, document.height) == (80, 40)
    assert small.pixels.shape == (8, 12, 4) and (small.x, small.y) == (20, 16) and small.revision > revision
    assert document.mask.shape == (40, 80) and document.mask[20, 25] == 255
    assert document.selection.bbox == Rect(20, 16, 12, 8)


def test_resampling_in_premultiplied_alpha_keeps_edges_from_darkening():
    pixels = np.zeros((8, 8, 4), np.uint8)
    pixels[2:6, 2:6] = (255, 0, 0, 255)  # red square on transparent black
    out = resample(pixels, 13, 13)
    visible = out[..., 3] > 8
    assert visible.any() and (out[visible, 0] >= 240).all()  # red edges, not dark red


def test_outpainting_grows_one_side_and_masks_and_selects_the_border():
    document = document_with_layer(40, 20)
    border = extend_for_outpainting(document, "left", 16, overlap=8)
    assert (document.width, document.height) == (56, 20) and border == Rect(0, 0, 16, 20)
    assert document.layers[0].x == 16
    assert document.mask[:, :16].min() == 255 and document.mask[:, 16:].max() == 0
    assert document.selection.bbox == Rect(0, 0, 24, 20)
    document = document_with_layer(40, 20)
    extend_for_outpainting(document, "bottom", 10, overlap=4)
    assert (document.height, document.layers[0].y) == (30, 0)
    assert document.selection.bbox == Rect(0, 16, 40, 14) and document.mask[20:].min() == 255
    with pytest.raises(StudioError):
        extend_for_outpainting(document, "right", 0)
