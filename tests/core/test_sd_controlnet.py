"""ControlNet against diffusers' StableDiffusionControlNet(Img2Img)Pipeline on the tiny
sd1_controlnet fixture: the same weights, the same recorded noise, images within 1e-3.

The goldens (tests/fixtures/sd/goldens/cn_*.npz) were made by diffusers
(build_controlnet.py), never by this code.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio_plugins.stable_diffusion.control_params import control_graphs
from studio_plugins.stable_diffusion.controlnet import control_keep, residual_names
from studio_plugins.stable_diffusion.generator import StableDiffusionGenerator
from studio_plugins.stable_diffusion.images import float_to_rgba
from studio_plugins.stable_diffusion.layout import SDModel
from studio_plugins.stable_diffusion.noise import RecordedNoise
from studio_plugins.stable_diffusion.optimize import optimized_unet
from studio_plugins.stable_diffusion.pipeline import Pipeline, Settings
from test_sd_parity import DEVICE, FIXTURES, TOLERANCE, Replay, rgba

MANIFEST = json.loads((FIXTURES / "goldens" / "controlnet_manifest.json").read_text())
CASES = sorted(name for name in MANIFEST if not name.startswith(("_", "cn_xl_")))  # SDXL's: its own test
MODEL = FIXTURES / "models" / "sd1_controlnet"


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


def run_job(runner, generator):
    job = runner.submit(generator, generator.request({}), DEVICE)
    assert job.wait(120), "the pipeline did not finish"
    return job


class GraphsReplay(Replay):
    """Replay with the graphs a generator's request chose (control_params.control_graphs)."""

    def __init__(self, model, settings, noise, graphs) -> None:
        super().__init__(model, settings, noise)
        self.graphs = graphs

    def generate(self, request, ctx):
        output = yield from Pipeline(self.model, ctx, self.graphs).run(self.settings, self.noise)
        yield studio.Result("image", float_to_rgba(output.image), self.id, {}, info={"image": output.image})


def replay(case: str, runner, fused_cache=None, control=True, folder=MODEL, controlnet_model=""):
    spec = MANIFEST[case]
    data = np.load(FIXTURES / "goldens" / f"{case}.npz")
    model = SDModel.read(folder)
    model.scheduler_config = dict(spec["scheduler_config"])
    draws = ([data["latents"]] if spec["mode"] == "txt2img" else []) + [data[f"noise_{i}"] for i in range(len(spec["noise_draws"]))]
    noise = RecordedNoise(draws)
    settings = Settings(
        prompt=spec["prompt"], negative_prompt=spec["negative_prompt"], width=spec["width"], height=spec["height"],
        steps=spec["steps"], guidance=spec["guidance_scale"], strength=spec["strength"] or 1.0, scheduler=spec["scheduler"],
        init_image=rgba(data["init_image"]) if "init_image" in data else None, mask=data["mask"] if "mask" in data else None,
        control_image=rgba(data["control_image"]) if control else None, control_strength=spec["controlnet_conditioning_scale"],
        control_start=spec["control_guidance_start"], control_end=spec["control_guidance_end"],
    )
    if folder != MODEL:  # the graphs the generator would run for this request
        values = {"control_image": settings.control_image, **({"controlnet_model": controlnet_model} if controlnet_model else {})}
        graphs = control_graphs(model, model.graphs(), StableDiffusionGenerator(model, "sd:x").request(values))
        job = run_job(runner, GraphsReplay(model, settings, noise, graphs))
    else:
        unet = optimized_unet(model.path("unet"), fused_cache) if fused_cache else None
        job = run_job(runner, Replay(model, settings, noise, unet))
    assert job.state is JobState.FINISHED, job.message
    return job.result.info["image"], data["image"], noise


@pytest.mark.parametrize("case", CASES)
def test_controlnet_matches_diffusers(case, runner):
    image, golden, noise = replay(case, runner)
    difference = float(np.abs(image - golden).max())
    print(f"{case}: max abs difference {difference:.2e}")
    assert difference <= TOLERANCE, f"{case}: max abs difference {difference:.2e} > {TOLERANCE}"
    assert noise.remaining == 0


def test_the_fused_cpu_unet_keeps_the_residual_inputs(runner, tmp_path):
    image, golden, _ = replay("cn_txt2img_euler", runner, tmp_path / "fused")
    assert float(np.abs(image - golden).max()) <= TOLERANCE


