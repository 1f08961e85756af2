"""Brush strokes, eraser, mask brush, flood fill: what is painted, where, and what undo keeps."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from studio.core.image.geometry import Rect
from studio.core.image.paint import ERASE, MASK, UNMASK, Brush, Stroke, clear, dab, fill, flood_region, region_on_layer

RED = (255, 0, 0, 255)


def blank(width=64, height=48):
    return np.zeros((height, width, 4), np.uint8)


def paint(target, points, brush, mode="paint", origin=(0, 0), clip=None):
    stroke = Stroke(target, brush, mode, origin, clip)
    stroke.begin(*points[0])
    for point in points[1:]:
        stroke.extend(*point)
    return stroke.finish()


def test_a_dab_is_round_solid_inside_and_soft_at_the_rim():
    rect, alpha = dab(Brush(size=10, hardness=0.5), 20.0, 20.0)
    assert rect.x <= 15 and rect.right >= 25
    centre = alpha[20 - rect.y, 20 - rect.x]
    assert centre == pytest.approx(1.0)
    assert alpha[20 - rect.y, 23 - rect.x] < 1.0  # past half the radius: falling
    assert alpha[0, 0] == 0.0  # the square's corner is outside the circle
    _, centred = dab(Brush(size=10, hardness=0.5), 20.5, 20.5)  # centred on pixel (20, 20)
    r, c = 20 - rect.y, 20 - rect.x
    for k in range(1, 5):  # symmetric about its centre
        assert centred[r, c + k] == pytest.approx(centred[r, c - k]) == pytest.approx(centred[r + k, c])
    _, hard = dab(Brush(size=10, hardness=1.0), 20.0, 20.0)
    assert (hard >= alpha - 1e-6).all() and hard.sum() > alpha.sum()


def test_a_stroke_paints_along_its_path_and_nowhere_else():
    pixels = blank()
    patch = paint(pixels, [(10, 10), (30, 10), (50, 30)], Brush(size=6, hardness=1.0, colour=RED))
    alpha = pixels[..., 3]
    for x, y in ((10, 10), (20, 10), (40, 20), (50, 30)):  # on the (smoothed) path
        assert alpha[y, x] == 255 and tuple(pixels[y, x]) == RED
    assert alpha[40:, :].sum() == 0 and alpha[:, :5].sum() == 0 and alpha[25, 15] == 0
    changed = np.argwhere(alpha > 0)
    exact = Rect.from_edges(int(changed[:, 1].min()), int(changed[:, 0].min()), int(changed[:, 1].max()) + 1, int(changed[:, 0].max()) + 1)
    # The patch covers what the dabs' squares touched: all that changed, and at most a pixel more.
    assert patch.rect.intersected(exact) == exact
    assert patch.rect.width - exact.width <= 2 and patch.rect.height - exact.height <= 2
    assert patch.before.shape == (patch.rect.height, patch.rect.width, 4) and patch.before.sum() == 0
    patch.undo(pixels)
    assert pixels.sum() == 0
    patch.redo(pixels)
    assert (pixels[..., 3] == alpha).all()


def test_fast_mouse_moves_leave_no_gaps():
    pixels = blank(200, 40)
    paint(pixels, [(5, 20), (195, 20)], Brush(size=4, hardness=1.0, colour=RED))  # one event across the canvas
    assert (pixels[20, 5:196, 3] == 255).all()


def test_opacity_does_not_build_up_within_one_stroke():
    pixels = blank()
    path = [(10, 10), (50, 10), (50, 30), (10, 30), (30, 0), (30, 40)]  # crosses itself
    paint(pixels, path, Brush(size=8, hardness=1.0, opacity=0.5, colour=RED))
    assert abs(int(pixels[..., 3].max()) - 128) <= 1


def test_a_second_stroke_does_build_up():
    pixels = blank()
    for _ in range(2):
        paint(pixels, [(10, 10), (40, 10)], Brush(size=8, hardness=1.0, opacity=0.5, colour=RED))
    assert abs(int(pixels[10, 20, 3]) - 191) <= 1


def test_painting_over_colour_blends_straight_alpha():
    pixels = blank()
    pixels[:] = (0, 0, 255, 255)
    paint(pixels, [(20, 20), (21, 20)], Brush(size=6, hardness=1.0, opacity=0.5, colour=RED))
    assert np.abs(pixels[20, 20].astype(int) - (128, 0, 127, 255)).max() <= 1
    assert tuple(pixels[0, 0]) == (0, 0, 255, 255)


def test_the_eraser_lowers_alpha_only_where_it_passes():
    pixels = blank()
    pixels[:] = (9, 9, 9, 255)
    patch = paint(pixels, [(10, 24), (54, 24)], Brush(size=10, hardness=1.0), ERASE)
    assert pixels[24, 30, 3] == 0 and pixels[0, 0, 3] == 255 and (pixels[..., :3] == 9).all()
    patch.undo(pixels)
    assert (pixels == 9).sum() == pixels[..., :3].size and (pixels[..., 3] == 255).all()


def test_the_mask_brush_paints_and_erases_a_grey_mask():
    mask = np.zeros((40, 40), np.uint8)
    paint(mask, [(5, 20), (35, 20)], Brush(size=6, hardness=1.0), MASK)
    assert mask[20, 20] == 255 and mask[0, 0] == 0
    paint(mask, [(20, 5), (20, 35)], Brush(size=6, hardness=1.0), UNMASK)
    assert mask[20, 20] == 0 and mask[20, 8] == 255
    with pytest.raises(ValueError):
        Stroke(np.zeros((4, 4, 4), np.uint8), Brush(), MASK)


def test_a_stroke_stays_inside_the_clip_and_follows_the_layer_offset():
    pixels = blank(40, 40)
    clip = np.zeros((60, 60), bool)
    clip[:, :30] = True  # canvas coordinates: the left 30 columns are selected
    paint(pixels, [(10, 25), (55, 25)], Brush(size=6, hardness=1.0, colour=RED), origin=(10, 5), clip=clip)
    row = pixels[20, :, 3]  # canvas y 25 is layer row 20
    assert (row[0:20] == 255).all() and row[20:].sum() == 0  # canvas x 10..29 are layer 0..19


def test_undo_patches_store_only_the_touched_rectangle():
    pixels = np.zeros((1024, 1024, 4), np.uint8)
    patch = paint(pixels, [(500, 500), (520, 510)], Brush(size=10))
    assert patch.nbytes < 2 * 40 * 30 * 4


def flood_reference(pixels, x, y, tolerance):
    premultiplied = pixels.astype(int)
    premultiplied[..., :3] = (premultiplied[..., :3] * premultiplied[..., 3:4] + 127) // 255
    similar = (np.abs(premultiplied - premultiplied[y, x]) <= tolerance).all(axis=2)
    seen = np.zeros(similar.shape, bool)
    queue = deque([(y, x)])
    seen[y, x] = True
    while queue:
        r, c = queue.popleft()
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= nr < similar.shape[0] and 0 <= nc < similar.shape[1] and similar[nr, nc] and not seen[nr, nc]:
                seen[nr, nc] = True
                queue.append((nr, nc))
    return seen


@pytest.mark.parametrize("seed", range(3))
def test_flood_fill_matches_a_breadth_first_search(seed):
    rng = np.random.default_rng(seed)
    pixels = np.where(rng.random((40, 50, 1)) < 0.4, 255, 0).astype(np.uint8).repeat(4, axis=2)
    pixels[..., :3] = rng.integers(0, 40, (40, 50, 3))
    y, x = np.argwhere(pixels[..., 3] == 255)[0]
    region = flood_region(pixels, int(x), int(y), tolerance=48)
    assert (region == flood_reference(pixels, int(x), int(y), 48)).all() and region.sum() > 1


def test_flood_fill_stops_at_walls_and_sees_every_transparent_pixel_alike():
    pixels = blank(20, 10)
    pixels[:, 10] = (0, 0, 0, 255)  # a wall
    pixels[0:5, 0:5, :3] = 77  # hidden colour in transparent pixels does not matter
    region = flood_region(pixels, 2, 2, tolerance=0)
    assert region[:, :10].all() and not region[:, 10:].any()
    assert not flood_region(pixels, 99, 2).any()  # outside: nothing


def test_fill_and_clear_make_undoable_patches():
    pixels = blank(20, 10)
    region = np.zeros((10, 20), bool)
    region[2:5, 3:9] = True
    patch = fill(pixels, region, RED)
    assert patch.rect == Rect(3, 2, 6, 3) and (pixels[region] == RED).all() and pixels[~region].sum() == 0
    patch.undo(pixels)
    assert pixels.sum() == 0
    patch.redo(pixels)
    cleared = clear(pixels, region)
    assert pixels.sum() == 0 and cleared.rect == patch.rect
    assert fill(pixels, np.zeros((10, 20), bool), RED) is None


def test_a_canvas_region_is_cut_to_a_layer_with_an_offset():
    canvas = np.zeros((10, 10), bool)
    canvas[0:4, 0:4] = True
    on_layer = region_on_layer(canvas, Rect(2, -1, 6, 6))
    assert on_layer.shape == (6, 6) and on_layer[1:5, 0:2].all() and on_layer.sum() == 8
