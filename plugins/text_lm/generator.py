"""The text generator (one per causal-LM folder) and the loader that finds such folders."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Iterator

import studio
from studio.core.base import paths
from studio.core.models.variant_defaults import choose_variant

from .chat_prompt import chat_plan, chat_prompt_ids, chat_request, no_chat_template
from .fusion import DecoderShape
from .layout import LAYOUT, LMModel, is_lm_folder
from .pipeline import Decoder, generate, prompt_ids
from .prefix_cache import PrefixCache
from .quantize import FAST_VARIANTS, MADE_HERE, made_model
from .sampling import SamplingSettings
from .story_prompt import STORY_PARAMS, continuation_plan, story_notes, story_plan, uses_notes
from .tokenizer import LMTokenizer

log = logging.getLogger(__name__)


def _number(config: dict, key: str, default, kind=float):
    value = config.get(key)
    return kind(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def device_kind(device) -> str:
    """``"cpu"`` or ``"gpu"``: which list of preferred variants suits the job's device."""
    return "cpu" if device.id.startswith("cpu") else "gpu"


def _suggested(param: studio.Param) -> studio.Param:
    """``param`` starting from the model's suggested value put on the form's grid and range
    (a generation_config.json may say top_p 0.925, between two steps, or top_k 5000)."""
    return dataclasses.replace(param, default=param.snap(param.default))