def test_without_a_control_picture_the_unet_gets_zero_residuals(runner):
    """The residual-taking UNet has sd1's weights: with zeros it paints sd1's golden exactly."""
    image, _, _ = replay("cn_off_txt2img_euler", runner, control=False)
    sd1 = np.load(FIXTURES / "goldens" / "sd1_txt2img_euler.npz")["image"]
    assert float(np.abs(image - sd1).max()) <= TOLERANCE


def test_the_control_picture_changes_the_image():
    """The goldens are not blind to the ControlNet: it moves diffusers' image far past 1e-3."""
    on = np.load(FIXTURES / "goldens" / "cn_txt2img_euler.npz")["image"]
    off = np.load(FIXTURES / "goldens" / "cn_off_txt2img_euler.npz")["image"]
    assert float(np.abs(on - off).max()) > 0.05


def test_keep_window_follows_diffusers():
    assert control_keep(6, 0.2, 0.7) == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    assert MANIFEST["cn_txt2img_ddim_window"]["controlnet_scales"] == [0.6 * k for k in control_keep(6, 0.2, 0.7)]


def test_residual_names_are_read_in_block_order():
    names = ["sample", "mid_block_additional_residual", "down_block_10_additional_residual", "down_block_2_additional_residual"]
    assert residual_names(names) == ["down_block_2_additional_residual", "down_block_10_additional_residual", "mid_block_additional_residual"]


def _graph_without_residuals(path):
    """A ControlNet-shaped graph whose outputs are not the residuals: one ``out`` tensor."""
    inputs = [helper.make_tensor_value_info("sample", TensorProto.FLOAT, ["b", 4, "h", "w"]),
              helper.make_tensor_value_info("timestep", TensorProto.FLOAT, []),
              helper.make_tensor_value_info("encoder_hidden_states", TensorProto.FLOAT, ["b", 77, 16]),
              helper.make_tensor_value_info("controlnet_cond", TensorProto.FLOAT, ["b", 3, "H", "W"])]
    output = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["b", 4, "h", "w"])
    graph = helper.make_graph([helper.make_node("Identity", ["sample"], ["out"])], "bad", inputs, [output])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8), str(path))


def _copy_model(tmp_path):
    folder = tmp_path / "cn"
    shutil.copytree(MODEL, folder)
    return folder


def test_a_controlnet_without_the_residual_outputs_is_refused_when_the_folder_is_read(tmp_path):
    folder = _copy_model(tmp_path)
    _graph_without_residuals(folder / "controlnet" / "model.onnx")
    with pytest.raises(studio.ModelError, match="does not give the residuals its UNet takes"):
        SDModel.read(folder)


def test_a_controlnet_beside_a_unet_without_residual_inputs_is_refused_when_the_folder_is_read(tmp_path):
    folder = _copy_model(tmp_path)
    shutil.copyfile(FIXTURES / "models" / "sd1" / "unet" / "model.onnx", folder / "unet" / "model.onnx")
    shutil.copyfile(FIXTURES / "models" / "sd1" / "unet" / "model.onnx_data", folder / "unet" / "model.onnx_data")
    with pytest.raises(studio.ModelError, match="its UNet takes no ControlNet residuals"):
        SDModel.read(folder)


def test_a_chosen_controlnet_without_the_residual_outputs_fails_the_job_plainly(runner, onnxstack, tmp_path):
    folder, _ = onnxstack
    _graph_without_residuals(tmp_path / "bad.onnx")
    model = SDModel.read(folder)
    picture = np.zeros((64, 64, 4), np.uint8)
    request = StableDiffusionGenerator(model, "sd:x").request({"control_image": picture, "controlnet_model": str(tmp_path / "bad.onnx")})
    graphs = control_graphs(model, model.graphs(), request)
    settings = Settings(width=64, height=64, steps=1, control_image=picture)
    job = run_job(runner, GraphsReplay(model, settings, RecordedNoise([]), graphs))
    assert job.state is JobState.FAILED
    assert "does not give the residuals its UNet takes" in job.message


def test_an_empty_controlnet_folder_is_refused_when_the_folder_is_read(tmp_path):
    folder = _copy_model(tmp_path)
    (folder / "controlnet" / "model.onnx").unlink()
    with pytest.raises(studio.ModelError, match="controlnet/ but no controlnet/model.onnx"):
        SDModel.read(folder)


