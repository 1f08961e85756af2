"""Latent generators (GAN, StyleGAN, VAE) against the reference: Studio's pictures equal
torch's on the same latents (tests/fixtures/latent, built and made golden by torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.core.engine.jobs import Job, JobContext, JobRunner, JobState
from studio.core.engine.runtime import CPU_DEVICE, Runtime
from studio.core.image.latent_walk import morph
from studio_plugins.latent.generator import LatentGenerator, LatentLoader
from studio_plugins.latent.networks import to_pixels

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "latent"
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner(Runtime())
    yield runner
    runner.shutdown()


def load(name: str) -> LatentGenerator:
    return LatentLoader().load(FIXTURES / name)


def golden(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / name / "golden.npz") as data:
        return dict(data)


def context(generator: LatentGenerator) -> JobContext:
    """A job's context, as the runner gives one, to call the graphs directly."""
    return JobContext(Job(generator, generator.request({}), CPU_DEVICE, []), Runtime())


def render(runner: JobRunner, generator: LatentGenerator, **values):
    job = runner.submit(generator, generator.request(values))
    assert job.wait(60), "the job did not end"
    assert job.state is JobState.FINISHED, job.message
    return job.results


def quantised(picture: np.ndarray, output_range: tuple[float, float]) -> np.ndarray:
    return to_pixels(picture, output_range)


def test_stylegan_pictures_equal_torch_on_the_same_latents():
    generator = load("stylegan")
    gold = golden("stylegan")
    ctx = context(generator)
    assert generator.model.kind == "stylegan" and generator.latent_space.interpolation == "lerp"
    assert generator.latent_space.intermediate and generator.latent_space.size == 16
    w = generator.networks.map(gold["z"], 0, ctx)
    assert np.abs(w - gold["w"]).max() <= TOLERANCE
    pictures = generator.networks.pictures(gold["w"], float(gold["psi"]), 0, ctx)
    assert np.abs(pictures - gold["image"]).max() <= TOLERANCE
    untruncated = generator.networks.pictures(gold["w"], 1.0, 0, ctx)
    assert np.abs(untruncated - gold["image_psi1"]).max() <= TOLERANCE


def test_a_stylegan_picture_from_a_job_keeps_its_w_and_matches_torch(runner):
    generator = load("stylegan")
    gold = golden("stylegan")
    (result,) = render(runner, generator, latent=gold["w"][2].tolist(), truncation=0.7, scale=1)
    expected = quantised(gold["image"][2], (-1.0, 1.0))
    assert result.value.shape == (16, 16, 4)
    assert np.abs(result.value.astype(int) - expected).max() <= 1  # rounding at a boundary at most
    assert np.array_equal(np.float32(result.params["latent"]), gold["w"][2])
    # A seed's picture records its w; that w alone makes the same picture again.
    (seeded,) = render(runner, generator, seed=11, scale=1)
    (again,) = render(runner, generator, latent=seeded.params["latent"], seed=999, scale=1)
    assert np.array_equal(seeded.value, again.value)


def test_a_stylegan_folder_without_description_or_average_is_read_from_its_graphs(runner):
    generator = load("stylegan-bare")
    assert generator.model.kind == "stylegan" and generator.model.truncation == 1.0
    (result,) = render(runner, generator, seed=5, scale=1)
    assert result.value.shape == (16, 16, 4)
    assert any("w_avg" in note for note in result.info["notes"])
    shipped = np.load(FIXTURES / "stylegan" / "w_avg.npy")
    # Averaged over other samples than the fixture's: close, not equal.
    assert np.abs(generator.networks.w_avg - shipped).max() < 0.1 * np.abs(shipped).max() + 0.05


def test_a_class_conditional_dcgan_equals_torch_for_each_class():
    generator = load("dcgan")
    gold = golden("dcgan")
    ctx = context(generator)
    assert generator.model.kind == "gan" and generator.latent_space.size == 8
    assert generator.param("label").type == "int"
    for latent, label, expected in zip(gold["z"], gold["labels"], gold["image"]):
        picture = generator.networks.pictures(latent[None], 1.0, int(label), ctx)[0]
        assert np.abs(picture - expected).max() <= TOLERANCE


def test_class_names_from_the_description_become_a_choice(runner):
    generator = load("dcgan-named")
    gold = golden("dcgan")
    assert generator.param("label").choices == ("circle", "square", "star")
    (result,) = render(runner, generator, latent=gold["z"][2].tolist(), label="star", scale=1)
    assert result.params["label"] == "star"
    assert np.abs(result.value.astype(int) - quantised(gold["image"][2], (-1.0, 1.0))).max() <= 1