class LMGenerator(studio.Generator):
    kind = "text"

    def __init__(self, model: LMModel, generator_id: str, title: str = "") -> None:
        self.model = model
        self.model_folder = model.folder
        self.chat_template = model.chat_template is not None  # it can follow an instruction (Rewrite, Expand, Summarise)
        self.present = tuple(model.variants)
        # Smaller weights made here need the full-precision file; int8 shipped by the hub is used as it is.
        self.made_here = tuple(kind for kind in MADE_HERE if "fp32" in model.variants and kind not in model.variants)
        self.id = generator_id
        self.title = title or f"Text ({model.name})"
        self.description = (
            "Continues the text before the cursor; with an instruction, rewrites the selection, and "
            f"answers in the Text tab's chat (models with a chat template). Context: {model.context_length} tokens."
        )
        g = model.generation
        sampled = bool(g.get("do_sample", True))
        self.params = (
            studio.Param("prompt", "text", "", multiline=True, help="The text to continue (in the editor: the text before the cursor)."),
            studio.Param("instruction", "text", "", label="Instruction", help="Rewrite the prompt following this instruction (needs a chat model). Empty: continue."),
            studio.Param("messages", "text", "", label="Chat", help='A conversation to answer (the chat view fills it), as JSON: [{"role": "user", "content": "…"}, …]; a last reply is continued. Empty: continue the prompt.'),
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
            *STORY_PARAMS,  # memory, author's note, lorebook: a continuation's context (story_prompt)
            studio.Param("variant", "choice", "auto", choices=("auto", *self.present, *self.made_here), label="Weights", help=(
                "Which of the model's weights to run. auto: your default for this device (Models window), else the "
                "fastest present (q4, then int8 on the CPU; fp16 on a GPU). int8 / int4 made here: a quarter / an "
                "eighth of the fp32 bytes to read per token, so faster on the CPU; made once per model, the text "
                "differs slightly.")),
        )
        self._tokenizer: LMTokenizer | None = None
        # The keys and values of the last generation, for the next to start from (prefix_cache.py).
        self.prefix_cache = PrefixCache()

    def tokenizer(self) -> LMTokenizer:
        if self._tokenizer is None:
            self._tokenizer = LMTokenizer(self.model)
        return self._tokenizer

    def request(self, values=None, rng=None) -> studio.Request:
        """As every generator's, and the ``weights`` parameter of projects saved before variants
        ("as exported", "int8") still loads: as the plain variant and int8."""
        values = dict(values or {})
        if "weights" in values:
            old = values.pop("weights")
            if "variant" not in values:
                values["variant"] = {"as exported": "fp32" if "fp32" in self.present else "auto"}.get(old, old)
        request = super().request(values, rng)
        if chat_request(request.params) is not None and not self.chat_template:  # said at once, not after loading
            raise no_chat_template(self.title)
        if str(request.params.get("instruction") or "").strip() and not self.chat_template:
            raise studio.ParamError(f"{self.title} has no chat template, so it cannot follow an instruction; use Continue")
        story_notes(request.params)  # a lorebook that cannot be read is said at once too
        return request

    def context_plan(self, values=None):
        """The context the job with ``values`` would read (``ContextPlan``), validated as
        ``request``: for a continuation, memory, fired lore, the story as cut, the author's note;
        with ``messages`` (the chat view), each message kept and the oldest left out."""
        params = self.request(values).params
        chat = chat_request(params)
        if chat is not None:
            return chat_plan(self.tokenizer(), self.model, self.title, chat, params["max_new_tokens"])
        return continuation_plan(self.tokenizer(), self.model, params)

    def chosen_variant(self, choice: str, device) -> str:
        """The variant ``choice`` means on ``device``: "auto" is the user's default for this kind
        of device when it is here, else the preferred variant present."""
        if choice != "auto":
            return choice
        return choose_variant(self.model.folder, "auto", self.present, device_kind(device), self.made_here)

    def load(self, ctx: studio.JobContext) -> None:
        ctx.progress(0, 1, "Loading the language model…")
        self.tokenizer()
        # The session is made by the first job, for the variant it asks for: one damaged or
        # unwanted variant must not stand in the way of the others.

    def model_file(self, variant: str, ctx: studio.JobContext) -> Path:
        heads, kv_heads, head_dim = self.model.attention_shape()
        window = self.model.config.get("sliding_window")
        windowed = isinstance(window, int) and self.model.config.get("use_sliding_window", True) is not False and window < self.model.context_length
        shape = DecoderShape(self.model.names, heads, kv_heads, head_dim, attention=not windowed, context=self.model.context_length)
        if variant in self.model.variants:
            shipped = self.model.variants[variant].files[0]
            if variant not in FAST_VARIANTS or device_kind(ctx.device) != "cpu":
                return shipped
            ctx.progress(0, 0, f"Preparing the fast path for the {variant} weights (once per model)…")
            try:
                return made_model(shipped, paths.cache(), "fast", shape)
            except studio.ModelError as exc:  # the file as shipped still runs, or says why not
                log.warning("%s; running %s as shipped", exc, shipped)
                return shipped
        if variant not in self.made_here:
            raise studio.ParamError(f"{self.title} has no {variant} weights (it has {', '.join(self.present)})")
        ctx.progress(0, 0, f"Preparing {variant} weights (once per model)…")
        return made_model(self.model.variants["fp32"].files[0], paths.cache(), variant, shape)

    def generate(self, request: studio.Request, ctx: studio.JobContext) -> Iterator[studio.Event]:
        tokenizer = self.tokenizer()
        variant = self.chosen_variant(request["variant"], ctx.device)
        model_file = self.model_file(variant, ctx)
        loaded = ctx.session(model_file)
        decoder = Decoder(self.model, loaded, ctx.device)
        vocab = tokenizer.tokenizer.get_vocab_size(with_added_tokens=True)
        if decoder.vocab_size is not None and vocab > decoder.vocab_size:
            raise studio.ModelError(f"the tokenizer has {vocab} tokens but the model predicts {decoder.vocab_size}: they do not belong together")
        plan = story_plan(tokenizer, self.model, request.params) if uses_notes(request.params) else None
        chat = chat_request(request.params)
        if chat is not None:
            ids, max_new, notes = chat_prompt_ids(tokenizer, self.model, self.title, chat, request["max_new_tokens"])
        else:
            ids, max_new, notes = prompt_ids(tokenizer, self.model, request["prompt"] if plan is None else plan.prompt, request["instruction"], request["max_new_tokens"])
        sampling = SamplingSettings(request["temperature"], request["top_k"], request["top_p"], request["min_p"], request["repetition_penalty"])
        stops = [s for s in request["stop"].split("|") if s]
        eos = self.model.eos_ids(tokenizer.eos_id)
        output = yield from generate(ctx, decoder, tokenizer, ids, max_new, sampling, stops, request.seed, eos, self.prefix_cache)
        info = {
            "provider": loaded.providers[0],
            "device": ctx.device.id,
            "prompt_tokens": output.prompt_tokens,
            "new_tokens": output.new_tokens,
            "reused_tokens": output.reused_tokens,  # prompt tokens not computed again (kept from the last generation)
            "ttft_s": round(output.ttft_s, 4),
            "tokens_per_s": round(output.tokens_per_s, 2),
            "stopped_by": output.stopped_by,
            "notes": notes + output.notes,
            "variant": variant,
            "weights": variant,  # the same, under the name results carried before variants
            "model_file": model_file.name,
            # A shipped variant run from its fused copy (the fast path), or made here: not the file as shipped.
            "copy_made_here": variant not in self.model.variants or model_file != self.model.variants[variant].files[0],
        }
        if plan is not None:  # what the context view showed: the parts, their tokens, what was cut
            info["context"] = plan.to_info()
        yield studio.Result("text", output.text, self.id, dict(request.params), info=info)


class LMLoader(studio.ModelLoader):
    id = "causal-lm"
    title = "Language model"
    layout = LAYOUT

    def detect(self, folder: Path) -> bool:
        return is_lm_folder(folder)

    def load(self, folder: Path) -> LMGenerator:
        return LMGenerator(LMModel.read(folder), f"lm:{folder.name}")
