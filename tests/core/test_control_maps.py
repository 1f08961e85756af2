"""The ControlNet control maps made in numpy: canny edges and scribbles."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.image.control_maps import canny, control_map, scribble


def rgba(grey: np.ndarray, alpha: int | np.ndarray = 255) -> np.ndarray:
    out = np.zeros(grey.shape + (4,), np.uint8)
    out[..., :3] = grey[..., None]
    out[..., 3] = alpha
    return out


def square(size: int = 64, lo: int = 0, hi: int = 255) -> np.ndarray:
    grey = np.full((size, size), lo, np.uint8)
    grey[16:48, 16:48] = hi
    return grey


def test_canny_finds_the_four_sides_of_a_square_and_nothing_else():
    edges = canny(square().astype(np.float32))
    rows, cols = np.nonzero(edges)
    assert edges.any()
    # every edge pixel lies on the square's outline (within the blur's reach), none inside or far out
    near_outline = (np.minimum(np.abs(rows - 15.5), np.abs(rows - 47.5)) <= 1.5) | (np.minimum(np.abs(cols - 15.5), np.abs(cols - 47.5)) <= 1.5)
    assert near_outline.all()
    assert not edges[24:40, 24:40].any() and not edges[:8].any()
    # each side is found along its whole length, and thin: one or two pixels across
    for line in (edges[:, 32], edges[32, :]):
        assert 2 <= line.sum() <= 4
    assert edges[20:44, 14:18].any(axis=1).all() and edges[20:44, 46:50].any(axis=1).all()


def test_canny_thresholds_drop_weak_edges_and_keep_those_joined_to_strong_ones():
    grey = np.zeros((64, 96), np.float32)
    grey[:, 32:] = 40  # a faint step: gradient about 160 after the blur's spread
    grey[:, 64:] = 255  # a strong step
    faint_only = canny(grey, low=300, high=400)
    assert not faint_only[:, 24:40].any() and faint_only[:, 60:68].any()
    assert canny(grey, low=50, high=100)[:, 28:36].any()
    # hysteresis: a faint edge joined to a strong one survives where a lone faint one does not
    joined = np.zeros((64, 64), np.float32)
    # one vertical edge, strong at the top, fading to faint (step 50) from row 24 to row 40
    joined[:, 32:] = np.clip(np.interp(np.arange(64), [24, 40], [255, 50]), 50, 255)[:, None]
    edges = canny(joined, low=100, high=400)
    assert edges[40:60, 28:36].any(axis=1).all(), "the faint half is joined to the strong half"
    lone = np.zeros((64, 64), np.float32)
    lone[:, 32:] = 50
    assert not canny(lone, low=100, high=400).any()


def test_canny_map_is_white_lines_on_opaque_black():
    out = control_map(rgba(square()), "canny")
    assert out.dtype == np.uint8 and out.shape == (64, 64, 4)
    assert (out[..., 3] == 255).all()
    assert set(np.unique(out[..., 0])) == {0, 255}
    assert (out[..., 0] == out[..., 1]).all()


def test_a_transparent_layer_gives_a_black_scribble_map():
    out = control_map(np.zeros((32, 48, 4), np.uint8), "scribble")
    assert (out[..., :3] == 0).all() and (out[..., 3] == 255).all()


def test_strokes_on_transparency_of_any_colour_become_white_lines():
    layer = np.zeros((32, 32, 4), np.uint8)
    layer[10:12, 4:28] = (20, 20, 20, 255)  # a dark stroke
    layer[20:22, 4:28] = (250, 250, 250, 200)  # a light one
    lines = scribble(layer)
    assert lines[10:12, 4:28].all() and lines[20:22, 4:28].all()
    assert lines.sum() == 2 * 2 * 24


def test_dark_strokes_on_white_paper_and_a_map_already_white_on_black():
    paper = square(lo=255, hi=255)
    paper[30:32, :] = 0
    assert scribble(rgba(paper)).sum() == 2 * 64
    drawn = np.zeros((64, 64), np.uint8)
    drawn[30:32, :] = 255
    assert scribble(rgba(drawn)).sum() == 2 * 64


def test_none_keeps_the_picture_and_an_unknown_preprocessor_is_refused():
    picture = rgba(square())
    assert control_map(picture, "none") is picture
    with pytest.raises(ValueError, match="unknown control preprocessor"):
        control_map(picture, "depth")


def flood(strong: np.ndarray, weak: np.ndarray) -> np.ndarray:
    """Hysteresis the plain way: a flood from every strong pixel through 8-connected weak ones."""
    h, w = weak.shape
    edges = strong.copy()
    stack = list(zip(*np.nonzero(strong)))
    while stack:
        y, x = stack.pop()
        for ny in range(max(0, y - 1), min(h, y + 2)):
            for nx in range(max(0, x - 1), min(w, x + 2)):
                if weak[ny, nx] and not edges[ny, nx]:
                    edges[ny, nx] = True
                    stack.append((ny, nx))
    return edges


def test_hysteresis_keeps_exactly_the_weak_pieces_a_flood_from_the_strong_pixels_reaches():
    from studio.core.image.control_maps import _hysteresis

    rng = np.random.default_rng(5)
    for _ in range(100):
        h, w = rng.integers(1, 40, 2)
        weak = rng.random((h, w)) < rng.random()
        strong = weak & (rng.random((h, w)) < 0.1)
        assert np.array_equal(_hysteresis(strong, weak), flood(strong, weak))
    spiral = np.zeros((9, 9), bool)  # one long winding piece, reached from its inner end
    spiral[0, :] = spiral[:, 8] = spiral[8, :] = spiral[2:, 0] = spiral[2, :7] = spiral[2:7, 6] = spiral[6, 2:7] = True
    strong = np.zeros_like(spiral)
    strong[6, 2] = True
    assert np.array_equal(_hysteresis(strong, spiral), spiral)
