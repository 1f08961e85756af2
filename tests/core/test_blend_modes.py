"""Blend modes against the W3C compositing formulas, worked out by hand, with alpha."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.engine.generators import Result
from studio.core.image.blend import BLEND_MODES, blend, composite_onto
from studio.core.image.document import ImageDocument, Layer
from studio.core.project.outputs import write_result

BACKDROP = np.array([0.4, 0.6, 0.2, 0.64])
SOURCE = np.array([0.5, 0.25, 0.8, 0.75])

# B(Cb, Cs) for the backdrop and source colours above, channel by channel, by hand:
# multiply Cb*Cs; screen Cb+Cs-Cb*Cs; overlay 2*Cb*Cs where Cb <= .5, else 1-2(1-Cb)(1-Cs);
# soft light Cb-(1-2Cs)Cb(1-Cb) where Cs <= .5, else Cb+(2Cs-1)(D(Cb)-Cb) with
# D = ((16Cb-12)Cb+4)Cb for Cb <= .25 and sqrt(Cb) above (the last column: Cb .64, Cs .75).
EXPECTED = {
    "normal": [0.5, 0.25, 0.8, 0.75],
    "multiply": [0.2, 0.15, 0.16, 0.48],
    "screen": [0.7, 0.7, 0.84, 0.91],
    "overlay": [0.4, 0.4, 0.32, 0.82],
    "soft-light": [0.4, 0.48, 0.2 + 0.6 * (0.448 - 0.2), 0.64 + 0.5 * (0.8 - 0.64)],
}


@pytest.mark.parametrize("mode", list(BLEND_MODES))
def test_each_blend_function_gives_the_hand_computed_colours(mode):
    assert blend(mode, BACKDROP, SOURCE) == pytest.approx(EXPECTED[mode], abs=1e-9)


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="blend mode"):
        blend("dissolve", BACKDROP, SOURCE)


def pixel(r, g, b, a):
    return np.array([[[r, g, b, a]]], dtype=np.float32)


def test_multiply_with_both_half_transparent_follows_source_over_with_blending():
    backdrop = pixel(0.4, 0.4, 0.4, 0.5)
    composite_onto(backdrop, pixel(0.5, 0.5, 0.5, 1.0), opacity=0.5, mode="multiply")
    # as = .5 (opacity), ab = .5, B = .2: Cs' = .5*.5 + .5*.2 = .35; ao = .5 + .5*.5 = .75;
    # co = .5*.35 + .5*.5*.4 = .275, straight .275/.75
    assert backdrop[0, 0] == pytest.approx([0.275 / 0.75] * 3 + [0.75], abs=1e-6)


@pytest.mark.parametrize("mode", list(BLEND_MODES))
def test_over_a_transparent_backdrop_the_layer_shows_as_it_is(mode):
    backdrop = pixel(0.9, 0.1, 0.3, 0.0)
    composite_onto(backdrop, pixel(0.2, 0.5, 0.7, 0.6), mode=mode)
    assert backdrop[0, 0] == pytest.approx([0.2, 0.5, 0.7, 0.6], abs=1e-6)


@pytest.mark.parametrize("mode", list(BLEND_MODES))
def test_a_transparent_layer_leaves_the_backdrop_alone(mode):
    backdrop = pixel(0.9, 0.1, 0.3, 0.8)
    composite_onto(backdrop, pixel(0.2, 0.5, 0.7, 0.0), mode=mode)
    assert backdrop[0, 0] == pytest.approx([0.9, 0.1, 0.3, 0.8], abs=1e-6)


def test_screen_over_an_opaque_backdrop_at_half_opacity():
    backdrop = pixel(0.4, 0.6, 0.2, 1.0)
    composite_onto(backdrop, pixel(0.5, 0.25, 0.8, 1.0), opacity=0.5, mode="screen")
    # ab = 1: Cs' = B; co = .5*B + .5*Cb
    assert backdrop[0, 0] == pytest.approx([0.55, 0.65, 0.52, 1.0], abs=1e-6)


def two_layer_document(mode):
    document = ImageDocument(2, 1)
    document.insert(Layer("under", np.full((1, 2, 4), (102, 153, 51, 255), np.uint8)))
    document.insert(Layer("over", np.full((1, 2, 4), (128, 64, 204, 255), np.uint8), blend=mode))
    return document


def test_the_document_composites_each_layer_with_its_blend_mode():
    multiplied = two_layer_document("multiply").composite()
    # 102*128/255 = 51.2, 153*64/255 = 38.4, 51*204/255 = 40.8
    assert multiplied[0, 0].tolist() == [51, 38, 41, 255]
    assert two_layer_document("normal").composite()[0, 0].tolist() == [128, 64, 204, 255]
    hidden = two_layer_document("multiply")
    hidden.layers[1].visible = False
    assert hidden.composite()[0, 0].tolist() == [102, 153, 51, 255]


def test_an_export_is_the_blended_composite(tmp_path):
    from PIL import Image

    document = two_layer_document("screen")
    written = write_result(Result("image", document.composite(), "", {}), tmp_path / "out.png")
    # 102+128-102*128/255 = 178.8, 153+64-38.4 = 178.6, 51+204-40.8 = 214.2
    assert np.asarray(Image.open(written).convert("RGBA"))[0, 0].tolist() == [179, 179, 214, 255]


def test_a_duplicate_keeps_the_blend_mode():
    layer = Layer("a", np.zeros((1, 1, 4), np.uint8), blend="overlay")
    assert layer.duplicate().blend == "overlay"


# -- the project file --------------------------------------------------------------------------------


def saved_with_blends(tmp_path, *modes):
    from studio.core.project.format import Project
    from studio.core.project.save import save_project

    document = ImageDocument(2, 1)
    for n, mode in enumerate(modes):
        document.insert(Layer(f"l{n}", np.full((1, 2, 4), 60 * n, np.uint8), blend=mode), fit_canvas=False)
    return save_project(Project(image=document), tmp_path / "blend.studio").read_bytes()


def with_canvas(data, edit):
    """The saved project with its canvas.json's layer records changed by ``edit``."""
    import io
    import json
    import zipfile

    from test_project_samples import rebuild

    record = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("canvas.json"))
    edit(record["layers"])
    body = json.dumps(record).encode()
    # The manifest lists each member's size: the changed canvas.json is listed as it now is.
    return rebuild(data, lambda name, old: body if name == "canvas.json" else old,
                   manifest=lambda m: {**m, "members": {**m["members"], "canvas.json": len(body)}})


