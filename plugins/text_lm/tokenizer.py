"""The model's tokenizer (tokenizer.json through the `tokenizers` library), its chat template,
and streaming detokenisation.

Streaming decodes a sliding window of tokens, not one token at a time: a token can be half
of a UTF-8 character or a piece of a word whose spacing depends on its neighbours. Text is
released only when the window decodes without a trailing replacement character, the way
text-generation-inference does it (prefix/read offsets), so the stream never shows "�".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import studio
from studio.core.base.memory import ensure_memory
from studio.core.models.limits import TOKENIZER_BYTES_PER_CHAR, check_file_size

from .layout import LMModel


def _token_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


class LMTokenizer:
    def __init__(self, model: LMModel) -> None:
        from tokenizers import Tokenizer

        path = model.folder / "tokenizer.json"
        try:
            check_file_size(path)
            self.tokenizer = Tokenizer.from_file(str(path))
        except studio.StudioError:
            raise
        except Exception as exc:
            raise studio.ModelError(f"{path} is not a tokenizer Studio can read ({exc})") from None
        self.model = model
        config = model.tokenizer_config
        self.bos_token = _token_text(config.get("bos_token"))
        self.eos_token = _token_text(config.get("eos_token"))
        self.bos_id = self.token_id(self.bos_token) if self.bos_token else None
        self.eos_id = self.token_id(self.eos_token) if self.eos_token else None
        if self.eos_id is None:
            eos = model.generation.get("eos_token_id", model.config.get("eos_token_id"))
            self.eos_id = eos if isinstance(eos, int) else (eos[0] if isinstance(eos, list) and eos else None)
        if self.bos_id is None:
            bos = model.generation.get("bos_token_id", model.config.get("bos_token_id"))
            self.bos_id = bos if isinstance(bos, int) else None
        vocab = self.tokenizer.get_vocab_size(with_added_tokens=True)
        if model.vocab_size is not None and vocab > model.vocab_size:
            raise studio.ModelError(
                f"the tokenizer in {model.folder} has {vocab} tokens but the model only {model.vocab_size}: "
                "they do not belong together"
            )

    def token_id(self, token: str | None) -> int | None:
        return None if token is None else self.tokenizer.token_to_id(token)

    def encode(self, text: str, special: bool = True) -> list[int]:
        # A failed allocation inside the tokenizers library aborts the whole process: check first.
        ensure_memory(len(text) * TOKENIZER_BYTES_PER_CHAR, f"tokenizing {len(text):,} characters")
        return self.tokenizer.encode(text, add_special_tokens=special).ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def chat_prompt(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """Render the model's chat template (Jinja, sandboxed, as transformers renders it),
        bounded in size and time: the template came with a downloaded model."""
        template = self.model.chat_template
        if template is None:
            raise studio.ModelError(f"{self.model.name} has no chat template, so it cannot follow an instruction; use Continue")
        from jinja2.exceptions import TemplateError

        from .chat_template import TEMPLATE_CHARS, ChatTemplateError, render_chat_template

        given = sum(len(m.get("content", "")) for m in messages)
        try:
            return render_chat_template(
                template, given + TEMPLATE_CHARS, messages=messages, add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token or "", eos_token=self.eos_token or "",
            )
        except ChatTemplateError as exc:
            raise studio.ModelError(f"the chat template of {self.model.folder} was stopped: {exc}") from None
        except TemplateError as exc:
            raise studio.ModelError(f"the chat template of {self.model.folder} failed: {exc}") from None


@dataclass
class StreamDecoder:
    """Turns a growing list of token ids into text chunks that are safe to show."""

    tokenizer: LMTokenizer
    ids: list[int] = field(default_factory=list)
    prefix_offset: int = 0
    read_offset: int = 0
    prefix_text: str = ""  # decode(ids[prefix_offset:read_offset]), kept: it changes only with the offsets

    def push(self, token: int) -> str:
        self.ids.append(token)
        return self.take()

    def take(self) -> str:
        """The text the tokens pushed so far add, as far as it is safe to show."""
        text = self.tokenizer.decode(self.ids[self.prefix_offset :])
        if len(text) > len(self.prefix_text) and not text.endswith("\ufffd"):
            chunk = text[len(self.prefix_text) :]
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
            self.prefix_text = self.tokenizer.decode(self.ids[self.prefix_offset : self.read_offset])
            return chunk
        return ""

    def flush(self) -> str:
        """Whatever is still held back at the end (a lone broken byte shows as "�")."""
        prefix = self.prefix_text
        text = self.tokenizer.decode(self.ids[self.prefix_offset :])
        self.prefix_offset = self.read_offset = len(self.ids)
        self.prefix_text = ""
        return text[len(prefix) :] if len(text) > len(prefix) else ""
