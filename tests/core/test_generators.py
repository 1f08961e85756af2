"""The generator contract: Param validation, Request building, seeds, check_generator."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from studio.core.engine.generators import SEED_MAX, Generator, Param, Progress, Request, Result, check_generator
from studio.errors import ParamError, StudioError

# -- Param declarations ---------------------------------------------------------------------

WIDTH = Param("width", "int", 512, min=16, max=8192)
SCALE = Param("scale", "float", 2.0, min=0.1, max=50.0)
TILE = Param("tile", "bool", False)
MODE = Param("mode", "choice", "colour", choices=("colour", "grayscale", "hsv"))
PROMPT = Param("prompt", "text", "", multiline=True)
SEED = Param("seed", "seed", None)


def test_param_error_is_a_studio_error():
    assert issubclass(ParamError, StudioError)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(name="not a name", type="int"), "not an identifier"),
        (dict(name="x", type="integer"), "type must be one of"),
        (dict(name="x", type="choice"), "needs choices"),
        (dict(name="x", type="choice", default="d", choices=("a", "b")), "not one of its choices"),
    ],
)
def test_param_rejects_a_bad_declaration(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        Param(**kwargs)


def test_param_title_from_label_or_name():
    assert Param("colour_mode", "text").title == "Colour mode"
    assert Param("colour_mode", "text", label="Palette").title == "Palette"


# -- int ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [(64, 64), ("64", 64), (" 64 ", 64), (64.0, 64), (np.int64(64), 64), (np.int32(16), 16), (8192, 8192)],
)
def test_int_accepts_numbers_and_command_line_strings(value, expected):
    result = WIDTH.coerce(value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize("value", [15, 8193, "0", "-3", 10**9])
def test_int_out_of_range_names_the_parameter_and_the_range(value):
    with pytest.raises(ParamError) as caught:
        WIDTH.coerce(value)
    message = str(caught.value)
    assert message.startswith("width:")
    assert "out of range" in message
    assert "16 to 8192" in message


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("abc", "whole number"),
        ("12.5", "whole number"),
        (12.5, "whole number"),
        ("", "whole number"),
        (float("nan"), "width"),
        (float("inf"), "width"),
        (True, "expected a number, got True"),
        (False, "expected a number, got False"),
        ([64], "expected a number"),
        (None, "a value is required"),
    ],
)
def test_int_rejects_what_is_not_a_whole_number(value, fragment):
    with pytest.raises(ParamError, match="^width: ") as caught:
        WIDTH.coerce(value)
    assert fragment in str(caught.value)


@pytest.mark.parametrize("value", [np.float32(4.5), np.float64(20.5), np.float16(16.5)])
def test_int_never_truncates_a_numpy_fraction(value):
    # A float32 from a numpy-backed widget must be refused like a Python float, not cut to 4.
    with pytest.raises(ParamError, match="width: expected a whole number"):
        WIDTH.coerce(value)
    assert WIDTH.coerce(type(value)(32.0)) == 32


def test_unbounded_side_of_a_range_is_said_so():
    positive = Param("count", "int", 1, min=1)
    assert positive.coerce("123456789") == 123456789
    with pytest.raises(ParamError, match=r"count: 0 is out of range \(1 to unbounded\)"):
        positive.coerce(0)


# -- float --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [(2.5, 2.5), ("2.5", 2.5), ("1e1", 10.0), (3, 3.0), (np.float32(0.5), 0.5), ("0.1", 0.1), (50, 50.0)],
)
def test_float_accepts_numbers_and_command_line_strings(value, expected):
    result = SCALE.coerce(value)
    assert result == pytest.approx(expected)
    assert type(result) is float


@pytest.mark.parametrize("value", [0.0, 0.0999, 50.01, "-1", "1e9"])
def test_float_out_of_range_names_the_parameter_and_the_range(value):
    with pytest.raises(ParamError) as caught:
        SCALE.coerce(value)
    assert str(caught.value).startswith("scale:")
    assert "0.1 to 50" in str(caught.value)


@pytest.mark.parametrize("value", [float("nan"), "nan", "NaN", float("inf"), "-inf", np.float32("nan")])
def test_float_rejects_nan_and_infinity(value):
    with pytest.raises(ParamError, match="scale: expected a finite number"):
        SCALE.coerce(value)


def test_float_without_bounds_still_rejects_nan():
    free = Param("gain", "float", 0.0)
    assert free.coerce("-1e30") == -1e30
    with pytest.raises(ParamError, match="gain"):
        free.coerce(math.nan)


@pytest.mark.parametrize("value", [True, False, "two", "", None, {}, object()])
def test_float_rejects_bool_and_non_numbers(value):
    with pytest.raises(ParamError, match="^scale: "):
        SCALE.coerce(value)


# -- bool ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (True, True), (False, False),
        ("true", True), ("TRUE", True), ("yes", True), ("on", True), ("1", True), (" True ", True),
        ("false", False), ("No", False), ("off", False), ("0", False),
        (1, True), (0, False),
    ],
)
def test_bool_accepts_the_usual_spellings(value, expected):
    assert TILE.coerce(value) is expected


@pytest.mark.parametrize("value", ["maybe", "", 2, -1, "y", None])
def test_bool_rejects_anything_else(value):
    with pytest.raises(ParamError, match="^tile: "):
        TILE.coerce(value)


# -- choice and text ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["colour", "grayscale", "hsv"])
def test_choice_accepts_its_choices(value):
    assert MODE.coerce(value) == value


@pytest.mark.parametrize("value", ["purple", "Colour", "", 3, None])
def test_choice_not_in_choices_lists_the_choices(value):
    with pytest.raises(ParamError) as caught:
        MODE.coerce(value)
    message = str(caught.value)
    assert message.startswith("mode:")
    if value is not None:
        assert "colour, grayscale, hsv" in message


def test_text_is_any_string():
    assert PROMPT.coerce("a cat\non a mat") == "a cat\non a mat"
    assert PROMPT.coerce("") == ""
    assert PROMPT.coerce(42) == "42"
    with pytest.raises(ParamError, match="prompt"):
        PROMPT.coerce(None)


# -- seed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, -1, "-1", "random", "", -1.0])
def test_seed_left_to_chance(value):
    assert SEED.coerce(value) is None


@pytest.mark.parametrize("value, expected", [(0, 0), ("42", 42), (np.uint32(7), 7), (SEED_MAX, SEED_MAX), (3.0, 3)])
def test_seed_fixed(value, expected):
    result = SEED.coerce(value)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value", [SEED_MAX + 1, -2, "-5", "abc", 1.5, np.float32(7.5), True, float("nan")])
def test_seed_rejects_bad_values(value):
    with pytest.raises(ParamError, match="^seed: "):
        SEED.coerce(value)


def test_seed_out_of_range_says_the_range_and_random():
    with pytest.raises(ParamError) as caught:
        SEED.coerce(2**40)
    assert f"0 to {SEED_MAX}" in str(caught.value)
    assert "-1 for random" in str(caught.value)


# -- Generator.request --------------------------------------------------------------------


class Painter(Generator):
    id = "painter"
    title = "Painter"
    kind = "image"
    params = (SEED, WIDTH, SCALE, TILE, MODE, PROMPT)

    def generate(self, request, ctx):
        yield Result("image", None, self.id, dict(request.params))


def test_request_fills_defaults_and_coerces_command_line_strings():
    request = Painter().request({"width": "64", "scale": "3.5", "tile": "yes", "seed": "9"})
    assert isinstance(request, Request)
    assert request.generator == "painter"
    assert dict(request.params) == {
        "seed": 9, "width": 64, "scale": 3.5, "tile": True, "mode": "colour", "prompt": "",
    }
    assert request["width"] == 64
    assert request.seed == 9


@pytest.mark.parametrize("seed", [None, -1, "-1", "random"])
def test_request_draws_a_random_seed_and_records_it(seed):
    values = {} if seed is None else {"seed": seed}
    first = Painter().request(values)
    assert isinstance(first.seed, int) and 0 <= first.seed <= SEED_MAX
    assert first.params["seed"] == first.seed
    draws = {Painter().request(values).seed for _ in range(8)}
    assert len(draws) > 1, "a random seed should not come out the same every time"


def test_request_draws_the_seed_from_the_given_rng():
    one = Painter().request({}, rng=random.Random(1234)).seed
    two = Painter().request({}, rng=random.Random(1234)).seed
    assert one == two == random.Random(1234).randint(0, SEED_MAX)


def test_request_keeps_a_fixed_seed_and_does_not_touch_the_input():
    values = {"seed": 77}
    request = Painter().request(values)
    assert request.seed == 77
    assert values == {"seed": 77}


def test_request_rejects_unknown_names_and_lists_the_known_ones():
    with pytest.raises(ParamError) as caught:
        Painter().request({"widht": 64, "colour": "red"})
    message = str(caught.value)
    assert "painter has no parameter colour, widht" in message
    assert "mode, prompt, scale, seed, tile, width" in message


def test_request_of_a_generator_without_params():
    class Bare(Generator):
        id = "bare"

    assert dict(Bare().request().params) == {}
    with pytest.raises(ParamError, match=r"bare has no parameter x \(its parameters: none\)"):
        Bare().request({"x": 1})


def test_request_validates_values():
    with pytest.raises(ParamError, match="width: 4 is out of range"):
        Painter().request({"width": 4})
    with pytest.raises(ParamError, match="mode"):
        Painter().request({"mode": "sepia"})


def test_generator_helpers():
    painter = Painter()
    assert painter.param("scale") is SCALE
    with pytest.raises(KeyError):
        painter.param("nope")
    assert painter.defaults()["width"] == 512


def test_progress_fraction():
    assert Progress(1, 4).fraction == 0.25
    assert Progress(5, 4).fraction == 1.0
    assert Progress(3, 0).fraction is None
    assert Progress(0, -1).fraction is None


# -- check_generator ----------------------------------------------------------------------


def _generator(**attributes):
    return type("Custom", (Painter,), attributes)()


def test_check_generator_accepts_a_good_one():
    check_generator(Painter())


def test_check_generator_rejects_what_is_not_a_generator():
    class Duck:
        id, kind, params = "duck", "image", ()

    with pytest.raises(TypeError, match="not a studio.Generator"):
        check_generator(Duck())


@pytest.mark.parametrize(
    "attributes, error, fragment",
    [
        (dict(id=""), ValueError, "has no id"),
        (dict(id=7), ValueError, "has no id"),
        (dict(kind="video"), ValueError, "kind must be one of"),
        (dict(params=(WIDTH, Param("width", "float", 1.0))), ValueError, "duplicate parameter"),
    ],
)
def test_check_generator_rejects_a_broken_generator(attributes, error, fragment):
    with pytest.raises(error, match=fragment):
        check_generator(_generator(**attributes))


def test_check_generator_rejects_params_that_are_not_params():
    # The plugin host isolates a bad plugin by catching TypeError/ValueError (check_generator's
    # documented contract); anything else would escape and take the whole host down.
    with pytest.raises(TypeError, match="not a studio.Param"):
        check_generator(_generator(params=("width",)))
    with pytest.raises(TypeError, match="not a studio.Param"):
        check_generator(_generator(params=({"name": "width", "type": "int"},)))


@pytest.mark.parametrize(
    "param",
    [
        Param("width", "int", None, min=16),  # no default at all
        Param("width", "int", 4, min=16),  # default out of its own range
        Param("scale", "float", "big"),
        Param("seed", "seed", "lucky"),
    ],
)
def test_check_generator_rejects_an_invalid_default_as_a_value_error(param):
    with pytest.raises(ValueError, match=param.name):
        check_generator(_generator(params=(param,)))


def test_an_audio_param_takes_a_clip_a_sound_file_or_nothing_when_optional(tmp_path):
    import soundfile

    from studio.core.media.sound import Audio

    optional = Param("audio_prompt", "audio", optional=True)
    assert optional.coerce(None) is None and optional.coerce("") is None
    audio = Audio(np.zeros((100, 2), np.float32), 48000)
    assert optional.coerce(audio) is audio
    path = tmp_path / "take.wav"
    soundfile.write(path, np.full((800, 1), 0.25, np.float32), 16000, subtype="FLOAT")
    loaded = optional.coerce(str(path))  # the command line gives a path
    assert isinstance(loaded, Audio) and loaded.sample_rate == 16000 and loaded.frames == 800
    with pytest.raises(ParamError, match="expected audio"):
        optional.coerce(np.zeros(10))
    with pytest.raises(StudioError, match="no such file"):
        optional.coerce(str(tmp_path / "missing.wav"))
    with pytest.raises(ParamError, match="audio is required"):
        Param("prompt_audio", "audio").coerce(None)
