"""Upscaling: the tiled super-resolution run against the untiled one, the plain resize, and bad models.

The models are tiny random graphs shaped like Real-ESRGAN's public ONNX exports
(tests/fixtures/upscale/build_models.py); the reference is onnxruntime running the same graph
on the whole picture at once.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

import studio
from studio.core.engine.generators import Preview, Progress, check_generator
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.engine.runtime import Runtime
from studio.core.image.tiling import TileBlender, TileGrid, output_size, tile_starts
from studio.core.models.loaders import find_loader, load_folder
from studio.errors import StudioError
from studio_plugins.upscale.generator import run_tile
from studio_plugins.upscale.loader import SuperResolutionLoader
from studio_plugins.upscale.model import read_graph
from studio_plugins.upscale.resize import ResizeGenerator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "upscale"
MODELS = FIXTURES / "models"
# The builder by its path, under a name of its own: other fixture folders have a build_models.py too.
_spec = importlib.util.spec_from_file_location("upscale_fixture_builder", FIXTURES / "build_models.py")
_builder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_builder)
sr_model = _builder.sr_model

X4 = MODELS / "RealESRGAN_x4plus" / "RealESRGAN_x4plus.onnx"
X2 = MODELS / "realesr-x2-compact" / "realesr-x2-compact.onnx"
FIXED = MODELS / "RealESRGAN_x2_fixed32" / "RealESRGAN_x2_fixed32.onnx"
FP16 = MODELS / "RealESRGAN_x4_fp16" / "RealESRGAN_x4_fp16.onnx"


@pytest.fixture(scope="module")
def runtime():
    return Runtime(cpu_threads=1)


@pytest.fixture(scope="module")
def runner(runtime):
    runner = JobRunner(runtime)
    yield runner
    runner.shutdown()


def picture(width: int, height: int, seed: int = 0, alpha: bool = False) -> np.ndarray:
    """A picture with structure at every scale: smooth gradients and noise."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    rgb = np.stack([xs / width, ys / height, 0.5 + 0.5 * np.sin(xs / 3.0 + ys / 5.0)], axis=2)
    rgb = np.clip(rgb * 200 + rng.integers(0, 55, (height, width, 3)), 0, 255).astype(np.uint8)
    a = (np.clip(xs / width * 300, 0, 255) if alpha else np.full((height, width), 255)).astype(np.uint8)
    return np.concatenate([rgb, a[..., None]], axis=2)


def direct(runtime, path: Path):
    """The graph's facts and a run function on a plain onnxruntime session (no tiling)."""
    loaded = runtime.session(path)
    graph = read_graph(loaded, lambda s, outputs, feeds: s.session.run(outputs, feeds), path)
    return graph, lambda feeds: loaded.session.run([graph.output_name], feeds)[0]


def untiled(runtime, path: Path, rgb: np.ndarray) -> np.ndarray:
    graph, run = direct(runtime, path)
    batch = (rgb.transpose(2, 0, 1)[None].astype(np.float32) / 255).astype(graph.input_type)
    return np.clip(run({graph.input_name: batch})[0].astype(np.float32).transpose(1, 2, 0), 0, 1)


def tiled(runtime, path: Path, rgb: np.ndarray, tile: int, overlap: int, reference_path: Path | None = None):
    graph, run = direct(runtime, path)
    size = graph.fixed_size or (tile, tile)
    grid = TileGrid.make(rgb.shape[1], rgb.shape[0], size, overlap)
    blender = TileBlender(grid, graph.scale, 3, np.float32)
    for part in grid:
        blender.add(part, run_tile(rgb[part.y:part.y + part.height, part.x:part.x + part.width], graph, run))
    return blender.result(), grid, graph.scale


# -- the grid ---------------------------------------------------------------------------------


def test_tiles_cover_the_picture_whole_and_overlap_at_least_as_asked():
    for length, tile, overlap in [(75, 32, 8), (64, 32, 8), (33, 32, 8), (1000, 256, 16), (32, 32, 0), (20, 32, 8)]:
        starts = tile_starts(length, tile, overlap)
        size = min(tile, length)
        assert starts[0] == 0 and starts[-1] + size == length
        assert all(b - a <= size - overlap for a, b in zip(starts, starts[1:])), (length, starts)
        assert all(b > a for a, b in zip(starts, starts[1:]))


def test_the_grid_refuses_an_overlap_of_half_a_tile_in_plain_words():
    with pytest.raises(StudioError, match="overlap"):
        TileGrid.make(100, 100, 32, 16)


