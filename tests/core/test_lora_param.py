"""The ``loras`` parameter type: what it accepts from the form, a project and the command line,
what it refuses and how it is recorded (the result's parameters, A1111's ``<lora:NAME:W>``)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

import studio
from studio.cli.generate import parse_params, reproduce_command
from studio.cli.generators import describe_accepts, describe_default
from studio.core.engine.generators import Param
from studio.core.engine.lora_values import split_entry
from studio.core.project.history import plain_params
from studio.core.project.outputs import parameters_text, studio_parameters_json
from studio.core.project.reuse import parse_a1111
from studio.errors import ParamError, StudioError

SD_MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models"
LORAS = Param("loras", "loras", ())


@pytest.fixture
def files(tmp_path):
    a = tmp_path / "detail tweaker.safetensors"
    b = tmp_path / "ink:style.safetensors"  # a colon in the name, as some downloads have
    for path in (a, b):
        path.write_bytes(b"\0" * 16)
    return a, b


def test_values_from_the_form_a_project_and_the_command_line(files, monkeypatch):
    a, b = files
    assert LORAS.coerce(()) == () and LORAS.coerce(None) == () and LORAS.coerce("") == ()
    assert LORAS.coerce([(str(a), 0.8)]) == ((str(a), 0.8),)
    assert LORAS.coerce([[str(a), 1], [str(b), -0.5]]) == ((str(a), 1.0), (str(b), -0.5))  # JSON from a project
    stored = json.loads(json.dumps(plain_params({"loras": ((str(a), 0.8),)})))  # a history entry, saved and read back
    assert LORAS.coerce(stored["loras"]) == ((str(a), 0.8),)
    assert LORAS.coerce([f"{a}:0.8", str(b)]) == ((str(a), 0.8), (str(b), 1.0))  # the CLI's text
    assert LORAS.coerce(f"{b}:-1.5") == ((str(b), -1.5),)
    monkeypatch.chdir(a.parent)
    assert LORAS.coerce(["detail tweaker.safetensors:0.25"]) == ((str(a), 0.25),)  # absolute in the result


@pytest.mark.parametrize(
    "text, expected",
    [
        ("style.safetensors:0.8", ("style.safetensors", 0.8)),
        ("style.safetensors", ("style.safetensors", None)),
        (r"C:\loras\style.safetensors", (r"C:\loras\style.safetensors", None)),
        (r"C:\loras\style.safetensors:0.8", (r"C:\loras\style.safetensors", 0.8)),
        ("a:b.safetensors", ("a:b.safetensors", None)),
        ("a:b.safetensors:-2", ("a:b.safetensors", -2.0)),
        ("style.safetensors:1e-1", ("style.safetensors", 0.1)),
    ],
)
def test_the_weight_is_split_off_the_last_colon_only_when_it_is_a_number(text, expected):
    assert split_entry(text) == expected


@pytest.mark.parametrize(
    "value, words",
    [
        (["missing.safetensors:0.5"], "no such LoRA file"),
        (["{a}:5"], "lies from -4 to 4"),
        (["{a}:nan"], "lies from -4 to 4"),
        (["{a}:inf"], "lies from -4 to 4"),
        ([["{a}", "heavy"]], "must be a number"),
        ([["{a}", True]], "must be a number"),
        (["{a}", "{a}:0.5"], "given twice"),
        (["{dir}"], "not a regular file"),
        (["style.ckpt"], "pickled files can run code"),
        (["notes.txt"], "not a .safetensors file"),
        ([":0.5"], "no file name"),
        ([42], "expected FILE or FILE:WEIGHT"),
        (7, "expected LoRA files"),
        (["{a}"] * 17, "16 at most"),
    ],
)
def test_bad_values_are_refused_saying_which_and_why(files, tmp_path, value, words):
    a, _ = files
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()

    def fill(item):
        if isinstance(item, str):
            return item.format(a=a, dir=folder)
        if isinstance(item, list):
            return [fill(x) for x in item]
        return item

    with pytest.raises(ParamError, match=words) as error:
        LORAS.coerce(fill(value))
    assert str(error.value).startswith("loras: ")


def test_a_generator_may_declare_loras_and_its_default_is_checked():
    class WithLoras(studio.Generator):
        id, kind = "with-loras", "image"
        params = (Param("loras", "loras", ()),)

    from studio.core.engine.generators import check_generator

    check_generator(WithLoras())
    assert WithLoras().request({}).params["loras"] == ()


def test_the_command_line_gathers_repeated_lora_flags(files):
    a, b = files
    values = parse_params(["seed=3", f"lora={a}:0.8", f"lora={b}", "steps=4"])
    assert values == {"seed": "3", "loras": [f"{a}:0.8", str(b)], "steps": "4"}
    with pytest.raises(StudioError, match="given twice"):
        parse_params(["seed=3", "seed=4"])


def test_the_sd_generator_takes_loras_and_the_reproduce_line_gives_them_back(files):
    from studio_plugins.stable_diffusion.generator import StableDiffusionLoader

    a, b = files
    generator = StableDiffusionLoader().load(SD_MODELS / "sd1")
    param = generator.param("loras")
    assert param.type == "loras" and param.default == ()
    request = generator.request({**parse_params([f"lora={a}:0.8", f"lora={b}:-0.5"]), "seed": 7})
    assert request["loras"] == ((str(a), 0.8), (str(b), -0.5))
    words = shlex.split(reproduce_command(generator, request.params))
    assert [words[i + 1] for i, w in enumerate(words) if w == "--param" and "lora" in words[i + 1]] == [f"lora={a}:0.8", f"lora={b}:-0.5"]
    assert describe_default(param) == "none"
    assert "lora=FILE[:WEIGHT]" in describe_accepts(param)


def test_the_png_parameters_text_names_loras_as_a1111_does(files):
    a, b = files
    params = {"prompt": "a lighthouse", "negative_prompt": "", "steps": 20, "loras": ((str(a), 0.8), (str(b), 1.0))}
    text = parameters_text("sd:model", params)
    first, *_, last = text.splitlines()
    assert first == "a lighthouse <lora:detail tweaker:0.8> <lora:ink:style:1>"
    assert "Loras" not in last and "Steps: 20" in last
    assert parse_a1111(text).params["prompt"] == first  # A1111's readers find the tags in the prompt
    assert json.loads(studio_parameters_json("sd:model", params))["params"]["loras"] == [[str(a), 0.8], [str(b), 1.0]]
    assert parameters_text("sd:model", {"prompt": "", "loras": ((str(a), 0.5),)}).splitlines()[0] == "<lora:detail tweaker:0.5>"
    assert "<lora" not in parameters_text("x", {"prompt": "p", "loras": "not pairs"})
