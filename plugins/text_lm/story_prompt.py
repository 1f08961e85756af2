"""A continuation's prompt with the writer's memory, author's note and lorebook in it.

The parameters below carry ``studio.core.text.story.StoryNotes`` (``StoryNotes.as_values``);
``studio.core.text.context.plan_context`` lays the context out, counted with this model's
tokenizer against its context. Only a continuation uses them: a rewrite (an instruction) or a
chat reads its own prompt.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import studio
from studio.core.base.memory import ensure_memory
from studio.core.models.limits import TOKENIZER_BYTES_PER_CHAR, text_limit
from studio.core.text.context import ContextPart, ContextPlan, plan_context
from studio.core.text.story import DEFAULT_NOTE_DEPTH, MAX_NOTE_DEPTH, StoryNotes, parse_lorebook

from .layout import LMModel
from .pipeline import prompt_ids
from .tokenizer import LMTokenizer

STORY_PARAMS = (
    studio.Param("memory", "text", "", multiline=True, label="Memory",
                 help="Always at the top of the context: who is who, the setting, the style."),
    studio.Param("authors_note", "text", "", label="Author's note",
                 help="A short direction (\"[Style: terse, ominous]\") inserted near the end of the context, where it weighs most."),
    studio.Param("note_depth", "int", DEFAULT_NOTE_DEPTH, min=0, max=MAX_NOTE_DEPTH, label="Note depth",
                 help="How many lines before the end of the story the author's note goes (0: after it)."),
    studio.Param("lorebook", "text", "", multiline=True, label="Lorebook",
                 help='A JSON list of entries, [{"keys": ["Mira"], "text": "Mira is ...", "priority": 0}]: '
                      "an entry enters the context when one of its keys appears in the recent text."),
)
NAMES = tuple(param.name for param in STORY_PARAMS)


def story_notes(params: Mapping[str, Any]) -> StoryNotes:
    """The notes a request's (validated) parameters carry; a bad lorebook is a ``ParamError``."""
    try:
        lore = parse_lorebook(params.get("lorebook", ""))
    except studio.StudioError as exc:
        raise studio.ParamError(f"lorebook: {exc}") from None
    depth = params.get("note_depth", DEFAULT_NOTE_DEPTH)
    return StoryNotes(params.get("memory", ""), params.get("authors_note", ""), DEFAULT_NOTE_DEPTH if depth is None else depth, lore)


def uses_notes(params: Mapping[str, Any]) -> bool:
    """Whether a request's prompt is planned with the notes: a continuation (no instruction,
    no chat messages) with a memory, an author's note or a lorebook."""
    if any(str(params.get(name) or "").strip() for name in ("instruction", "messages")):  # as chat_request decides
        return False
    return any(str(params.get(name) or "").strip() for name in ("memory", "authors_note", "lorebook"))


def continuation_plan(tokenizer: LMTokenizer, model: LMModel, params: Mapping[str, Any]) -> ContextPlan:
    """What the continuation with ``params`` reads, as the generator will run it: with notes,
    ``story_plan``; without, the page as ``prompt_ids`` cuts it (``page_plan``)."""
    return story_plan(tokenizer, model, params) if uses_notes(params) else page_plan(tokenizer, model, params)


def page_plan(tokenizer: LMTokenizer, model: LMModel, params: Mapping[str, Any]) -> ContextPlan:
    """A continuation without notes: the ids ``prompt_ids`` gives the model (the very function
    the generator calls), described as one story part."""
    prompt = params.get("prompt", "")
    ids, max_new, notes = prompt_ids(tokenizer, model, prompt, "", params["max_new_tokens"])
    head = 1 if tokenizer.bos_id is not None and ids and ids[0] == tokenizer.bos_id else 0
    kept = tokenizer.decode(ids[head:]) if prompt else ""
    cut = max(0, len(prompt) - len(kept))
    cut_tokens = len(tokenizer.encode(prompt[max(0, cut - text_limit(model.context_length)) : cut], special=False)) if cut else 0
    part = ContextPart("story", kept, len(ids) - head, "the story" if prompt else "the story (the page is empty)")
    return ContextPlan((part,), kept, len(ids), model.context_length - max_new, model.context_length, max_new,
                       story_cut_chars=cut, story_cut_tokens=cut_tokens, notes=tuple(notes))


def story_plan(tokenizer: LMTokenizer, model: LMModel, params: Mapping[str, Any]) -> ContextPlan:
    """The context a continuation of ``params["prompt"]`` reads with the notes in ``params``.

    Parts are counted without special tokens; the model reads the start token(s) too, so the
    plan is made for a context that many tokens smaller and its totals then state what the
    model reads in all (the limit ``context_length - max_new_tokens``)."""
    def count(text: str) -> int:
        return len(tokenizer.encode(text, special=False)) if text else 0

    def token_ends(text: str) -> list[int]:
        ensure_memory(len(text) * TOKENIZER_BYTES_PER_CHAR, f"tokenizing {len(text):,} characters")  # as LMTokenizer.encode
        return [end for _, end in tokenizer.tokenizer.encode(text, add_special_tokens=False).offsets]

    specials = len(tokenizer.encode("", special=True))
    plan = plan_context(params.get("prompt", ""), story_notes(params), count, model.context_length - specials,
                        params["max_new_tokens"], token_ends)
    return dataclasses.replace(plan, context_length=model.context_length, limit=plan.limit + specials, tokens=plan.tokens + specials)
