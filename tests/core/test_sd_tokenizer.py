"""The Stable Diffusion plugin's CLIP tokenizer against transformers' own ids.

tests/fixtures/sd/tokenizer_golden.json was made by build_tokenizer_golden.py with
transformers' CLIPTokenizer, called as diffusers' pipelines call it, on tokenizer folders laid
out as SD 1.x, SD 2.x and SDXL ship them and as transformers 5 saves them. Each layout is
rebuilt here from the golden's own copy of its config files and the real CLIP vocabulary.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import studio
from studio_plugins.stable_diffusion.tokenizer import CLIPTokenizer, TokenizedPrompt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sd"
VOCABULARY = FIXTURES / "clip_tokenizer"
GOLDEN = json.loads((FIXTURES / "tokenizer_golden.json").read_text(encoding="ascii"))
PROMPTS = {prompt["name"]: prompt for prompt in GOLDEN["prompts"]}
LAYOUTS = list(GOLDEN["layouts"])
BOS, EOS, BANG = 49406, 49407, 0


def write_tokenizer_folder(folder: Path, files: dict[str, object], vocabulary_files: bool = True) -> Path:
    folder.mkdir(parents=True)
    if vocabulary_files:
        shutil.copy(VOCABULARY / "vocab.json", folder)
        shutil.copy(VOCABULARY / "merges.txt", folder)
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content), encoding="utf-8")
    return folder


def write_layout(folder: Path, layout: dict) -> Path:
    """A golden layout's folder. transformers 5 keeps the vocabulary in tokenizer.json; the golden
    stores that file without it (the builder checked it is exactly clip_tokenizer's)."""
    if layout.get("vocabulary") != "tokenizer.json":
        return write_tokenizer_folder(folder, layout["files"])
    files = json.loads(json.dumps(layout["files"]))
    model = files["tokenizer.json"]["model"]
    model["vocab"] = json.loads((VOCABULARY / "vocab.json").read_text(encoding="utf-8"))
    lines = (VOCABULARY / "merges.txt").read_text(encoding="utf-8").splitlines()
    model["merges"] = [line.split(" ") for line in lines if not line.startswith("#version")]
    return write_tokenizer_folder(folder, files, vocabulary_files=False)


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory) -> dict[str, CLIPTokenizer]:
    root = tmp_path_factory.mktemp("tokenizers")
    return {name: CLIPTokenizer.from_folder(write_layout(root / name, layout))
            for name, layout in GOLDEN["layouts"].items()}


@pytest.fixture(scope="module")
def sd1(tokenizers) -> CLIPTokenizer:
    return tokenizers["sd1"]


# --- parity with transformers ------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", list(PROMPTS))
def test_ids_match_transformers(tokenizers, layout, name):
    prompt = PROMPTS[name]
    expected = prompt["ids"][layout]
    tokens = tokenizers[layout].encode(prompt["text"])

    assert tokens.ids.tolist() == expected
    assert tokens.token_count == prompt["prompt_tokens"][layout]
    assert tokens.truncated == (prompt["prompt_tokens"][layout] > GOLDEN["max_length"] - 2)
    assert tokens.eos_index == expected.index(EOS)  # the first EOS: where CLIP's pooler reads
    assert (tokens.dropped != "") == tokens.truncated


@pytest.mark.parametrize("layout, pad_id", [("sd1", EOS), ("sd2", BANG), ("sdxl_tokenizer", EOS),
                                            ("sdxl_tokenizer_2", BANG), ("bare", EOS),
                                            ("transformers5_saved", BANG)])
def test_special_ids_come_from_the_folder(tokenizers, layout, pad_id):
    tokenizer = tokenizers[layout]
    assert (tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id) == (BOS, EOS, pad_id)
    assert tokenizer.max_length == GOLDEN["max_length"] == 77


