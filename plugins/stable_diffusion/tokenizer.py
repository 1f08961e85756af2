"""CLIP's tokenizer, read from a model folder's ``tokenizer/`` (vocab.json + merges.txt).

It must give exactly the ids diffusers gives, because the text encoder was exported for them:
diffusers calls ``transformers.CLIPTokenizer`` (tokenizers-backed since transformers 5) with
``padding="max_length", max_length=77, truncation=True``. We build the same tokenizers pipeline
as that class (NFC, whitespace runs to one space, lowercase; CLIP's split regex; byte-level
BPE with ``</w>`` word ends) and read the special tokens the way ``from_pretrained`` does, since
they change ids, not just padding: SD 2.x and SDXL's second tokenizer pad with "!", which
transformers registers as a special token, so every "!" in a prompt becomes id 0 there, and so
here. tests/fixtures/sd/tokenizer_golden.json holds transformers' own ids for a prompt corpus.

Folders saved by transformers 5 hold tokenizer.json instead of vocab.json + merges.txt; like
transformers, we read the vocabulary from tokenizer.json whenever there is one.

Unlike OpenAI's original tokenizer (and transformers' old python one) nothing here runs ftfy or
unescapes HTML: the golden records what diffusers really feeds the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers

from studio.core.models.limits import bounded_int, check_file_size, cut_text, text_limit
from studio.errors import ModelError

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
DEFAULT_MAX_LENGTH = 77  # CLIP's position embeddings; folders without tokenizer_config.json say nothing
MAX_LENGTH = 4096  # every prompt is padded to the length: CLIP has 77 positions, Long-CLIP 248
# Text tokenized at most: far past 77 tokens, so the count of a long prompt's tokens stays exact.
MAX_PROMPT_CHARS = 65_536

# transformers' CLIPTokenizer: special tokens, contractions, letter runs, single digits, and runs
# of everything else; whitespace is dropped.
CLIP_SPLIT = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""

# The named special tokens in transformers' order: when two name the same text (eos, unk and
# pad are all <|endoftext|> in SD 1.x) the later one's flags win, as they do there.
SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")
SPECIAL_DEFAULTS = {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN, "unk_token": EOS_TOKEN, "pad_token": EOS_TOKEN}


@dataclass(frozen=True, eq=False)
class TokenizedPrompt:
    """One prompt as the text encoder takes it."""

    ids: np.ndarray  # int64 (max_length,): BOS, tokens, EOS, padding; read-only
    truncated: bool  # the prompt had more than max_length - 2 tokens
    dropped: str  # the part of the prompt that did not fit, as the user typed it; "" if none
    eos_index: int  # first EOS position: where CLIP's pooler (and SDXL's pooled embedding) reads
    token_count: int  # the prompt's own tokens before truncation (no BOS/EOS), of its first MAX_PROMPT_CHARS


class CLIPTokenizer:
    """Byte-level BPE tokenizer for CLIP text encoders, built from vocab.json and merges.txt."""

    def __init__(self, tokenizer: Tokenizer, *, max_length: int, bos_id: int, eos_id: int, pad_id: int):
        self._tokenizer = tokenizer
        self.max_length = max_length
        self.bos_id = bos_id
        self.eos_id = eos_id
        self.pad_id = pad_id

    @classmethod
    def from_folder(cls, folder: Path) -> CLIPTokenizer:
        """Read a ``tokenizer/`` folder; a ``ModelError`` names the file that is missing or broken."""
        folder = Path(folder)
        config = _read_optional_json(folder / "tokenizer_config.json")
        special_map = _read_optional_json(folder / "special_tokens_map.json")
        if (folder / "tokenizer.json").exists():
            vocab, merges, added = _read_tokenizer_json(folder / "tokenizer.json")
            misfit = f"{folder / 'tokenizer.json'}: its merges do not fit its vocabulary"
        else:
            vocab, merges, added = _read_vocab(folder / "vocab.json"), _read_merges(folder / "merges.txt"), {}
            misfit = f"{folder / 'merges.txt'} does not fit {folder / 'vocab.json'}"
        # tokenizer_config.json's added_tokens_decoder, when there is one, is all transformers reads.
        decoder = config["added_tokens_decoder"] if "added_tokens_decoder" in config else added
        specials = _special_values(config, special_map, folder)

        tokenizer = _clip_tokenizer(vocab, merges, _content(specials["unk_token"]), misfit)
        tokenizer.add_special_tokens(_added_tokens(decoder, specials, folder))

        ids = {}
        for key in ("bos_token", "eos_token", "pad_token"):
            # A token outside the vocabulary would index past the text encoder's embedding table.
            if _content(specials[key]) not in vocab:
                raise ModelError(f"{folder}: the {key.replace('_', ' ')} {_content(specials[key])!r} "
                                 "is not in the vocabulary")
            ids[key] = tokenizer.token_to_id(_content(specials[key]))
        return cls(tokenizer, max_length=_max_length(config, folder), bos_id=ids["bos_token"],
                   eos_id=ids["eos_token"], pad_id=ids["pad_token"])

    def encode(self, prompt: str) -> TokenizedPrompt:
        """BOS, the prompt's tokens (the first ``max_length - 2``), EOS, then padding."""
        # Text far past what fits is cut before it is tokenized: a 10 MB paste would only be
        # tokenized to be thrown away (and the note quoting it would be 10 MB long).
        typed = prompt
        prompt, cut = cut_text(prompt, max(text_limit(self.max_length), MAX_PROMPT_CHARS))
        encoding = self._tokenizer.encode(prompt, add_special_tokens=False)
        tokens = encoding.ids
        room = self.max_length - 2
        kept = tokens[:room]
        dropped = ""
        if len(tokens) > room:
            # From the first token that did not fit to the end of what the user typed (offsets
            # point into the original text), so the UI can quote it in the user's own spelling.
            dropped = prompt[encoding.offsets[room][0]:].strip()
        elif cut:
            dropped = typed[len(prompt):].strip()[:len(prompt)]
        ids = np.full(self.max_length, self.pad_id, dtype=np.int64)
        ids[0] = self.bos_id
        ids[1:len(kept) + 1] = kept
        ids[len(kept) + 1] = self.eos_id
        ids.setflags(write=False)
        # The prompt itself may contain "<|endoftext|>": the encoder's pooler reads the first one.
        eos_index = int(np.argmax(ids == self.eos_id))
        return TokenizedPrompt(ids=ids, truncated=len(tokens) > room or bool(dropped), dropped=dropped,
                               eos_index=eos_index, token_count=len(tokens))


