"""The key/value cache a text generator keeps from its last generation, so the next one does
not compute again the part of the context it shares (llama.cpp's ``cache_prompt``, KoboldCpp's
ContextShift without the shift).

A generation ends with the keys and values of every token it fed: the prompt and the tokens it
wrote, but the last one (sampled, never fed). The writer then edits near the end and continues:
the new prompt's token ids share a prefix with those. The kept cache is cut to that prefix and
only the rest is fed.

Reuse never changes a bit of the text a seed gives (on the CPU). onnxruntime's CPU matrix
product takes another path for a single row (a vector product, summing in another order), so
keys, values and logits computed one token at a time differ from a fresh run's, which feeds
the whole prompt at once, in the last bits (2e-6 on the 100 M bench model): enough to turn a
near tie. From two rows up they are bit for bit a fresh run's, whatever the number of rows
(measured on every fixture layout, the built-in model and the bench model, at 1 and 2
threads). Hence:

- at least ``MIN_FEED`` (two) prompt tokens are always fed (one is needed anyway: the next
  token is read from the logits of the prompt's last token);
- only the tokens fed in chunks from the start are reused (``Decoder.exact``): the prompt, not
  the tokens generated one by one. A continuation after a generation feeds that generation's
  text again, with the edit, once; everything before it comes from the cache. (Reusing the
  generated tokens too would save those few hundred tokens at the price of that last-bit
  difference: what llama.cpp does. On a GPU, cuBLAS may pick other kernels for other chunk
  sizes, so there reuse is exact to rounding, not to the bit.)

What holds for each layout (tests/fixtures/lm; tests/core/test_lm_prefix_reuse.py):

- optimum's ``model.onnx`` and merged ``decoder_model_merged.onnx`` (``use_cache_branch``):
  the past's length is the tensor's own (batch, kv heads, length, head size), the attention
  mask and position ids are made from it: a cut cache is a shorter past, nothing more;
- onnxruntime-genai's builder graphs and our fused copies (``GroupQueryAttention``, no position
  ids): built for the CPU, their past grows with each step too (no shared max-length buffer)
  and ``seqlens_k`` / ``total_sequence_length`` come from the attention mask fed, so a cut
  cache and a mask of (cut + new) ones is exactly what a fresh run at that length sees. A graph
  whose cache is a shared max-length buffer (``past_present_share_buffer``, which the builder
  can write for GPUs) returns a present as long as its past, not past + fed: the Decoder
  notices (``Decoder.grows``) and such a graph keeps nothing;
- graphs without a cache (``gpt2-nocache``) read the whole sequence every step: nothing to keep;
- dynamically quantized graphs (int8 / uint8 / "quantized": ``DynamicQuantizeLinear`` before
  ``MatMulInteger``) quantize the activations with one scale for all the tokens fed together,
  so the same token computed in a chunk of 5 or of 500 gets other keys and values: reuse
  would change the text a seed gives, so they keep nothing (4-bit ``MatMulNBits`` quantizes
  each token's row on its own and does reuse).

The cache lives on the generator, one at a time (one document is open at a time, and its last
generation is the one worth keeping); it belongs to one onnxruntime session, so another
variant or a dropped session lets it go. A generation *takes* it (under a lock: a CPU and a GPU
job, or a job abandoned on cancel and the next one, may run the same generator at once) and
gives back what its decoder holds when it ends, stopped included; after an error it keeps
nothing.
"""

from __future__ import annotations

import logging
import mmap
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from studio.core.engine.onnx_import import import_onnxruntime

log = logging.getLogger(__name__)

#: Operators that quantize activations with one scale for all the rows fed together.
BATCH_DEPENDENT_OPS = (b"DynamicQuantize", b"MatMulInteger", b"QAttention")
#: The fewest prompt tokens a generation feeds after a kept cache (see the module's docstring).
MIN_FEED = 2
_blockers: dict[tuple[str, int, int], str] = {}
_blockers_lock = threading.Lock()