def test_feathered_weights_in_an_overlap_add_up_to_one():
    grid = TileGrid.make(75, 53, 32, 8)
    scale = 2
    total = np.zeros((53 * scale, 75 * scale), np.float32)
    for part in grid:
        wy, wx = grid.weights(part, scale)
        total[part.y * scale:(part.y + part.height) * scale, part.x * scale:(part.x + part.width) * scale] += wy[:, None] * wx[None, :]
    assert np.allclose(total, 1.0, atol=1e-6)


# -- parity: tiled vs untiled -------------------------------------------------------------------


@pytest.mark.parametrize("path, tile, overlap", [(X4, 32, 8), (X2, 32, 8), (X2, 48, 12)])
def test_tiled_output_equals_the_untiled_one_away_from_seams(runtime, path, tile, overlap):
    rgb = picture(75, 53)[..., :3]  # not a multiple of the tile either way
    reference = untiled(runtime, path, rgb)
    blended, grid, scale = tiled(runtime, path, rgb, tile, overlap)
    assert len(grid) >= 4 and blended.shape == reference.shape
    seams = grid.seams(scale)
    assert seams.any() and (~seams).any()
    away, on = np.abs(blended - reference)[~seams].max(), np.abs(blended - reference)[seams].max()
    print(f"{path.stem}: tile {tile}, overlap {overlap}: max |tiled - untiled| away from seams {away:.2e}, on seams {on:.2e}")
    assert away <= 1e-3
    assert on <= 2e-2


def test_a_fixed_size_model_runs_at_its_size_and_matches_the_same_graph_untiled(runtime, tmp_path):
    dynamic = tmp_path / "RealESRGAN_x2_dynamic.onnx"
    onnx.save(sr_model(scale=2, style="compact", seed=3), str(dynamic))  # FIXED's weights, any size
    rgb = picture(75, 53, seed=1)[..., :3]
    blended, grid, scale = tiled(runtime, FIXED, rgb, 999, 8)
    assert (grid.tile_width, grid.tile_height) == (32, 32) and scale == 2
    reference = untiled(runtime, dynamic, rgb)
    seams = grid.seams(scale)
    assert np.abs(blended - reference)[~seams].max() <= 1e-3
    assert np.abs(blended - reference)[seams].max() <= 2e-2
    # a picture smaller than the model's input: padded to 32 x 32, cut back
    small, grid, _ = tiled(runtime, FIXED, rgb[:20, :27], 999, 8)
    assert small.shape == (40, 54, 3) and len(grid) == 1


def test_an_fp16_model_is_fed_half_floats_and_gives_what_its_fp32_twin_gives(runtime, tmp_path):
    twin = tmp_path / "RealESRGAN_x4_fp32.onnx"
    onnx.save(sr_model(scale=4, style="rrdb", seed=4), str(twin))
    rgb = picture(40, 30, seed=2)[..., :3]
    half, _, _ = tiled(runtime, FP16, rgb, 32, 8)
    full = untiled(runtime, twin, rgb)
    assert np.abs(half - full).max() < 2e-2


# -- the generators, run as jobs ------------------------------------------------------------------


def run_job(runner, generator, cancel_at: int | None = None, previews: list | None = None, **values):
    events = []
    job_box = {}
    lock = threading.Lock()

    def listen(job, event):
        with lock:
            events.append(event)
            if previews is not None and isinstance(event, Preview):
                previews.append(event.value)
        if cancel_at is not None and isinstance(event, Progress) and event.step == cancel_at:
            job.cancel()

    job = runner.submit(generator, generator.request(values), listeners=[listen])
    job_box["job"] = job
    assert job.wait(60), "the job did not end"
    return job, [e for e in events if isinstance(e, Progress)]


def model_generator(path: Path):
    entry = load_folder(path.parent, [SuperResolutionLoader()])
    assert entry.ok, entry.error
    check_generator(entry.generator)
    return entry.generator


def test_the_loader_recognises_real_esrgan_folders_and_not_other_layouts(tmp_path):
    for path in (X4, X2, FIXED, FP16):
        assert SuperResolutionLoader().detect(path.parent), path
    for name in ("realesr-general-x4v3", "4xNomos8kSC", "4x-UltraSharp", "2x_AnimeJaNai", "SwinIR-M"):
        folder = tmp_path / "named" / name
        folder.mkdir(parents=True)
        shutil.copy(X4, folder / f"{name}.onnx")
        assert SuperResolutionLoader().detect(folder), name
    for name in ("max4", "model", "gpt2-x"):
        folder = tmp_path / "unnamed" / name
        folder.mkdir(parents=True)
        shutil.copy(X4, folder / "model.onnx")
        assert not SuperResolutionLoader().detect(folder), name
    lm = tmp_path / "some-lm"
    lm.mkdir()
    shutil.copy(X4, lm / "model.onnx")
    assert not SuperResolutionLoader().detect(lm)  # nothing says it is an upscaler
    (lm / "model.onnx").rename(lm / "RealESRGAN_x4plus.onnx")
    (lm / "config.json").write_text("{}")
    assert not SuperResolutionLoader().detect(lm)  # another plugin's layout