def _clip_tokenizer(vocab: dict[str, int], merges: list[tuple[str, str]], unk_token: str, misfit: str) -> Tokenizer:
    """The pipeline transformers' CLIPTokenizer builds: NFC, whitespace runs to one space and
    lowercase; CLIP's split; byte-level BPE whose word-final symbols end in </w>."""
    try:
        bpe = models.BPE(vocab=vocab, merges=merges, dropout=None, continuing_subword_prefix="",
                         end_of_word_suffix="</w>", fuse_unk=False, unk_token=unk_token)
    except Exception as exc:  # tokenizers raises a bare Exception, e.g. for a merge of unknown symbols
        raise ModelError(f"{misfit}: {exc}") from None
    tokenizer = Tokenizer(bpe)
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CLIP_SPLIT), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    return tokenizer


# --- reading the folder ------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise ModelError(f"{path} is missing: a CLIP tokenizer needs vocab.json and merges.txt (or tokenizer.json)")
    try:
        check_file_size(path)
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} cannot be read as UTF-8 text: {exc}") from None


def _read_vocab(path: Path) -> dict[str, int]:
    try:
        vocab = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path} is not valid JSON ({exc}); the file may be truncated") from None
    return _checked_vocab(vocab, path)


def _checked_vocab(vocab: Any, path: Path) -> dict[str, int]:
    if not isinstance(vocab, dict) or not vocab or not all(
            isinstance(token, str) and type(index) is int and index >= 0 for token, index in vocab.items()):
        raise ModelError(f"{path} does not hold a BPE vocabulary (a JSON object of token -> id)")
    return vocab


def _read_tokenizer_json(path: Path) -> tuple[dict[str, int], list[tuple[str, str]], dict[str, dict]]:
    """The vocabulary, merges and added tokens (as an added_tokens_decoder) of a tokenizer.json."""
    data = _read_optional_json(path)
    model = data.get("model")
    if not isinstance(model, dict) or model.get("type", "BPE") != "BPE":
        raise ModelError(f"{path} does not hold a BPE tokenizer, which CLIP needs")
    vocab = _checked_vocab(model.get("vocab"), path)
    merges = []
    for merge in model.get("merges") or []:  # "left right" (older files) or ["left", "right"]
        pair = merge.split(" ") if isinstance(merge, str) else merge
        if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(p, str) and p for p in pair):
            raise ModelError(f"{path}: the merge {merge!r} is not a pair of symbols")
        merges.append((pair[0], pair[1]))
    if not merges:
        raise ModelError(f"{path} holds no merges")
    added = data.get("added_tokens") or []
    if not isinstance(added, list) or not all(
            isinstance(token, dict) and type(token.get("id")) is int and isinstance(token.get("content"), str)
            for token in added):
        raise ModelError(f"{path}: added_tokens should be a list of tokens with ids and content")
    return vocab, merges, {str(token["id"]): token for token in added}


