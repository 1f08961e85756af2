"""Parameters read from pictures (Studio's JSON, AUTOMATIC1111's text) and fitted to a generator."""

from __future__ import annotations

import numpy as np

import studio
from studio.core.engine.generators import Result
from studio.core.media.pictures import read_picture
from studio.core.project.outputs import parameters_text, write_result
from studio.core.project.reuse import fit_parameters, parse_a1111, picture_parameters

A1111 = """masterpiece, a lighthouse at night, "stormy" sea
very detailed
Negative prompt: blurry, lowres
Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 3141592, Size: 768x512, Model hash: abc123, Model: dreamy, Lora hashes: "a: 1, b: 2", Version: v1.9.4"""

SD_PARAMS = (
    studio.Param("prompt", "text", ""),
    studio.Param("negative_prompt", "text", ""),
    studio.Param("init_image", "image", optional=True),
    studio.Param("steps", "int", 20, min=1, max=150),
    studio.Param("guidance", "float", 7.0, min=0, max=30),
    studio.Param("scheduler", "choice", "euler", choices=("euler", "euler_ancestral", "ddim", "dpmpp_2m_karras", "lcm")),
    studio.Param("seed", "seed"),
    studio.Param("width", "int", 512, min=64, max=2048),
    studio.Param("height", "int", 512, min=64, max=2048),
)


def test_a1111_text_is_parsed_into_prompt_negative_and_settings():
    parsed = parse_a1111(A1111)
    params = parsed.params
    assert parsed.source == "a1111" and parsed.generator == ""
    assert params["prompt"] == 'masterpiece, a lighthouse at night, "stormy" sea\nvery detailed'
    assert params["negative_prompt"] == "blurry, lowres"
    assert params["steps"] == 28 and params["cfg_scale"] == 6.5 and params["seed"] == 3141592
    assert (params["width"], params["height"]) == (768, 512)
    assert params["lora_hashes"] == "a: 1, b: 2"  # a quoted value keeps its commas


def test_a1111_names_are_fitted_to_a_generator_s_own():
    fitted = fit_parameters(parse_a1111(A1111).params, SD_PARAMS)
    assert fitted == {
        "prompt": 'masterpiece, a lighthouse at night, "stormy" sea\nvery detailed',
        "negative_prompt": "blurry, lowres",
        "steps": 28,
        "guidance": 6.5,
        "scheduler": "dpmpp_2m_karras",
        "seed": 3141592,
        "width": 768,
        "height": 512,
    }
    euler_a = fit_parameters({"sampler": "Euler a"}, SD_PARAMS)
    assert euler_a == {"scheduler": "euler_ancestral"}
    assert fit_parameters({"sampler": "Heun"}, SD_PARAMS) == {}  # no such choice: left alone


def test_a_prompt_alone_is_a_prompt_not_settings():
    parsed = parse_a1111("portrait: a woman in red")
    assert parsed.params == {"prompt": "portrait: a woman in red"}


def test_studio_s_own_text_round_trips_through_the_a1111_parser():
    params = {"seed": 42, "width": 96, "height": 64, "scale": 2.5, "colour_mode": "hsv"}
    parsed = parse_a1111(parameters_text("cppn", params))
    assert parsed.generator == "cppn" and parsed.params == params


def test_pictures_prefer_studio_s_exact_json(tmp_path):
    params = {"prompt": "fox", "seed": 4_000_000_000, "steps": 3}
    path = write_result(Result("image", np.zeros((8, 8, 4), np.uint8), "sd:tiny", params), tmp_path / "fox.png")
    _, metadata = read_picture(path)
    found = picture_parameters(metadata)
    assert found.source == "studio" and found.generator == "sd:tiny" and found.params == params
    assert "fox" in found.summary() and "4000000000" in found.summary()
    only_text = picture_parameters({"parameters": A1111})
    assert only_text.source == "a1111" and only_text.params["steps"] == 28
    assert picture_parameters({}) is None and picture_parameters({"studio": "{broken"}) is None
