"""Prompt -> text-encoder embeddings, for SD 1.x/2.x (one CLIP) and SDXL (two).

Mirrors diffusers' ``encode_prompt``: SD uses the last hidden state; SDXL concatenates the
penultimate hidden states of both encoders and takes the pooled embedding from the second;
an empty SDXL negative prompt is zeros (``force_zeros_for_empty_prompt``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

import studio

from .tokenizer import CLIPTokenizer, TokenizedPrompt

Run = Callable[[Any, list[str] | None, dict[str, np.ndarray]], list[np.ndarray]]


@dataclass
class Embeddings:
    hidden: np.ndarray  # (1, 77, D)
    pooled: np.ndarray | None = None  # (1, P): SDXL only
    notes: list[str] = field(default_factory=list)  # what the user should know (truncation)


class TextEncoder:
    """One tokenizer + one text-encoder session."""

    def __init__(self, tokenizer: CLIPTokenizer, loaded: Any) -> None:
        self.tokenizer = tokenizer
        self.loaded = loaded
        session = loaded.session
        inputs = {i.name: i for i in session.get_inputs()}
        if "input_ids" not in inputs:
            raise studio.ModelError(f"{loaded.path} has no input_ids input (it has {', '.join(inputs)})")
        self.ids_dtype = np.int32 if inputs["input_ids"].type == "tensor(int32)" else np.int64
        self.outputs = [o.name for o in session.get_outputs()]

    def tokenize(self, prompt: str) -> TokenizedPrompt:
        return self.tokenizer.encode(prompt)

    def run(self, run: Run, tokens: TokenizedPrompt) -> dict[str, np.ndarray]:
        ids = tokens.ids.astype(self.ids_dtype)[None]
        values = run(self.loaded, None, {"input_ids": ids})
        return dict(zip(self.outputs, values))

    def penultimate(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        hidden = sorted((k for k in outputs if k.startswith("hidden_states.")), key=lambda k: int(k.split(".")[1]))
        if len(hidden) < 2:
            raise studio.ModelError(f"{self.loaded.path} does not output its hidden states, which SDXL needs")
        return outputs[hidden[-2]]


def _truncation_note(tokens: TokenizedPrompt, which: str) -> list[str]:
    if not tokens.truncated:
        return []
    return [f"{which} is longer than {tokens.ids.shape[0]} tokens; this part was left out: “{tokens.dropped.strip()}”"]


# Reading vocab.json and merges.txt costs ~0.1 s: once per folder, not once per image.
_tokenizer = functools.lru_cache(maxsize=8)(CLIPTokenizer.from_folder)


def load_encoders(folder: Path, graphs: dict[str, Path], session: Callable[[Path], Any], xl: bool) -> list[TextEncoder]:
    """The text encoders ``graphs`` names (part -> file), each with the tokenizer beside it."""
    names = [("tokenizer", "text_encoder")] + ([("tokenizer_2", "text_encoder_2")] if xl else [])
    return [TextEncoder(_tokenizer(folder / tok), session(graphs[enc])) for tok, enc in names]


def encode_sd(encoder: TextEncoder, run: Run, prompt: str, negative: str, guided: bool) -> tuple[Embeddings, Embeddings | None]:
    tokens = encoder.tokenize(prompt)
    positive = Embeddings(_first(encoder, encoder.run(run, tokens)), notes=_truncation_note(tokens, "The prompt"))
    if not guided:
        return positive, None
    negative_tokens = encoder.tokenize(negative or "")
    negative_embeds = Embeddings(_first(encoder, encoder.run(run, negative_tokens)), notes=_truncation_note(negative_tokens, "The negative prompt"))
    return positive, negative_embeds


def _first(encoder: TextEncoder, outputs: dict[str, np.ndarray]) -> np.ndarray:
    return outputs.get("last_hidden_state", outputs[encoder.outputs[0]])


def encode_xl(
    encoders: list[TextEncoder], run: Run, prompt: str, negative: str, guided: bool, zeros_for_empty: bool
) -> tuple[Embeddings, Embeddings | None]:
    positive = _encode_xl_one(encoders, run, prompt, "The prompt")
    if not guided:
        return positive, None
    if not negative and zeros_for_empty:
        return positive, Embeddings(np.zeros_like(positive.hidden), np.zeros_like(positive.pooled))
    return positive, _encode_xl_one(encoders, run, negative or "", "The negative prompt")


def _encode_xl_one(encoders: list[TextEncoder], run: Run, prompt: str, which: str) -> Embeddings:
    hidden, pooled, notes = [], None, []
    for encoder in encoders:
        tokens = encoder.tokenize(prompt)
        notes += _truncation_note(tokens, which) if not notes else []
        outputs = encoder.run(run, tokens)
        first = outputs[encoder.outputs[0]]
        if pooled is None and first.ndim == 2:  # CLIPTextModelWithProjection's text_embeds
            pooled = first
        hidden.append(encoder.penultimate(outputs))
    if pooled is None:
        raise studio.ModelError("neither SDXL text encoder outputs a pooled embedding (text_embeds)")
    return Embeddings(np.concatenate(hidden, axis=-1), pooled, notes)
