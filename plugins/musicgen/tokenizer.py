"""The T5 tokenizer of a MusicGen folder, read from its tokenizer.json with `tokenizers`.

T5's tokenizer.json appends ``</s>`` itself (its post-processor), so ``encode`` gives exactly
the ids transformers' T5TokenizerFast gives the text encoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import studio
from studio.core.models.limits import check_file_size, cut_text, text_limit

MAX_PROMPT_TOKENS = 512


class T5Tokenizer:
    def __init__(self, path: Path, vocab_size: int | None = None) -> None:
        from tokenizers import Tokenizer

        try:
            check_file_size(path)
            self.tokenizer = Tokenizer.from_file(str(path))
        except studio.StudioError:
            raise
        except Exception as exc:
            raise studio.ModelError(f"{path} is not a tokenizer Studio can read ({exc})") from None
        # One prompt at a time: padding would only add tokens the attention mask hides.
        self.tokenizer.no_padding()
        size = self.tokenizer.get_vocab_size(with_added_tokens=True)
        if vocab_size is not None and size > vocab_size:
            raise studio.ModelError(
                f"the tokenizer {path} has {size} tokens but the text encoder knows only {vocab_size}: they do not belong together"
            )

        # T5 was trained on 512 tokens and its attention grows with the square of the length
        # (a 30 KB prompt took 24 GB): longer prompts are cut, keeping the closing </s>.
        self.tokenizer.enable_truncation(max_length=MAX_PROMPT_TOKENS)

    def encode(self, text: str) -> np.ndarray:
        """(1, tokens) int64 ids for the text encoder."""
        return self.encode_prompt(text)[0]

    def encode_prompt(self, text: str) -> tuple[np.ndarray, str]:
        """(1, tokens) int64 ids for the text encoder, and a note for the user when the prompt
        was cut to fit ("" otherwise). Text far past the limit is cut before it is tokenized."""
        text, cut = cut_text(text, text_limit(MAX_PROMPT_TOKENS))
        encoding = self.tokenizer.encode(text)
        note = ""
        if cut or encoding.overflowing:
            note = f"the prompt is longer than the text encoder reads: it was cut to its first {len(encoding.ids)} tokens"
        return np.asarray([encoding.ids], dtype=np.int64), note
