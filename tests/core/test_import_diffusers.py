"""Importing a diffusers folder: the converter (a child process, torch) writes the ONNX layout,
and the real SD plugin's pipeline on that output makes diffusers' own image.

The folders and goldens in tests/fixtures/convert/diffusers were made by diffusers
(build_diffusers.py), never by this code: sd1 (fp32 safetensors), sdxl and inpaint9 (only
``*.fp16.safetensors``, as many SDXL repositories ship). The pytest process never imports
torch: the conversion runs as ``python -m studio.convert diffusers SOURCE OUT``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.engine.runtime import CPU_DEVICE
from studio.core.models.folder_variants import folder_variants
from studio.core.models.variant_defaults import set_default_variant
from studio.core.models.safetensors_file import read_safetensors
from studio_plugins.stable_diffusion.generator import StableDiffusionLoader
from studio_plugins.stable_diffusion.images import float_to_rgba
from studio_plugins.stable_diffusion.layout import SDModel
from studio_plugins.stable_diffusion.noise import RecordedNoise
from studio_plugins.stable_diffusion.optimize import optimized_unet
from studio_plugins.stable_diffusion.pipeline import Pipeline, Settings

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "convert" / "diffusers"
MANIFEST = json.loads((FIXTURES / "goldens" / "manifest.json").read_text())
TOLERANCE = 1e-3
FP16_TOLERANCE = 0.02  # the fp16 UNet: half-precision weights and arithmetic, same picture
#: model -> converter options; sd1 and sdxl also get the fp16 variant.
CONVERSIONS = {"sd1": {"variant": "fp16"}, "sdxl": {"variant": "fp16"}, "inpaint9": {}}
#: component folder -> the source's weights file (relative to the diffusers folder)
WEIGHTS = {
    "sd1": {"unet": "unet/diffusion_pytorch_model.safetensors", "text_encoder": "text_encoder/model.safetensors"},
    "sdxl": {"unet": "unet/diffusion_pytorch_model.fp16.safetensors", "text_encoder": "text_encoder/model.fp16.safetensors",
             "text_encoder_2": "text_encoder_2/model.fp16.safetensors"},
}


def run_converter(source: Path, out: Path, options: dict | None = None) -> tuple[int, list[dict], str]:
    command = [sys.executable, "-m", "studio.convert", "diffusers", str(source), str(out), "--options", json.dumps(options or {})]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, lines, done.stderr


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, tuple[Path, list[dict]]]:
    base = tmp_path_factory.mktemp("imported")
    results = {}
    for name, options in CONVERSIONS.items():
        out = base / name
        code, lines, log = run_converter(FIXTURES / "models" / name, out, options)
        assert code == 0, f"{name}: the converter exited {code}: {lines[-1:]}\n{log[-3000:]}"
        results[name] = (out, lines)
    return results


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


class Replay(studio.Generator):
    """One golden case through the SD plugin's real pipeline, inside a real job."""

    id, kind = "import-parity", "image"

    def __init__(self, model: SDModel, settings: Settings, noise: RecordedNoise, unet: Path | None) -> None:
        self.model, self.settings, self.noise, self.unet = model, settings, noise, unet

    def generate(self, request, ctx):
        output = yield from Pipeline(self.model, ctx, {"unet": self.unet} if self.unet else None).run(self.settings, self.noise)
        yield studio.Result("image", float_to_rgba(output.image), self.id, {}, info={"image": output.image})


