"""The latent parameter type and what a generator says of its latent space."""

from __future__ import annotations

import json

import numpy as np
import pytest

import studio
from studio.core.engine.generators import Param, check_generator
from studio.core.engine.latent_values import (
    MAX_LATENT_SIZE, LatentSpace, coerce_latent, latent_array, latent_for_seed, picture_latent, recorded,
)
from studio.errors import ParamError


def test_a_latent_is_taken_as_numbers_text_or_json_and_kept_as_exact_float32():
    values = [0.1, -2.5, 3e-1]
    from_list = coerce_latent("latent", values)
    assert from_list == tuple(float(np.float32(v)) for v in values)
    assert coerce_latent("latent", "0.1, -2.5, 3e-1") == from_list
    assert coerce_latent("latent", json.dumps(values)) == from_list
    assert coerce_latent("latent", np.array(values, dtype=np.float32)) == from_list
    # What a result records goes through JSON and back unchanged.
    assert coerce_latent("latent", json.loads(json.dumps(list(from_list)))) == from_list
    assert coerce_latent("latent", None) is None and coerce_latent("latent", "  ") is None


@pytest.mark.parametrize("value, words", [
    ([1.0, float("nan")], "finite"),
    ("1, two, 3", "numbers separated by commas"),
    ("[1, 2", "not a JSON list"),
    ([[1.0, 2.0], [3.0, 4.0]], "one flat list"),
    ([True, 1.0], "text or true/false"),
    (["1", 2.0], "text or true/false"),
    ({"a": 1}, "expected a latent"),
    (7, "expected a latent"),
    ([], "one flat list"),
    ([1e9], "far below"),
])
def test_bad_latents_are_refused_in_words(value, words):
    with pytest.raises(ParamError, match="latent") as error:
        coerce_latent("latent", value)
    assert words in str(error.value)


def test_a_latent_longer_than_studio_takes_is_refused_before_it_is_read():
    with pytest.raises(ParamError, match=f"{MAX_LATENT_SIZE + 1:,} numbers"):
        coerce_latent("latent", [0.0] * (MAX_LATENT_SIZE + 1))


def test_a_seed_draws_the_same_gaussian_latent_as_the_cppn_always_did():
    drawn = latent_for_seed(1234, 8)
    assert drawn.dtype == np.float32 and drawn.shape == (8,)
    assert np.array_equal(drawn, np.random.default_rng(1234).standard_normal((1, 8)).astype(np.float32)[0])
    assert not np.array_equal(drawn, latent_for_seed(1235, 8))


def test_a_given_latent_makes_one_picture_and_must_fit_the_model():
    given = (0.5,) * 4
    assert np.array_equal(picture_latent(given, 9, 4), np.full(4, 0.5, np.float32))
    assert np.array_equal(picture_latent(None, 9, 4), latent_for_seed(9, 4))
    with pytest.raises(ParamError, match="one picture"):
        picture_latent(given, 9, 4, count=3)
    with pytest.raises(ParamError, match="4 numbers, but this model's latent has 6"):
        latent_array(given, 6)
    assert recorded(np.array([0.1], np.float32)) == [float(np.float32(0.1))]


def test_a_latent_param_coerces_and_is_optional():
    param = Param("latent", "latent", None, optional=True)
    assert param.coerce(None) is None
    assert param.coerce("1,2") == (1.0, 2.0)


def test_a_latent_space_is_checked_when_a_generator_registers():
    class Latent(studio.Generator):
        id, kind = "latent-test", "image"
        params = (Param("seed", "seed", None), Param("latent", "latent", None, optional=True))
        latent_space = LatentSpace(2)

    check_generator(Latent())

    class NoLatentParam(Latent):
        params = (Param("seed", "seed", None),)

    with pytest.raises(ValueError, match="'latent' parameter"):
        check_generator(NoLatentParam())

    class NotASpace(Latent):
        latent_space = {"size": 2}

    with pytest.raises(TypeError, match="not a studio.LatentSpace"):
        check_generator(NotASpace())
    with pytest.raises(ValueError, match="size"):
        LatentSpace(0)
    with pytest.raises(ValueError, match="interpolation"):
        LatentSpace(4, interpolation="cubic")
