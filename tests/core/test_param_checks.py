"""What ``Param.coerce`` refuses before any plugin sees a value: text that is not valid
Unicode (the bytes of a non-UTF-8 terminal, lone surrogates) and numbers off their step grid.
Every tokenizer-based built-in used to fail on such a prompt with "internal error …
TextInputSequence must be str"; a step was only a hint to the form's spin box."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.engine.generators import Generator, Param, check_generator
from studio.core.models.loaders import load_folder
from studio.errors import ParamError
from studio.host import Host
from studio_plugins.musicgen.generator import MusicGenLoader
from studio_plugins.stable_diffusion.generator import StableDiffusionLoader
from studio_plugins.text_lm.generator import LMLoader

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture_generators() -> list[Generator]:
    """Every generator the built-in plugins make from the project's own test model folders."""
    folders = [(LMLoader(), p) for p in sorted((FIXTURES / "lm" / "models").iterdir()) if p.is_dir()]
    sd = StableDiffusionLoader()  # (sdxl_controlnet_parts is no model: a test lays it over sdxl)
    folders += [(sd, p) for p in sorted((FIXTURES / "sd" / "models").iterdir()) if p.is_dir() and sd.detect(p)]
    folders.append((MusicGenLoader(), FIXTURES / "musicgen" / "model"))
    return [loader.load(folder) for loader, folder in folders]


@pytest.fixture(scope="module")
def every_generator() -> list[Generator]:
    return list(Host(safe_mode=True).generators.values()) + fixture_generators()


# -- (a) text that is not valid Unicode ---------------------------------------------------------


@pytest.mark.parametrize("text, detail", [
    ("caf\udce9 au lait", "byte 0xe9 at character 4"),  # what sys.argv holds for Latin-1 "café"
    ("a \ud83d alone", "U+D83D at character 3"),  # half of an emoji's UTF-16 pair
])
def test_text_with_lone_surrogates_is_refused_in_plain_words(text, detail):
    with pytest.raises(ParamError) as refused:
        Param("prompt", "text", "").coerce(text)
    message = str(refused.value)
    assert message.startswith("prompt: not valid text") and detail in message


def test_valid_text_passes_unchanged():
    text = "caf\u00e9 \U0001F3B5 \u6f22\u5b57 \t\n"
    assert Param("prompt", "text", "").coerce(text) == text


def test_every_text_param_of_every_tokenizer_generator_refuses_invalid_text(every_generator):
    """SD, the language models (Shakespeare and model folders) and MusicGen: none may see it."""
    checked = []
    for generator in every_generator:
        for param in generator.params:
            if param.type != "text":
                continue
            with pytest.raises(ParamError, match=f"^{param.name}: not valid text"):
                generator.request({param.name: "x\udcff"})
            checked.append(generator.id)
    assert {"shakespeare", "musicgen:model", "lm:gpt2", "sd:sd1"} <= set(checked)


def test_cli_prompt_in_a_non_utf8_terminal_is_a_one_line_error(tmp_path):
    # A Latin-1 terminal sends "café" as 63 61 66 e9; Python decodes argv with surrogateescape.
    run = subprocess.run(
        [sys.executable, "-m", "studio", "generate", "shakespeare", "-q", "--prompt", b"caf\xe9",
         "--param", "max_new_tokens=2", "--param", "seed=1"],
        cwd=tmp_path, capture_output=True, timeout=120,
    )
    stderr = run.stderr.decode("utf-8", "replace")
    assert run.returncode == 2, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("studio: error: prompt: not valid text"), stderr
    assert "0xe9" in stderr


# -- (c) the step grid ---------------------------------------------------------------------------

WIDTH = Param("width", "int", 512, min=64, max=2048, step=8)
GUIDANCE = Param("guidance", "float", 7.5, min=0.0, max=30.0, step=0.5)
SCALE = Param("scale", "float", 2.0, min=0.1, max=50.0, step=0.1)
OFFSET = Param("offset", "int", 0, step=5)  # no min: the grid counts from 0


RAGGED = Param("ragged", "float", 0.6, min=0.1, max=2.0, step=0.5)  # 0.1, 0.6, 1.1, 1.6


@pytest.mark.parametrize("param, value, grid", [
    (WIDTH, 100, "a multiple of 8"), (WIDTH, "65", "a multiple of 8"), (GUIDANCE, 7.25, "a multiple of 0.5"),
    (SCALE, 0.15, "a multiple of 0.1"), (OFFSET, 7, "a multiple of 5"), (OFFSET, -3, "a multiple of 5"),
    (RAGGED, 1.0, r"on its grid \(every 0.5 from 0.1\)"),
])
def test_a_value_off_the_step_grid_is_refused_naming_the_grid(param, value, grid):
    with pytest.raises(ParamError, match=f"^{param.name}: {value} is not {grid}; the nearest allowed values are "):
        param.coerce(value)


