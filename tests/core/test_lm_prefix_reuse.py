"""Prefix reuse: a continuation after the last generation computes only what changed.

Every test runs the real text generator on the real fixture models (tests/fixtures/lm) and the
built-in model through the JobRunner, and holds the reused run to a fresh generator's (a new
one keeps no cache) on the same prompt, seed and settings: the text must be the same, token
for token, greedy and sampled."""

from __future__ import annotations

import gc
import json
import random
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

import studio
from studio.core.engine.generators import Preview
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.engine.runtime import Runtime
from studio_plugins.text_lm.generator import LMLoader
from studio_plugins.text_lm.pipeline import Decoder, cut_step, prompt_ids, stable_cut
from studio_plugins.text_lm.prefix_cache import cut_values

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "tests" / "fixtures" / "lm" / "models"
SHAKESPEARE = REPO / "resources" / "models" / "shakespeare"
WORDS = (SHAKESPEARE / "words.txt").read_text().split()
SAMPLED = {"temperature": 0.9, "top_k": 40, "top_p": 0.95, "seed": 11}
GREEDY = {"temperature": 0.0, "seed": 0}


def document(words: int, seed: int = 3) -> str:
    """Shakespeare's words in lines of seven, seeded: text the fixtures' tokenizers know."""
    rng = random.Random(seed)
    picked = [rng.choice(WORDS) for _ in range(words)]
    return "\n".join(" ".join(picked[i : i + 7]) for i in range(0, words, 7))


def edited(text: str, chars_from_end: int) -> str:
    """``text`` with the word that starts before its last ``chars_from_end`` characters changed."""
    at = text.rfind(" ", 0, len(text) - chars_from_end)
    end = text.find(" ", at + 1)
    return text[: at + 1] + "summer" + text[end:]


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner()
    yield runner
    runner.shutdown()


def run(runner, generator, prompt, listeners=(), **values):
    values = {"prompt": prompt, "max_new_tokens": 12, **values}
    job = runner.submit(generator, generator.request(values), listeners=listeners)
    assert job.wait(120), "no answer"
    assert job.state is JobState.FINISHED, job.message
    return job.result


def fresh(folder: Path):
    return LMLoader().load(folder)


def ids_of(generator, prompt: str, max_new: int = 12) -> list[int]:
    return prompt_ids(generator.tokenizer(), generator.model, prompt, "", max_new)[0]


def shared(a: list[int], b: list[int]) -> int:
    count = 0
    while count < min(len(a), len(b)) and a[count] == b[count]:
        count += 1
    return count


LAYOUTS = [
    (MODELS / "gpt2", "auto"),
    (MODELS / "llama", "auto"),
    (MODELS / "gpt2-merged", "auto"),
    (MODELS / "llama-genai-fp32", "auto"),  # GroupQueryAttention, no position ids
    (MODELS / "llama-genai-int4", "auto"),  # the same, 4-bit MatMulNBits at accuracy level 4
    (MODELS / "llama-variants", "fp16"),  # float16 past
    (MODELS / "llama-variants", "q4"),  # run from a copy fused here (GroupQueryAttention)
    (SHAKESPEARE, "auto"),
]


@pytest.mark.parametrize("folder, variant", LAYOUTS, ids=lambda v: v.name if isinstance(v, Path) else v)
@pytest.mark.parametrize("settings", [GREEDY, SAMPLED], ids=["greedy", "sampled"])
def test_an_edit_near_the_end_reuses_everything_before_it_and_writes_what_a_fresh_run_does(folder, variant, settings, runner):
    generator = fresh(folder)
    text = document(60)
    first = run(runner, generator, text, variant=variant, **settings)
    assert first.info["reused_tokens"] == 0
    changed = edited(text, 12)
    reused = run(runner, generator, changed, variant=variant, **settings)
    before, after = ids_of(generator, text), ids_of(generator, changed)
    expected = shared(before, after)
    assert expected > len(after) - 12  # the edit is near the end: most of the prompt is shared
    assert reused.info["reused_tokens"] == expected
    assert reused.info["prompt_tokens"] == len(after)
    alone = run(runner, fresh(folder), changed, variant=variant, **settings)
    assert alone.info["reused_tokens"] == 0
    assert reused.value == alone.value and reused.info["new_tokens"] == alone.info["new_tokens"]