def replay(case: str, folder: Path, runner: JobRunner, unet: Path | None = None) -> tuple[np.ndarray, np.ndarray, RecordedNoise]:
    spec = MANIFEST[case]
    data = np.load(FIXTURES / "goldens" / f"{case}.npz")
    model = SDModel.read(folder)
    model.scheduler_config = dict(spec["scheduler_config"])  # the scheduler diffusers ran, exactly
    draws = ([data["latents"]] if spec["mode"] == "txt2img" else []) + [data[f"noise_{i}"] for i in range(len(spec["noise_draws"]))]
    noise = RecordedNoise(draws)
    init = data["init_image"] if "init_image" in data else None
    settings = Settings(
        prompt=spec["prompt"], negative_prompt=spec.get("negative_prompt") or "", width=spec["width"], height=spec["height"],
        steps=spec["steps"], guidance=spec["guidance_scale"], strength=spec.get("strength") or 1.0, scheduler=spec["scheduler"],
        init_image=None if init is None else np.concatenate([init, np.full(init.shape[:2] + (1,), 255, np.uint8)], axis=2),
        mask=data["mask"] if "mask" in data else None,
    )
    generator = Replay(model, settings, noise, unet)
    job = runner.submit(generator, generator.request({}), CPU_DEVICE)
    assert job.wait(120), "the pipeline did not finish"
    assert job.state is JobState.FINISHED, job.message
    return job.result.info["image"], data["image"], noise


@pytest.mark.parametrize("case", sorted(MANIFEST))
def test_the_imported_model_paints_diffusers_image(case, converted, runner):
    folder, _ = converted[MANIFEST[case]["model"]]
    image, golden, noise = replay(case, folder, runner)
    difference = float(np.abs(image - golden).max())
    assert difference <= TOLERANCE, f"{case}: max abs difference {difference:.2e} > {TOLERANCE}"
    assert noise.remaining == 0


@pytest.mark.parametrize("case", sorted(MANIFEST))
def test_the_fused_unet_of_an_imported_model_paints_the_same_image(case, converted, runner, tmp_path_factory):
    """The CPU runs the UNet with fused attention (optimize.py): the fusion must recognise the
    exported attention, or the CPU would run the unfused graph and its gigabytes of scores."""
    folder, _ = converted[MANIFEST[case]["model"]]
    fused = optimized_unet(folder / "unet" / "model.onnx", tmp_path_factory.getbasetemp() / "fused-imports")
    made = json.loads((fused.parent / "optimized.json").read_text())["fused"]
    assert made.get("MultiHeadAttention", 0) >= 2, made
    image, golden, _ = replay(case, folder, runner, fused)
    difference = float(np.abs(image - golden).max())
    assert difference <= TOLERANCE, f"{case} (fused): max abs difference {difference:.2e} > {TOLERANCE}"


def test_the_converter_reports_each_component_and_what_it_wrote(converted):
    _, lines = converted["sdxl"]
    components = [line["progress"]["component"] for line in lines if "progress" in line]
    for name in ("Text encoder", "Text encoder 2", "UNet", "VAE decoder", "VAE encoder"):
        assert name in components
    done = lines[-1]["done"]
    assert done["layout"] == "sd" and done["variants"] == ["fp32", "fp16"]
    assert "XL" in done["description"]
    assert "inpainting" in converted["inpaint9"][1][-1]["done"]["description"]


@pytest.mark.parametrize("name", sorted(CONVERSIONS))
def test_the_sd_plugin_loads_the_imported_folder(name, converted):
    folder, _ = converted[name]
    loader = StableDiffusionLoader()
    assert loader.detect(folder)
    generator = loader.load(folder)
    assert generator.model.is_xl == (name == "sdxl")
    assert generator.model.has_encoder
    # The source's own path stays out of the model's configs (diffusers records where it read them).
    assert not [path.name for path in folder.rglob("*.json") if "_name_or_path" in path.read_text()]


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_weights_map_names_every_linear_and_conv_weight_by_its_value(name, converted):
    """Each 2-D / 4-D weight of the source's safetensors maps to an initializer holding exactly
    its value (transposed where the map says so): what a LoRA is applied to."""
    folder, _ = converted[name]
    for component, weights_file in WEIGHTS[name].items():
        document = json.loads((folder / component / "weights_map.json").read_text())
        assert document["format"] == 1 and document["component"] == component
        graph = onnx.load(str(folder / component / "model.onnx"))
        initializers = {tensor.name: tensor for tensor in graph.graph.initializer}
        source = read_safetensors(FIXTURES / "models" / name / weights_file)
        wanted = sorted(key for key, info in source.tensors.items() if len(info.shape) in (2, 4))
        assert sorted(document["weights"]) == wanted, f"{name}/{component}: the map lacks or adds weights"
        transposed = 0
        for key in wanted:
            entry = document["weights"][key]
            value = numpy_helper.to_array(initializers[entry["initializer"]])
            expected = source.load(key).T if entry["transposed"] else source.load(key)
            assert np.array_equal(value, expected), f"{name}/{component}: {key} != {entry['initializer']}"
            transposed += entry["transposed"]
        assert transposed > 0  # the attention projections are MatMuls on transposed weights


