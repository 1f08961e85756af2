"""Token-by-token generation on one onnxruntime session, carrying the KV cache.

The cache stays in onnxruntime's own buffers between steps (IOBinding: each step's
``present.*`` outputs are bound as the next step's ``past_key_values.*`` inputs), so on a GPU
it never leaves the device and on the CPU it is never copied into numpy. Only the last row
of logits comes back to be sampled. Between generations the cache is kept (prefix_cache.py):
a continuation feeds only what changed since the last one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generator

import numpy as np

import studio
from studio.core.base.memory import ensure_memory
from studio.core.models.limits import cut_text, text_limit

from .layout import LMModel
from .prefix_cache import MIN_FEED, PrefixCache, reuse_blocker
from .sampling import SamplingSettings, next_token
from .tokenizer import LMTokenizer, StreamDecoder

# A reader sees no difference between a chunk per token and a chunk per 15 ms, but a small
# model makes thousands of tokens a second, and each event costs a signal and a repaint.
EVENT_INTERVAL = 0.015
TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_}


@dataclass
class Output:
    text: str
    prompt_tokens: int
    new_tokens: int
    ttft_s: float
    tokens_per_s: float
    stopped_by: str
    notes: list[str] = field(default_factory=list)
    reused_tokens: int = 0  # prompt tokens whose keys and values came from the last generation


class Decoder:
    """The model session and what it expects: which inputs, which dtypes, cache shapes."""

    def __init__(self, model: LMModel, loaded: Any, device: Any) -> None:
        self.model = model
        self.loaded = loaded
        self.session = loaded.session
        self.device_type = "cuda" if device.id.startswith(("cuda", "tensorrt")) else "cpu"
        self.device_index = int(device.id.rpartition(":")[2]) if device.id.rpartition(":")[2].isdigit() else 0
        names = model.names  # optimum's, or what a genai_config.json says
        self.names = names
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        if names.input_ids not in inputs or names.logits not in outputs:
            raise studio.ModelError(
                f"{model.model_file.name} is not a causal LM (it needs {names.input_ids} and {names.logits}; "
                f"it has {', '.join(inputs)} -> {', '.join(outputs)})"
            )
        self.inputs = inputs
        self.ids_dtype = TYPES.get(inputs[names.input_ids].type, np.int64)
        # Layer by layer, a key and a value in; the same layer's key and value out.
        self.past_names, self.present_names = [], []
        layer = 0
        while names.past_key % layer in inputs or names.past_value % layer in inputs:
            pair_in = [names.past_key % layer, names.past_value % layer]
            pair_out = [names.present_key % layer, names.present_value % layer]
            if not all(name in inputs for name in pair_in) or not all(name in outputs for name in pair_out):
                raise studio.ModelError(f"{model.model_file.name} takes past key/values but does not take and return both, key and value, for layer {layer}")
            self.past_names += pair_in
            self.present_names += pair_out
            layer += 1
        self.has_cache = bool(self.past_names)
        self.branch = "use_cache_branch" in inputs
        _, kv_heads, head_dim = model.attention_shape()
        self.kv_dtype = np.float32
        if self.past_names:
            shape = inputs[self.past_names[0]].shape
            if len(shape) != 4:
                raise studio.ModelError(f"{model.model_file.name}: its key/value cache has {len(shape)} dimensions, not 4 (batch, heads, length, head size)")
            kv_heads = shape[1] if isinstance(shape[1], int) else kv_heads
            head_dim = shape[3] if isinstance(shape[3], int) else head_dim
            self.kv_dtype = TYPES.get(inputs[self.past_names[0]].type, np.float32)
        self.kv_heads, self.head_dim = kv_heads, head_dim
        vocab = self.session.get_outputs()[outputs.index(names.logits)].shape[-1]
        self.vocab_size = vocab if isinstance(vocab, int) else model.vocab_size
        self.past: list[Any] | None = None
        self.past_length = 0
        self.tokens: list[int] = []  # the ids whose keys and values ``past`` holds, in order
        # How many of them a fresh run on the same ids computes bit for bit alike: those fed in
        # chunks of two or more from the start (prefix_cache.MIN_FEED says why one differs).
        self.exact = 0
        # False once a present comes back longer or shorter than what was fed: a graph whose
        # cache is a shared max-length buffer, whose past cannot simply be cut.
        self.grows = True

    def reset(self) -> None:
        self.past, self.past_length, self.tokens, self.exact = None, 0, [], 0

    def load_cache(self, past: list[Any], tokens: list[int]) -> None:
        """Start from a cache holding the keys and values of ``tokens`` (kept from a generation)."""
        self.past, self.past_length, self.tokens, self.exact = past, len(tokens), list(tokens), len(tokens)

    def reuse_blocker(self) -> str:
        """Why this graph's cache cannot be kept for the next generation ("" when it can)."""
        if not self.has_cache:
            return "no key/value cache"
        if not self.grows:
            return "its cache is a fixed-size buffer"
        return reuse_blocker(Path(self.loaded.path)) if getattr(self.loaded, "path", None) else "no model file"

    def cache_bytes(self, tokens: int) -> int:
        """The key/value cache's size once it holds ``tokens`` tokens (all layers, keys and values)."""
        if not self.has_cache:
            return 0
        return len(self.past_names) * self.kv_heads * tokens * self.head_dim * np.dtype(self.kv_dtype).itemsize

    def step(self, ctx: studio.JobContext, ids: list[int], options: Any = None) -> np.ndarray:
        """Feed ``ids`` after what the cache holds; return the logits for the next token.

        ``options``: RunOptions from ``ctx.cancellable()`` held for a whole generation (one per
        step would cost more than a small model's step); without them, a step makes its own."""
        if not self.has_cache:  # every step reads the whole sequence again
            self.past_length = 0
        binding = self.session.io_binding()
        count = len(ids)
        total = self.past_length + count
        names = self.names
        binding.bind_cpu_input(names.input_ids, np.asarray([ids], dtype=self.ids_dtype))
        if names.attention_mask in self.inputs:
            mask_type = TYPES.get(self.inputs[names.attention_mask].type, np.int64)
            binding.bind_cpu_input(names.attention_mask, np.ones((1, total), dtype=mask_type))
        if names.position_ids in self.inputs:  # genai builder graphs take none: positions come from the mask
            positions = np.arange(self.past_length, total, dtype=np.int64)[None]
            binding.bind_cpu_input(names.position_ids, positions.astype(TYPES.get(self.inputs[names.position_ids].type, np.int64)))
        if self.branch:
            binding.bind_cpu_input("use_cache_branch", np.array([self.past is not None]))
        for index, name in enumerate(self.past_names):
            if self.past is None:  # nothing cached yet: an empty cache (length 1 for merged files, which ignore it)
                empty = np.zeros((1, self.kv_heads, 1 if self.branch else 0, self.head_dim), dtype=self.kv_dtype)
                binding.bind_cpu_input(name, empty)
            else:
                binding.bind_ortvalue_input(name, self.past[index])
        binding.bind_output(names.logits, "cpu")
        for name in self.present_names:
            binding.bind_output(name, self.device_type)
        if options is None:
            with ctx.cancellable() as own:
                self.session.run_with_iobinding(binding, own)
        else:
            ctx.check_cancelled()
            self.session.run_with_iobinding(binding, options)
        values = binding.get_outputs()
        logits = np.asarray(values[0].numpy()[0, -1], dtype=np.float32)
        if self.has_cache:
            self.grows = self.grows and values[1].shape()[2] == total
            if count >= MIN_FEED and self.exact == self.past_length:
                self.exact = total
            self.past, self.past_length = values[1:], total
            self.tokens.extend(ids)
        return logits