def test_the_refusal_names_the_nearest_allowed_values():
    with pytest.raises(ParamError) as refused:
        WIDTH.coerce(100)
    assert "96" in str(refused.value) and "104" in str(refused.value)


@pytest.mark.parametrize("param, value", [(WIDTH, 64), (WIDTH, 2048), (WIDTH, "520"), (GUIDANCE, 0.0), (GUIDANCE, "7.5"),
                                          (SCALE, 0.3), (SCALE, 2.0), (SCALE, 49.9), (SCALE, 0.1 + 0.2), (OFFSET, -15)])
def test_values_on_the_grid_pass_with_float_tolerance(param, value):
    assert param.coerce(value) == pytest.approx(float(value))


def test_snap_puts_any_number_on_the_grid_and_in_range():
    assert WIDTH.snap(101) == 104 and WIDTH.snap(99) == 96 and isinstance(WIDTH.snap(99.7), int)
    assert WIDTH.snap(10) == 64 and WIDTH.snap(5000) == 2048
    assert SCALE.snap(0.14) == pytest.approx(0.1) and SCALE.snap(1e9) == pytest.approx(50.0)
    ragged = Param("n", "int", 4, min=1, max=9, step=3)  # the max (9) is not on the grid 1, 4, 7
    assert ragged.snap(9) == 7 and ragged.snap(8.9) == 7
    assert Param("free", "float", 0.5, min=0.0, max=1.0).snap(0.123) == 0.123


def test_a_generator_whose_default_is_off_its_grid_is_refused_at_registration():
    class OffGrid(Generator):
        id, kind = "off-grid", "image"
        params = (Param("duration", "float", 8.0, min=0.1, max=30.0, step=0.5),)

    with pytest.raises(ValueError, match="invalid default for duration"):
        check_generator(OffGrid())


def test_every_generator_default_lies_on_its_step_grid(every_generator):
    """Built-ins, and what the built-in loaders make of the test model folders."""
    for generator in every_generator:
        for param in generator.params:
            if param.type in ("int", "float") and param.step:
                assert param.coerce(param.default) == pytest.approx(param.default), (generator.id, param.name)
                assert param.max is None or param.coerce(param.snap(param.max)) == pytest.approx(param.snap(param.max))


def test_a_models_suggested_values_between_steps_start_the_form_on_the_grid(tmp_path):
    """A generation_config.json that suggests values between two steps (or past the range)
    still makes a generator: it starts from the nearest allowed value."""
    folder = tmp_path / "gpt2"
    shutil.copytree(FIXTURES / "lm" / "models" / "gpt2", folder)
    config = json.loads((folder / "generation_config.json").read_text())
    config.update(do_sample=True, temperature=0.93, top_p=0.925, repetition_penalty=1.18, top_k=5000)
    (folder / "generation_config.json").write_text(json.dumps(config))

    entry = load_folder(folder, [LMLoader()])

    assert entry.ok, entry.error
    defaults = entry.generator.defaults()
    assert defaults["temperature"] == pytest.approx(0.95) and defaults["top_p"] == pytest.approx(0.92)
    assert defaults["repetition_penalty"] == pytest.approx(1.2) and defaults["top_k"] == 1000


def test_studio_generators_says_each_step(tmp_path):
    run = subprocess.run([sys.executable, "-m", "studio", "generators", "cppn"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "1000"})
    assert run.returncode == 0, run.stderr
    rows = {line.split()[0]: line for line in run.stdout.splitlines() if line.startswith("  ")}
    assert "0.1 to 50, in steps of 0.1" in rows["scale"]
    assert "16 to 8192" in rows["width"] and "steps" not in rows["width"]  # every whole number


def test_a_language_models_new_tokens_are_bounded_by_its_context():
    """The tiny GPT-2 reads 128 positions: 127 new tokens leave one for the prompt."""
    generator = LMLoader().load(FIXTURES / "lm" / "models" / "gpt2")
    assert generator.param("max_new_tokens").max == 127 and generator.defaults()["max_new_tokens"] == 127
    with pytest.raises(ParamError, match=r"^max_new_tokens: 500 is out of range \(1 to 127\)"):
        generator.request({"max_new_tokens": 500})