def test_an_upscale_job_gives_the_picture_four_times_larger_with_its_alpha(runner, runtime):
    generator = model_generator(X4)
    image = picture(70, 45, alpha=True)
    previews = []
    job, progress = run_job(runner, generator, previews=previews, image=image, tile=32, overlap=8)
    assert job.state is JobState.FINISHED, job.message
    result = job.result
    assert result.value.shape == (180, 280, 4) and result.value.dtype == np.uint8
    assert result.info["own_size"] is True and result.params["scale"] == 4
    # colour: the tiled float picture, rounded
    blended, grid, _ = tiled(runtime, X4, image[..., :3], 32, 8)
    assert np.abs(result.value[..., :3].astype(np.float32) / 255 - blended).max() <= 0.5 / 255 + 1e-6
    # alpha: a plain resize of the input's
    expected = np.asarray(Image.fromarray(image[..., 3], "L").resize((280, 180), Image.Resampling.LANCZOS))
    assert np.array_equal(result.value[..., 3], expected)
    steps = [p.step for p in progress]
    assert steps[-1] == len(grid) == progress[-1].total and steps == sorted(steps)
    # each finished row of tiles is shown, at the input's scale: the final rows so far, opaque
    assert len(previews) == len(grid.ys) - 1
    for preview in previews:
        assert preview.dtype == np.uint8 and preview.shape[1] == 70 and preview[..., 3].min() == 255
        assert np.array_equal(preview[..., :3], result.value[:preview.shape[0] * 4:4, ::4, :3])


def test_a_fixed_size_model_cuts_an_overlap_too_large_for_its_tiles_and_says_so(runner):
    job, _ = run_job(runner, model_generator(FIXED), image=picture(70, 40), tile=256, overlap=16)  # the defaults
    assert job.state is JobState.FINISHED, job.message
    assert job.result.value.shape == (80, 140, 4)
    assert job.result.info["notes"] == ["This model takes 32 × 32 tiles only: the overlap was cut to 15 pixels."]


def test_cancel_between_tiles_stops_the_upscale_at_once(runner):
    generator = model_generator(X2)
    job, progress = run_job(runner, generator, cancel_at=2, image=picture(120, 90), tile=32, overlap=8)
    assert job.state is JobState.CANCELLED and job.result is None
    assert max(p.step for p in progress) == 2 and progress[-1].total > 4  # no tile ran after the cancel


def test_the_plain_resize_needs_no_model_and_keeps_transparent_colour_out_of_edges(runner):
    generator = ResizeGenerator()
    check_generator(generator)
    image = np.full((21, 33, 4), 128, np.uint8)
    image[..., 3] = 255
    image[:, :5] = (255, 0, 0, 0)  # hidden colour under transparency, which must not bleed
    job, _ = run_job(runner, generator, image=image, scale="4x")
    assert job.state is JobState.FINISHED, job.message
    value = job.result.value
    assert value.shape == (84, 132, 4) and job.result.info["own_size"] is True
    visible = value[..., 3] > 128  # (8-bit premultiplied colour is coarse where alpha is low)
    red = value[..., 0].astype(int) - value[..., 1]
    assert np.abs(red[visible]).max() <= 3  # grey stays grey at its edge (Lanczos rings, but in grey)
    straight = [np.asarray(Image.fromarray(image[..., c], "L").resize((132, 84), Image.Resampling.LANCZOS)) for c in (0, 1)]
    assert (straight[0].astype(int) - straight[1])[visible].max() > 20  # channels resized alone turn it red


def test_a_result_beyond_studios_picture_limit_is_refused_in_plain_words(runner):
    with pytest.raises(StudioError, match="16384 pixels a side"):
        output_size(8192, 10, 4)
    job, _ = run_job(runner, ResizeGenerator(), image=np.zeros((4, 4100, 4), np.uint8), scale="4x")
    assert job.state is JobState.FAILED and not job.internal_error
    assert "16384 pixels a side" in job.message