def _read_merges(path: Path) -> list[tuple[str, str]]:
    """merges.txt as the tokenizers library reads it: an optional "#version" line, then one
    "left right" pair a line, highest priority first."""
    merges = []
    for number, line in enumerate(_read_text(path).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line or line.startswith("#version"):
            continue
        pair = line.split(" ")
        if len(pair) != 2 or not all(pair):
            raise ModelError(f"{path}, line {number}: expected two symbols separated by a space, got {line[:60]!r}")
        merges.append((pair[0], pair[1]))
    if not merges:
        raise ModelError(f"{path} holds no merges")
    return merges


def _read_optional_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path} is not valid JSON ({exc}); the file may be truncated") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path} should hold a JSON object")
    return data


def _max_length(config: dict[str, Any], folder: Path) -> int:
    max_length = config.get("model_max_length", DEFAULT_MAX_LENGTH)
    # transformers writes a huge sentinel when the length is unknown: CLIP's 77 is the real limit.
    if isinstance(max_length, (int, float)) and max_length > 1_000_000:
        return DEFAULT_MAX_LENGTH
    return bounded_int(config, "model_max_length", 3, MAX_LENGTH, f"{folder / 'tokenizer_config.json'}", default=DEFAULT_MAX_LENGTH)


# --- special tokens, as transformers' from_pretrained resolves them ----------------------------


def _special_values(config: dict[str, Any], special_map: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The named special tokens (str, or a dict with the token's flags). Newer folders list their
    tokens in tokenizer_config.json's ``added_tokens_decoder`` and transformers then ignores
    special_tokens_map.json; older ones let special_tokens_map.json override the config."""
    values = {key: config.get(key, SPECIAL_DEFAULTS[key]) for key in SPECIAL_KEYS}
    if "added_tokens_decoder" not in config:
        values.update({key: special_map[key] for key in SPECIAL_KEYS if special_map.get(key)})
    for key, value in values.items():
        content = value.get("content") if isinstance(value, dict) else value
        if not isinstance(content, str) or not content:
            raise ModelError(f"{folder}: the {key.replace('_', ' ')} should be a token, not {value!r}")
    return values


def _content(value: str | dict[str, Any]) -> str:
    return value if isinstance(value, str) else value["content"]


def _added_token(value: str | dict[str, Any], *, default_special: bool) -> AddedToken:
    """transformers' defaults: a bare string is a special token matched on the raw text; a dict
    keeps its flags, and a token without a ``normalized`` flag is normalized unless special."""
    if isinstance(value, str):
        return AddedToken(value, special=True, normalized=False)
    special = bool(value.get("special", default_special))
    return AddedToken(value["content"], special=special, normalized=bool(value.get("normalized", not special)),
                      lstrip=bool(value.get("lstrip", False)), rstrip=bool(value.get("rstrip", False)),
                      single_word=bool(value.get("single_word", False)))


def _added_tokens(decoder: Any, specials: dict[str, Any], folder: Path) -> list[AddedToken]:
    """Tokens matched before BPE: the special tokens, and anything in ``added_tokens_decoder``.
    Whether one is matched on the lowercased text (``normalized``) decides what "<|ENDOFTEXT|>"
    in a prompt becomes, so the flags are resolved as transformers does: the decoder's entries,
    then each named token in turn, a later definition of the same text replacing an earlier one."""
    where = folder / "tokenizer_config.json"
    decoder = decoder or {}
    if not isinstance(decoder, dict) or not all(str(key).isdigit() for key in decoder):
        raise ModelError(f"{where}: added_tokens_decoder should map token ids to tokens")
    declared: dict[str, dict[str, Any]] = {}
    for token_id, entry in sorted(decoder.items(), key=lambda item: int(item[0])):
        if not isinstance(entry, dict) or not isinstance(entry.get("content"), str):
            raise ModelError(f"{where}: added_tokens_decoder[{token_id!r}] has no content")
        declared[entry["content"]] = entry
    by_text = {content: _added_token(entry, default_special=False) for content, entry in declared.items()}
    for value in specials.values():
        # A named token that the decoder declares is the decoder's token, flags and all. Otherwise
        # special_tokens_map.json's dicts are special; legacy "__type" dicts say so themselves.
        if _content(value) not in declared:
            special = isinstance(value, dict) and "__type" not in value
            by_text[_content(value)] = _added_token(value, default_special=special)
    return list(by_text.values())
