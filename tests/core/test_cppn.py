"""The built-in CPPN generator, run for real through the job runner on the shipped model."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from studio.core.engine.generators import Preview, Progress, Result, check_generator
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.models.loaders import find_loader, load_folder
from studio.core.base.paths import builtin_models
from studio.core.engine.runtime import Runtime
from studio.errors import ModelError, ParamError
from studio_plugins.cppn import generator as cppn
from studio_plugins.cppn.generator import COLOUR_MODES, PREVIEW_SIDE, CPPNGenerator, CPPNLoader, to_colour

FOLDER = builtin_models() / "cppn"


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner(Runtime())
    yield runner
    runner.shutdown()


@pytest.fixture(scope="module")
def generator():
    return CPPNGenerator(FOLDER)


def render(runner, generator, **values):
    """Run one job; return (image, events of the generator)."""
    events: list = []
    lock = threading.Lock()

    def listen(job, event):
        with lock:
            events.append(event)

    job = runner.submit(generator, generator.request(values), listeners=[listen])
    assert job.wait(60), "render did not finish"
    assert job.state is JobState.FINISHED, job.message
    return job.result.value, [e for e in events if isinstance(e, (Progress, Preview, Result))]


def test_the_builtin_generator_meets_the_contract(generator):
    check_generator(generator)
    assert generator.id == "cppn" and generator.kind == "image"
    assert generator.title == "CPPN abstract art"
    assert generator.model_path.is_file()
    assert [p.name for p in generator.params] == ["seed", "width", "height", "scale", "complexity", "colour_mode", "batch_count", "latent"]


def test_same_seed_and_params_give_identical_pixels(runner, generator):
    one, _ = render(runner, generator, seed=1234, width=48, height=40, scale=3.0, complexity=2.0)
    two, _ = render(runner, generator, seed=1234, width=48, height=40, scale=3.0, complexity=2.0)
    assert np.array_equal(one, two)
    # and a fresh generator on a fresh runtime agrees (nothing hidden in a cache)
    fresh = JobRunner(Runtime())
    try:
        three, _ = render(fresh, CPPNGenerator(FOLDER), seed=1234, width=48, height=40, scale=3.0, complexity=2.0)
    finally:
        fresh.shutdown()
    assert np.array_equal(one, three)


def test_the_result_records_what_reproduces_it(runner, generator):
    image, events = render(runner, generator, width=32, height=32)  # seed left to chance
    result = events[-1]
    assert isinstance(result, Result)
    assert result.generator == "cppn" and result.kind == "image"
    seed = result.params["seed"]
    assert isinstance(seed, int)
    again, _ = render(runner, generator, **result.params)
    assert np.array_equal(image, again)
    assert result.info["provider"] == "CPUExecutionProvider"
    assert result.info["device"] == "cpu"


def test_a_batch_yields_one_result_per_picture_seeds_counting_up(runner, generator):
    _, events = render(runner, generator, seed=40, width=24, height=16, batch_count=3)
    results = [e for e in events if isinstance(e, Result)]
    assert [r.params["seed"] for r in results] == [40, 41, 42]
    assert all(r.params["batch_count"] == 1 for r in results)  # each one's parameters make it alone
    for result in results:
        alone, _ = render(runner, generator, **result.params)
        assert np.array_equal(result.value, alone)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].step == progress[-1].total and progress[0].total == progress[-1].total
    assert [p.step for p in progress] == sorted(p.step for p in progress)  # one bar across the batch
    assert "Image 3 of 3" in progress[-1].message


def test_different_seeds_give_different_pictures(runner, generator):
    images = [render(runner, generator, seed=seed, width=64, height=64)[0] for seed in (1, 2, 3)]
    for i in range(3):
        for j in range(i + 1, 3):
            difference = np.abs(images[i].astype(int) - images[j].astype(int))[..., :3].mean()
            assert difference > 8, f"seeds {i + 1} and {j + 1} look alike (mean difference {difference:.1f})"


def test_the_picture_is_not_flat(runner, generator):
    image, _ = render(runner, generator, seed=7, width=64, height=64)
    assert image[..., :3].std() > 10


@pytest.mark.parametrize("width, height", [(17, 33), (33, 17), (16, 16), (101, 29)])
def test_output_is_rgba_uint8_of_the_asked_size(runner, generator, width, height):
    image, _ = render(runner, generator, seed=3, width=width, height=height)
    assert image.shape == (height, width, 4)
    assert image.dtype == np.uint8
    assert (image[..., 3] == 255).all()
    assert image.flags.c_contiguous


def test_a_wider_canvas_shows_more_of_the_same_picture_never_stretched(runner, generator):
    square, _ = render(runner, generator, seed=11, width=32, height=32)
    wide, _ = render(runner, generator, seed=11, width=64, height=32)
    tall, _ = render(runner, generator, seed=11, width=32, height=64)
    assert np.abs(wide[:, 16:48].astype(int) - square).max() <= 1
    assert np.abs(tall[16:48].astype(int) - square).max() <= 1


def test_a_larger_render_is_the_same_picture_in_more_detail(runner, generator):
    for seed in (5, 6):
        small, _ = render(runner, generator, seed=seed, width=32, height=32)
        large, _ = render(runner, generator, seed=seed, width=64, height=64)
        # Each 2x2 block of the large render is centred on a pixel of the small one.
        down = large.reshape(32, 2, 32, 2, 4).astype(float).mean(axis=(1, 3))
        error = np.abs(down - small)[..., :3].mean()
        other = render(runner, generator, seed=seed + 100, width=32, height=32)[0]
        unrelated = np.abs(other.astype(float) - small)[..., :3].mean()
        assert error < 3, f"seed {seed}: the 64 px render does not match the 32 px one ({error:.2f})"
        assert error < unrelated / 5


def test_the_centre_colour_is_the_same_at_every_size(runner, generator):
    centres = {render(runner, generator, seed=9, width=s, height=s)[0][s // 2, s // 2].tobytes() for s in (17, 33, 65)}
    assert len(centres) == 1


@pytest.mark.parametrize("mode", COLOUR_MODES)
def test_every_colour_mode_renders(runner, generator, mode):
    image, _ = render(runner, generator, seed=21, width=40, height=24, colour_mode=mode)
    assert image.shape == (24, 40, 4) and (image[..., 3] == 255).all()
    rgb = image[..., :3].astype(int)
    grey = (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    assert grey == (mode == "grayscale")
    assert rgb.std() > 5


def test_colour_modes_differ(runner, generator):
    images = {m: render(runner, generator, seed=21, width=32, height=32, colour_mode=m)[0] for m in COLOUR_MODES}
    assert not np.array_equal(images["colour"], images["hsv"])
    assert not np.array_equal(images["colour"], images["grayscale"])


def test_an_unknown_colour_mode_is_refused_before_running(generator):
    with pytest.raises(ParamError, match="colour_mode: 'sepia' is not one of colour, grayscale, hsv"):
        generator.request({"colour_mode": "sepia"})


def test_complexity_changes_the_picture(runner, generator):
    plain, _ = render(runner, generator, seed=4, width=32, height=32, complexity=1.0)
    busy, _ = render(runner, generator, seed=4, width=32, height=32, complexity=6.0)
    assert not np.array_equal(plain, busy)


def test_to_colour_maps_the_unit_range_to_bytes():
    rgb = np.array([[0.0, 0.5, 1.0], [1.0, 1.0, 1.0], [-0.2, 1.3, 0.25]], dtype=np.float32)
    assert to_colour(rgb, "colour").tolist() == [[0, 128, 255], [255, 255, 255], [0, 255, 64]]
    grey = to_colour(rgb[:2], "grayscale")
    assert grey.tolist() == [[104, 104, 104], [255, 255, 255]]  # 0.587 * 0.5 + 0.114 = 0.4075
    # hue 0, full saturation and value: pure red
    assert to_colour(np.array([[0.0, 1.0, 1.0]], dtype=np.float32), "hsv").tolist() == [[255, 0, 0]]
    assert to_colour(rgb, "hsv").dtype == np.uint8


# -- progress and previews -------------------------------------------------------------------


def test_progress_totals_are_consistent_and_previews_small(runner, generator):
    width, height = 1024, 600  # over BAND_PIXELS: rendered in several bands
    image, events = render(runner, generator, seed=8, width=width, height=height)
    progress = [e for e in events if isinstance(e, Progress) and e.total > 0]
    previews = [e for e in events if isinstance(e, Preview)]
    bands = -(-height // max(1, cppn.BAND_PIXELS // width))
    assert bands > 1
    assert [(p.step, p.total) for p in progress] == [(i, bands) for i in range(1, bands + 1)]
    assert progress[-1].fraction == 1.0
    assert progress[-1].message == f"{height} of {height} rows"
    assert len(previews) == bands
    for preview in previews:
        assert preview.kind == "image"
        assert preview.value.dtype == np.uint8 and preview.value.ndim == 3 and preview.value.shape[2] == 4
        assert max(preview.value.shape[:2]) <= PREVIEW_SIDE
    heights = [p.value.shape[0] for p in previews]
    assert heights == sorted(heights) and heights[0] < heights[-1]  # each preview shows more rows
    last = previews[-1].value
    step = -(-width // PREVIEW_SIDE)
    assert np.array_equal(last, image[::step, ::step])
    assert isinstance(events[-1], Result)


def test_a_small_render_is_one_band(runner, generator):
    _, events = render(runner, generator, seed=8, width=64, height=48)
    progress = [e for e in events if isinstance(e, Progress) and e.total > 0]
    assert [(p.step, p.total) for p in progress] == [(1, 1)]
    previews = [e for e in events if isinstance(e, Preview)]
    assert len(previews) == 1 and previews[0].value.shape == (48, 64, 4)


# -- the model folder --------------------------------------------------------------------------


@pytest.fixture
def copied(tmp_path):
    folder = tmp_path / "my-cppn"
    shutil.copytree(FOLDER, folder)
    return folder


def test_the_loader_detects_the_builtin_folder():
    loader = CPPNLoader()
    assert loader.detect(FOLDER)
    assert find_loader(FOLDER, [loader]) is loader


def test_the_loader_ignores_other_folders(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"")
    assert not CPPNLoader().detect(tmp_path)


def test_the_loader_loads_a_copied_folder_under_its_own_id(copied, runner):
    entry = load_folder(copied, [CPPNLoader()])
    assert entry.ok, entry.error
    assert entry.generator.id == "cppn:my-cppn"
    assert entry.generator.title == "CPPN (my-cppn)"
    original, _ = render(runner, CPPNGenerator(FOLDER), seed=2, width=24, height=24)
    copy, _ = render(runner, entry.generator, seed=2, width=24, height=24)
    assert np.array_equal(original, copy)


def test_a_folder_without_its_model_is_a_model_error(copied):
    (copied / "model.onnx").unlink()
    entry = load_folder(copied, [CPPNLoader()])
    assert not entry.ok
    assert entry.error == f"{copied.resolve()} has cppn.json but no model.onnx"


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"{not json", "is not a readable CPPN description"),
        (b"\xff\xfe\x00garbage", "is not a readable CPPN description"),
        (b"[1, 2, 3]", "does not describe a CPPN model"),
        (json.dumps({"format": "something-else", "latent_dim": 8}).encode(), "does not describe a CPPN model"),
        (json.dumps({"format": "studio-cppn"}).encode(), "latent_dim must be a whole number"),
        (json.dumps({"format": "studio-cppn", "latent_dim": 0}).encode(), "latent_dim must be a whole number"),
        (json.dumps({"format": "studio-cppn", "latent_dim": "8"}).encode(), "latent_dim must be a whole number"),
        (json.dumps({"format": "studio-cppn", "latent_dim": 8.5}).encode(), "latent_dim must be a whole number"),
    ],
)
def test_a_corrupt_cppn_json_is_a_model_error(copied, content, fragment):
    (copied / "cppn.json").write_bytes(content)
    with pytest.raises(ModelError) as caught:
        CPPNGenerator(copied)
    assert fragment in str(caught.value)
    assert str(copied / "cppn.json") in str(caught.value)
    entry = load_folder(copied, [CPPNLoader()])  # and through the loader, captured, not raised
    assert not entry.ok and fragment in entry.error


def test_a_missing_cppn_json_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="is not a readable CPPN description"):
        CPPNGenerator(tmp_path)


def test_a_damaged_model_fails_the_job_with_a_plain_message(copied, runner):
    (copied / "model.onnx").write_bytes(b"\x00" * 100)
    generator = CPPNGenerator(copied, "cppn:damaged")
    job = runner.submit(generator, generator.request({"width": 16, "height": 16}))
    assert job.wait(30)
    assert job.state is JobState.FAILED
    assert "could not be loaded; it is damaged, truncated or not an ONNX model" in job.message
    assert "internal error" not in job.message