class StopMatcher:
    """Holds back text that might be the start of a stop sequence until it is clear."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.text = ""
        self.shown = 0
        self.hit = False

    def add(self, chunk: str) -> str:
        self.text += chunk
        for stop in self.stops:
            at = self.text.find(stop)
            if at >= 0:
                self.hit = True
                self.text = self.text[:at]
                break
        safe = len(self.text) if self.hit else len(self.text) - self._held_back()
        out = self.text[self.shown : max(self.shown, safe)]
        self.shown = max(self.shown, safe)
        return out

    def _held_back(self) -> int:
        tail = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.text)), 0, -1):
                if self.text.endswith(stop[:size]):
                    tail = max(tail, size)
                    break
        return tail

    def rest(self) -> str:
        out = self.text[self.shown :]
        self.shown = len(self.text)
        return out


def cut_step(context: int, room: int) -> int:
    """The step a long prompt is cut from the left by: a quarter of the context, so it does not
    change with the number of new tokens asked for, but at most half the ``room`` (the context
    less the new tokens), so at least half the room is read."""
    return max(1, min(context // 4, room // 2))


def stable_cut(count: int, room: int, step: int) -> int:
    """How many of ``count`` items to drop from the start so that the rest fits ``room``: the
    smallest multiple of ``step`` that does. Cutting just enough would move the start with
    every token the text grows by, and a start that moves shares no prefix with the last
    generation's: this start stays put until the text has grown by another ``step``."""
    if count <= room:
        return 0
    return min(count, -(-(count - room) // step) * step)


def prompt_ids(tokenizer: LMTokenizer, model: LMModel, prompt: str, instruction: str, max_new: int) -> tuple[list[int], int, list[str]]:
    """The prompt's token ids, cut from the left to fit the context; the (maybe reduced) token
    budget; and notes for the user.

    Both cuts, of characters before tokenizing and of tokens after, drop a multiple of a step
    (``stable_cut``: a quarter of the characters tokenized; ``cut_step`` tokens), counted from
    the start of the text: consecutive continuations of a long document then start at the same
    token and the second reuses the first's cache (prefix_cache.py)."""
    notes: list[str] = []
    # Text far longer than the context is cut before the tokenizer sees it (its end is what
    # the model reads): tokenizing megabytes only to drop them is slow, and worse, the
    # tokenizers library aborts the process outright on some huge inputs.
    limit = text_limit(model.context_length)
    dropped = stable_cut(len(prompt), limit, limit // 4)
    if dropped:
        prompt = prompt[dropped:]
        notes.append(f"the text is longer than the model can read: only its last {len(prompt):,} characters were tokenized")
    instruction, cut = cut_text(instruction, limit)
    if cut:
        notes.append(f"the instruction was cut to its first {limit:,} characters")
    if instruction.strip():
        text = tokenizer.chat_prompt([{"role": "user", "content": f"{instruction.strip()}\n\n{prompt}"}])
        ids = tokenizer.encode(text, special=False)
    else:
        ids = tokenizer.encode(prompt)
    if not ids:  # an empty page: start from the beginning-of-text token, as transformers does
        start = tokenizer.bos_id if tokenizer.bos_id is not None else tokenizer.eos_id
        if start is None:
            raise studio.ParamError("the prompt is empty and this model has no start token: type something first")
        ids = [start]
    context = model.context_length
    if max_new >= context:
        max_new = max(1, context // 2)
        notes.append(f"the model's context is {context} tokens: at most {max_new} new tokens this time")
    room = context - max_new
    if len(ids) > room:
        head = ids[:1] if tokenizer.bos_id is not None and ids[0] == tokenizer.bos_id else []
        body = ids[len(head):]
        cut = stable_cut(len(body), room - len(head), cut_step(context, room))
        ids = head + body[cut:]
        notes.append(f"the text is longer than the model's context ({context} tokens): only its last {len(ids) - len(head)} tokens were read ({cut} left out)")
    return ids, max_new, notes


def generate(
    ctx: studio.JobContext,
    decoder: Decoder,
    tokenizer: LMTokenizer,
    ids: list[int],
    max_new: int,
    sampling: SamplingSettings,
    stops: list[str],
    seed: int,
    eos_ids: set[int],
    cache: PrefixCache | None = None,
) -> Generator[studio.Event, None, Output]:
    """Generate after ``ids``. With ``cache`` (the generator's kept cache), the keys and values
    of the prompt's prefix the last generation computed are reused, and what this one computed
    is kept when it ends, finished or stopped (an error keeps nothing)."""
    notes = [] if decoder.has_cache else ["this model has no KV-cache inputs, so every new token re-reads the whole text (slower)"]
    ensure_memory(decoder.cache_bytes(len(ids) + max_new), f"a text of {len(ids) + max_new:,} tokens with {decoder.model.name}")
    started = time.perf_counter()  # the time to the first token counts the cut of a kept cache
    if cache is None:
        decoder.reset()
        reused = 0
    else:
        reused = cache.restore(decoder, ids)
    try:
        output = yield from _decode(ctx, decoder, tokenizer, ids, reused, max_new, sampling, stops, seed, eos_ids, started)
    except (studio.Cancelled, GeneratorExit):  # stopped: the decoder holds exactly the tokens it fed
        if cache is not None:
            cache.keep(decoder)
        raise
    if cache is not None:
        cache.keep(decoder)
    output.notes[:0] = notes
    return output


def _decode(ctx: studio.JobContext, decoder: Decoder, tokenizer: LMTokenizer, ids: list[int], reused: int, max_new: int,
            sampling: SamplingSettings, stops: list[str], seed: int, eos_ids: set[int], started: float) -> Generator[studio.Event, None, Output]:
    notes: list[str] = []
    rng = np.random.Generator(np.random.PCG64(seed))
    stream = StreamDecoder(tokenizer)
    matcher = StopMatcher(stops)
    sequence = list(ids)
    feed = ids[reused:]
    no_history = np.empty(0, dtype=np.int64)
    pending = ""  # text decoded but not yet sent: events go out at most every EVENT_INTERVAL
    first_token_at = None
    last_event = 0.0
    produced = 0
    stopped_by = "length"
    with ctx.cancellable() as options:  # one RunOptions for the whole generation: cancel stops any step
        for produced in range(1, max_new + 1):
            logits = decoder.step(ctx, feed if decoder.has_cache else sequence, options)
            history = np.asarray(sequence, dtype=np.int64) if sampling.repetition_penalty != 1.0 else no_history
            token = next_token(logits, sampling, history, rng)
            if first_token_at is None:
                first_token_at = time.perf_counter()
            if token in eos_ids:
                stopped_by = "end of text"
                produced -= 1
                break
            sequence.append(token)
            feed = [token]
            stream.ids.append(token)
            now = time.perf_counter()
            due = now - last_event >= EVENT_INTERVAL
            if due or matcher.stops:  # decode per event, or per token when a stop sequence may end it
                pending += matcher.add(stream.take())
            if due or matcher.hit:
                last_event = now
                yield studio.Progress(produced, max_new, f"{produced} tokens · {produced / max(now - started, 1e-9):.1f} tokens/s")
                if pending:
                    yield studio.Preview("text", pending)
                    pending = ""
            if matcher.hit:
                stopped_by = "stop sequence"
                break
            if len(sequence) >= decoder.model.context_length:
                stopped_by = "context full"
                notes.append("the model's context is full: generation stopped")
                break
    tail = pending + matcher.add(stream.flush()) + (matcher.rest() if not matcher.hit else "")
    if tail:
        yield studio.Preview("text", tail)
    ended = time.perf_counter()
    decode_time = ended - (first_token_at or ended)
    tokens_per_s = (produced - 1) / decode_time if produced > 1 and decode_time > 0 else 0.0
    return Output(matcher.text, len(ids), produced, (first_token_at or ended) - started, tokens_per_s, stopped_by, notes, reused)
