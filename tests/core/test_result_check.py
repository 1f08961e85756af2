"""Every event a generator yields is checked by the runner before anything uses it.

Real runner, real worker threads; the generators are ordinary ``studio.Generator`` subclasses
that yield one malformed thing each. A malformed result fails its job with a plain message that
names the plugin and the generator, never reaches a listener, and is never set as the result.
"""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.engine.generators import Generator, Param, Preview, Progress, Result
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.engine.result_check import MAX_AUDIO_SECONDS, MAX_TEXT_CHARS
from studio.core.engine.runtime import Runtime
from studio.core.media.sound import Audio

WAIT = 20.0
RATE = 22050


class Yields(Generator):
    """Yields the given events in order (then nothing): one malformed plugin per test."""

    title = "Yields"
    params = (Param("seed", "seed"),)

    def __init__(self, kind: str, *events, id: str = "yields") -> None:
        self.kind = kind
        self.id = id
        self.plugin_name = "acme"  # what the plugin host sets on a registered generator
        self.events = events

    def generate(self, request, ctx):
        for event in self.events:
            yield event() if callable(event) else event


def result(kind: str, value, rate: int = 0, generator: str = "yields", **fields) -> Result:
    return Result(kind, value, generator, fields.pop("params", {"seed": 1}), sample_rate=rate, **fields)


@pytest.fixture
def runner():
    runner = JobRunner(Runtime(cpu_threads=1))
    yield runner
    runner.shutdown(timeout=WAIT)


def run(runner, generator):
    seen = []
    job = runner.submit(generator, generator.request({"seed": 1}), listeners=[lambda job, event: seen.append(event)])
    assert job.wait(WAIT), f"{job} did not end"
    return job, seen


def assert_blamed(runner, generator, *words):
    job, seen = run(runner, generator)
    assert job.state is JobState.FAILED, (job.state, job.message)
    assert not job.internal_error  # the plugin's fault, told plainly: the CLI exits 2
    assert job.message.startswith(f"plugin 'acme' (generator '{generator.id}') "), job.message
    for word in words:
        assert word in job.message, job.message
    assert job.result is None and job.results == []
    assert not any(isinstance(event, Result) for event in seen), "a malformed result reached a listener"
    return job


# -- images -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, words",
    [
        (np.zeros((0, 32, 4), np.uint8), ["returned a bad image", "shape (0, 32, 4)", "height × width × 4", "at least 1"]),
        (np.zeros((32, 0, 3), np.uint8), ["shape (32, 0, 3)"]),
        (np.zeros((8, 8, 4), np.float32), ["float32 pixels", "uint8"]),
        (np.zeros((8, 8), np.uint8), ["shape (8, 8)"]),
        (np.zeros((8, 8, 2), np.uint8), ["shape (8, 8, 2)"]),
        (None, ["a NoneType", "numpy uint8 array"]),
        ([[0, 0, 0, 0]], ["a list"]),
        (np.zeros((1, 16385, 4), np.uint8), ["16385 × 1 pixels", "16384 a side"]),
    ],
)
def test_a_malformed_image_fails_the_job_and_names_the_plugin(runner, value, words):
    assert_blamed(runner, Yields("image", result("image", value)), *words)


def test_rgb_and_rgba_images_pass_as_they_are(runner):
    for channels in (3, 4):
        pixels = np.full((5, 7, channels), 9, np.uint8)
        job, _ = run(runner, Yields("image", result("image", pixels)))
        assert job.state is JobState.FINISHED, job.message
        assert job.result.value is pixels


def test_an_image_preview_must_be_rgba_because_the_window_draws_it_as_rgba(runner):
    rgb = Preview("image", np.zeros((4, 4, 3), np.uint8))
    assert_blamed(runner, Yields("image", rgb, result("image", np.zeros((4, 4, 4), np.uint8))), "sent a bad image preview", "shape (4, 4, 3)")
    empty = Preview("image", np.zeros((0, 4, 4), np.uint8))
    assert_blamed(runner, Yields("image", empty), "sent a bad image preview", "shape (0, 4, 4)")


# -- audio ------------------------------------------------------------------------------------


def test_channels_first_audio_is_refused_as_such_before_anything_else(runner):
    # (2, N) was taken as N channels of 2 frames: 5.4 GB and 11 s of resampling, then a refusal.
    stereo = np.zeros((2, 200_000), np.float32)
    assert_blamed(runner, Yields("audio", result("audio", stereo, RATE)), "shape (2, 200000)", "channels first", "frames first", "samples.T")


@pytest.mark.parametrize(
    "value, rate, words",
    [
        (np.array([0.0, np.nan, 0.1], np.float32), RATE, ["NaN or infinite"]),
        (np.array([0.0, np.inf], np.float32), RATE, ["NaN or infinite"]),
        (np.array([0.0, 1e300]), RATE, ["NaN or infinite"]),  # float64 beyond float32's range
        (np.zeros(100, np.int16), RATE, ["int16 samples", "floating-point", "divide int16 samples by 32768"]),
        (np.full(100, 12000.0, np.float32), RATE, ["reach 12000", "-1 to 1"]),  # int16 values stored as floats
        (np.zeros((0, 1), np.float32), RATE, ["no frames"]),
        (np.zeros((100, 3), np.float32), RATE, ["shape (100, 3)", "1 to 2 channels"]),
        (np.zeros((10, 2, 2), np.float32), RATE, ["shape (10, 2, 2)"]),
        (np.zeros(100, np.float32), 0, ["sample_rate 0", "8000 to 384000"]),
        (np.zeros(100, np.float32), 44100.0, ["sample_rate 44100.0"]),
        ([0.0, 0.1], RATE, ["a list", "numpy float array"]),
    ],
)
def test_malformed_audio_fails_the_job_and_names_the_plugin(runner, value, rate, words):
    assert_blamed(runner, Yields("audio", result("audio", value, rate)), "returned a bad audio", *words)


