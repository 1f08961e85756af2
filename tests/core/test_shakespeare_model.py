"""The built-in Shakespeare model as shipped: files, tokenizer, ONNX layout, and what it writes.

Only onnxruntime, tokenizers and numpy: the golden continuation in
``reference_continuation.json`` was made by transformers' torch model in the recipe
(plugins/text_lm/recipe.py), never by this code.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from tokenizers import Tokenizer

from studio.core.engine.onnx_import import import_onnxruntime
from studio.core.base.paths import builtin_models

ort = import_onnxruntime()

FOLDER = builtin_models() / "shakespeare"
LAYOUT_FILES = ("model.onnx", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json")
EOS = "<|endoftext|>"


def read_json(name: str) -> dict:
    return json.loads((FOLDER / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config() -> dict:
    return read_json("config.json")


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.from_file(str(FOLDER / "tokenizer.json"))


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # CI has 2 cores: leave one to the rest
    return ort.InferenceSession(str(FOLDER / "model.onnx"), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def reference() -> dict:
    return read_json("reference_continuation.json")


def greedy(session, config, prompt_ids: list[int], new_tokens: int) -> list[int]:
    """Greedy decoding with the KV cache, the way the optimum layout is meant to be driven."""
    head_dim = config["n_embd"] // config["n_head"]
    past = {f"past_key_values.{i}.{kind}": np.zeros((1, config["n_head"], 0, head_dim), np.float32)
            for i in range(config["n_layer"]) for kind in ("key", "value")}
    output_names = [o.name for o in session.get_outputs()]
    feed, total, new_ids = list(prompt_ids), len(prompt_ids), []
    for _ in range(new_tokens):
        outputs = dict(zip(output_names, session.run(None, {
            "input_ids": np.array([feed], np.int64),
            "attention_mask": np.ones((1, total), np.int64),
            "position_ids": np.arange(total - len(feed), total, dtype=np.int64)[None],
            **past,
        })))
        past = {name.replace("present", "past_key_values"): value
                for name, value in outputs.items() if name.startswith("present.")}
        next_id = int(outputs["logits"][0, -1].argmax())
        new_ids.append(next_id)
        feed, total = [next_id], total + 1
    return new_ids


@pytest.fixture(scope="module")
def continuation(session, config, tokenizer, reference) -> tuple[list[int], str]:
    ids = greedy(session, config, tokenizer.encode(reference["prompt"]).ids, len(reference["new_ids"]))
    return ids, tokenizer.decode(ids)


def test_folder_has_the_layout_the_pipeline_reads_and_stays_small():
    for name in (*LAYOUT_FILES, "ATTRIBUTION.md", "RECIPE.md", "words.txt", "reference_continuation.json"):
        assert (FOLDER / name).is_file(), name
    size = sum(path.stat().st_size for path in FOLDER.iterdir())
    assert size < 15e6, f"the committed model folder is {size / 1e6:.1f} MB"


def test_attribution_names_the_source_and_licence():
    text = (FOLDER / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for needed in ("Open Knowledge Foundation", "CC-BY 2.5", "creativecommons.org/licenses/by/2.5", "shakespeare"):
        assert needed in text, needed
    assert re.search(r"validation loss[^0-9]*\d\.\d+", (FOLDER / "RECIPE.md").read_text(encoding="utf-8"))


def test_config_tokenizer_and_generation_config_agree(config, tokenizer):
    tokenizer_config = read_json("tokenizer_config.json")
    generation = read_json("generation_config.json")
    assert config["model_type"] == "gpt2"
    assert config["vocab_size"] == tokenizer.get_vocab_size() == 2048
    assert tokenizer_config["model_max_length"] == config["n_positions"] == 256
    assert tokenizer_config["eos_token"] == tokenizer_config["bos_token"] == EOS
    eos_id = tokenizer.token_to_id(EOS)
    assert config["eos_token_id"] == config["bos_token_id"] == generation["eos_token_id"] == eos_id
    assert generation["do_sample"] is True
    assert 0.5 <= generation["temperature"] <= 1.0 and generation["top_k"] > 0
    assert generation["max_new_tokens"] == 120  # what a continuation reads keeps more than half the context
    # GPT-2 parameter count from its shape (tied input/output embeddings): the brief's 1-3 M.
    v, p, e, layers = config["vocab_size"], config["n_positions"], config["n_embd"], config["n_layer"]
    parameters = v * e + p * e + layers * (12 * e * e + 13 * e) + 2 * e
    assert 1e6 <= parameters <= 3e6


@pytest.mark.parametrize("text", [
    "ROMEO:\nBut, soft! what light through yonder window breaks?\n",
    "  two leading spaces,\ttabs\t and trailing spaces   \n\n\nblank lines",
    "O, I am fortune's fool!--'Tis prov'd; th' Duke's \"men\" (all) [Exeunt.]",
    "Unicode too: café, naïve, Æsop, “quotes”, ✓ and 🎭.",
    "",
])
def test_tokenizer_round_trips_exactly(tokenizer, text):
    ids = tokenizer.encode(text).ids
    assert all(0 <= i < tokenizer.get_vocab_size() for i in ids)
    assert tokenizer.decode(ids) == text


def test_tokenizer_knows_the_end_of_text_token_and_adds_nothing(tokenizer):
    assert tokenizer.encode(EOS).ids == [tokenizer.token_to_id(EOS)]
    assert tokenizer.encode("Exeunt").ids == tokenizer.encode("Exeunt", add_special_tokens=True).ids
    # byte-level BPE learnt on the plays: common words are single tokens, text is compressed
    assert len(tokenizer.encode(" the king").ids) == 2
    sample = "ROMEO:\nBut, soft! what light through yonder window breaks?\n"
    assert len(tokenizer.encode(sample).ids) < len(sample) / 2.2


def test_onnx_inputs_and_outputs_follow_optimum_names(session, config):
    layers, heads = config["n_layer"], config["n_head"]
    head_dim = config["n_embd"] // heads
    inputs = {i.name: (i.type, i.shape) for i in session.get_inputs()}
    outputs = {o.name: (o.type, o.shape) for o in session.get_outputs()}
    past = {f"past_key_values.{i}.{kind}" for i in range(layers) for kind in ("key", "value")}
    assert set(inputs) == {"input_ids", "attention_mask", "position_ids", *past}
    assert set(outputs) == {"logits", *(name.replace("past_key_values", "present") for name in past)}
    for name in ("input_ids", "attention_mask", "position_ids"):
        assert inputs[name][0] == "tensor(int64)"
        assert len(inputs[name][1]) == 2 and isinstance(inputs[name][1][0], str)  # dynamic batch
    for name in past:
        dtype, shape = inputs[name]
        assert dtype == "tensor(float)"
        assert shape[1:2] == [heads] and shape[3:] == [head_dim] and isinstance(shape[2], str)
    dtype, shape = outputs["logits"]
    assert dtype == "tensor(float)" and shape[2] == config["vocab_size"]


def test_batched_prompt_gives_the_same_logits_as_one_prompt(session, config, tokenizer):
    ids = tokenizer.encode("JULIET:\nAy me!").ids
    head_dim = config["n_embd"] // config["n_head"]

    def logits(batch: int) -> np.ndarray:
        feeds = {"input_ids": np.array([ids] * batch, np.int64),
                 "attention_mask": np.ones((batch, len(ids)), np.int64),
                 "position_ids": np.tile(np.arange(len(ids), dtype=np.int64), (batch, 1))}
        for i in range(config["n_layer"]):
            for kind in ("key", "value"):
                feeds[f"past_key_values.{i}.{kind}"] = np.zeros((batch, config["n_head"], 0, head_dim), np.float32)
        return session.run(["logits"], feeds)[0]

    one, two = logits(1), logits(2)
    assert one.shape == (1, len(ids), config["vocab_size"])
    np.testing.assert_allclose(two[1], one[0], atol=1e-5)


def test_greedy_continuation_matches_torch(continuation, reference):
    ids, text = continuation
    assert ids == reference["new_ids"]
    assert text == reference["text"]


def test_greedy_continuation_of_romeo_is_plausible_text(continuation):
    _, text = continuation
    # letters, spaces, newlines and the plays' punctuation: nothing else
    assert re.fullmatch(r"[A-Za-z \n.,;:!?'\-\[\]()&]*", text), repr(text)
    words = [w.strip("'").lower() for w in re.findall(r"[A-Za-z']+", text)]
    words = [w for w in words if w]
    assert len(words) >= 15, f"too few words: {text!r}"
    vocabulary = set((FOLDER / "words.txt").read_text(encoding="utf-8").split())
    known = sum(w in vocabulary for w in words) / len(words)
    assert known > 0.8, f"only {known:.0%} of the generated words are Shakespeare's: {text!r}"
    assert len(set(words)) >= 8, f"a degenerate loop: {text!r}"
