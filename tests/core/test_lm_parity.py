"""Our causal-LM pipeline against transformers' torch models on the same tiny weights: the
next-token logits for the prompt and 20 cached steps within 1e-4, the same greedy tokens,
the same tokenizer ids and chat-template text. Goldens come from transformers
(tests/fixtures/lm/build_models.py), never from this code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio_plugins.text_lm.generator import LMLoader
from studio_plugins.text_lm.layout import LMModel
from studio_plugins.text_lm.pipeline import Decoder
from studio_plugins.text_lm.tokenizer import LMTokenizer
from parity_device import check_sessions_ran_on, parity_device  # STUDIO_TEST_DEVICE: bench/gpu_check.py runs these on CUDA

DEVICE = parity_device()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lm"
MANIFEST = json.loads((FIXTURES / "goldens" / "manifest.json").read_text())
CASES = {case["name"]: case for case in MANIFEST["cases"]}
BOUND = MANIFEST["parity_bound"]
# The gpt2 goldens hold for the same weights exported without a cache and as a merged file.
VARIANTS = [(name, model) for name, case in CASES.items() for model in ([case["model"]] + (["gpt2-nocache", "gpt2-merged"] if case["model"] == "gpt2" else []))]


class StepThrough(studio.Generator):
    """Feeds the prompt, then the golden greedy tokens, recording every logits row."""

    id, kind = "lm-parity", "text"

    def __init__(self, model: LMModel, prompt: list[int], tokens: list[int]) -> None:
        self.model, self.prompt, self.tokens = model, prompt, tokens

    def generate(self, request, ctx):
        decoder = Decoder(self.model, ctx.session(self.model.model_file), ctx.device)
        sequence = list(self.prompt)
        rows = [decoder.step(ctx, sequence)]
        for token in self.tokens:
            sequence.append(token)
            rows.append(decoder.step(ctx, [token] if decoder.has_cache else sequence))
        yield studio.Result("text", "", self.id, {}, info={"rows": np.stack(rows)})  # a result's value must be text


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()
    check_sessions_ran_on(runner.runtime, DEVICE)


def run(runner, generator, values=None, listeners=()):
    job = runner.submit(generator, generator.request(values or {}), DEVICE, listeners=listeners)
    assert job.wait(120), "no answer"
    assert job.state is JobState.FINISHED, job.message
    return job.result


@pytest.mark.parametrize("case, model_name", VARIANTS)
def test_logits_match_transformers_for_the_prompt_and_20_cached_steps(case, model_name, runner):
    golden = np.load(FIXTURES / "goldens" / CASES[case]["file"])
    model = LMModel.read(FIXTURES / "models" / model_name)
    rows = run(runner, StepThrough(model, golden["input_ids"].tolist(), golden["greedy_tokens"].tolist())).info["rows"]
    difference = np.abs(rows - golden["logits"]).max()
    assert difference <= BOUND, f"{case} on {model_name}: max abs logits difference {difference:.2e} > {BOUND}"
    assert rows[:-1].argmax(axis=1).tolist() == golden["generate_tokens"].tolist()


@pytest.mark.parametrize("case, model_name", VARIANTS)
def test_greedy_generation_streams_transformers_tokens(case, model_name, runner):
    spec = CASES[case]
    golden = np.load(FIXTURES / "goldens" / spec["file"])
    folder = FIXTURES / "models" / model_name
    generator = LMLoader().load(folder)
    tokenizer = LMTokenizer(generator.model)
    assert tokenizer.encode(spec["prompt"]) == golden["input_ids"].tolist()
    tokens = golden["generate_tokens"].tolist()
    eos = generator.model.eos_ids(tokenizer.eos_id)
    expected = tokens[: next((i for i, t in enumerate(tokens) if t in eos), len(tokens))]
    chunks = []
    result = run(
        runner, generator,
        {"prompt": spec["prompt"], "max_new_tokens": 20, "temperature": 0.0, "repetition_penalty": 1.0, "seed": 1},
        listeners=[lambda job, event: chunks.append(event.value) if isinstance(event, studio.Preview) else None],
    )
    assert result.value == tokenizer.decode(expected)
    assert "".join(chunks) == result.value  # streamed chunks add up to the text, nothing split badly or lost
    assert result.info["new_tokens"] == len(expected)


@pytest.mark.parametrize("chat", MANIFEST["chat_template_cases"], ids=lambda c: c["name"])
def test_chat_template_renders_like_transformers(chat):
    tokenizer = LMTokenizer(LMModel.read(FIXTURES / "models" / chat["model"]))
    text = tokenizer.chat_prompt(chat["messages"])
    assert text == chat["text"]
    assert tokenizer.encode(text, special=False) == chat["input_ids"]
