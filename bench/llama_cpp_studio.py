"""Studio's side of bench/llama_cpp.py: a worker process that keeps its sessions between rounds.

Started by bench/llama_cpp.py with Studio's python (never torch's), one per thread setting:

    python bench/llama_cpp_studio.py CONFIG_JSON

then reads one JSON command a line on stdin and answers one JSON line on stdout:
``{"label": L, "kind": "ours"|"bare"}`` times one greedy generation of ``new_tokens`` tokens
after the prompt; ``{"quit": true}`` ends it. Keeping the process (and its sessions) alive lets
the orchestrator alternate engines round by round without reloading 2 GB of weights each time.

``ours`` is plugins/text_lm's generator through studio's JobRunner, as the CLI runs it (TTFT
from submitting the job to the first token's event; the rate from that event to the result).
``bare`` is the same onnxruntime session (the one the job used, found in the runtime's cache)
called in a plain loop: IOBinding with present.* bound back as past_key_values.*, a numpy argmax.
Studio's overhead is bare/ours tokens/s - 1.

Weights per label: ``{"folder": F, "variant": V}``; V is matched against the generator's
``variant`` parameter (or, before it existed, ``weights``: "as exported" / "int8"), so the bench
measures whatever smaller-weights options Studio offers today and says which it could not find.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from machine import log  # bench/ is the script's folder: on sys.path

WARM_UP_TOKENS = 8


def timing(begin: float, stamps: list[float]) -> dict:
    decode = stamps[-1] - stamps[0]
    return {"ttft_s": stamps[0] - begin, "tokens_per_s": (len(stamps) - 1) / decode if decode > 0 else 0.0,
            "new_tokens": len(stamps)}


def choose_weights(generator, wanted: str) -> tuple[dict, str]:
    """The request value that asks ``generator`` for ``wanted`` weights, and what it is called
    there; ({}, why) when Studio does not offer them."""
    params = {p.name: p for p in generator.params}
    param = params.get("variant") or params.get("weights")
    if param is None:
        return ({}, "as exported") if wanted in ("fp32", "auto") else ({}, "")
    choices = list(param.choices or ())
    # Studio's own 4-bit weights have been called "int4" and "q4 (made here)"; a shipped model_q4
    # file is "q4". The folder measured here ships fp32 only, so either is made by Studio.
    aliases = {"fp32": ("fp32", "as exported", "auto"), "auto": ("auto", "as exported"),
               "q4": ("q4 (made here)", "int4", "int4 (made here)", "q4")}.get(wanted, (wanted,))
    for alias in aliases:
        for choice in choices:
            if choice == alias:
                return {param.name: choice}, choice
    for choice in choices:
        if choice.split(" ")[0] in aliases and "made" in choice:
            return {param.name: choice}, choice
    return {}, ""


def bytes_per_token(path: Path) -> tuple[int, int]:
    """(bytes of all initializers, bytes read per decode step), from the graph's tensor shapes
    (no weights loaded): a table only ever gathered from (token embeddings) costs a row a token."""
    import onnx
    from onnx import helper

    model = onnx.load(str(path), load_external_data=False)
    users: dict[str, set[str]] = {}
    for node in model.graph.node:
        for name in node.input:
            users.setdefault(name, set()).add(node.op_type)
    total = read = 0
    for tensor in model.graph.initializer:
        itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
        size = int(np.prod(tensor.dims, dtype=np.int64)) * itemsize
        total += size
        ops = users.get(tensor.name, set())
        if not ops or not ops <= {"Gather", "GatherBlockQuantized"}:
            read += size
    return total, read


class StudioSide:
    def __init__(self, config: dict) -> None:
        from studio.core.engine.jobs import JobRunner
        from studio.core.engine.runtime import Runtime
        from studio_plugins.text_lm.generator import LMLoader

        if config["threads"]:
            runtime = Runtime(cpu_threads=config["threads"])
        else:  # what `studio generate` does: the CLI's own host and its runtime's default threads
            from studio.cli.host import make_host

            runtime = make_host(argparse.Namespace(safe_mode=False)).runtime
        self.threads = runtime.cpu_threads
        self.runner = JobRunner(runtime)
        self.runtime = runtime
        self.prompt = config["prompt"]
        self.new_tokens = config["new_tokens"]
        self.models: dict[str, dict] = {}
        self.missing: dict[str, str] = {}
        for label, spec in config["models"].items():
            try:
                generator = LMLoader().load(Path(spec["folder"]))
            except Exception as exc:  # the folder Studio cannot read is a finding, not a crash
                self.missing[label] = f"Studio cannot load {spec['folder']}: {exc}"
                continue
            values, name = choose_weights(generator, spec["variant"])
            if not name:
                self.missing[label] = f"Studio offers no {spec['variant']} weights for this folder (its choices: {self._choices(generator)})"
                continue
            known = {id(s) for s in runtime.cached_sessions()}
            model = {"generator": generator, "values": values, "choice": name}
            self.models[label] = model
            try:
                self.ours(label, WARM_UP_TOKENS)  # makes the variant (once) and its session
            except SystemExit as exc:
                self.missing[label] = str(exc)
                del self.models[label]
                continue
            fresh = [s for s in runtime.cached_sessions() if id(s) not in known]
            if not fresh:  # the same file as another label already opened
                fresh = [s for s in runtime.cached_sessions() if s.path == self._file_of(label)]
            model["loaded"] = fresh[-1]
            model["file"] = str(fresh[-1].path)
            model["weight_bytes"], model["bytes_per_token"] = bytes_per_token(fresh[-1].path)
            self.bare(label, WARM_UP_TOKENS)
            log(f"studio ({self.threads} threads) {label}: {name} -> {fresh[-1].path}")

    @staticmethod
    def _choices(generator) -> str:
        params = {p.name: p for p in generator.params}
        param = params.get("variant") or params.get("weights")
        return ", ".join(param.choices) if param is not None else "none"

    def _file_of(self, label: str):
        return self.models[label].get("loaded").path if "loaded" in self.models[label] else None

    def ours(self, label: str, new_tokens: int) -> dict:
        from studio.core.engine.generators import Progress, Result
        from studio.core.engine.jobs import JobState

        model = self.models[label]
        generator = model["generator"]
        stamps: list[float] = []
        results: list = []

        def listener(job, event) -> None:  # on the worker thread, as the UI's bridge is
            if isinstance(event, Progress) and event.total > 0 and not stamps:
                stamps.append(time.perf_counter())  # the first token's event (later ones are batched)
            elif isinstance(event, Result):
                stamps.append(time.perf_counter())  # the last token is out when the result is
                results.append(event)

        request = generator.request({"prompt": self.prompt, "max_new_tokens": new_tokens, "temperature": 0.0, "top_k": 0,
                                     "top_p": 1.0, "min_p": 0.0, "repetition_penalty": 1.0, "seed": 0, "stop": "",
                                     **model["values"]})
        begin = time.perf_counter()
        job = self.runner.submit(generator, request, listeners=[listener])
        job.wait()
        if job.state is not JobState.FINISHED:
            raise SystemExit(f"Studio's generation failed: {job.message}")
        count = results[0].info["new_tokens"]
        decode = stamps[-1] - stamps[0]
        return {"ttft_s": stamps[0] - begin, "tokens_per_s": (count - 1) / decode if decode > 0 else 0.0,
                "new_tokens": count, "prompt_tokens": results[0].info.get("prompt_tokens"),
                "variant_used": results[0].info.get("variant", results[0].info.get("weights"))}

    def bare(self, label: str, new_tokens: int) -> dict:
        """Greedy decoding with nothing but the session the job used: the least a pipeline does."""
        model = self.models[label]
        session = model["loaded"].session
        inputs = {i.name: i for i in session.get_inputs()}
        past_names = [n for n in inputs if n.startswith("past_key_values.")]
        present_names = [n.replace("past_key_values.", "present.") for n in past_names]
        merged = "use_cache_branch" in inputs
        kv_type = np.float16 if past_names and inputs[past_names[0]].type == "tensor(float16)" else np.float32
        _, kv_heads, head_dim = model["generator"].model.attention_shape()
        ids = model["generator"].tokenizer().encode(self.prompt)
        stamps = []
        feed, past, length = list(ids), None, 0
        begin = time.perf_counter()
        for _ in range(new_tokens):
            binding = session.io_binding()
            total = length + len(feed)
            binding.bind_cpu_input("input_ids", np.array([feed], np.int64))
            if "attention_mask" in inputs:
                binding.bind_cpu_input("attention_mask", np.ones((1, total), np.int64))
            if "position_ids" in inputs:
                binding.bind_cpu_input("position_ids", np.arange(length, total, dtype=np.int64)[None])
            if merged:
                binding.bind_cpu_input("use_cache_branch", np.array([past is not None]))
            for index, name in enumerate(past_names):
                if past is None:
                    binding.bind_cpu_input(name, np.zeros((1, kv_heads, 1 if merged else 0, head_dim), kv_type))
                else:
                    binding.bind_ortvalue_input(name, past[index])
            binding.bind_output("logits", "cpu")
            for name in present_names:
                binding.bind_output(name, "cpu")
            session.run_with_iobinding(binding)
            values = binding.get_outputs()
            token = int(values[0].numpy()[0, -1].argmax())
            stamps.append(time.perf_counter())
            past, length, feed = values[1:], total, [token]
        return {**timing(begin, stamps), "prompt_tokens": len(ids)}

    def describe(self) -> dict:
        return {"threads": self.threads, "missing": self.missing,
                "models": {label: {k: m[k] for k in ("choice", "file", "weight_bytes", "bytes_per_token")}
                           for label, m in self.models.items()}}


def main() -> int:
    config = json.loads(sys.argv[1])
    side = StudioSide(config)
    print(json.dumps(side.describe()), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("quit"):
            break
        run = side.ours if command["kind"] == "ours" else side.bare
        print(json.dumps(run(command["label"], config["new_tokens"])), flush=True)
    side.runner.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
