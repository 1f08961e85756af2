"""Chatting with a language model through its chat template, on the real llama fixture (whose
template is Llama-2's ``[INST] … [/INST]`` and closes a reply with ``</s>``): the prompt is the
template's rendering, a reply is continued from its last character (no end-of-turn in the
prompt), templates that trim or wrap a reply still continue, and a model without a template
says it cannot chat."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

from studio.core.engine.jobs import JobRunner, JobState
from studio.errors import ParamError
from studio_plugins.text_lm.chat_prompt import chat_prompt_ids, parse_messages
from studio_plugins.text_lm.generator import LMLoader
from studio_plugins.text_lm.layout import LMModel
from studio_plugins.text_lm.tokenizer import LMTokenizer

MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "lm" / "models"
LLAMA = MODELS / "llama"
CONVERSATION = [
    {"role": "system", "content": "You speak like a sonnet."},
    {"role": "user", "content": "What is love?"},
    {"role": "assistant", "content": "A star to every wandering bark."},
    {"role": "user", "content": "And time?"},
]


def reference_ids(folder: Path, messages: list[dict], cut_after: str | None = None) -> list[int]:
    """What jinja2 itself renders from the folder's template, tokenized by `tokenizers`
    without special tokens (the template writes <s>), as transformers' apply_chat_template does;
    ``cut_after``: the rendering cut after the last occurrence of that text."""
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    text = environment.from_string(config["chat_template"]).render(
        messages=messages, add_generation_prompt=cut_after is None, bos_token="<s>", eos_token="</s>"
    )
    if cut_after is not None:
        text = text[: text.rindex(cut_after) + len(cut_after)]
    return Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text, add_special_tokens=False).ids


def prompt(folder: Path, messages: list[dict], max_new: int = 8) -> tuple[list[int], int, list[str]]:
    model = LMModel.read(folder)
    return chat_prompt_ids(LMTokenizer(model), model, "Llama", messages, max_new)


def run(folder: Path, **values):
    generator = LMLoader().load(folder)
    runner = JobRunner()
    try:
        job = runner.submit(generator, generator.request({"max_new_tokens": 12, "temperature": 0.9, "seed": 7, **values}))
        assert job.wait(120)
        assert job.state is JobState.FINISHED, job.message
        return job.result
    finally:
        runner.shutdown()


def with_template(tmp_path: Path, template: str) -> Path:
    folder = tmp_path / "templated"
    shutil.copytree(LLAMA, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["chat_template"] = template
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_a_new_reply_is_prompted_with_exactly_what_the_template_renders():
    ids, max_new, notes = prompt(LLAMA, CONVERSATION)
    assert ids == reference_ids(LLAMA, CONVERSATION)
    assert ids[0] == 1 and ids.count(1) == 1  # one <s>, the template's
    assert ids.count(2) == 1  # the earlier reply's </s>, and none after the question
    assert (max_new, notes) == (8, [])


def test_an_empty_last_reply_is_a_new_one():
    assert prompt(LLAMA, [*CONVERSATION, {"role": "assistant", "content": ""}])[0] == reference_ids(LLAMA, CONVERSATION)


def test_a_partial_reply_continues_from_its_end_without_the_end_of_turn():
    partial = "Time is a thief that"
    messages = [*CONVERSATION, {"role": "assistant", "content": partial}]
    ids = prompt(LLAMA, messages)[0]
    assert ids == reference_ids(LLAMA, messages, cut_after=partial)
    tokenizer = Tokenizer.from_file(str(LLAMA / "tokenizer.json"))
    assert tokenizer.decode(ids, skip_special_tokens=False).endswith("[/INST] " + partial)
    assert ids[-1] != 2 and ids.count(2) == 1  # only the earlier reply is closed


def test_the_continuation_is_what_the_model_writes_after_the_rendered_reply():
    """End to end: a chat job continuing a reply writes what a plain job writes from the same
    text, so the model really goes on from the reply's last character."""
    partial = "Love is"
    messages = [*CONVERSATION[:2], {"role": "assistant", "content": partial}]
    chat = run(LLAMA, messages=json.dumps(messages))
    rendered = Tokenizer.from_file(str(LLAMA / "tokenizer.json")).decode(prompt(LLAMA, messages)[0], skip_special_tokens=False)
    plain = run(LLAMA, prompt=rendered.removeprefix("<s>"))  # the plain path adds its own <s>
    assert chat.value == plain.value and chat.value
    assert chat.info["prompt_tokens"] == len(prompt(LLAMA, messages)[0])