def test_every_blend_mode_is_saved_and_loaded(tmp_path):
    from studio.core.project.load import read_project

    loaded = read_project(saved_with_blends(tmp_path, *BLEND_MODES))
    assert [layer.blend for layer in loaded.project.image.layers] == list(BLEND_MODES) and not loaded.problems


def test_a_project_from_before_blend_modes_opens_with_normal_layers(tmp_path):
    from studio.core.project.load import read_project

    data = with_canvas(saved_with_blends(tmp_path, "multiply", "screen"), lambda layers: [layer.pop("blend") for layer in layers])
    loaded = read_project(data)
    assert [layer.blend for layer in loaded.project.image.layers] == ["normal", "normal"] and not loaded.problems


@pytest.mark.parametrize("hostile", ["dissolve", "<b>bold</b>" * 40, 42, None, ["multiply"]])
def test_an_unknown_or_hostile_blend_mode_loads_as_normal_and_says_so(tmp_path, hostile):
    from studio.core.project.load import read_project

    def spoil(layers):
        layers[1]["blend"] = hostile

    loaded = read_project(with_canvas(saved_with_blends(tmp_path, "multiply", "screen"), spoil))
    assert [layer.blend for layer in loaded.project.image.layers] == ["multiply", "normal"]
    assert len(loaded.problems) == 1 and "blend mode" in loaded.problems[0] and "“l1”" in loaded.problems[0]
    assert len(loaded.problems[0]) < 200  # a long value is cut, not repeated whole
