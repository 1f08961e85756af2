"""Staged results (the results strip's model), without Qt: thumbnails, layers made from a
result, what counts as applied, a picture painted over, and the bound on how many are held."""

from __future__ import annotations

import numpy as np

from studio.core.image.document import Layer
from studio.core.image.staged_results import StagedResult, StagedResults, batch_size, make_thumbnail


def picture(width: int = 200, height: int = 100, value: int = 90) -> np.ndarray:
    pixels = np.full((height, width, 4), value, np.uint8)
    pixels[..., 3] = 255
    return pixels


def staged(seed: int = 1, **kwargs) -> StagedResult:
    return StagedResult(f"CPPN · {seed}", picture(value=seed % 256), "cppn", {"seed": seed, "width": 200}, **kwargs)


def test_batch_size_reads_the_requests_batch_count():
    assert batch_size({"batch_count": 4}) == 4
    assert batch_size({"seed": 3}) == 1  # a generator without batches
    assert batch_size({"batch_count": None}) == 1 and batch_size({"batch_count": 0}) == 1


def test_the_thumbnail_fits_96_px_keeping_the_pictures_shape():
    item = staged()
    assert item.thumbnail.shape == (48, 96, 4)
    assert make_thumbnail(picture(20, 10)).shape == (10, 20, 4)  # never enlarged
    assert make_thumbnail(picture(1, 4000)).shape == (96, 1, 4)


def test_the_first_layer_takes_the_picture_and_the_id_drawn_for_the_history():
    item = staged(7, x=30, y=20, fit_canvas=False)
    first = item.make_layer()
    assert first.id == item.layer_id and first.pixels is item.pixels  # no copy: the strip holds nothing more
    assert (first.x, first.y, first.name, first.generator, first.params["seed"]) == (30, 20, "CPPN · 7", "cppn", 7)
    second = item.make_layer()
    assert second.id != first.id and second.pixels is not first.pixels  # applied again: a copy of its own
    assert np.array_equal(second.pixels, first.pixels)
    assert item.made == [first.id, second.id]


def test_applied_means_a_layer_it_made_is_in_the_document():
    item = staged()
    layers: list[Layer] = [Layer("other", picture())]
    assert not item.applied(layers)
    layer = item.make_layer()
    layers.append(layer)
    assert item.applied(layers)
    layers.remove(layer)  # an undo took it away
    assert not item.applied(layers)


def test_a_picture_painted_over_on_the_canvas_is_let_go():
    item = staged()
    layer = item.make_layer()
    assert item.picture() is layer.pixels
    layer.pixels[0, 0] = (255, 0, 0, 255)
    layer.touch()  # what every in-place change of a layer's pixels reports
    assert item.picture() is None and item.make_layer() is None
    assert item.thumbnail is not None and item.params["seed"] == 1  # still shown and reusable


def test_a_layer_whose_pixels_were_replaced_leaves_the_picture_alone():
    item = staged()
    layer = item.make_layer()
    original = item.pixels
    layer.set_pixels(picture(value=3))  # e.g. an image resize gives the layer a new array
    assert item.picture() is original and original[0, 0, 0] == 1


def test_adopt_watches_a_layer_made_elsewhere():
    item = staged()
    layer = Layer(item.name, item.pixels, id=item.layer_id)
    item.adopt(layer)
    assert item.applied([layer])
    layer.touch()
    assert item.picture() is None


def test_the_oldest_go_first_those_on_the_canvas_before_the_others():
    results = StagedResults(capacity=3)
    items = [staged(seed) for seed in range(5)]
    on_canvas = [items[1].make_layer()]
    assert results.add(items[0], on_canvas) == [] and results.add(items[1], on_canvas) == [] and results.add(items[2], on_canvas) == []
    assert results.add(items[3], on_canvas) == [items[1]]  # on the canvas: nothing is lost with it
    assert results.add(items[4], on_canvas) == [items[0]]  # then the oldest
    assert list(results) == items[2:] and len(results) == 3


def test_remove_and_clear():
    results = StagedResults()
    first, second = staged(1), staged(2)
    results.add(first)
    results.add(second)
    results.remove(first)
    results.remove(first)  # twice is harmless
    assert list(results) == [second] and results.index(second) == 0
    results.clear()
    assert len(results) == 0