def test_an_output_the_machine_cannot_hold_is_refused_before_it_is_allocated(tmp_path):
    """Under an address-space limit, a 4096 x 4096 picture at 4x (1 GB of output, plus the band of
    float sums) is refused by the blender's memory check, not by a MemoryError or the OOM killer."""
    script = (
        "import resource, numpy as np\n"
        "from studio.core.image.tiling import TileBlender, TileGrid\n"
        "from studio.errors import StudioError\n"
        "size = int(open('/proc/self/status').read().split('VmSize:')[1].split()[0]) * 1024\n"
        "resource.setrlimit(resource.RLIMIT_AS, (size + 300 * 2**20, resource.RLIM_INFINITY))\n"
        "try:\n"
        "    TileBlender(TileGrid.make(4096, 4096, 256, 16), 4)\n"
        "except StudioError as exc:\n"
        "    print('refused:', exc)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert run.returncode == 0, run.stderr
    assert "refused:" in run.stdout and "16384 × 16384" in run.stdout and "free" in run.stdout, run.stdout


# -- bad models ---------------------------------------------------------------------------------


def bad_folder(tmp_path: Path, model: onnx.ModelProto | bytes, name: str = "RealESRGAN_x4_bad") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    path = folder / f"{name}.onnx"
    if isinstance(model, bytes):
        path.write_bytes(model)
    else:
        onnx.save(model, str(path))
    return folder


@pytest.mark.parametrize("model, words", [
    (sr_model(extra_input=True), "takes 2 inputs"),
    (sr_model(channels=1, style="compact"), "(1, 3, height, width)"),
    (sr_model(scale=5, style="rrdb"), "upscales by 2x, 3x, 4x, 8x"),
    (sr_model(scale=1, style="compact"), "turns 16 × 16 pixels into 16 × 16"),
    (sr_model(scale=2, style="compact", fixed=100_000), "no upscaler tile is that large"),
])
def test_a_graph_that_is_no_upscaler_fails_its_job_in_plain_words(runner, tmp_path, model, words):
    generator = load_folder(bad_folder(tmp_path, model), [SuperResolutionLoader()]).generator
    job, _ = run_job(runner, generator, image=picture(20, 20), tile=32, overlap=8)
    assert job.state is JobState.FAILED and not job.internal_error, job.message
    assert words in job.message, job.message


def test_a_damaged_or_hostile_model_file_is_refused_before_onnxruntime_reads_it(runner, tmp_path):
    # cut short, as an interrupted download leaves it
    damaged = bad_folder(tmp_path, X4.read_bytes()[:3000], "RealESRGAN_x4_cut")
    job, _ = run_job(runner, load_folder(damaged, [SuperResolutionLoader()]).generator, image=picture(8, 8), tile=32, overlap=0)
    assert job.state is JobState.FAILED and not job.internal_error, job.message
    # its weights said to lie outside the folder
    model = sr_model()
    tensor = model.graph.initializer[0]
    onnx.external_data_helper.set_external_data(tensor, location="../../etc/passwd")
    tensor.ClearField("raw_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    hostile = bad_folder(tmp_path, model, "RealESRGAN_x4_outside")
    job, _ = run_job(runner, load_folder(hostile, [SuperResolutionLoader()]).generator, image=picture(8, 8), tile=32, overlap=0)
    assert job.state is JobState.FAILED and not job.internal_error, job.message
    assert "outside" in job.message or "inside" in job.message, job.message
    # and adding such a folder says so before it is kept
    from studio.core.models.loaders import check_new_folder

    with pytest.raises(studio.ModelError):
        check_new_folder(damaged, [SuperResolutionLoader()])
    assert find_loader(damaged, [SuperResolutionLoader()]).id == "upscale"


def test_an_upscale_lands_at_its_own_size_cut_to_the_selection_scaled_with_it():
    from studio.core.image.canvas_inputs import OWN_SIZE, Placement, place_result
    from studio_plugins.upscale.resize import OWN_SIZE as PLUGIN_OWN_SIZE

    assert PLUGIN_OWN_SIZE == OWN_SIZE  # the plugin says it in the words the canvas reads
    clip = np.zeros((10, 20), bool)
    clip[:, :10] = True  # the left half of a 20 x 10 box
    placement = Placement(5, 7, (20, 10), clip, False, "selection", (20, 10))
    picture_4x = np.full((40, 80, 4), 200, np.uint8)
    placed = place_result(picture_4x, placement, own_size=True)
    assert placed.shape == (40, 80, 4)
    assert placed[:, :40, 3].min() == 200 and placed[:, 40:, 3].max() == 0
    assert place_result(picture_4x, placement).shape == (10, 20, 4)  # any other result is fitted to the box