def test_audio_longer_than_studio_takes_is_refused(runner):
    frames = MAX_AUDIO_SECONDS * 8000 + 1
    assert_blamed(runner, Yields("audio", result("audio", np.zeros(frames, np.float32), 8000)), "minutes long")


def test_good_audio_comes_out_as_float32_and_an_audio_object_is_unpacked(runner):
    wide = np.linspace(-0.5, 0.5, 300).reshape(150, 2)  # float64 stereo
    job, _ = run(runner, Yields("audio", result("audio", wide, RATE)))
    assert job.state is JobState.FINISHED, job.message
    assert job.result.value.dtype == np.float32 and job.result.value.shape == (150, 2)
    np.testing.assert_allclose(job.result.value, wide, atol=1e-7)

    clip = Audio(np.full((80, 1), 0.25, np.float32), 16000)
    job, _ = run(runner, Yields("audio", result("audio", clip)))
    assert job.state is JobState.FINISHED, job.message
    assert job.result.sample_rate == 16000 and job.result.value.shape == (80, 1)


def test_an_audio_preview_with_nan_fails_the_job(runner):
    chunk = Preview("audio", np.array([[np.nan]], np.float32), sample_rate=RATE)
    assert_blamed(runner, Yields("audio", chunk), "sent a bad audio preview", "NaN")


# -- text -------------------------------------------------------------------------------------


def test_a_lone_surrogate_in_text_becomes_a_replacement_character(runner):
    job, seen = run(runner, Yields("text", Preview("text", "a\ud800b"), result("text", "a\ud800b")))
    assert job.state is JobState.FINISHED, job.message
    assert job.result.value == "a\ufffdb"
    job.result.value.encode("utf-8")  # any file can hold it now
    assert [e.value for e in seen if isinstance(e, Preview)] == ["a\ufffdb"]


def test_a_split_surrogate_pair_is_joined_into_its_character(runner):
    job, _ = run(runner, Yields("text", result("text", "\ud83d\ude00")))
    assert job.result.value == "😀"


@pytest.mark.parametrize(
    "value, words",
    [
        (b"bytes", ["a bytes", "expected a str"]),
        (None, ["a NoneType"]),
        ("x" * (MAX_TEXT_CHARS + 1), ["2,000,001 characters"]),
    ],
)
def test_malformed_text_fails_the_job(runner, value, words):
    assert_blamed(runner, Yields("text", result("text", value)), "returned a bad text", *words)


def test_a_text_result_must_be_what_streamed(runner):
    chunks = (Preview("text", "Once"), Preview("text", " upon"))
    assert_blamed(runner, Yields("text", *chunks, result("text", "Twice")), "differs from the text it streamed")
    job, _ = run(runner, Yields("text", *chunks, result("text", "Once upon")))
    assert job.state is JobState.FINISHED, job.message


def test_each_result_of_a_batch_is_held_to_its_own_chunks(runner):
    events = (Preview("text", "a"), result("text", "a"), Preview("text", "b"), result("text", "b"), result("text", "c"))
    job, _ = run(runner, Yields("text", *events))
    assert job.state is JobState.FINISHED, job.message
    assert [r.value for r in job.results] == ["a", "b", "c"]


# -- every kind -------------------------------------------------------------------------------


def test_a_result_of_another_kind_is_refused(runner):
    assert_blamed(runner, Yields("audio", result("image", np.zeros((4, 4, 4), np.uint8))), "'image' result", "its kind is 'audio'")


def test_a_result_that_names_another_generator_is_refused(runner):
    assert_blamed(runner, Yields("text", result("text", "hi", generator="someone-else")), "'someone-else'", "must be 'yields'")


@pytest.mark.parametrize(
    "params, words",
    [
        ([("seed", 1)], ["a list, not a mapping"]),
        ({1: "x"}, ["named 1"]),
        ({"strength": float("nan")}, ["'strength'", "finite"]),
        ({"where": object()}, ["'where'", "JSON-plain"]),
    ],
)
def test_params_must_be_json_plain(runner, params, words):
    assert_blamed(runner, Yields("text", result("text", "hi", params=params)), *words)


def test_params_keep_the_pictures_and_sounds_given_and_plain_values(runner):
    picture = np.zeros((4, 4, 4), np.uint8)
    params = {"seed": np.int64(3), "init_image": picture, "tags": ("a", "b\ud800"), "nested": {"k": [1, 2.5, None, True]}}
    job, _ = run(runner, Yields("text", result("text", "hi", params=params)))
    assert job.state is JobState.FINISHED, job.message
    assert job.result.params == {"seed": 3, "init_image": picture, "tags": ["a", "b\ufffd"], "nested": {"k": [1, 2.5, None, True]}}


def test_notes_must_be_a_list_of_text(runner):
    assert_blamed(runner, Yields("text", result("text", "hi", info={"notes": "one note"})), "info['notes']")


@pytest.mark.parametrize("event", ["a string", None, Progress(float("nan"), 1), Progress(1, 2, message=3)])
def test_an_event_that_is_not_one_is_refused(runner, event):
    assert_blamed(runner, Yields("text", event, result("text", "x")))


def test_a_generator_not_registered_by_a_plugin_is_blamed_by_its_module(runner):
    generator = Yields("text", result("text", None))
    del generator.plugin_name
    job, _ = run(runner, generator)
    assert job.message.startswith(f"plugin '{__name__}' (generator 'yields') returned a bad text"), job.message
