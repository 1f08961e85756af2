"""The bounds behind issue 11 item 5, case by case and in process: sizes read from model files,
prompt text cut before a tokenizer sees it, chat templates bounded in what they may build, input
pictures refused by their size before a copy is made, and the memory check's own reading of the
machine. (tests/core/test_hostile_model_files.py runs the reported cases end to end.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jinja2.sandbox
import numpy as np
import pytest

import studio
from studio.core.image.canvas_inputs import REFINE, canvas_inputs
from studio.core.image.document import ImageDocument, Layer
from studio.core.models.loaders import load_folder
from studio.errors import ModelError, ParamError, StudioError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LLAMA = FIXTURES / "lm" / "models" / "llama"


def copy(tmp_path: Path, source: Path, name: str = "model") -> Path:
    target = tmp_path / name
    shutil.copytree(source, target)
    return target


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


# -- sizes in model files ----------------------------------------------------------------------


def test_a_size_out_of_range_names_the_file_the_key_the_value_and_the_range():
    from studio.core.models.limits import bounded_int

    config = {"decoder": {"num_codebooks": 1e9, "layers": 12, "flag": True}}
    with pytest.raises(ModelError) as caught:
        bounded_int(config, "decoder.num_codebooks", 1, 64, "/m/config.json")
    assert str(caught.value) == (
        "/m/config.json: decoder.num_codebooks must be a whole number from 1 to 64, not 1,000,000,000: "
        "the model folder is damaged or not meant for this pipeline"
    )
    assert bounded_int(config, "decoder.layers", 1, 64, "c") == 12
    with pytest.raises(ModelError, match="not a number of 40 digits"):
        bounded_int({"n": 10**39}, "n", 1, 64, "c")
    assert bounded_int(config, "decoder.heads", 1, 64, "c", default=8) == 8
    with pytest.raises(ModelError, match="flag must be a whole number from 1 to 64, not True"):
        bounded_int(config, "decoder.flag", 1, 64, "c")
    with pytest.raises(ModelError, match="heads must be a whole number from 1 to 64; the file does not give it"):
        bounded_int(config, "decoder.heads", 1, 64, "c")


@pytest.mark.parametrize(
    "key, value",
    [("max_position_embeddings", 10**12), ("num_key_value_heads", 10**9), ("head_dim", 10**9), ("vocab_size", 10**12)],
)
def test_a_language_model_config_with_a_huge_size_is_refused_when_added(tmp_path, key, value):
    from studio_plugins.text_lm.generator import LMLoader

    folder = copy(tmp_path, LLAMA)
    edit_json(folder / "config.json", lambda c: c.update({key: value}))
    entry = load_folder(folder, [LMLoader()])
    assert not entry.ok and f"{key} must be a whole number" in entry.error and f"{value:,}" in entry.error


def test_a_config_holding_a_number_of_five_thousand_digits_is_not_readable_json(tmp_path):
    from studio_plugins.musicgen.generator import MusicGenLoader

    folder = copy(tmp_path, FIXTURES / "musicgen" / "model")
    text = (folder / "config.json").read_text(encoding="utf-8")
    (folder / "config.json").write_text(text.replace('"num_codebooks": 4', '"num_codebooks": ' + "9" * 5000), encoding="utf-8")
    entry = load_folder(folder, [MusicGenLoader()])
    assert not entry.ok and "config.json is not readable JSON" in entry.error and "failed to load" not in entry.error


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda c: c["decoder"].update(max_position_embeddings=10**10), "decoder.max_position_embeddings"),
        (lambda c: c["audio_encoder"].update(sampling_rate=10**10), "audio_encoder.sampling_rate"),
        (lambda c: c["audio_encoder"].update(upsampling_ratios=[10**6, 10**6]), "samples a frame"),
        (lambda c: c["decoder"].update(vocab_size=10**9), "decoder.vocab_size"),
    ],
)
def test_a_musicgen_config_with_a_huge_size_is_refused_when_added(tmp_path, change, words):
    from studio_plugins.musicgen.generator import MusicGenLoader

    folder = copy(tmp_path, FIXTURES / "musicgen" / "model")
    edit_json(folder / "config.json", change)
    entry = load_folder(folder, [MusicGenLoader()])
    assert not entry.ok and words in entry.error


@pytest.mark.parametrize(
    "place, change, words",
    [
        ("unet/config.json", lambda c: c.update(sample_size=10**9), "sample_size"),
        ("vae_decoder/config.json", lambda c: c.update(latent_channels=10**9), "latent_channels"),
        ("vae_decoder/config.json", lambda c: c.update(block_out_channels=[1] * 40), "block_out_channels"),
        ("tokenizer/tokenizer_config.json", lambda c: c.update(model_max_length=999_999), "model_max_length"),
    ],
)
def test_a_stable_diffusion_config_with_a_huge_size_is_refused(tmp_path, place, change, words):
    from studio_plugins.stable_diffusion.generator import StableDiffusionLoader
    from studio_plugins.stable_diffusion.tokenizer import CLIPTokenizer

    folder = copy(tmp_path, FIXTURES / "sd" / "models" / "sd1")
    path = folder / place
    if not path.exists():
        path.write_text("{}", encoding="utf-8")
    edit_json(path, change)
    entry = load_folder(folder, [StableDiffusionLoader()])
    if entry.ok:  # the tokenizer is read when a run starts
        with pytest.raises(ModelError, match=words):
            CLIPTokenizer.from_folder(folder / "tokenizer")
    else:
        assert words in entry.error


# -- prompt text, cut before tokenizing ----------------------------------------------------------


def test_a_ten_megabyte_prompt_is_cut_before_the_language_model_tokenizes_it(tmp_path):
    from studio_plugins.text_lm.layout import LMModel
    from studio_plugins.text_lm.pipeline import prompt_ids
    from studio_plugins.text_lm.tokenizer import LMTokenizer

    model = LMModel.read(LLAMA)
    tokenizer = LMTokenizer(model)
    prompt = "Thou art more lovely and more temperate. " * 250_000  # 10 MB
    ids, _, notes = prompt_ids(tokenizer, model, prompt, "", 8)
    assert len(ids) <= model.context_length
    # Cut at a multiple of a quarter of the limit (pipeline.stable_cut), so that the start stays put
    # while the text grows: between three quarters of the limit and all of it is tokenized.
    limit = model.context_length * 16
    said = [int(re.search(r"only its last ([\d,]+) characters were tokenized", note)[1].replace(",", "")) for note in notes if "characters were tokenized" in note]
    assert said and limit * 3 // 4 < said[0] <= limit, notes


def test_a_ten_megabyte_prompt_is_cut_before_clip_tokenizes_it_and_the_note_stays_short():
    from studio_plugins.stable_diffusion.tokenizer import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_folder(FIXTURES / "sd" / "models" / "sd1" / "tokenizer")
    tokens = tokenizer.encode("a red fox in the snow, " * 450_000)
    assert tokens.truncated and tokens.ids.shape == (tokenizer.max_length,)
    assert len(tokens.dropped) < 70_000  # it was quoted whole: 10 MB in the result's notes


# -- chat templates ---------------------------------------------------------------------------


def chat(template: str, tmp_path: Path, content: str = "Modernise\n\nTo be") -> str:
    from studio_plugins.text_lm.layout import LMModel
    from studio_plugins.text_lm.tokenizer import LMTokenizer

    folder = copy(tmp_path, LLAMA, f"t{abs(hash(template))}")
    edit_json(folder / "tokenizer_config.json", lambda c: c.update(chat_template=template))
    return LMTokenizer(LMModel.read(folder)).chat_prompt([{"role": "user", "content": content}])


@pytest.mark.parametrize(
    "template, words",
    [
        ("{{ 'ab ' * 10**8 }}", "repeats a text"),
        ("{{ 'a'|center(10**9) }}", "passes the number 1,000,000,000"),
        ("{{ 'a'.ljust(10**9) }}", "passes the number 1,000,000,000"),
        ("{{ '%1000000000s' % 'a' }}", "formats a field"),
        ("{{ '{:>1000000000}'.format('a') }}", "formats a field"),
        ("{{ 'abc'|replace('', 'x' * 90000) }}", "replaces into a text"),
        ("{{ 2 ** 10000000 }}", "raises a number to the power 10,000,000"),
        ("{% set ns = namespace(x=3) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}", "too many digits"),
        ("{% set ns = namespace(x=3) %}{% for i in range(9) %}{% set ns.x = ns.x ** 200 %}{% endfor %}", "raises a number"),
        ("{% set s = 'x' * 60000 %}{{ s + s }}", "joins texts"),
        ("{% for i in range(5000) %}{{ 'x' * 99 }}{% endfor %}", "writes a prompt too long"),
        ("{% for i in range(100000) %}{% endfor %}", "a range of 100,000 numbers"),
        ("{% set ns = namespace(x='ab') %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}", "joins texts"),
        ("{{ (['x' * 60000, 'y' * 60000])|join }}", "joins texts"),
        ("{{ ('x\n' * 50000)|indent(50000) }}", "indents a text"),
    ],
)
def test_a_chat_template_that_would_build_something_huge_is_stopped_before_it_does(tmp_path, template, words):
    started = time.perf_counter()
    with pytest.raises(ModelError) as caught:
        chat(template, tmp_path)
    assert "was stopped" in str(caught.value) and words in str(caught.value)
    assert time.perf_counter() - started < 5


def test_the_bounded_sandbox_renders_a_real_chat_template_as_jinja2_does(tmp_path):
    source = json.loads((LLAMA / "tokenizer_config.json").read_text(encoding="utf-8"))["chat_template"]
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Modernise\n\nTo be"}]
    plain = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    plain.globals["raise_exception"] = lambda message: None
    expected = plain.from_string(source).render(messages=messages, add_generation_prompt=True, bos_token="<s>", eos_token="</s>")
    from studio_plugins.text_lm.chat_template import render_chat_template

    assert render_chat_template(source, 100_000, messages=messages, add_generation_prompt=True, bos_token="<s>", eos_token="</s>") == expected
    assert chat("{{ messages[0]['content']|upper }}", tmp_path) == "MODERNISE\n\nTO BE"


# -- input pictures ------------------------------------------------------------------------------


def test_a_layer_too_large_for_a_generator_is_refused_before_it_is_copied():
    # A broadcast view: a canvas-sized layer that costs no memory, so only a copy would.
    document = ImageDocument(8200, 8200)
    document.insert(Layer("huge", np.broadcast_to(np.zeros((1, 1, 4), np.uint8), (8200, 8200, 4))))
    params = (studio.Param("prompt", "text", ""), studio.Param("init_image", "image", optional=True))
    with pytest.raises(ParamError, match="8200 × 8200 pixels; a generator takes pictures up to 8192 × 8192"):
        canvas_inputs(document, document.layers[0], params, {"prompt": "x"}, REFINE)


# -- memory --------------------------------------------------------------------------------------


def test_a_step_needing_more_memory_than_is_free_is_refused_plainly():
    from studio.core.base.memory import available_memory, ensure_memory

    free = available_memory()
    assert free is not None and free > 0  # Linux: MemAvailable
    ensure_memory(1 << 20, "a small step")
    with pytest.raises(StudioError, match=r"^a huge step needs about [\d.]+ GB of memory; this machine has [\d.]+ GB free"):
        ensure_memory(free * 2, "a huge step")


def test_the_free_memory_is_what_the_address_space_limit_leaves():
    code = (
        "import resource; from studio.core.base.memory import available_memory\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "print(available_memory())\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert 0 < int(run.stdout) < 1 << 30