def test_a_chat_reply_is_the_same_for_the_same_seed_and_differs_for_another():
    messages = json.dumps(CONVERSATION)
    first, again = run(LLAMA, messages=messages), run(LLAMA, messages=messages)
    other = run(LLAMA, messages=messages, seed=8)
    assert first.value == again.value
    assert first.value != other.value
    assert first.info["prompt_tokens"] == len(reference_ids(LLAMA, CONVERSATION))


def test_a_template_that_trims_and_wraps_a_reply_still_continues_it(tmp_path):
    folder = with_template(tmp_path, (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] | trim }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    ))
    partial = "  Time is a thief that "
    ids = prompt(folder, [*CONVERSATION, {"role": "assistant", "content": partial}])[0]
    text = Tokenizer.from_file(str(folder / "tokenizer.json")).decode(ids, skip_special_tokens=False)
    assert text.endswith("<|im_start|>assistant\n" + partial)  # the reply as written, no <|im_end|> after it
    assert text.count("<|im_end|>") == text.count("<|im_start|>") - 1  # every earlier message closed, the reply open


def test_a_template_that_rewrites_a_reply_cannot_continue_it_and_says_so(tmp_path):
    folder = with_template(tmp_path, "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] | upper }}\n{% endfor %}")
    with pytest.raises(ParamError, match="changes a reply's text"):
        prompt(folder, [*CONVERSATION, {"role": "assistant", "content": "Time is"}])


def test_a_long_chat_leaves_out_its_oldest_messages_and_keeps_the_system_prompt():
    turns = [m for i in range(40) for m in ({"role": "user", "content": f"Question {i} about the weather?"},
                                            {"role": "assistant", "content": f"Answer {i}: rain, then sun."})]
    messages = [CONVERSATION[0], *turns, {"role": "user", "content": "And now?"}]
    ids, max_new, notes = prompt(LLAMA, messages, max_new=16)
    assert len(ids) <= 128 - 16
    text = Tokenizer.from_file(str(LLAMA / "tokenizer.json")).decode(ids, skip_special_tokens=False)
    assert text.startswith("<s>[INST] <<SYS>>\nYou speak like a sonnet.\n<</SYS>>\n\n") and text.endswith("And now? [/INST]")
    assert "Question 0 " not in text and any("oldest" in note for note in notes)
    # What is kept opens on a question (templates that check turns refuse a reply first), and
    # is the most that fits: one question and answer more would not.
    kept = text.split("<</SYS>>\n\n", 1)[1]
    assert kept.startswith("Question ")
    first = int(kept.split()[1])
    one_more = prompt(LLAMA, [CONVERSATION[0], *turns[2 * (first - 1):], messages[-1]], max_new=16)
    assert any("oldest" in note for note in one_more[2])



def test_a_model_without_a_chat_template_cannot_chat():
    generator = LMLoader().load(MODELS / "gpt2")
    assert generator.chat_template is False
    with pytest.raises(ParamError, match="has no chat template: it cannot chat; use the story view"):
        generator.request({"messages": json.dumps(CONVERSATION)})
    assert generator.request({"prompt": "To be"})["messages"] == ""  # the story view is unchanged


def test_a_model_without_a_chat_template_refuses_an_instruction_by_its_name_not_its_path():
    generator = LMLoader().load(MODELS / "gpt2")
    with pytest.raises(ParamError, match="cannot follow an instruction") as refused:
        generator.request({"prompt": "To be", "instruction": "Make it rhyme"})
    assert generator.title in str(refused.value) and str(MODELS) not in str(refused.value)


@pytest.mark.parametrize("text, match", [
    ("not json", "not JSON"),
    ('{"role": "user"}', "a JSON list"),
    ("[]", "empty"),
    ('[{"role": "wizard", "content": "hi"}]', "message 1 is not"),
    ('[{"role": "user", "content": 5}]', "message 1 is not"),
    (json.dumps([{"role": "user", "content": "x"}] * 6000), "more than a chat can hold"),
])
def test_hostile_messages_are_refused_plainly(text, match):
    with pytest.raises(ParamError, match=match):
        parse_messages(text)