def test_golden_covers_the_window_edges():
    """The corpus must keep prompts on both sides of 75 tokens, or the truncation checks above
    would pass without ever truncating."""
    counts = {name: prompt["prompt_tokens"]["sd1"] for name, prompt in PROMPTS.items()}
    assert (counts["tokens_75"], counts["tokens_76"]) == (75, 76)
    assert counts["words_500"] > 500
    assert len(PROMPTS) >= 60
    assert GOLDEN["reference"]["backend"] == "tokenizers"


# --- the TokenizedPrompt contract --------------------------------------------------------------


def test_short_prompt_is_bos_tokens_eos_then_padding(tokenizers):
    tokens = tokenizers["sd2"].encode("a photo of a cat")
    assert isinstance(tokens, TokenizedPrompt)
    assert tokens.ids.dtype == np.int64 and tokens.ids.shape == (77,)
    assert tokens.ids[:7].tolist() == [BOS, 320, 1125, 539, 320, 2368, EOS]
    assert (tokens.ids[7:] == BANG).all()
    assert (tokens.truncated, tokens.dropped, tokens.eos_index, tokens.token_count) == (False, "", 6, 5)
    with pytest.raises(ValueError):
        tokens.ids[3] = 0  # shared with the pipeline: nobody may change it in place


def test_exactly_75_tokens_fit_and_76_do_not(sd1):
    fits = sd1.encode(PROMPTS["tokens_75"]["text"])
    assert not fits.truncated and fits.dropped == "" and fits.eos_index == 76
    over = sd1.encode(PROMPTS["tokens_76"]["text"])
    assert over.truncated and over.dropped == "cat" and over.eos_index == 76 and over.ids[-1] == EOS


@pytest.mark.parametrize("layout, name, dropped", [
    ("sd1", "tokens_77", "cat cat"),
    ("sd1", "cut_inside_word", "califragilisticexpialidocious"),  # "super" made the cut
    ("sd1", "cut_at_exclamations", "yes!!"),  # CLIP's vocabulary has "!!!!" as one token...
    ("sd2", "cut_at_exclamations", "!!! yes!!"),  # ...but a "!" pad token makes each "!" one token
])
def test_dropped_is_the_users_own_text_that_did_not_fit(tokenizers, layout, name, dropped):
    assert tokenizers[layout].encode(PROMPTS[name]["text"]).dropped == dropped


def test_dropped_keeps_the_users_spelling(sd1):
    prompt = " ".join(["cat"] * 75) + "   A Dog, Named RÉX  "
    tokens = sd1.encode(prompt)
    assert tokens.truncated and tokens.dropped == "A Dog, Named RÉX"


@pytest.mark.parametrize("name", [n for n, p in PROMPTS.items() if p["prompt_tokens"]["sd1"] > 75])
def test_dropped_is_a_tail_of_the_prompt(sd1, name):
    text = PROMPTS[name]["text"]
    dropped = sd1.encode(text).dropped
    assert dropped and text.rstrip().endswith(dropped)


def test_eos_index_is_the_first_eos_even_inside_the_prompt(sd1):
    tokens = sd1.encode("a <|endoftext|> b")
    assert tokens.ids[:5].tolist() == [BOS, 320, EOS, 321, EOS]  # a, <|endoftext|>, b
    assert tokens.eos_index == 2


# --- what the folder says ----------------------------------------------------------------------


def test_model_max_length_from_tokenizer_config(tmp_path):
    folder = write_tokenizer_folder(tmp_path / "tokenizer", {"tokenizer_config.json": {"model_max_length": 16}})
    tokenizer = CLIPTokenizer.from_folder(folder)
    tokens = tokenizer.encode(" ".join(["cat"] * 20))
    assert tokenizer.max_length == 16 and tokens.ids.shape == (16,)
    assert tokens.ids.tolist() == [BOS] + [2368] * 14 + [EOS]
    assert tokens.truncated and tokens.dropped == "cat cat cat cat cat cat"