@pytest.mark.parametrize("folder", [MODELS / "gpt2", MODELS / "llama-genai-fp32", SHAKESPEARE], ids=lambda v: v.name)
def test_retry_and_continue_reuse_the_last_prompt_and_compute_the_generated_text_once_more(folder, runner):
    """A Retry reads all of its prompt but the last two tokens from the cache; a continuation
    the prompt before the generated text, which it feeds again: keys and values computed one
    token at a time differ from a fresh run's in the last bits (prefix_cache.py)."""
    generator = fresh(folder)
    text = document(20)  # prompt and continuation well within the fixtures' 128 tokens
    first = run(runner, generator, text, **GREEDY)
    again = run(runner, generator, text, **GREEDY)  # Retry with the same seed
    assert again.info["reused_tokens"] == len(ids_of(generator, text)) - 2
    assert again.value == first.value
    continued = text + first.value
    second = run(runner, generator, continued, **GREEDY)
    before = ids_of(generator, text)
    assert second.info["reused_tokens"] == shared(before, ids_of(generator, continued)) >= len(before) - 1  # the last may merge
    assert second.value == run(runner, fresh(folder), continued, **GREEDY).value


@pytest.mark.parametrize("folder, kept", [(MODELS / "gpt2", 0), (MODELS / "llama", 1)], ids=["no BOS", "BOS"])
def test_an_edit_at_the_very_start_reuses_nothing_but_the_start_token(folder, kept, runner):
    generator = fresh(folder)
    text = document(40)
    run(runner, generator, text, **GREEDY)
    result = run(runner, generator, "Summer " + text, **GREEDY)
    assert result.info["reused_tokens"] == kept  # llama's prompts start with <s>
    assert result.value == run(runner, fresh(folder), "Summer " + text, **GREEDY).value


@pytest.mark.parametrize("folder, variant", [(MODELS / "gpt2-nocache", "auto"), (MODELS / "llama-variants", "int8")], ids=["no cache", "int8"])
def test_layouts_that_cannot_reuse_compute_everything_and_keep_nothing(folder, variant, runner):
    """No cache to keep; int8's activations are quantized with one scale per chunk of tokens,
    so a reused prefix would change the text a seed gives."""
    generator = fresh(folder)
    text = document(40)
    run(runner, generator, text, variant=variant, **SAMPLED)
    assert generator.prefix_cache.tokens == 0
    result = run(runner, generator, edited(text, 10), variant=variant, **SAMPLED)
    assert result.info["reused_tokens"] == 0
    assert result.value == run(runner, fresh(folder), edited(text, 10), variant=variant, **SAMPLED).value


class CacheProbe(studio.Generator):
    """Checks a generator's kept cache holds the keys and values of exactly the tokens it says:
    the logits after its tokens (the last two fed again on the cut cache) against a fresh run."""

    id, kind = "cache-probe", "text"

    def __init__(self, generator) -> None:
        self.generator = generator

    def generate(self, request, ctx):
        model = self.generator.model
        loaded = ctx.session(model.model_file)
        kept = self.generator.prefix_cache.take(loaded)
        assert kept is not None and all(value.shape()[2] >= len(kept.tokens) for value in kept.values)  # and the generated
        decoder = Decoder(model, loaded, ctx.device)
        decoder.load_cache(cut_values(kept.values, len(kept.tokens) - 2), kept.tokens[:-2])
        reused = decoder.step(ctx, kept.tokens[-2:])
        decoder.reset()
        whole = decoder.step(ctx, kept.tokens)
        yield studio.Result("text", "", self.id, {}, info={"tokens": kept.tokens, "difference": float(np.abs(reused - whole).max())})


def test_stop_mid_generation_keeps_exactly_what_was_computed_and_continuing_writes_what_a_fresh_run_does(runner):
    folder = MODELS / "gpt2"
    generator = fresh(folder)
    text = document(30)
    previews = []

    def stop_after_the_first_words(job, event) -> None:  # on the worker thread, as the UI's Stop is seen
        if isinstance(event, Preview):
            previews.append(event)
            job.cancel()

    values = {"prompt": text, "max_new_tokens": 40, **SAMPLED}
    job = runner.submit(generator, generator.request(values), listeners=[stop_after_the_first_words])
    assert job.wait(60)
    assert job.state is JobState.CANCELLED and previews
    prompt = ids_of(generator, text, 40)
    probe = runner.submit(CacheProbe(generator), CacheProbe(generator).request({}))
    assert probe.wait(60) and probe.state is JobState.FINISHED, probe.message
    probe = probe.result
    assert probe.info["tokens"] == prompt  # what was fed as a chunk: the prompt (see the module's docstring)
    assert probe.info["difference"] == 0.0
    # The probe took the cache: stop again, then continue after an edit.
    job = runner.submit(generator, generator.request(values), listeners=[stop_after_the_first_words])
    assert job.wait(60) and job.state is JobState.CANCELLED
    changed = edited(text, 8)
    continued = run(runner, generator, changed, max_new_tokens=40, **SAMPLED)
    assert continued.info["reused_tokens"] == shared(prompt, ids_of(generator, changed, 40)) > len(prompt) - 25
    assert continued.value == run(runner, fresh(folder), changed, max_new_tokens=40, **SAMPLED).value


