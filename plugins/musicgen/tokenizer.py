"""The T5 tokenizer of a MusicGen folder, read from its tokenizer.json with `tokenizers`.

T5's tokenizer.json appends ``</s>`` itself (its post-processor), so ``encode`` gives exactly
the ids transformers' T5TokenizerFast gives the text encoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import studio


class T5Tokenizer:
    def __init__(self, path: Path, vocab_size: int | None = None) -> None:
        from tokenizers import Tokenizer

        try:
            self.tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:
            raise studio.ModelError(f"{path} is not a tokenizer Studio can read ({exc})") from None
        # One prompt at a time: padding would only add tokens the attention mask hides.
        self.tokenizer.no_padding()
        size = self.tokenizer.get_vocab_size(with_added_tokens=True)
        if vocab_size is not None and size > vocab_size:
            raise studio.ModelError(
                f"the tokenizer {path} has {size} tokens but the text encoder knows only {vocab_size}: they do not belong together"
            )

    def encode(self, text: str) -> np.ndarray:
        """(1, tokens) int64 ids for the text encoder."""
        return np.asarray([self.tokenizer.encode(text).ids], dtype=np.int64)
