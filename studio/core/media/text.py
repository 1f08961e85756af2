"""Text as a value: what a text document may hold, whatever a generator or a file gave."""

from __future__ import annotations


def well_formed(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (a pair of them joined into its
    character): what a text document may hold.

    A Python ``str`` can hold lone surrogates (a byte-level tokenizer's ``surrogateescape``,
    a broken emoji); UTF-8 cannot encode them and Qt silently drops them, which moved every
    generated mark after one. The replacement is one UTF-16 unit, as the surrogate was, so
    marks (counted in UTF-16 units, as the editor counts) stay on the same words.
    """
    if text.isascii():
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