def test_an_error_mid_generation_keeps_no_cache(tmp_path, runner):
    """A folder whose config.json claims more positions than its graph has (128): generation
    fails at position 128, mid-way; what the cache would have held is not kept."""
    folder = tmp_path / "gpt2-too-long"
    shutil.copytree(MODELS / "gpt2", folder)
    config = json.loads((folder / "config.json").read_text())
    config["n_positions"] = 400
    (folder / "config.json").write_text(json.dumps(config))
    generator = fresh(folder)
    run(runner, generator, document(20), **GREEDY)
    assert generator.prefix_cache.tokens > 0
    job = runner.submit(generator, generator.request({"prompt": document(20), "max_new_tokens": 300, **GREEDY}))
    assert job.wait(60) and job.state is JobState.FAILED
    assert generator.prefix_cache.tokens == 0
    after = run(runner, generator, document(20), **GREEDY)
    assert after.info["reused_tokens"] == 0 and after.value == run(runner, fresh(folder), document(20), **GREEDY).value


def test_the_cache_goes_with_its_variant_and_its_session(runner):
    generator = fresh(MODELS / "llama-variants")
    text = document(30)
    run(runner, generator, text, variant="fp32", **GREEDY)
    assert run(runner, generator, text, variant="fp32", **GREEDY).info["reused_tokens"] > 0
    assert run(runner, generator, text, variant="fp16", **GREEDY).info["reused_tokens"] == 0  # another variant's
    assert run(runner, generator, text, variant="fp32", **GREEDY).info["reused_tokens"] == 0  # fp16's was dropped
    assert generator.prefix_cache.tokens > 0
    runner.runtime.clear()  # the sessions go (as when models are unloaded): the cache with them
    gc.collect()
    assert generator.prefix_cache.tokens == 0


def test_the_kept_cache_never_outgrows_the_context(runner):
    generator = fresh(MODELS / "gpt2")
    result = run(runner, generator, document(40), max_new_tokens=100, **GREEDY)
    assert result.info["prompt_tokens"] + result.info["new_tokens"] > 120
    kept = generator.prefix_cache.take(runner.runtime.session(generator.model.model_file))
    assert 0 < len(kept.tokens) == result.info["prompt_tokens"] and kept.values[0].shape()[2] <= generator.model.context_length


def test_two_queues_running_one_generator_at_once_each_write_a_fresh_runs_text():
    """A CPU and a GPU job (or a job abandoned on Stop and the next) may run one generator at
    once: each takes the cache or computes afresh, never shares it half-cut."""
    generator = fresh(MODELS / "llama")
    text = document(50)
    prompts = [edited(text, chars) for chars in (5, 20, 40, 60)] * 3
    runtime = Runtime()  # one session, two queues running it at once
    runners = [JobRunner(runtime), JobRunner(runtime)]
    results: dict[int, tuple[str, int]] = {}

    def worker(which: int) -> None:
        for index in range(which, len(prompts), 2):
            result = run(runners[which], generator, prompts[index], **SAMPLED)
            results[index] = (result.value, result.info["reused_tokens"])

    threads = [threading.Thread(target=worker, args=(which,)) for which in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        expected = {prompt: run(runners[0], fresh(MODELS / "llama"), prompt, **SAMPLED).value for prompt in set(prompts)}
    finally:
        for each in runners:
            each.shutdown()
    assert len(results) == len(prompts)
    assert all(results[index][0] == expected[prompt] for index, prompt in enumerate(prompts))
    assert any(reused for _, reused in results.values())  # the cache did pass from job to job


def test_the_left_cut_of_a_long_document_stays_put_while_it_grows():
    """The built-in model reads 256 tokens: a 2,000-token document is cut from the left, at a
    multiple of a quarter of the context, so the next continuation starts at the same token
    (the step does not change with the new tokens asked for, up to half the context)."""
    generator = fresh(SHAKESPEARE)
    text = document(1200)
    first = ids_of(generator, text, 32)
    assert len(generator.tokenizer().encode(text)) > 1500 and len(first) <= 256 - 32
    grown = ids_of(generator, text + " and then some more words were written here", 32)
    assert grown[: len(first)] == first
    assert cut_step(256, 224) == 64 and cut_step(256, 56) == 28 and cut_step(4, 1) == 1
    assert stable_cut(100, 200, 50) == 0 and stable_cut(201, 200, 50) == 50 and stable_cut(250, 200, 50) == 50 and stable_cut(251, 200, 50) == 100
    assert all(200 - 50 < count - stable_cut(count, 200, 50) <= 200 for count in range(201, 2000))
