"""Free transform, flips and quarter turns, merging, pieces and crop to selection, without Qt."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.image.canvas_size import crop_to
from studio.core.image.document import ImageDocument, Layer
from studio.core.image.geometry import Rect
from studio.core.image.merge import flatten, merge_down, stamp
from studio.core.image.pieces import layer_piece, merged_piece, place_centred
from studio.core.image.selection import Selection
from studio.core.image.transform import FreeTransform, apply_transform, flip, rotate_quarter
from studio.errors import StudioError


def gradient(width=6, height=4):
    """Opaque pixels that differ everywhere, so a wrong turn or mirror shows."""
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[..., 0] = np.arange(width)[None, :] * 40
    pixels[..., 1] = np.arange(height)[:, None] * 60
    pixels[..., 3] = 255
    return pixels


def test_an_untouched_transform_gives_the_pixels_back_in_place():
    pixels = gradient()
    out, x, y = apply_transform(pixels, FreeTransform.of(Rect(10, 20, 6, 4)))
    assert (out == pixels).all() and (x, y) == (10, 20)


def test_a_negative_scale_mirrors_exactly_about_the_centre():
    pixels = gradient()
    out, x, y = apply_transform(pixels, FreeTransform.of(Rect(10, 20, 6, 4)).flipped(horizontal=True))
    assert (out == pixels[:, ::-1]).all() and (x, y) == (10, 20)
    out, _, _ = apply_transform(pixels, FreeTransform.of(Rect(10, 20, 6, 4)).flipped(horizontal=False))
    assert (out == pixels[::-1]).all()


def test_a_right_angle_turns_exactly_about_the_centre():
    pixels = gradient()
    transform = FreeTransform((10, 20, 6, 4), angle=90)  # clockwise on the canvas
    out, x, y = apply_transform(pixels, transform)
    assert (out == np.rot90(pixels, -1)).all()
    assert (x, y) == (11, 19)  # the centre (13, 22) stays
    assert out[0, -1].tolist() == pixels[0, 0].tolist()  # the top-left pixel went to the top-right


def test_scaling_up_keeps_colours_alpha_and_the_centre():
    pixels = np.zeros((10, 10, 4), np.uint8)
    pixels[:] = (200, 40, 10, 255)
    out, x, y = apply_transform(pixels, FreeTransform((0, 0, 10, 10), scale_x=2, scale_y=1.5))
    assert out.shape == (15, 20, 4) and (x, y) == (-5, -2)
    assert (out == (200, 40, 10, 255)).all()


def test_transparent_edges_do_not_darken_when_resampled():
    pixels = np.zeros((20, 20, 4), np.uint8)  # transparent black around...
    pixels[5:15, 5:15] = (255, 0, 0, 255)  # ...an opaque red square
    out, _, _ = apply_transform(pixels, FreeTransform((0, 0, 20, 20), scale_x=1.7, scale_y=1.7, angle=30))
    seen = out[..., 3] > 8
    assert seen.any() and (out[seen, 0] >= 250).all() and (out[seen, 1:3] <= 4).all()
    assert (out[..., 3] == 0).any() and (out[..., 3] == 255).any()  # soft edges, solid inside


def test_a_free_angle_grows_the_box_and_keeps_the_middle():
    pixels = np.zeros((20, 40, 4), np.uint8)
    pixels[:] = (10, 200, 30, 255)
    out, x, y = apply_transform(pixels, FreeTransform((100, 100, 40, 20), angle=45))
    assert 40 < out.shape[1] <= 44 and out.shape[0] == out.shape[1]  # (40 + 20) / sqrt 2 = 42.4
    assert out[out.shape[0] // 2, out.shape[1] // 2].tolist() == [10, 200, 30, 255]
    assert out[0, 0, 3] == 0  # the corners of the new box are empty
    assert abs(x + out.shape[1] / 2 - 120) <= 1 and abs(y + out.shape[0] / 2 - 110) <= 1


def test_a_result_too_large_to_hold_is_refused_before_allocating():
    with pytest.raises(StudioError, match="transformed layer"):
        apply_transform(gradient(), FreeTransform((0, 0, 6, 4), scale_x=10_000, scale_y=10_000))


def test_dragging_a_corner_handle_keeps_the_opposite_corner():
    start = FreeTransform((10, 10, 40, 20))
    dragged = start.scaled_by_handle(1, 1, 90, 50)  # the bottom-right corner from (50, 30)
    assert dragged.scale_x == pytest.approx(2) and dragged.scale_y == pytest.approx(2)
    assert dragged.corners()[0] == pytest.approx((10, 10))
    wide = start.scaled_by_handle(1, 1, 90, 35, keep_aspect=True)  # Shift: the larger ratio, both ways
    assert wide.scale_x == pytest.approx(2) and wide.scale_y == pytest.approx(2)
    edge = start.scaled_by_handle(-1, 0, 0, 999)  # the left edge's middle: width only
    assert (edge.scale_x, edge.scale_y) == pytest.approx((1.25, 1)) and edge.corners()[1] == pytest.approx((50, 10))
    across = start.scaled_by_handle(1, 0, -30, 20)  # dragged past the anchor: mirrored
    assert across.scale_x == pytest.approx(-1) and across.corners()[0] == pytest.approx((10, 10))
    collapsed = start.scaled_by_handle(1, 0, 10, 20)
    assert abs(collapsed.scale_x * 40) == pytest.approx(1)  # never to nothing


def test_a_turned_box_scales_along_its_own_axes():
    start = FreeTransform((0, 0, 40, 20), angle=90)  # now 20 wide and 40 tall, centred at (20, 10)
    corner = start.corners()[2]  # the box's own bottom-right, now at the bottom-left
    assert corner == pytest.approx((10, 30))
    dragged = start.scaled_by_handle(1, 1, corner[0] - 20, corner[1] + 40)
    assert (dragged.scale_x, dragged.scale_y) == pytest.approx((2, 2))
    assert dragged.corners()[0] == pytest.approx(start.corners()[0])


def test_layer_menu_flips_and_quarter_turns_are_exact():
    pixels = gradient()
    assert (flip(pixels, horizontal=True) == pixels[:, ::-1]).all()
    assert (flip(pixels, horizontal=False) == pixels[::-1]).all()
    turned, x, y = rotate_quarter(pixels, 10, 20)
    assert (turned == np.rot90(pixels, -1)).all() and (x, y) == (11, 19)
    back, x, y = rotate_quarter(turned, x, y, clockwise=False)
    assert (back == pixels).all() and (x, y) == (10, 20)


def test_merge_down_composites_with_opacity_and_blend_and_grows_to_hold_both():
    lower = Layer("lower", np.full((2, 2, 4), (100, 100, 100, 255), np.uint8))
    upper = Layer("upper", np.full((1, 2, 4), (255, 255, 255, 255), np.uint8), opacity=0.5, blend="multiply", x=1, y=1)
    pixels, x, y, opacity = merge_down(upper, lower)
    assert (x, y, opacity) == (0, 0, 1.0) and pixels.shape == (2, 3, 4)
    assert pixels[0, 0].tolist() == [100, 100, 100, 255]
    assert pixels[1, 1].tolist() == [100, 100, 100, 255]  # multiply by white changes nothing
    assert pixels[1, 2].tolist() == [255, 255, 255, 128]  # over nothing: the layer at half opacity
    assert pixels[0, 2, 3] == 0


def test_merge_down_bakes_a_normal_lower_layers_opacity_so_the_picture_stays():
    document = ImageDocument(2, 1)
    document.insert(Layer("paper", np.full((1, 2, 4), (250, 250, 250, 255), np.uint8)))
    lower = Layer("wash", np.full((1, 2, 4), (0, 0, 200, 255), np.uint8), opacity=0.5)
    upper = Layer("ink", np.full((1, 1, 4), (200, 0, 0, 255), np.uint8), opacity=0.5, x=1)
    document.insert(lower)
    document.insert(upper)
    before = document.composite()
    pixels, x, y, opacity = merge_down(upper, lower)
    assert opacity == 1.0 and pixels[0, 0].tolist() == [0, 0, 200, 128]
    lower.set_pixels(pixels)
    lower.opacity = opacity
    document.remove(upper)
    assert np.abs(document.composite().astype(int) - before).max() <= 1
    screen = Layer("glow", pixels, opacity=0.4, blend="screen")  # another mode keeps its opacity, as it keeps the mode
    kept = merge_down(upper, screen)
    assert kept[3] == 0.4 and kept[0][0, 0].tolist() == pixels[0, 0].tolist()


def test_stamp_lays_a_piece_onto_a_layer():
    base = np.zeros((4, 4, 4), np.uint8)
    piece = np.full((2, 2, 4), (9, 8, 7, 255), np.uint8)
    pixels, x, y = stamp(base, (0, 0), piece, (3, 3))
    assert (x, y, pixels.shape[:2]) == (0, 0, (5, 5)) and pixels[4, 4].tolist() == [9, 8, 7, 255]


def test_flatten_is_the_composite_without_hidden_layers():
    document = ImageDocument(3, 2)
    document.insert(Layer("a", np.full((2, 3, 4), (10, 20, 30, 255), np.uint8)))
    document.insert(Layer("b", np.full((2, 3, 4), (200, 0, 0, 255), np.uint8), visible=False))
    flat = flatten(document)
    assert flat.size == (3, 2) and (flat.pixels == (10, 20, 30, 255)).all()


def test_pieces_follow_the_selection_shape():
    document = ImageDocument(8, 8)
    layer = Layer("a", np.full((8, 8, 4), 200, np.uint8), x=0, y=0)
    document.insert(layer)
    selection = Selection.polygon(8, 8, [(2, 2), (6, 2), (2, 6)])
    pixels, rect = layer_piece(layer, selection, document.bounds)
    assert rect == selection.bbox
    assert (pixels[..., 3] > 0).tolist() == selection.crop(rect).tolist()
    whole, rect = layer_piece(layer, None, Rect(0, 0, 4, 4))
    assert rect == Rect(0, 0, 4, 4) and whole.shape == (4, 4, 4)
    merged, rect = merged_piece(document, selection)
    assert (merged[..., 3] > 0).tolist() == selection.crop(rect).tolist()
    assert layer_piece(Layer("far", np.zeros((2, 2, 4), np.uint8), x=50), None, document.bounds) is None
    assert place_centred((4, 2), (10, 10)) == (8, 9)


def test_crop_to_a_rectangle_moves_the_frame_and_keeps_the_pixels():
    document = ImageDocument(10, 10)
    layer = Layer("a", np.full((10, 10, 4), 7, np.uint8))
    document.insert(layer)
    document.selection = Selection.rectangle(10, 10, Rect(2, 3, 4, 5))
    crop_to(document, document.selection.bbox)
    assert (document.width, document.height, layer.x, layer.y) == (4, 5, -2, -3)
    assert layer.size == (10, 10) and document.selection.bbox == Rect(0, 0, 4, 5)
