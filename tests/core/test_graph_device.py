"""Graphs that only run on a GPU (onnxruntime's fused com.microsoft SD operators) are recognised
from their node types, said in one sentence, and refused on the CPU before a job starts.

The graphs are real ONNX files made with onnx.helper; the operators' lack of a CPU kernel is
checked against the installed onnxruntime itself, so the table cannot drift unnoticed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from studio.core.engine.jobs import JobRunner, JobState
from studio.core.engine.onnx_import import import_onnxruntime
from studio.core.engine.runtime import CPU_DEVICE, Runtime
from studio.core.models import graph_device
from studio.core.models.graph_device import DEVICE_ONLY_OPS, folder_required_device, graph_need, required_device
from studio.errors import ModelError
from studio_plugins.stable_diffusion.generator import StableDiffusionLoader

SD1 = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models" / "sd1"
OPSETS = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]


def floats(name: str, *shape: int):
    return numpy_helper.from_array(np.full(shape, 0.5, np.float32), name)


def save(path: Path, nodes, inputs, outputs, initializers=()) -> Path:
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(initializers)), opset_imports=OPSETS)
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def value(name: str, *shape: int):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


# Each SD-optimizer operator as onnxruntime's CUDA kernels take it (shapes its schema accepts).
SD_OPS = {
    "GroupNorm": lambda: ([helper.make_node("GroupNorm", ["x", "gamma", "beta"], ["y"], domain="com.microsoft", activation=1, groups=2, epsilon=1e-5)],
                          [value("x", 1, 4, 4, 8)], [value("y", 1, 4, 4, 8)], [floats("gamma", 8), floats("beta", 8)]),
    "SkipGroupNorm": lambda: ([helper.make_node("SkipGroupNorm", ["x", "gamma", "beta", "skip"], ["y"], domain="com.microsoft", activation=0, groups=2, epsilon=1e-5)],
                              [value("x", 1, 4, 4, 8), value("skip", 1, 4, 4, 8)], [value("y", 1, 4, 4, 8)], [floats("gamma", 8), floats("beta", 8)]),
    "NhwcConv": lambda: ([helper.make_node("NhwcConv", ["x", "w", "b"], ["y"], domain="com.microsoft", kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
                         [value("x", 1, 4, 4, 8)], [value("y", 1, 4, 4, 8)], [floats("w", 8, 3, 3, 8), floats("b", 8)]),
    "BiasSplitGelu": lambda: ([helper.make_node("BiasSplitGelu", ["x", "bias"], ["y"], domain="com.microsoft")],
                              [value("x", 1, 16, 64)], [value("y", 1, 16, 32)], [floats("bias", 64)]),
    "BiasAdd": lambda: ([helper.make_node("BiasAdd", ["x", "bias", "skip"], ["y"], domain="com.microsoft")],
                        [value("x", 1, 16, 32), value("skip", 1, 16, 32)], [value("y", 1, 16, 32)], [floats("bias", 32)]),
}


@pytest.mark.parametrize("op", sorted(SD_OPS))
def test_an_sd_optimizer_operator_has_no_cpu_kernel_and_is_said_to_need_cuda(op, tmp_path):
    path = save(tmp_path / f"{op}.onnx", *SD_OPS[op]())
    onnx.checker.check_model(str(path))  # a valid graph: only the CPU kernel is missing
    with pytest.raises(ModelError) as refused:
        Runtime(cpu_threads=1).session(path, CPU_DEVICE)
    assert f"uses {op}" in str(refused.value) and "ONNXRuntimeError" not in str(refused.value)

    sentence = required_device(path)
    assert sentence is not None and sentence.startswith("needs an NVIDIA GPU (CUDA)") and f"it uses {op}" in sentence
    assert "CUDAExecutionProvider" in DEVICE_ONLY_OPS[op]


def test_every_listed_operator_is_a_microsoft_operator_this_onnxruntime_knows():
    """A misspelt name in the table would never match a node: each must be a schema onnxruntime has."""
    native = import_onnxruntime().capi._pybind_state  # loaded with onnxruntime itself
    known = {schema.name for schema in native.get_all_operator_schema() if schema.domain == "com.microsoft"}
    assert sorted(set(DEVICE_ONLY_OPS) - known) == []
    assert all(set(providers) <= {graph_device.CUDA, graph_device.DML} and providers for providers in DEVICE_ONLY_OPS.values())


def test_a_graph_the_cpu_runs_needs_nothing(tmp_path):
    """FastGelu is a com.microsoft operator with a CPU kernel: not device-bound."""
    path = save(tmp_path / "fastgelu.onnx", [helper.make_node("FastGelu", ["x", "bias"], ["y"], domain="com.microsoft")],
                [value("x", 1, 16, 32)], [value("y", 1, 16, 32)], [floats("bias", 32)])
    session = Runtime(cpu_threads=1).session(path, CPU_DEVICE)
    assert session.providers[0] == "CPUExecutionProvider"
    assert required_device(path) is None and graph_need(path) is None


def test_an_operator_inside_an_if_branch_is_found(tmp_path):
    """Merged decoders keep their nodes in If branches: those are read too."""
    nodes, inputs, outputs, initializers = SD_OPS["GroupNorm"]()
    branch = helper.make_graph(nodes, "then", [], outputs, initializers)
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["y2"])], "else", [], [value("y2", 1, 4, 4, 8)])
    condition = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    node = helper.make_node("If", ["c"], ["out"], then_branch=branch, else_branch=other)
    path = save(tmp_path / "merged.onnx", [node], [condition, *inputs], [value("out", 1, 4, 4, 8)])
    assert "it uses GroupNorm" in required_device(path)


def test_ops_seen_together_need_a_device_that_runs_all_of_them(tmp_path):
    """GroupNorm runs on CUDA and DirectML, SkipGroupNorm on CUDA only: the folder needs CUDA."""
    save(tmp_path / "unet" / "model.onnx", *SD_OPS["GroupNorm"]())
    assert "DirectML" in folder_required_device(tmp_path)
    save(tmp_path / "vae_decoder" / "model.onnx", *SD_OPS["SkipGroupNorm"]())
    sentence = folder_required_device(tmp_path)
    assert sentence.startswith("needs an NVIDIA GPU (CUDA):") and "DirectML" not in sentence
    assert "GroupNorm" in sentence and "SkipGroupNorm" in sentence


def test_a_damaged_or_missing_file_is_not_judged_here(tmp_path):
    damaged = tmp_path / "model.onnx"
    damaged.write_bytes(b"\x08\x07 not a protobuf at all \xff\xff\xff")
    assert required_device(damaged) is None
    assert required_device(tmp_path / "absent.onnx") is None


def test_a_file_replaced_in_place_gets_a_new_verdict(tmp_path):
    """Verdicts are remembered by path, size and modification time: a new file is read again."""
    path = save(tmp_path / "model.onnx", [helper.make_node("Identity", ["x"], ["y"])], [value("x", 2)], [value("y", 2)])
    assert required_device(path) is None
    assert (graph_device._cache_path()).is_file()
    save(path, *SD_OPS["NhwcConv"]())
    os.utime(path, ns=(1, 1))  # a different stamp even on a coarse clock
    assert "it uses NhwcConv" in required_device(path)


def test_the_built_in_sd_fixture_runs_on_the_cpu():
    assert folder_required_device(SD1) is None


# -- a real SD folder whose UNet holds a GroupNorm node --------------------------------------


def gpu_only_copy(target: Path) -> Path:
    """The sd1 fixture with one com.microsoft GroupNorm inserted after the UNet's first Conv
    (graph surgery: NCHW -> NHWC -> GroupNorm -> NCHW, the Conv's consumers rewired)."""
    shutil.copytree(SD1, target)
    unet_path = target / "unet" / "model.onnx"
    model = onnx.load(str(unet_path), load_external_data=False)
    graph = model.graph
    conv = next(n for n in graph.node if n.op_type == "Conv")
    channels = next(i.dims[0] for i in graph.initializer if i.name == conv.input[1])  # the Conv's output channels
    source = conv.output[0]
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name == source:
                node.input[index] = "gn_back"
    for output in graph.output:
        assert output.name != source
    graph.initializer.extend([numpy_helper.from_array(np.ones(channels, np.float32), "gn_gamma"),
                              numpy_helper.from_array(np.zeros(channels, np.float32), "gn_beta")])
    position = list(graph.node).index(conv) + 1
    inserted = [
        helper.make_node("Transpose", [source], ["gn_nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("GroupNorm", ["gn_nhwc", "gn_gamma", "gn_beta"], ["gn_out"], domain="com.microsoft", activation=0, groups=1, epsilon=1e-5),
        helper.make_node("Transpose", ["gn_out"], ["gn_back"], perm=[0, 3, 1, 2]),
    ]
    for offset, node in enumerate(inserted):
        graph.node.insert(position + offset, node)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(unet_path))  # the weights stay in model.onnx_data, untouched
    return target


def test_a_gpu_only_sd_folder_is_accepted_and_marked(tmp_path):
    folder = gpu_only_copy(tmp_path / "turbo-ort")
    onnx.checker.check_model(str(folder / "unet" / "model.onnx"))
    generator = StableDiffusionLoader().load(folder)
    assert generator.required_device.startswith("needs an NVIDIA GPU (CUDA)")
    assert "GroupNorm" in generator.required_device
    assert "needs an NVIDIA GPU (CUDA)" in generator.description


def test_a_cpu_job_on_a_gpu_only_sd_folder_fails_with_the_sentence_not_a_traceback(tmp_path):
    folder = gpu_only_copy(tmp_path / "turbo-ort")
    generator = StableDiffusionLoader().load(folder)
    runner = JobRunner(Runtime(cpu_threads=1))
    try:
        job = runner.submit(generator, generator.request({"prompt": "a boat", "width": 64, "height": 64, "steps": 1}), CPU_DEVICE)
        assert job.wait(60)
    finally:
        runner.shutdown()
    assert job.state is JobState.FAILED
    assert "turbo-ort needs an NVIDIA GPU (CUDA)" in job.message and "it uses GroupNorm" in job.message
    assert "turbo-ort" in job.message and "CPU" in job.message
    assert "ONNXRuntimeError" not in job.message and "Traceback" not in job.message
    assert runner.runtime.cached_sessions() == []  # refused before any session was made


def test_the_cli_adds_a_gpu_only_folder_and_refuses_to_run_it_on_the_cpu(tmp_path):
    folder = gpu_only_copy(tmp_path / "turbo-ort")

    def studio(*args):
        return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, cwd=tmp_path,
                              env=dict(os.environ), timeout=300)

    added = studio("models", "add", str(folder))
    assert added.returncode == 0, added.stderr
    shown = studio("models", "show", "turbo-ort")  # the library says so, and lists no variant as suiting the CPU
    assert shown.returncode == 0, shown.stderr
    assert "device:" in shown.stdout and "needs an NVIDIA GPU (CUDA)" in shown.stdout
    assert "GPU only" in shown.stdout and "CPU or GPU" not in shown.stdout
    done = studio("generate", "sd:turbo-ort", "--prompt", "a boat", "--param", "width=64", "--param", "height=64",
                  "--param", "steps=1", "-o", "out.png")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "needs an NVIDIA GPU (CUDA)" in done.stderr and "it uses GroupNorm" in done.stderr
    assert "Traceback" not in done.stderr and "ONNXRuntimeError" not in done.stderr
    assert not (tmp_path / "out.png").exists()
