"""What a chat model reads for the next reply (the Context view in the chat), on the real llama
fixture (a 128-token context, Llama-2's chat template): a part per message kept, the oldest
messages left out when the chat outgrows the context, a last reply that Continue goes on from;
the plan's prompt and tokens are what the job itself reads (its ``prompt_tokens``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.core.engine.jobs import JobRunner, JobState
from studio.core.text.chat import ChatLog
from studio.core.text.context import format_plan
from studio.errors import ParamError
from studio_plugins.text_lm.chat_prompt import chat_prompt_ids
from studio_plugins.text_lm.generator import LMLoader

ROOT = Path(__file__).resolve().parents[2]
LLAMA = ROOT / "tests" / "fixtures" / "lm" / "models" / "llama"
SHAKESPEARE = ROOT / "resources" / "models" / "shakespeare"
CONVERSATION = [
    {"role": "system", "content": "You speak like a sonnet."},
    {"role": "user", "content": "What is love?"},
    {"role": "assistant", "content": "A star to every wandering bark."},
    {"role": "user", "content": "And time?"},
]
SETTINGS = {"max_new_tokens": 8, "temperature": 0.9, "seed": 3}


@pytest.fixture(scope="module")
def llama():
    return LMLoader().load(LLAMA)


def values(messages: list[dict], **more) -> dict:
    return {**SETTINGS, "messages": json.dumps(messages), **more}


def job_info(generator, messages: list[dict], **more) -> dict:
    runner = JobRunner()
    try:
        job = runner.submit(generator, generator.request(values(messages, **more)))
        assert job.wait(120)
        assert job.state is JobState.FINISHED, job.message
        return job.result.info
    finally:
        runner.shutdown()


def test_a_reply_reads_each_message_kept_and_the_prompt_the_job_reads(llama):
    plan = llama.context_plan(values(CONVERSATION))
    assert [(p.kind, p.text) for p in plan.parts] == [(m["role"], m["content"]) for m in CONVERSATION]
    tokenizer = llama.tokenizer()
    assert [p.tokens for p in plan.parts] == [len(tokenizer.encode(m["content"], special=False)) for m in CONVERSATION]
    assert plan.parts[-1].reason == "your message: the model answers it"
    assert plan.parts[0].reason.startswith("the system prompt")
    ids, max_new, _notes = chat_prompt_ids(tokenizer, llama.model, llama.title, CONVERSATION, 8)
    assert tokenizer.encode(plan.prompt, special=False) == ids  # the template's rendering, as sent
    assert plan.prompt.startswith("<s>[INST]") and plan.prompt.endswith("And time? [/INST]")
    assert (plan.tokens, plan.limit, plan.context_length, plan.max_new_tokens) == (len(ids), 128 - 8, 128, 8)
    assert plan.tokens > sum(p.tokens for p in plan.parts)  # the template's markup costs tokens too
    assert (plan.messages_left_out, plan.continues_reply, plan.notes) == (0, False, ())
    assert job_info(llama, CONVERSATION)["prompt_tokens"] == plan.tokens


def test_a_chat_that_outgrew_the_context_leaves_its_oldest_messages_out(llama):
    long = [CONVERSATION[0]]
    for number in range(6):
        long += [{"role": "user", "content": f"Question {number}: tell me of the sea and its many moods."},
                 {"role": "assistant", "content": f"Answer {number}: the sea is grey, then green, then gold."}]
    long.append({"role": "user", "content": "And the sky?"})
    plan = llama.context_plan(values(long))
    assert plan.messages_left_out > 0
    kept = long[1 + plan.messages_left_out:]
    assert [(p.kind, p.text) for p in plan.parts] == [("system", long[0]["content"])] + [(m["role"], m["content"]) for m in kept]
    assert plan.parts[1].kind == "user"  # the kept part opens on a question: turns still alternate
    assert plan.tokens <= plan.limit
    assert any(f"its oldest {plan.messages_left_out} messages were left out" in note for note in plan.notes)
    assert plan.to_info()["messages_left_out"] == plan.messages_left_out
    assert job_info(llama, long)["prompt_tokens"] == plan.tokens
    assert f"{plan.messages_left_out} messages were left out" in format_plan(plan)


def test_a_last_reply_is_continued_from_its_end(llama):
    messages = [*CONVERSATION, {"role": "assistant", "content": "Time is a thief that"}]
    plan = llama.context_plan(values(messages))
    assert plan.continues_reply
    assert (plan.parts[-1].kind, plan.parts[-1].text) == ("assistant", "Time is a thief that")
    assert "Continue goes on from its end" in plan.parts[-1].reason
    assert plan.prompt.endswith("[/INST] Time is a thief that")  # no end of turn: the model goes on
    assert "the model goes on from its end" in format_plan(plan)
    assert job_info(llama, messages)["prompt_tokens"] == plan.tokens


def test_an_empty_last_reply_is_the_one_the_model_writes(llama):
    plan = llama.context_plan(values([*CONVERSATION, {"role": "assistant", "content": ""}]))
    assert [p.kind for p in plan.parts] == ["system", "user", "assistant", "user"]
    assert not plan.continues_reply
    assert plan == llama.context_plan(values(CONVERSATION))


def test_fewer_new_tokens_leave_more_room_and_a_model_without_a_template_says_it_cannot_chat(llama):
    assert llama.context_plan(values(CONVERSATION, max_new_tokens=40)).limit == 128 - 40
    plain = LMLoader().load(SHAKESPEARE)
    with pytest.raises(ParamError, match="no chat template"):
        plain.context_plan(values(CONVERSATION))


def test_each_message_sent_names_the_message_of_the_chat_it_begins_with():
    """How the chat view finds the first message the model still reads from the plan's count."""
    log = ChatLog()
    log.set_system("Be brief.")
    log.append("user", "Hello?")
    log.append("user", "")  # empty: not sent
    log.append("user", "Are you there?")  # sent with "Hello?" as one
    log.append("assistant", "Yes.")
    log.append("user", "Good.")
    sent, origins = log.sent_messages()
    assert sent == log.as_messages() and [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert origins == [0, 1, 4, 5]