def test_the_fp16_variant_is_listed_by_the_library_and_paints_the_same_picture(converted, runner):
    folder, _ = converted["sd1"]
    variants = folder_variants(folder)
    assert list(variants) == ["fp32", "fp16"]
    fp16 = variants["fp16"]
    assert folder / "unet" / "model_fp16.onnx" in fp16.files and folder / "text_encoder" / "model_fp16.onnx" in fp16.files
    assert folder / "vae_decoder" / "model.onnx" in fp16.files  # the VAE stays fp32 (it overflows in fp16)
    assert fp16.size < variants["fp32"].size and fp16.suits == "GPU"
    assert list(folder_variants(converted["inpaint9"][0])) == ["fp32"]  # not asked for: not written
    unet = onnx.load(str(folder / "unet" / "model_fp16.onnx"), load_external_data=False)
    assert {t.data_type for t in unet.graph.initializer if len(t.dims) == 4} == {onnx.TensorProto.FLOAT16}
    assert {i.type.tensor_type.elem_type for i in unet.graph.input} == {onnx.TensorProto.FLOAT}  # fed as the fp32 one
    # The fp16 graph keeps the initializer names: one weights_map.json serves both files.
    halves = {t.name: t.data_type for t in unet.graph.initializer}
    mapped = {entry["initializer"] for entry in json.loads((folder / "unet" / "weights_map.json").read_text())["weights"].values()}
    assert {halves.get(name) for name in mapped} == {onnx.TensorProto.FLOAT16}
    image, golden, _ = replay("sd1_txt2img_euler", folder, runner, folder / "unet" / "model_fp16.onnx")
    difference = float(np.abs(image - golden).max())
    assert 0 < difference <= FP16_TOLERANCE, f"fp16 UNet: max abs difference {difference:.2e}"


def _paint(generator, runner: JobRunner, **values) -> studio.Result:
    request = generator.request({"prompt": "a lighthouse at dusk", "seed": 11, "steps": 2, "width": 64, "height": 64, **values})
    job = runner.submit(generator, request, CPU_DEVICE)
    assert job.wait(120), "the generator did not finish"
    assert job.state is JobState.FINISHED, job.message
    return job.result


def test_the_generator_offers_each_copy_of_the_weights_and_runs_the_one_chosen(converted, runner):
    folder, _ = converted["sd1"]
    generator = StableDiffusionLoader().load(folder)
    param = {p.name: p for p in generator.params}["variant"]
    assert param.default == "auto" and param.choices == ("auto", "fp32", "fp16")
    auto = _paint(generator, runner)
    assert auto.params["variant"] == "fp32", "fp16 is slow on the CPU: auto runs fp32 there"
    half = _paint(generator, runner, variant="fp16")
    assert half.params["variant"] == "fp16"
    difference = np.abs(half.value.astype(int) - auto.value.astype(int)).max()
    assert 0 < difference <= 255 * FP16_TOLERANCE, f"the fp16 copy ran: the same picture in half precision ({difference})"
    # The default a user set in the Models window for the CPU is what auto runs.
    set_default_variant(folder, "cpu", "fp16")
    chosen = _paint(generator, runner)
    assert chosen.params["variant"] == "fp16" and np.array_equal(chosen.value, half.value)
    # Replaying the recorded parameters paints the same picture.
    again = _paint(generator, runner, **{k: v for k, v in chosen.params.items() if k in {p.name for p in generator.params}})
    assert np.array_equal(again.value, half.value)


