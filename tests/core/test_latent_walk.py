"""Walking a latent space: mixes, morphs, variations and principal directions."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.engine.latent_values import LatentSpace, latent_for_seed
from studio.core.image.latent_walk import Directions, find_directions, mix, morph, random_latents, variations
from studio.errors import StudioError


def gaussian(seed: int, size: int = 16) -> np.ndarray:
    return latent_for_seed(seed, size)


def test_a_mix_starts_and_ends_exactly_at_its_ends():
    a, b = gaussian(1), gaussian(2)
    for how in ("slerp", "lerp"):
        assert np.array_equal(mix(a, b, 0.0, how), a)
        assert np.array_equal(mix(a, b, 1.0, how), b)


def test_slerp_keeps_to_the_shell_where_lerp_cuts_through_it():
    a = gaussian(1, 512)
    b = gaussian(2, 512)
    b = b * (np.linalg.norm(a) / np.linalg.norm(b))  # the same length: the shell is a sphere
    middle_slerp, middle_lerp = mix(a, b, 0.5, "slerp"), mix(a, b, 0.5, "lerp")
    assert np.linalg.norm(middle_slerp) == pytest.approx(np.linalg.norm(a), rel=1e-4)
    assert np.linalg.norm(middle_lerp) < 0.8 * np.linalg.norm(a)  # nearly orthogonal: about 1/sqrt(2)


def test_slerp_of_parallel_latents_falls_back_to_a_straight_line():
    a = np.ones(4, np.float32)
    assert np.allclose(mix(a, 2 * a, 0.5, "slerp"), 1.5 * a)
    assert np.allclose(mix(np.zeros(4), a, 0.5, "slerp"), 0.5 * a)


def test_a_morph_passes_through_every_kept_latent_in_order():
    keys = [gaussian(1), gaussian(2), gaussian(3)]
    frames = morph(keys, 9, "slerp")
    assert len(frames) == 9
    assert np.array_equal(frames[0], keys[0]) and np.array_equal(frames[4], keys[1]) and np.array_equal(frames[8], keys[2])
    assert all(frame.dtype == np.float32 for frame in frames)
    # Each step is small next to the distance between two keys: a smooth walk.
    for i in range(8):
        segment = np.linalg.norm(keys[i // 4 + 1] - keys[i // 4])
        assert np.linalg.norm(frames[i + 1] - frames[i]) < 0.5 * segment
    assert [np.array_equal(f, k) for f, k in zip(morph(keys, 3, "lerp"), keys)] == [True] * 3


@pytest.mark.parametrize("keys, frames, words", [
    ([np.zeros(4)], 8, "at least two"),
    ([np.zeros(4), np.ones(4)], 1, "2 to"),
    ([np.zeros(4), np.ones(4), np.ones(4)], 2, "3 to"),
    ([np.zeros(4), np.ones(5)], 8, "different sizes"),
])
def test_a_morph_that_cannot_be_made_says_why(keys, frames, words):
    with pytest.raises(StudioError, match=words):
        morph(keys, frames, "slerp")


def test_variations_go_from_the_picture_itself_to_new_ones_as_the_spread_grows():
    space = LatentSpace(16)
    center = gaussian(7)
    same = variations(space, center, 0.0, 9, seed=3)
    assert len(same) == 9 and all(np.array_equal(v, center) for v in same)
    new = variations(space, center, 1.0, 9, seed=3)
    assert all(np.array_equal(v, r) for v, r in zip(new, random_latents(space, 9, 3)))
    near = variations(space, center, 0.3, 9, seed=3)
    far = variations(space, center, 0.8, 9, seed=3)
    assert np.mean([np.linalg.norm(v - center) for v in near]) < np.mean([np.linalg.norm(v - center) for v in far])
    assert not np.array_equal(variations(space, center, 0.3, 9, seed=4)[0], near[0])
    with pytest.raises(StudioError, match="1 to 64"):
        variations(space, center, 0.3, 0, seed=3)


def test_an_intermediate_space_varies_as_its_sampled_latents_spread():
    space = LatentSpace(3, interpolation="lerp", intermediate=True)
    with pytest.raises(StudioError, match="find its directions first"):
        variations(space, np.zeros(3), 0.5, 4, seed=1)
    rng = np.random.default_rng(0)
    samples = rng.standard_normal((400, 3)) * np.array([5.0, 1.0, 0.1]) + np.array([10.0, 0.0, 0.0])
    directions = find_directions(samples, None, count=3)
    drawn = np.stack(random_latents(space, 400, seed=2, directions=directions))
    assert np.allclose(drawn.mean(axis=0), [10.0, 0.0, 0.0], atol=0.6)
    assert np.allclose(drawn.std(axis=0), [5.0, 1.0, 0.1], rtol=0.15)


def test_directions_of_intermediate_latents_are_their_principal_axes_strongest_first():
    rng = np.random.default_rng(0)
    axis = np.array([3.0, 4.0, 0.0, 0.0]) / 5.0
    samples = rng.standard_normal((500, 1)) * 4.0 * axis + rng.standard_normal((500, 4)) * 0.3
    directions = find_directions(samples, None, count=2)
    assert abs(np.dot(directions.vectors[0], axis)) > 0.99
    assert directions.scales[0] == pytest.approx(4.0, rel=0.1)
    assert directions.explained[0] > 0.9 and directions.explained[0] > directions.explained[1]
    moved = directions.offset([1.0, 0.0])
    assert np.linalg.norm(moved) == pytest.approx(directions.scales[0])


def test_directions_of_a_gaussian_space_follow_what_changes_the_pictures():
    """GANSpace's way: the pictures vary most with latent coordinate 2 (their brightness), so the
    first direction found points along it, though the latents themselves have no preferred axis."""
    rng = np.random.default_rng(1)
    latents = rng.standard_normal((64, 6))
    pictures = []
    for latent in latents:
        picture = np.zeros((16, 16, 4), np.uint8)
        picture[..., :3] = np.clip(128 + 40 * latent[2], 0, 255)
        picture[:8, :, 0] = np.clip(128 + 10 * latent[4], 0, 255)  # a smaller change: direction 2
        picture[..., 3] = 255
        pictures.append(picture)
    directions = find_directions(latents, pictures, count=2)
    assert abs(directions.vectors[0][2]) > 0.9
    assert abs(directions.vectors[1][4]) > 0.9
    assert np.allclose(np.linalg.norm(directions.vectors, axis=1), 1.0)


def test_too_few_samples_for_directions_is_said():
    with pytest.raises(StudioError, match="at least 3"):
        find_directions(np.zeros((2, 4)), None)
    assert isinstance(find_directions(np.random.default_rng(0).standard_normal((5, 8)), None, count=20), Directions)