def test_vae_decoder_and_encoder_equal_torch():
    generator = load("vae")
    gold = golden("vae")
    ctx = context(generator)
    assert generator.latent_space.encodes and generator.model.output_range == (0.0, 1.0)
    assert np.abs(generator.networks.pictures(gold["z"], 1.0, 0, ctx) - gold["image"]).max() <= TOLERANCE
    for picture, mean, decoded in zip(gold["pictures"], gold["pictures_mean"], gold["pictures_decoded"]):
        found = generator.networks.encode(picture, ctx)
        assert np.abs(found - mean).max() <= TOLERANCE
        assert np.abs(generator.networks.pictures(found[None], 1.0, 0, ctx)[0] - decoded).max() <= TOLERANCE


def test_find_this_picture_gives_its_latent_and_its_reconstruction(runner):
    generator = load("vae")
    gold = golden("vae")
    (result,) = render(runner, generator, image=gold["pictures"][1], scale=1)
    assert np.abs(np.float32(result.params["latent"]) - gold["pictures_mean"][1]).max() <= TOLERANCE
    assert result.params["image"] is None and result.info["found"] is True
    assert np.abs(result.value.astype(int) - quantised(gold["pictures_decoded"][1], (0.0, 1.0))).max() <= 1
    # The found latent is all it takes to draw the picture again.
    (again,) = render(runner, generator, latent=result.params["latent"], scale=1)
    assert np.array_equal(again.value, result.value)


@pytest.mark.parametrize("name", ["vae", "stylegan", "dcgan"])
def test_a_morphs_ends_are_the_kept_pictures(runner, name):
    generator = load(name)
    first, last = (render(runner, generator, seed=seed, scale=1)[0] for seed in (3, 4))
    frames = morph([np.float32(first.params["latent"]), np.float32(last.params["latent"])], 5, generator.latent_space.interpolation)
    pictures = [render(runner, generator, latent=frame.tolist(), scale=1)[0].value for frame in frames]
    assert np.array_equal(pictures[0], first.value) and np.array_equal(pictures[-1], last.value)
    assert not np.array_equal(pictures[2], first.value) and not np.array_equal(pictures[2], last.value)


def test_the_same_seed_gives_the_same_pictures_and_a_batch_counts_seeds_up(runner):
    generator = load("vae")
    batch = render(runner, generator, seed=20, batch_count=3, scale=2)
    assert [r.params["seed"] for r in batch] == [20, 21, 22] and all(r.value.shape == (32, 32, 4) for r in batch)
    (single,) = render(runner, generator, seed=21, scale=2)
    assert np.array_equal(single.value, batch[1].value)
    assert single.params["latent"] == batch[1].params["latent"]


def test_the_builtin_emoji_vae_generates_offline_and_finds_its_own_pictures(runner):
    """A fresh install: the Emoji VAE that ships in resources/models is registered by the
    built-in plugin, draws a picture from a seed, and finds a latent for a picture it drew."""
    from studio.core.base.paths import builtin_models
    from studio.plugins import PluginHost

    generator = PluginHost(safe_mode=True).load().generator("emoji-vae")
    folder = builtin_models() / "emoji-vae"
    assert generator.model.folder == folder and generator.model.kind == "vae"
    assert (folder / "ATTRIBUTION.md").is_file() and "OFL" in (folder / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert generator.latent_space.encodes and generator.latent_space.size == generator.model.latent_size
    (drawn,) = render(runner, generator, seed=2026)
    height, width = generator.model.image_size
    scale = generator.param("scale").default
    assert drawn.value.shape == (height * scale, width * scale, 4)
    assert drawn.value[..., :3].std() > 10  # a picture, not a flat colour
    (found,) = render(runner, generator, image=drawn.value)
    assert found.info["found"] and len(found.params["latent"]) == generator.model.latent_size
    # What it finds draws a picture close to the one given (a VAE's reconstruction, not a copy).
    difference = np.abs(found.value[..., :3].astype(int) - drawn.value[..., :3].astype(int)).mean()
    assert difference < 12, difference


def test_a_stylegan_batch_maps_its_seeds_at_once_and_each_equals_its_seed_alone(runner):
    generator = load("stylegan")
    batch = render(runner, generator, seed=20, batch_count=16, scale=1)
    (alone,) = render(runner, generator, seed=25, scale=1)
    assert batch[5].params["seed"] == 25 and batch[5].params["latent"] == alone.params["latent"]
    assert np.array_equal(batch[5].value, alone.value)