@pytest.fixture
def onnxstack(tmp_path):
    """OnnxStack's layout from the same weights: sd1's plain unet/, the residual-taking UNet in
    controlnet/, and the ControlNet a download of its own (ControlNet/scribble/model.onnx)."""
    folder = tmp_path / "onnxstack-sd1"
    shutil.copytree(FIXTURES / "models" / "sd1", folder)
    (folder / "controlnet").mkdir()
    shutil.copyfile(MODEL / "unet" / "model.onnx", folder / "controlnet" / "model.onnx")
    separate = tmp_path / "ControlNet" / "scribble"
    separate.mkdir(parents=True)
    shutil.copyfile(MODEL / "controlnet" / "model.onnx", separate / "model.onnx")
    return folder, separate


def test_onnxstack_layout_with_a_controlnet_of_its_own_matches_diffusers(runner, onnxstack):
    folder, separate = onnxstack
    assert SDModel.read(folder).controlnet_kind == "unet"
    image, golden, _ = replay("cn_txt2img_ddim_window", runner, folder=folder, controlnet_model=str(separate))
    assert float(np.abs(image - golden).max()) <= TOLERANCE
    # without a control picture the plain UNet runs: sd1's own image
    image, _, _ = replay("cn_off_txt2img_euler", runner, control=False, folder=folder)
    sd1 = np.load(FIXTURES / "goldens" / "sd1_txt2img_euler.npz")["image"]
    assert float(np.abs(image - sd1).max()) <= TOLERANCE


def test_onnxstack_layout_without_a_controlnet_chosen_says_so(onnxstack):
    folder, _ = onnxstack
    model = SDModel.read(folder)
    request = StableDiffusionGenerator(model, "sd:x").request({"control_image": np.zeros((64, 64, 4), np.uint8)})
    with pytest.raises(studio.ParamError, match="OnnxStack's layout.*choose the ControlNet"):
        control_graphs(model, model.graphs(), request)


def test_a_controlnet_model_that_is_not_one_is_refused_plainly(onnxstack, tmp_path):
    folder, _ = onnxstack
    model = SDModel.read(folder)
    generator = StableDiffusionGenerator(model, "sd:x")
    picture = np.zeros((64, 64, 4), np.uint8)
    for path, says in ((tmp_path / "missing", "no ControlNet at"), (folder / "unet" / "model.onnx", "is not a ControlNet")):
        request = generator.request({"control_image": picture, "controlnet_model": str(path)})
        with pytest.raises(studio.ParamError, match=says):
            control_graphs(model, model.graphs(), request)


def test_control_parameters_only_where_a_controlnet_can_steer(tmp_path):
    def names(folder):
        return {p.name for p in StableDiffusionGenerator(SDModel.read(folder), "sd:x").params}

    assert "control_image" in names(MODEL) and "control_image" not in names(FIXTURES / "models" / "sd1")
    assert "controlnet_model" not in names(MODEL)  # it has a ControlNet of its own
    residual_only = _copy_model(tmp_path)  # a UNet taking residuals, no controlnet/: a ControlNet can be chosen
    shutil.rmtree(residual_only / "controlnet")
    assert {"control_image", "controlnet_model"} <= names(residual_only)


@pytest.fixture
def sdxl_controlnet(tmp_path):
    """The sdxl fixture with its ControlNet parts laid over it (models/sdxl_controlnet_parts)."""
    folder = tmp_path / "sdxl-controlnet"
    shutil.copytree(FIXTURES / "models" / "sdxl", folder)
    parts = FIXTURES / "models" / "sdxl_controlnet_parts"
    shutil.copytree(parts / "controlnet", folder / "controlnet")
    shutil.copyfile(parts / "unet" / "model.onnx", folder / "unet" / "model.onnx")
    return folder


def test_sdxl_controlnet_takes_the_added_conditions_and_matches_diffusers(runner, sdxl_controlnet):
    image, golden, _ = replay("cn_xl_txt2img_euler", runner, folder=sdxl_controlnet)
    difference = float(np.abs(image - golden).max())
    print(f"cn_xl_txt2img_euler: max abs difference {difference:.2e}")
    assert difference <= TOLERANCE
