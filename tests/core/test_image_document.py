"""The image document: layers with offsets, compositing, the mask, the frame, and reading pictures."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.engine.generators import Result
from studio.core.image.geometry import Rect
from studio.core.image.document import ImageDocument, Layer
from studio.core.media.pictures import check_canvas_size, load_picture, read_picture
from studio.core.project.outputs import write_result
from studio.core.image.selection import Selection
from studio.errors import ParamError, StudioError


def solid(width, height, rgba):
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[:] = rgba
    return pixels


def test_layers_composite_at_their_offsets_and_are_cut_at_the_canvas_edge():
    document = ImageDocument(10, 8)
    document.insert(Layer("red", solid(4, 3, (255, 0, 0, 255)), x=7, y=6), fit_canvas=False)
    out = document.composite()
    assert out.shape == (8, 10, 4)
    assert (out[6:8, 7:10] == (255, 0, 0, 255)).all()  # the part on the canvas
    assert out[:6].sum() == 0 and out[:, :7].sum() == 0  # nothing anywhere else
    beyond = document.composite(Rect(7, 6, 4, 3))  # a rectangle may reach past the canvas
    assert (beyond == (255, 0, 0, 255)).all()


def test_opacity_and_straight_alpha_blend_like_source_over():
    document = ImageDocument(2, 1)
    document.insert(Layer("blue", solid(2, 1, (0, 0, 255, 255))))
    document.insert(Layer("red", solid(2, 1, (255, 0, 0, 255)), opacity=0.5))
    half = solid(1, 1, (0, 255, 0, 128))
    document.insert(Layer("green", half, x=1))
    out = document.composite().astype(int)
    assert np.abs(out[0, 0] - (128, 0, 128, 255)).max() <= 1
    # Green at alpha 128/255 over the purple: 0.502 * green + 0.498 * purple.
    assert np.abs(out[0, 1] - (64, 128, 64, 255)).max() <= 1
    assert document.sample(1, 0) == tuple(out[0, 1])
    document.layers[1].visible = False
    assert np.abs(document.composite()[0, 0].astype(int) - (0, 0, 255, 255)).max() <= 1


def test_an_empty_canvas_takes_the_first_layer_size_only_when_nothing_placed_it():
    document = ImageDocument(512, 512)
    document.selection = Selection.everything(512, 512)
    document.insert(Layer("placed", solid(64, 32, (1, 2, 3, 255)), x=10, y=10))
    assert (document.width, document.height) == (512, 512) and document.selection is not None
    document.remove(document.layers[0])
    document.insert(Layer("kept", solid(64, 32, (1, 2, 3, 255))), fit_canvas=False)
    assert (document.width, document.height) == (512, 512)
    document.remove(document.layers[0])
    document.insert(Layer("first", solid(64, 32, (1, 2, 3, 255))))
    assert (document.width, document.height) == (64, 32)
    assert document.selection is None  # drawn on a canvas of another size: dropped


def test_move_remove_duplicate_and_names():
    document = ImageDocument(8, 8)
    a, b, c = (document.new_layer(document.unique_name("Layer")) for _ in range(3))
    for layer in (a, b, c):
        document.insert(layer)
    assert [layer.name for layer in (a, b, c)] == ["Layer 1", "Layer 1", "Layer 1"]  # made before inserting
    assert document.unique_name("Layer") == "Layer 2"
    assert document.move(a, 2) == 0 and document.layers == [b, c, a]
    assert document.remove(c) == 1 and document.layers == [b, a]
    copy = a.duplicate()
    copy.pixels[0, 0] = 9
    assert a.pixels[0, 0, 0] == 0 and copy.name == "Layer 1 copy" and copy.rect == a.rect


def test_touch_and_set_pixels_say_the_pixels_changed():
    layer = Layer("a", solid(4, 4, (0, 0, 0, 0)))
    revision = layer.revision
    layer.touch()
    layer.set_pixels(solid(2, 3, (1, 1, 1, 1)))
    assert layer.revision == revision + 2 and layer.size == (2, 3)
    with pytest.raises(ValueError):
        layer.set_pixels(np.zeros((2, 3, 3), np.uint8))


def test_mask_helpers_read_inside_and_outside_the_canvas():
    document = ImageDocument(6, 4)
    assert not document.has_mask() and document.mask_in(Rect(0, 0, 3, 3)).sum() == 0
    document.ensure_mask()[1:3, 4:6] = 200
    assert document.has_mask() and document.has_mask(Rect(4, 0, 9, 9)) and not document.has_mask(Rect(0, 0, 4, 4))
    box = document.mask_in(Rect(3, 1, 5, 2))
    assert box.tolist() == [[0, 200, 200, 0, 0], [0, 200, 200, 0, 0]]


def test_a_frame_restores_size_offsets_mask_and_selection():
    document = ImageDocument(8, 8)
    layer = Layer("a", solid(8, 8, (5, 5, 5, 255)))
    document.insert(layer)
    document.ensure_mask()[0, 0] = 255
    document.selection = Selection.rectangle(8, 8, Rect(1, 1, 2, 2))
    frame = document.save_frame()
    document.width, document.height, layer.x, layer.y = 20, 30, 4, 5
    document.mask[0, 0] = 0
    document.selection = None
    document.restore_frame(frame)
    assert (document.width, document.height, layer.x, layer.y) == (8, 8, 0, 0)
    assert document.mask[0, 0] == 255 and document.selection.bbox == Rect(1, 1, 2, 2)


@pytest.mark.parametrize("size", [(16385, 1), (1, 20000), (0, 5), (100_000, 100_000)])
def test_absurd_canvas_sizes_are_refused_in_words(size):
    with pytest.raises(StudioError, match=r"(16384 pixels a side|at least 1)"):
        check_canvas_size(*size)
    with pytest.raises(StudioError):
        ImageDocument(*size)


def test_the_largest_allowed_size_passes():
    check_canvas_size(16384, 16384)


def test_a_huge_picture_is_refused_before_it_is_decoded(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("1", (17000, 2)).save(path)  # tiny on disk, too wide to open
    with pytest.raises(StudioError, match="17000 × 2"):
        read_picture(path)
    with pytest.raises(ParamError, match="init_image: .*wide.png"):
        load_picture(path, "image", "init_image")


def test_bad_files_are_named(tmp_path):
    (tmp_path / "notes.png").write_text("hello")
    truncated = tmp_path / "cut.jpg"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(StudioError, match="notes.png is not an image"):
        read_picture(tmp_path / "notes.png")
    with pytest.raises(StudioError, match="cut.jpg could not be read: it is damaged or truncated"):
        read_picture(truncated)
    with pytest.raises(StudioError, match="no such file"):
        read_picture(tmp_path / "missing.webp")
    with pytest.raises(StudioError, match="is a folder"):
        read_picture(tmp_path)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_pictures_read_back_with_the_parameters_studio_wrote(tmp_path, suffix):
    pixels = solid(12, 8, (10, 200, 30, 255))
    params = {"prompt": "a red fox, at dusk", "seed": 7, "steps": 20}
    path = write_result(Result("image", pixels, "sd:fox", params), tmp_path / f"fox{suffix}")
    read, metadata = read_picture(path)
    assert read.shape == (8, 12, 4) and read[..., 3].min() == 255
    assert '"seed": 7' in metadata["studio"]
    assert metadata["parameters"].startswith("a red fox, at dusk\n")