def test_unknown_length_sentinel_means_clips_77(tmp_path):
    """transformers writes 1e30 when a tokenizer has no length of its own."""
    folder = write_tokenizer_folder(tmp_path / "tokenizer",
                                    {"tokenizer_config.json": {"model_max_length": 1000000000000000019884624838656}})
    assert CLIPTokenizer.from_folder(folder).max_length == 77


# --- bad folders -------------------------------------------------------------------------------


VOCAB_BYTES = (VOCABULARY / "vocab.json").read_bytes()


@pytest.mark.parametrize("filename, content, says", [
    ("merges.txt", None, "missing"),
    ("vocab.json", None, "missing"),
    ("vocab.json", VOCAB_BYTES[: len(VOCAB_BYTES) // 2], "truncated"),
    ("vocab.json", b"[1, 2, 3]", "BPE vocabulary"),
    ("vocab.json", b'{"a": "zero"}', "BPE vocabulary"),
    ("vocab.json", b"\xff\xfe\x00garbage", "UTF-8"),
    ("merges.txt", b"#version: 0.2\ni n\nthis line has five symbols\n", "line 3"),
    ("merges.txt", b"#version: 0.2\n", "no merges"),
    ("merges.txt", b"#version: 0.2\ni n\n\xe2\x98\x83 \xe2\x98\x83\n", "does not fit"),  # symbols vocab.json lacks
    ("tokenizer_config.json", b'{"model_max_length": 77,', "not valid JSON"),
    ("tokenizer_config.json", b'{"model_max_length": "long"}', "model_max_length"),
    ("tokenizer_config.json", b'{"added_tokens_decoder": {"zero": {"content": "!"}}}', "added_tokens_decoder"),
    ("tokenizer_config.json", b'{"added_tokens_decoder": {"0": "!"}}', "added_tokens_decoder"),
    ("special_tokens_map.json", b"[]", "JSON object"),
])
def test_broken_file_is_a_model_error_naming_it(tmp_path, filename, content, says):
    folder = write_tokenizer_folder(tmp_path / "tokenizer", {})
    if content is None:
        (folder / filename).unlink()
    else:
        (folder / filename).write_bytes(content)
    with pytest.raises(studio.ModelError) as caught:
        CLIPTokenizer.from_folder(folder)
    assert filename in str(caught.value) and says in str(caught.value)


@pytest.mark.parametrize("content, says", [
    (b'{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"', "not valid JSON"),
    (b'{"model": {"type": "WordPiece", "vocab": {"a": 0}}}', "BPE tokenizer"),
    (b'{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}', "no merges"),
    (b'{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a"]]}}', "pair of symbols"),
    (b'{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]}}', "do not fit"),
])
def test_broken_tokenizer_json_is_a_model_error_naming_it(tmp_path, content, says):
    folder = write_tokenizer_folder(tmp_path / "tokenizer", {}, vocabulary_files=False)
    (folder / "tokenizer.json").write_bytes(content)
    with pytest.raises(studio.ModelError) as caught:
        CLIPTokenizer.from_folder(folder)
    assert "tokenizer.json" in str(caught.value) and says in str(caught.value)


def test_missing_folder_is_a_model_error(tmp_path):
    with pytest.raises(studio.ModelError, match="vocab.json is missing"):
        CLIPTokenizer.from_folder(tmp_path / "no-such-tokenizer")


@pytest.mark.parametrize("pad", ["<pad>", {"content": ""}, 7])
def test_pad_token_the_encoder_cannot_embed_is_a_model_error(tmp_path, pad):
    """A token outside vocab.json would index past the text encoder's embedding table."""
    folder = write_tokenizer_folder(tmp_path / "tokenizer", {"special_tokens_map.json": {"pad_token": pad}})
    with pytest.raises(studio.ModelError, match="pad token"):
        CLIPTokenizer.from_folder(folder)
