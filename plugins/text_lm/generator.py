"""The text generator (one per causal-LM folder) and the loader that finds such folders."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator

import studio
from studio.core.base import paths

from .layout import LAYOUT, LMModel, is_lm_folder
from .pipeline import Decoder, generate, prompt_ids
from .quantize import int8_model
from .sampling import SamplingSettings
from .tokenizer import LMTokenizer


def _number(config: dict, key: str, default, kind=float):
    value = config.get(key)
    return kind(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _suggested(param: studio.Param) -> studio.Param:
    """``param`` starting from the model's suggested value put on the form's grid and range
    (a generation_config.json may say top_p 0.925, between two steps, or top_k 5000)."""
    return dataclasses.replace(param, default=param.snap(param.default))


class LMGenerator(studio.Generator):
    kind = "text"

    def __init__(self, model: LMModel, generator_id: str, title: str = "") -> None:
        self.model = model
        self.id = generator_id
        self.title = title or f"Text ({model.name})"
        self.description = (
            "Continues the text before the cursor; with an instruction, rewrites the selection "
            f"(models with a chat template). Context: {model.context_length} tokens."
        )
        g = model.generation
        sampled = bool(g.get("do_sample", True))
        self.params = (
            studio.Param("prompt", "text", "", multiline=True, help="The text to continue (in the editor: the text before the cursor)."),
            studio.Param("instruction", "text", "", label="Instruction", help="Rewrite the prompt following this instruction (needs a chat model). Empty: continue."),
            # The new tokens and at least one of the prompt must fit the model's context.
            _suggested(studio.Param("max_new_tokens", "int", _number(g, "max_new_tokens", 200, int), min=1,
                                    max=max(1, min(4096, model.context_length - 1)), label="Max new tokens",
                                    help=f"The model's context holds {model.context_length} tokens, the prompt's included.")),
            _suggested(studio.Param("temperature", "float", _number(g, "temperature", 0.8) if sampled else 0.0, min=0.0, max=2.0, step=0.05, help="0 always picks the likeliest token.")),
            _suggested(studio.Param("top_k", "int", _number(g, "top_k", 40, int), min=0, max=1000, label="Top-k", help="0: off.")),
            _suggested(studio.Param("top_p", "float", _number(g, "top_p", 1.0), min=0.0, max=1.0, step=0.01, label="Top-p", help="1: off.")),
            _suggested(studio.Param("min_p", "float", _number(g, "min_p", 0.0), min=0.0, max=1.0, step=0.01, label="Min-p", help="0: off.")),
            _suggested(studio.Param("repetition_penalty", "float", _number(g, "repetition_penalty", 1.0), min=1.0, max=2.0, step=0.05, label="Repetition penalty")),
            studio.Param("seed", "seed", None),
            studio.Param("stop", "text", "", label="Stop at", help="Stop sequences, separated by |"),
            studio.Param("weights", "choice", "as exported", choices=("as exported", "int8"), help="int8: a quarter of the bytes to read per token, so faster on the CPU; the text differs slightly. Made once per model."),
        )
        self._tokenizer: LMTokenizer | None = None

    def tokenizer(self) -> LMTokenizer:
        if self._tokenizer is None:
            self._tokenizer = LMTokenizer(self.model)
        return self._tokenizer

    def load(self, ctx: studio.JobContext) -> None:
        ctx.progress(0, 1, "Loading the language model…")
        self.tokenizer()
        ctx.session(self.model.model_file)

    def model_file(self, weights: str, ctx: studio.JobContext) -> Path:
        if weights != "int8":
            return self.model.model_file
        ctx.progress(0, 0, "Preparing int8 weights (once per model)…")
        return int8_model(self.model.model_file, paths.cache() / "int8")

    def generate(self, request: studio.Request, ctx: studio.JobContext) -> Iterator[studio.Event]:
        tokenizer = self.tokenizer()
        loaded = ctx.session(self.model_file(request["weights"], ctx))
        decoder = Decoder(self.model, loaded, ctx.device)
        vocab = tokenizer.tokenizer.get_vocab_size(with_added_tokens=True)
        if decoder.vocab_size is not None and vocab > decoder.vocab_size:
            raise studio.ModelError(f"the tokenizer has {vocab} tokens but the model predicts {decoder.vocab_size}: they do not belong together")
        ids, max_new, notes = prompt_ids(tokenizer, self.model, request["prompt"], request["instruction"], request["max_new_tokens"])
        sampling = SamplingSettings(request["temperature"], request["top_k"], request["top_p"], request["min_p"], request["repetition_penalty"])
        stops = [s for s in request["stop"].split("|") if s]
        eos = self.model.eos_ids(tokenizer.eos_id)
        output = yield from generate(ctx, decoder, tokenizer, ids, max_new, sampling, stops, request.seed, eos)
        info = {
            "provider": loaded.providers[0],
            "device": ctx.device.id,
            "prompt_tokens": output.prompt_tokens,
            "new_tokens": output.new_tokens,
            "ttft_s": round(output.ttft_s, 4),
            "tokens_per_s": round(output.tokens_per_s, 2),
            "stopped_by": output.stopped_by,
            "notes": notes + output.notes,
            "weights": request["weights"],
        }
        yield studio.Result("text", output.text, self.id, dict(request.params), info=info)


class LMLoader(studio.ModelLoader):
    id = "causal-lm"
    title = "Language model"
    layout = LAYOUT

    def detect(self, folder: Path) -> bool:
        return is_lm_folder(folder)

    def load(self, folder: Path) -> LMGenerator:
        return LMGenerator(LMModel.read(folder), f"lm:{folder.name}")
