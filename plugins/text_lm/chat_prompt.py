"""The prompt of a chat: the model's chat template over a conversation, fitted to the context.

A conversation comes as the ``messages`` parameter, a JSON list of ``{"role", "content"}``.
When its last message is the user's, the template is rendered with ``add_generation_prompt``
and the model writes a new reply. When it is a reply the writer wants continued (the model's
own, maybe edited, or one the writer began), the reply must go on from its last character:
rendered as it is, the template would close it with its end-of-turn marker (``</s>``,
``<|im_end|>``) and the model would start a new turn. So the template is rendered with the
reply replaced by a marker no template changes, and the rendering is cut where the marker
begins and the reply's own text put there: what transformers calls ``continue_final_message``,
and it still works for templates that strip, wrap or prefix a reply's content (it only needs
the content to appear somewhere). A template that rewrites the content itself falls back to
finding the reply's text (or its stripped text) in a plain rendering, as transformers does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import studio
from studio.core.models.limits import text_limit
from studio.core.text.context import ContextPart, ContextPlan

from .layout import LMModel
from .tokenizer import LMTokenizer

ROLES = ("system", "user", "assistant")
#: What a conversation may hold: far more than any context, few enough to check quickly.
MAX_MESSAGES = 5_000
MAX_JSON_CHARS = 8_000_000
#: Stands for the reply being continued while the template renders: private-use characters
#: that no template tests for, trims or escapes.
REPLY_MARK = "\ue000studio-reply\ue001"


def no_chat_template(title: str) -> studio.ParamError:
    return studio.ParamError(f"{title} has no chat template: it cannot chat; use the story view")


def parse_messages(text: str) -> list[dict[str, str]]:
    """The ``messages`` parameter as a list of ``{"role", "content"}``, or ``ParamError`` saying
    what is wrong with it."""
    if len(text) > MAX_JSON_CHARS:
        raise studio.ParamError(f"messages: {len(text):,} characters is more than a chat can hold ({MAX_JSON_CHARS:,})")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise studio.ParamError(f"messages: not JSON ({exc})") from None
    if not isinstance(data, list):
        raise studio.ParamError('messages: expected a JSON list of {"role": …, "content": …}')
    if not data:
        raise studio.ParamError("messages: the conversation is empty: write a message first")
    if len(data) > MAX_MESSAGES:
        raise studio.ParamError(f"messages: {len(data):,} messages is more than a chat can hold ({MAX_MESSAGES:,})")
    messages = []
    for number, item in enumerate(data, 1):
        role = item.get("role") if isinstance(item, dict) else None
        content = item.get("content") if isinstance(item, dict) else None
        if role not in ROLES or not isinstance(content, str):
            raise studio.ParamError(f'messages: message {number} is not {{"role": "system"|"user"|"assistant", "content": "text"}}')
        messages.append({"role": role, "content": content})
    return messages


def render_chat(tokenizer: LMTokenizer, messages: list[dict[str, str]]) -> str:
    """The template's rendering; a last reply with text is continued from its end."""
    last = messages[-1]
    if last["role"] != "assistant" or not last["content"]:
        asked = messages[:-1] if last["role"] == "assistant" else messages  # an empty reply: a new one
        return tokenizer.chat_prompt(asked, add_generation_prompt=True)
    partial = last["content"]
    marked = tokenizer.chat_prompt([*messages[:-1], {"role": "assistant", "content": REPLY_MARK}], add_generation_prompt=False)
    at = marked.rfind(REPLY_MARK)
    if at >= 0:
        return marked[:at] + partial
    plain = tokenizer.chat_prompt(messages, add_generation_prompt=False)
    for needle in (partial, partial.strip()):
        at = plain.rfind(needle) if needle else -1
        if at >= 0:
            return plain[: at + len(needle)]
    raise studio.ParamError(
        f"the chat template of {tokenizer.model.name} changes a reply's text, so a reply cannot be continued "
        "with this model; Retry writes a new one"
    )


def _fit_characters(messages: list[dict[str, str]], limit: int) -> tuple[list[dict[str, str]], int]:
    """The system prompt and the newest messages within ``limit`` characters (the last always),
    and how many older ones were left out: tokenizing megabytes to drop them is slow."""
    system = messages[:1] if messages[0]["role"] == "system" and len(messages) > 1 else []
    rest = messages[len(system) :]
    kept, total = [rest[-1]], len(rest[-1]["content"]) + sum(len(m["content"]) for m in system)
    for message in reversed(rest[:-1]):
        total += len(message["content"])
        if total > limit:
            break
        kept.append(message)
    return system + kept[::-1], len(rest) - len(kept)


@dataclass(frozen=True)
class FittedChat:
    """A conversation fitted to the context: the ids the model reads, the messages they render
    (the system prompt and the newest that fit), how many older ones were left out, notes."""

    ids: list[int]
    max_new: int
    notes: list[str]
    kept: list[dict[str, str]]
    dropped: int
    prompt: str  # the rendering the ids are; after a cut of the ids themselves, their decoding


