"""Selections: rasterised rectangles and lassos, combining, reframing, and their outline."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.image.geometry import Rect
from studio.core.image.selection import Selection, rasterize_polygon


def inside_even_odd(polygon, x, y):
    """A slow, obviously right point-in-polygon test (ray casting) to check the fast one."""
    inside = False
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1]):
        if (y0 <= y < y1) or (y1 <= y < y0):
            if x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
                inside = not inside
    return inside


def test_a_rectangle_is_clipped_to_the_canvas_and_knows_its_box():
    selection = Selection.rectangle(20, 10, Rect(15, -3, 10, 6))
    assert selection.bbox == Rect(15, 0, 5, 3)
    assert int(selection.mask.sum()) == 15 and selection.is_rectangle()
    assert selection.contains(16.5, 2.9) and not selection.contains(14.9, 1)
    assert Selection.rectangle(20, 10, Rect(30, 30, 5, 5)).is_empty()


def test_selections_cannot_be_edited_in_place():
    selection = Selection.rectangle(4, 4, Rect(0, 0, 2, 2))
    with pytest.raises(ValueError):
        selection.mask[3, 3] = True


@pytest.mark.parametrize("seed", range(4))
def test_lasso_rasterisation_matches_ray_casting_at_pixel_centres(seed):
    rng = np.random.default_rng(seed)
    polygon = [tuple(p) for p in rng.uniform(-5, 45, size=(9, 2)).tolist()]  # self-crossing, off-canvas too
    mask = rasterize_polygon(40, 30, polygon)
    expected = np.array([[inside_even_odd(polygon, x + 0.5, y + 0.5) for x in range(40)] for y in range(30)])
    assert mask.any() and (mask == expected).all()


def test_a_lasso_triangle_and_degenerate_lassos():
    triangle = Selection.polygon(30, 30, [(2, 2), (28, 2), (2, 28)])
    assert triangle.contains(5, 5) and not triangle.contains(25, 25)
    assert triangle.bbox == Rect(2, 2, 26, 26) and not triangle.is_rectangle()
    assert Selection.polygon(30, 30, [(1, 1), (20, 20)]).is_empty()
    assert Selection.polygon(30, 30, [(1, 1), (20, 1), (30, 1)]).is_empty()  # no area


def test_add_subtract_intersect_and_invert():
    a = Selection.rectangle(10, 10, Rect(0, 0, 6, 6))
    b = Selection.rectangle(10, 10, Rect(4, 4, 6, 6))
    assert int(a.combined(b, "add").mask.sum()) == 36 + 36 - 4
    assert int(a.combined(b, "subtract").mask.sum()) == 32
    assert a.combined(b, "intersect").bbox == Rect(4, 4, 2, 2)
    assert a.combined(b, "replace") is b
    assert int(a.inverted().mask.sum()) == 64
    with pytest.raises(ValueError):
        a.combined(b, "xor")


def test_reframing_and_scaling_follow_the_canvas():
    selection = Selection.rectangle(10, 10, Rect(2, 3, 4, 4))
    moved = selection.reframed(12, 8, dx=-1, dy=2)
    assert moved.size == (12, 8) and moved.bbox == Rect(1, 5, 4, 3)  # its bottom row fell off
    scaled = selection.scaled(20, 30)
    assert scaled.bbox == Rect(4, 9, 8, 12)


def test_uint8_and_crop_give_a_generator_mask():
    selection = Selection.rectangle(8, 8, Rect(2, 2, 3, 3))
    box = selection.as_uint8(Rect(1, 1, 5, 5))
    assert box.dtype == np.uint8 and set(np.unique(box)) == {0, 255}
    assert box[1:4, 1:4].min() == 255 and box.sum() == 9 * 255
    assert selection.crop(Rect(6, 6, 4, 4)).sum() == 0  # past the canvas: nothing


def _closed(segments):
    """Every segment end is shared by an even number of segment ends: the outline closes."""
    ends: dict[tuple[int, int], int] = {}
    for x1, y1, x2, y2 in segments.tolist():
        for point in ((x1, y1), (x2, y2)):
            ends[point] = ends.get(point, 0) + 1
    return all(count % 2 == 0 for count in ends.values())


def test_the_outline_of_a_rectangle_is_four_edges_and_of_any_mask_closes():
    outline = Selection.rectangle(100, 100, Rect(10, 20, 30, 40)).outline()
    assert sorted(map(tuple, outline.tolist())) == sorted([(10, 20, 40, 20), (10, 60, 40, 60), (10, 20, 10, 60), (40, 20, 40, 60)])
    blob = Selection.polygon(50, 50, [(3, 3), (45, 10), (20, 46), (30, 20)])
    segments = blob.outline()
    assert len(segments) > 8 and _closed(segments)
    # Two separate squares: eight edges.
    two = Selection.rectangle(20, 20, Rect(0, 0, 3, 3)).combined(Selection.rectangle(20, 20, Rect(10, 10, 3, 3)), "add")
    assert len(two.outline()) == 8