def test_a_folder_with_one_copy_of_its_weights_offers_no_choice(converted, runner):
    folder, _ = converted["inpaint9"]
    generator = StableDiffusionLoader().load(folder)
    assert "variant" not in {p.name for p in generator.params}
    result = _paint(generator, runner, variant="fp16")  # a project saved with another copy of the model
    assert "variant" not in result.params and result.value.shape == (64, 64, 4)


def test_an_inpainting_model_paints_without_a_mask_as_if_all_of_it_were_masked(converted, runner):
    """Text to image on a 9-channel UNet: the whole picture masked, nothing kept, as diffusers'
    inpainting pipeline paints with a white mask at strength 1 (that path matches diffusers'
    goldens above), instead of an error about the UNet's input channels."""
    generator = StableDiffusionLoader().load(converted["inpaint9"][0])
    text_to_image = _paint(generator, runner)
    assert text_to_image.params["mode"] == "txt2img"
    anything = np.random.default_rng(3).integers(0, 256, (64, 64, 4), dtype=np.uint8)
    white = np.full((64, 64), 255, np.uint8)
    inpainted = _paint(generator, runner, init_image=anything, mask=white, strength=1.0)
    assert inpainted.params["mode"] == "inpaint"
    assert np.array_equal(text_to_image.value, inpainted.value)
    image_to_image = _paint(generator, runner, init_image=anything, strength=0.6)
    assert image_to_image.params["mode"] == "img2img" and image_to_image.value.std() > 0


def _copy_configs(source: Path, target: Path) -> None:
    """The folder's JSON files and tokenizers, none of its weights."""
    for path in source.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".txt"):
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / path.relative_to(source))


def test_a_folder_with_only_pickled_weights_is_refused_before_it_is_read(tmp_path):
    source = tmp_path / "pickled"
    _copy_configs(FIXTURES / "models" / "sd1", source)
    shutil.copyfile(FIXTURES / "models" / "sd1" / "text_encoder" / "model.safetensors", source / "text_encoder" / "model.safetensors")
    shutil.copyfile(FIXTURES / "models" / "sd1" / "vae" / "diffusion_pytorch_model.safetensors", source / "vae" / "diffusion_pytorch_model.safetensors")
    # Never unpickled: the converter must refuse from the file names alone.
    (source / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"not a pickle: must never be opened")
    out = tmp_path / "out"
    code, lines, _ = run_converter(source, out)
    assert code == 2
    message = lines[-1]["error"]
    assert "pickled" in message and "safetensors" in message and "unet" in message and "run code" in message
    assert not any(out.rglob("*.onnx"))


def test_a_weights_file_cut_short_is_named(tmp_path):
    source = tmp_path / "cut"
    shutil.copytree(FIXTURES / "models" / "sd1", source)
    weights = source / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    code, lines, _ = run_converter(source, tmp_path / "out")
    assert code == 2, lines[-1:]
    assert "diffusion_pytorch_model.safetensors" in lines[-1]["error"] and "internal error" not in lines[-1]["error"]


def test_a_transformer_model_is_named_not_exported(tmp_path):
    source = tmp_path / "sd3"
    source.mkdir()
    (source / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusion3Pipeline", "transformer": ["diffusers", "SD3Transformer2DModel"],
        "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", "CLIPTextModelWithProjection"]}))
    code, lines, _ = run_converter(source, tmp_path / "out")
    assert code == 2
    assert "SD 3" in lines[-1]["error"] and "UNet" in lines[-1]["error"]
