"""Limits on what a model folder may ask of Studio, checked before anything is allocated.

A number in a model's JSON (a step count, a codebook count, a context length) sizes arrays,
loops and sessions. A file that says ``num_codebooks: 1000000000`` would otherwise make Studio
allocate gigabytes, so every such number is read through ``bounded_int``: a whole number
within what the pipeline can use, or a ``ModelError`` naming the file, the key, the value and
the range. Config and tokenizer files are bounded by their size before they are read
(``check_file_size``). Prompt text is bounded the same way (``cut_text``) before a tokenizer sees it: the
``tokenizers`` library aborts the whole process on some huge inputs, which no ``except`` catches.
"""

from __future__ import annotations

from numbers import Integral
from pathlib import Path
from typing import Any, Mapping

from studio.core.base.memory import describe_bytes, ensure_memory
from studio.errors import ModelError

_MISSING = object()

#: A generous bound on the characters one token stands for (English averages about 4): text
#: longer than ``tokens * CHARS_PER_TOKEN`` can only be cut by the tokenizer anyway, so it is
#: cut before it is tokenized (a 10 MB paste must not be tokenized whole).
CHARS_PER_TOKEN = 16
#: And an absolute bound, whatever context a model claims: the tokenizers library took 15 s
#: and 1.4 GB for 8 MB of text; a million characters (a novel) take about 2 s and 200 MB.
MAX_TEXT_CHARS = 1_000_000
#: What tokenizing holds per character of text, measured (offsets, pieces, ids): an allocation
#: that fails inside the tokenizers library aborts the process, so it is checked beforehand.
TOKENIZER_BYTES_PER_CHAR = 200
#: The largest config or tokenizer file read: Gemma's tokenizer.json, among the largest, is 33 MB.
MAX_MODEL_TEXT_FILE = 256 << 20
#: Parsed, a JSON or tokenizer file takes several times its size (Python objects, Rust tables).
PARSE_BYTES_PER_BYTE = 10


def _lookup(config: Mapping[str, Any], key: str) -> Any:
    """``config["a"]["b"]`` for ``key="a.b"`` (sections of a nested config), or ``_MISSING``."""
    value: Any = config
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def bounded_int(config: Mapping[str, Any], key: str, low: int, high: int, what: str, default: Any = _MISSING) -> int:
    """The whole number at ``key`` (dots reach into sections) of ``config``, read from the file
    ``what``, checked to lie in ``low..high``; ``default`` when the key is absent (and a default
    was given), else a ``ModelError``.

    A float that is a whole number (JSON's ``1e9``) counts as that number, so it is refused for
    its size, not for its spelling."""
    value = _lookup(config, key)
    wanted = f"{what}: {key} must be a whole number from {low:,} to {high:,}"
    if value is _MISSING or value is None:
        if default is not _MISSING:
            return default
        raise ModelError(f"{wanted}; the file does not give it")
    number = value
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    if not isinstance(number, Integral) or isinstance(number, bool):
        raise ModelError(f"{wanted}, not {value!r}")
    if not low <= number <= high:
        # Said plainly: such a number comes from a damaged file, or one made to exhaust memory.
        shown = f"{number:,}" if abs(number) < 10**15 else f"a number of {len(str(abs(number)))} digits"
        raise ModelError(f"{wanted}, not {shown}: the model folder is damaged or not meant for this pipeline")
    return int(number)


def check_file_size(path: Path, limit: int = MAX_MODEL_TEXT_FILE) -> int:
    """The size of a model folder's text file (a config, a tokenizer), refused past ``limit``
    and past what the machine can spare to parse it, before a byte of it is read."""
    size = path.stat().st_size
    if size > limit:
        raise ModelError(
            f"{path} is {describe_bytes(size)}: Studio reads such files up to {describe_bytes(limit)} "
            "(no released model's comes near). The model folder is damaged or not meant for Studio"
        )
    ensure_memory(size * PARSE_BYTES_PER_BYTE, f"reading {path}")
    return size


def cut_text(text: str, max_chars: int, keep_end: bool = False) -> tuple[str, bool]:
    """``text`` cut to ``max_chars`` characters (its start, or with ``keep_end`` its end) and
    whether anything was cut."""
    if len(text) <= max_chars:
        return text, False
    return (text[-max_chars:] if keep_end else text[:max_chars]), True


def text_limit(tokens: int) -> int:
    """The most characters worth tokenizing for an encoder that reads ``tokens`` tokens."""
    return min(max(1, tokens) * CHARS_PER_TOKEN, MAX_TEXT_CHARS)
