"""Step previews decoded by TAESD when a decoder for the model's family is installed, else by latent colours.

The TAESD fixture (tests/fixtures/sd/taesd, build_taesd.py) is a tiny random AutoencoderTiny
exported from diffusers, with diffusers' own decode of fixed latents as the golden; the
generation replays the sd1 Euler golden case, whose last step's predicted clean latents are the
final latents diffusers recorded (``step_latents[-1]``).
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

import studio
from studio.core.base import paths
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.engine.runtime import Runtime
from studio_plugins.stable_diffusion.images import float_to_rgba
from studio_plugins.stable_diffusion.layout import SDModel
from studio_plugins.stable_diffusion.noise import RecordedNoise
from studio_plugins.stable_diffusion.pipeline import Pipeline, Settings
from studio_plugins.stable_diffusion.preview import latent_preview
from studio_plugins.stable_diffusion.taesd import TinyDecoder, find_tiny_decoder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sd"
TAESD = FIXTURES / "taesd"
CASE = "sd1_txt2img_euler"


def plain_run(loaded, outputs, feeds):
    return loaded.session.run(outputs, feeds)


def direct_decode(latents: np.ndarray) -> np.ndarray:
    """The TAESD graph run by onnxruntime itself, its output as diffusers reads it."""
    from studio.core.engine.onnx_import import import_onnxruntime

    session = import_onnxruntime().InferenceSession(str(TAESD / "vae_decoder" / "model.onnx"), providers=["CPUExecutionProvider"])
    (pixels,) = session.run(None, {"latent_sample": latents.astype(np.float32)})
    return np.clip(pixels[0].transpose(1, 2, 0) / 2 + 0.5, 0, 1)


def test_the_tiny_decoder_gives_diffusers_autoencoder_tiny_decode():
    golden = np.load(TAESD / "golden.npz")
    decoder = TinyDecoder(TAESD / "vae_decoder" / "model.onnx", True)
    runtime = Runtime(cpu_threads=1)
    ours = decoder.decode(golden["latents"], runtime.session, plain_run)
    reference = np.clip(golden["image"][0].transpose(1, 2, 0) / 2 + 0.5, 0, 1)
    assert ours.shape == (64, 64, 3)
    assert 0.05 < reference.std() and np.abs(ours - reference).max() <= 1e-4  # diffusers' AutoencoderTiny.decode
    assert np.array_equal(ours, direct_decode(golden["latents"]))


def sd1_copy(tmp_path: Path, taesd_as: str | None) -> Path:
    folder = tmp_path / "sd1"
    shutil.copytree(FIXTURES / "models" / "sd1", folder)
    if taesd_as:
        shutil.copytree(TAESD, folder / taesd_as, ignore=shutil.ignore_patterns("golden.npz"))
    return folder


class Replay(studio.Generator):
    id, kind = "taesd-replay", "image"

    def __init__(self, model: SDModel, settings: Settings, noise: RecordedNoise) -> None:
        self.model, self.settings, self.noise = model, settings, noise

    def generate(self, request, ctx):
        pipeline = Pipeline(self.model, ctx)
        output = yield from pipeline.run(self.settings, self.noise)
        yield studio.Result("image", float_to_rgba(output.image), self.id, {}, info={"previews": pipeline.previews.kind})


def previews_of(folder: Path):
    import json

    spec = json.loads((FIXTURES / "goldens" / "manifest.json").read_text())[CASE]
    data = np.load(FIXTURES / "goldens" / f"{CASE}.npz")
    model = SDModel.read(folder)
    model.scheduler_config = dict(spec["scheduler_config"])
    noise = RecordedNoise([data["latents"]] + [data[f"noise_{i}"] for i in range(len(spec["noise_draws"]))])
    settings = Settings(prompt=spec["prompt"], negative_prompt=spec.get("negative_prompt") or "", width=64, height=64,
                        steps=spec["steps"], guidance=spec["guidance_scale"], scheduler=spec["scheduler"])
    previews, lock = [], threading.Lock()

    def listen(job, event):
        if isinstance(event, studio.Preview):
            with lock:
                previews.append(event.value)

    runner = JobRunner(Runtime(cpu_threads=1))
    try:
        generator = Replay(model, settings, noise)
        job = runner.submit(generator, generator.request({}), listeners=[listen])
        assert job.wait(120) and job.state is JobState.FINISHED, job.message
    finally:
        runner.shutdown()
    return previews, data["step_latents"], job.result.info["previews"]


def test_a_generations_previews_are_taesds_decode_of_its_latents(tmp_path):
    previews, step_latents, kind = previews_of(sd1_copy(tmp_path, "taesd"))
    assert kind == "taesd" and len(previews) == len(step_latents)
    last = previews[-1]
    expected = float_to_rgba(direct_decode(step_latents[-1:]))  # Euler's last prediction is the final latents
    assert last.shape == (64, 64, 4) and np.abs(last.astype(int) - expected).max() <= 1
    assert np.abs(last.astype(int) - latent_preview(step_latents[-1:])).max() > 30  # not the cheap colours


def test_without_taesd_previews_are_the_latent_colours(tmp_path):
    previews, step_latents, kind = previews_of(sd1_copy(tmp_path, None))
    assert kind == "latent"
    assert np.abs(previews[-1].astype(int) - latent_preview(step_latents[-1:])).max() <= 1


def test_where_a_tiny_decoder_is_found_and_which_family(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    assert find_tiny_decoder(model, xl=False) is None
    # ComfyUI's vae_approx/ holding the original weights' files of both families: [0, 1] pixels
    (model / "vae_approx").mkdir()
    shutil.copy(TAESD / "vae_decoder" / "model.onnx", model / "vae_approx" / "taesdxl_decoder.onnx")
    assert find_tiny_decoder(model, xl=False) is None  # only SDXL's is there
    found = find_tiny_decoder(model, xl=True)
    assert found.path.name == "taesdxl_decoder.onnx" and not found.signed
    # a shared one in Studio's models folder serves every model of its family
    shutil.copytree(TAESD, paths.models() / "taesd")
    shared = find_tiny_decoder(model, xl=False)
    assert shared.path == paths.models() / "taesd" / "vae_decoder" / "model.onnx" and shared.signed
    # a download installs under its repository's name: taesd-onnx is SD 1.x's, taesdxl-onnx SDXL's
    shutil.rmtree(model / "vae_approx")
    shutil.rmtree(paths.models() / "taesd")
    shutil.copytree(TAESD, paths.models() / "owner--taesdxl-onnx")
    assert find_tiny_decoder(model, xl=False) is None
    assert find_tiny_decoder(model, xl=True).path.parent.parent.name == "owner--taesdxl-onnx"
    shutil.copytree(TAESD, paths.models() / "taesd-onnx")
    assert find_tiny_decoder(model, xl=False).path.parent.parent.name == "taesd-onnx"
    # the model's own comes first
    shutil.copytree(TAESD, model / "taesd")
    assert find_tiny_decoder(model, xl=False).path == model / "taesd" / "vae_decoder" / "model.onnx"


def test_a_hostile_taesd_config_is_refused_in_plain_words(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(TAESD, model / "taesd")
    (model / "taesd" / "config.json").write_text('{"scaling_factor": 1e300}')
    with pytest.raises(studio.ModelError, match="scaling_factor"):
        find_tiny_decoder(model, xl=False)