def fit_chat(tokenizer: LMTokenizer, model: LMModel, title: str, messages: list[dict[str, str]], max_new: int) -> FittedChat:
    """The conversation's token ids, the oldest messages left out to fit the context (the
    system prompt and the last message stay), and what was kept (``FittedChat``)."""
    if model.chat_template is None:
        raise no_chat_template(title)
    notes: list[str] = []
    context = model.context_length
    if max_new >= context:
        max_new = max(1, context // 2)
        notes.append(f"the model's context is {context} tokens: at most {max_new} new tokens this time")
    room = context - max_new
    messages, dropped = _fit_characters(messages, text_limit(context))
    system = messages[:1] if messages[0]["role"] == "system" and len(messages) > 1 else []
    rest = messages[len(system) :]

    def rendered(first: int) -> tuple[str, list[int]]:  # the template writes its own <s>: no special tokens added
        text = render_chat(tokenizer, system + rest[first:])
        return text, tokenizer.encode(text, special=False)

    (text, ids), first = rendered(0), 0
    if len(ids) > room:
        # Where the kept part may start: at a message of the user's (templates that check turns
        # alternate refuse a conversation opening on a reply), or at the last message. Fewer
        # messages are fewer tokens, so the first start that fits is found by halving.
        starts = [i for i in range(1, len(rest) - 1) if rest[i]["role"] == "user"] + [len(rest) - 1]
        low, high, best = 0, len(starts) - 1, None
        while low <= high:
            middle = (low + high) // 2
            candidate = rendered(starts[middle])
            if len(candidate[1]) <= room:
                best, high = (starts[middle], candidate), middle - 1
            else:
                low = middle + 1
        first, (text, ids) = best if best is not None else (starts[-1], rendered(starts[-1]))
    dropped += first
    if dropped:
        which = "message was" if dropped == 1 else f"{dropped} messages were"
        notes.append(f"the chat is longer than the model's context ({context} tokens): its oldest {which} left out")
    if len(ids) > room:  # what is always kept is too long: its start goes, as a story's does
        keep_bos = tokenizer.bos_id is not None and ids[0] == tokenizer.bos_id
        cut = len(ids) - room
        ids = ([ids[0]] if keep_bos else []) + ids[-(room - (1 if keep_bos else 0)) :]
        text = tokenizer.decode(ids)
        notes.append(f"the system prompt and the last message alone are longer than the model's context: only the last {room} tokens of the prompt were read ({cut} left out)")
    return FittedChat(ids, max_new, notes, system + rest[first:], dropped, text)


def chat_prompt_ids(tokenizer: LMTokenizer, model: LMModel, title: str, messages: list[dict[str, str]], max_new: int) -> tuple[list[int], int, list[str]]:
    """The conversation's token ids as ``fit_chat`` fits them; the (maybe reduced) token budget; notes."""
    fitted = fit_chat(tokenizer, model, title, messages, max_new)
    return fitted.ids, fitted.max_new, fitted.notes


def chat_plan(tokenizer: LMTokenizer, model: LMModel, title: str, messages: list[dict[str, str]], max_new: int) -> ContextPlan:
    """What the model reads for the next reply, as the Context view shows it: a part per message
    kept (its role, its own tokens without the template's markup), the prompt exactly as sent
    and its tokens (the very ids ``chat_prompt_ids`` gives the model), the oldest messages left
    out, and whether the model goes on with a last reply (Continue) instead of writing a new one."""
    fitted = fit_chat(tokenizer, model, title, messages, max_new)
    last = fitted.kept[-1]
    continues = last["role"] == "assistant" and bool(last["content"])
    kept = fitted.kept if continues or last["role"] != "assistant" else fitted.kept[:-1]  # an empty reply is the one to write
    parts = []
    for number, message in enumerate(kept):
        final = number == len(kept) - 1
        reason = {
            "system": "the system prompt: always read first",
            "user": "your message: the model answers it" if final else "your message",
            "assistant": "the model's reply: Continue goes on from its end" if final and continues else "the model's reply",
        }[message["role"]]
        tokens = len(tokenizer.encode(message["content"], special=False)) if message["content"] else 0
        parts.append(ContextPart(message["role"], message["content"], tokens, reason))
    context = model.context_length
    return ContextPlan(tuple(parts), fitted.prompt, len(fitted.ids), context - fitted.max_new, context, fitted.max_new,
                       notes=tuple(fitted.notes), messages_left_out=fitted.dropped, continues_reply=continues)


def chat_request(params: dict[str, Any]) -> list[dict[str, str]] | None:
    """The conversation a request's parameters carry, or None when it continues a plain prompt."""
    text = params.get("messages", "")
    return parse_messages(text) if isinstance(text, str) and text.strip() else None