def reuse_blocker(path: Path) -> str:
    """Why a graph's keys and values depend on which tokens were fed together ("" when they do
    not), read from the operator names in the file (once per file: a 1 GB graph takes ~0.1 s
    from the page cache, after the session has just read it)."""
    try:
        stat = path.stat()
    except OSError:
        return "the model file is gone"
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _blockers_lock:
        if key in _blockers:
            return _blockers[key]
    reason = ""
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            found = next((op for op in BATCH_DEPENDENT_OPS if data.find(op) >= 0), None)
        if found is not None:
            reason = f"{found.decode()}: activations quantized per chunk of tokens"
    except (OSError, ValueError) as exc:  # an empty or unreadable file: keep nothing
        reason = f"the model file could not be read ({exc})"
    with _blockers_lock:
        _blockers[key] = reason
    return reason


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading ids ``a`` and ``b`` share (vectorised: prompts run to 100 000 ids)."""
    size = min(len(a), len(b))
    if size == 0:
        return 0
    differ = np.flatnonzero(np.asarray(a[:size], dtype=np.int64) != np.asarray(b[:size], dtype=np.int64))
    return int(differ[0]) if differ.size else size


def cut_values(values: list[Any], length: int, device_index: int = 0) -> list[Any]:
    """Each (batch, kv heads, length, head size) OrtValue cut to its first ``length`` positions,
    on the device it lives on. A CPU value's ``numpy()`` is a view of onnxruntime's buffer, so
    the cut is one copy of what stays; a CUDA value goes to the host and back."""
    ort = import_onnxruntime()
    cut = []
    for value in values:
        array = np.ascontiguousarray(value.numpy()[:, :, :length, :])
        device = value.device_name().lower()
        cut.append(ort.OrtValue.ortvalue_from_numpy(array, device, device_index) if device != "cpu" else ort.OrtValue.ortvalue_from_numpy(array))
    return cut


@dataclass
class KeptCache:
    session: "weakref.ref[Any]"  # the LoadedSession whose graph made the values
    tokens: list[int]  # the ids whose keys and values the first len(tokens) positions of ``values`` hold
    values: list[Any]  # one OrtValue per past input, in the Decoder's past_names order (maybe longer)


class PrefixCache:
    """One generator's kept cache: taken by a generation, given back when it ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: KeptCache | None = None

    @property
    def tokens(self) -> int:
        """How many tokens the kept cache holds (0: none)."""
        with self._lock:
            return len(self._kept.tokens) if self._kept is not None else 0

    def clear(self) -> None:
        with self._lock:
            self._kept = None

    def take(self, loaded: Any) -> KeptCache | None:
        """The kept cache, now owned by the caller, if ``loaded``'s session made it; any other
        is dropped (the variant changed, or the session was made again)."""
        with self._lock:
            kept, self._kept = self._kept, None
        if kept is None or kept.session() is not loaded:
            return None
        return kept

    def restore(self, decoder: Any, ids: list[int]) -> int:
        """Load ``decoder`` with the kept cache cut to its common prefix with ``ids``; how many
        of ``ids`` need not be fed (at most all but ``MIN_FEED``). Without a match, a reset decoder."""
        decoder.reset()
        if not decoder.has_cache:
            self.clear()
            return 0
        kept = self.take(decoder.loaded)
        if kept is None:
            return 0
        shared = min(common_prefix(kept.tokens, ids), len(ids) - MIN_FEED)
        if shared <= 0:
            return 0
        values = kept.values if shared == kept.values[0].shape()[2] else cut_values(kept.values, shared, decoder.device_index)
        decoder.load_cache(values, ids[:shared])
        return shared

    def keep(self, decoder: Any) -> None:
        """Keep what ``decoder`` holds for the next generation (nothing when its graph cannot
        reuse it, or it holds more than the model's context: a cache never outgrows it)."""
        if not decoder.has_cache or decoder.past is None or decoder.exact <= 0:
            return
        if decoder.past_length > decoder.model.context_length:
            return
        blocker = decoder.reuse_blocker()
        if blocker:
            log.debug("%s keeps no cache between generations: %s", decoder.model.name, blocker)
            return
        this = weakref.ref(self)

        def session_gone(_: Any) -> None:  # the runtime dropped the session: its cache goes too
            cache = this()
            if cache is not None:
                with cache._lock:
                    if cache._kept is not None and cache._kept.session() is None:
                        cache._kept = None

        kept = KeptCache(weakref.ref(decoder.loaded, session_gone), decoder.tokens[: decoder.exact], list(decoder.past))
        with self._lock:
            self._kept = kept
