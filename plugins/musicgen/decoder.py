"""MusicGen's decoder with its key/value cache, one step at a time, merged or split.

- merged (``decoder_model_merged.onnx``, the public exports): one graph, ``use_cache_branch``
  false on the first step and true after;
- split (``decoder_model.onnx`` + ``decoder_with_past_model.onnx``, optimum-cli today): the first
  graph runs the first step, the second every step after it. Both sessions stay cached.

Input and output names are read from the sessions, never assumed. The cache stays in
onnxruntime's own buffers between steps (IOBinding: ``present.*`` bound back as
``past_key_values.*``), on the GPU when the job runs on one; only the logits come back to numpy.
The cross-attention keys/values are made on the first step and kept: neither the cache branch of
a merged export nor ``decoder_with_past_model`` recomputes them.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

import studio

from .graphs import Graphs
from .layout import MusicGenModel

PAST = re.compile(r"^past_key_values\.(\d+)\.(decoder|encoder)\.(key|value)$")
TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


class Graph:
    """One decoder session and the names it takes and gives."""

    def __init__(self, loaded: Any, needed: set[str], role: str) -> None:
        self.loaded = loaded
        self.session = loaded.session
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        self.outputs = [o.name for o in self.session.get_outputs()]
        if not needed <= set(self.inputs) or "logits" not in self.outputs:
            raise studio.ModelError(
                f"{loaded.path} is not {role}: it needs inputs {', '.join(sorted(needed))} and a logits output "
                f"(it has {', '.join(self.inputs)})"
            )
        self.past = [n for n in self.inputs if PAST.match(n)]
        self.presents = [n for n in self.outputs if n.startswith("present.")]

    def dtype(self, name: str) -> Any:
        return TYPES.get(self.inputs[name].type, np.float32)


def past_name(present: str) -> str:
    return present.replace("present", "past_key_values", 1)


class Decoder:
    def __init__(self, model: MusicGenModel, ctx: studio.JobContext, graphs: Graphs | None = None) -> None:
        self.model = model
        paths = (graphs or model.graphs_for()).decoder
        base = {"input_ids", "encoder_attention_mask"}
        if len(paths) == 1:
            merged = Graph(ctx.session(paths[0]), base | {"encoder_hidden_states", "use_cache_branch"}, "a merged MusicGen decoder")
            self.first = self.following = merged
        else:
            self.first = Graph(ctx.session(paths[0]), base | {"encoder_hidden_states"}, "the first step of a MusicGen decoder")
            self.following = Graph(ctx.session(paths[1]), base, "the cached steps of a MusicGen decoder")
        self.loaded = self.following.loaded
        self.device_type = "cuda" if ctx.device.id.startswith(("cuda", "tensorrt")) else "cpu"
        self.past_names = sorted(self.following.past, key=lambda n: (int(PAST.match(n).group(1)), n))
        if not self.past_names:
            raise studio.ModelError(f"{self.following.loaded.path} takes no key/value cache (no past_key_values inputs)")
        for graph, wanted in ((self.first, self.past_names), (self.following, [n for n in self.past_names if ".decoder." in n])):
            missing = [n.replace("past_key_values", "present", 1) for n in wanted if n.replace("past_key_values", "present", 1) not in graph.outputs]
            if missing:
                raise studio.ModelError(f"{graph.loaded.path} does not return its key/value cache ({', '.join(missing)})")
        first = self.following.inputs[self.past_names[0]]
        heads = int(model.decoder.get("num_attention_heads", 1))
        self.heads = first.shape[1] if isinstance(first.shape[1], int) else heads
        self.head_dim = first.shape[3] if isinstance(first.shape[3], int) else int(model.decoder.get("hidden_size", heads)) // self.heads
        self.past: dict[str, Any] | None = None

    def reset(self) -> None:
        self.past = None

    def step(self, ctx: studio.JobContext, ids: np.ndarray, states: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Feed ``ids`` (batch*C, n) after what was fed so far; the logits of the last position (batch*C, V)."""
        graph = self.first if self.past is None else self.following
        binding = graph.session.io_binding()
        binding.bind_cpu_input("input_ids", np.ascontiguousarray(ids, dtype=graph.dtype("input_ids")))
        binding.bind_cpu_input("encoder_attention_mask", np.ascontiguousarray(mask, dtype=graph.dtype("encoder_attention_mask")))
        if "encoder_hidden_states" in graph.inputs:
            binding.bind_cpu_input("encoder_hidden_states", np.ascontiguousarray(states, dtype=graph.dtype("encoder_hidden_states")))
        if "use_cache_branch" in graph.inputs:
            binding.bind_cpu_input("use_cache_branch", np.array([self.past is not None]))
        for name in graph.past:
            if self.past is None:  # the no-cache branch of a merged decoder ignores these; they only need valid shapes
                length = states.shape[1] if ".encoder." in name else 1
                binding.bind_cpu_input(name, np.zeros((states.shape[0], self.heads, length, self.head_dim), dtype=graph.dtype(name)))
            else:
                binding.bind_ortvalue_input(name, self.past[name])
        binding.bind_output("logits", "cpu")
        for name in graph.presents:
            binding.bind_output(name, self.device_type)
        with ctx.cancellable() as options:
            graph.session.run_with_iobinding(binding, options)
        values = binding.get_outputs()
        presents = {past_name(name): value for name, value in zip(graph.presents, values[1:])}
        if self.past is not None:
            for name in self.past_names:
                if ".encoder." in name:
                    presents[name] = self.past[name]
        self.past = presents
        return np.asarray(values[0].numpy()[:, -1, :], dtype=np.float32)
