"""The fused UNet (plugins/stable_diffusion/optimize.py): same output, made once, never half-made.

The parity check runs the committed SD 1.x fixture UNet (tests/fixtures/sd/models/sd1, built
by diffusers' exporter like the real ones) and its fused copy on the same random inputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import studio
from studio.core.engine.runtime import CPU_DEVICE, Runtime
from studio_plugins.stable_diffusion.optimize import optimized_unet, source_identity

FIXTURE_UNET = Path(__file__).resolve().parents[1] / "fixtures" / "sd" / "models" / "sd1" / "unet"
needs_fixture = pytest.mark.skipif(
    not (FIXTURE_UNET / "model.onnx").is_file(),
    reason="the SD fixture UNet (tests/fixtures/sd/models/sd1/unet) is not built yet: run tests/fixtures/sd/build_models.py",
)
PARITY = 1e-4  # fp32 with a different summation order inside attention: ~1e-6 measured


@pytest.fixture
def unet_folder(tmp_path: Path) -> Path:
    """A private copy of the fixture UNet folder (graph + external weights) that a test may change."""
    folder = tmp_path / "model" / "unet"
    shutil.copytree(FIXTURE_UNET, folder)
    return folder


def random_feeds(session, seed: int = 0, side: int = 16) -> dict[str, np.ndarray]:
    """A guided (batch 2) call at ``side`` x ``side`` latents, from the session's own input shapes."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for value in session.get_inputs():
        if value.name == "timestep":
            shape = [] if len(value.shape) == 0 else [2]
            feeds[value.name] = np.full(shape, 501.5, np.float32)
        elif value.name == "sample":
            feeds[value.name] = rng.standard_normal((2, value.shape[1], side, side)).astype(np.float32)
        elif value.name == "encoder_hidden_states":
            feeds[value.name] = rng.standard_normal((2, 77, value.shape[2])).astype(np.float32)
        else:
            feeds[value.name] = rng.standard_normal((2, value.shape[1])).astype(np.float32)
    return feeds


def op_types(path: Path) -> list[str]:
    return [node.op_type for node in onnx.load(str(path), load_external_data=False).graph.node]


@needs_fixture
def test_fused_unet_gives_the_original_output(unet_folder, tmp_path):
    attentions = op_types(unet_folder / "model.onnx").count("Softmax")  # one per attention
    assert attentions >= 2, "the fixture UNet should have self- and cross-attention"
    fused_path = optimized_unet(unet_folder / "model.onnx", tmp_path / "cache")
    ops = op_types(fused_path)
    assert ops.count("MultiHeadAttention") == attentions
    assert "Softmax" not in ops, "some attention was left unfused"

    runtime = Runtime(cpu_threads=1)
    original = runtime.session(unet_folder / "model.onnx", CPU_DEVICE).session
    fused = runtime.session(fused_path, CPU_DEVICE).session
    assert [i.name for i in fused.get_inputs()] == [i.name for i in original.get_inputs()]
    for seed, side in ((0, 16), (1, 24)):  # two sizes: the fused graph keeps its dynamic axes
        feeds = random_feeds(original, seed, side)
        expected = original.run(None, feeds)[0]
        got = fused.run(None, feeds)[0]
        difference = float(np.abs(got - expected).max())
        print(f"fused vs original UNet at {side}x{side} latents: max abs diff {difference:.2e} (output max {np.abs(expected).max():.2f})")
        assert got.shape == expected.shape
        assert difference < PARITY


@needs_fixture
def test_the_copy_is_made_once_and_then_reused(unet_folder, tmp_path):
    cache = tmp_path / "cache"
    steps = []
    first = optimized_unet(unet_folder / "model.onnx", cache, lambda step, total, message: steps.append((step, total, message)))
    assert [step for step, _, _ in steps] == sorted(step for step, _, _ in steps)
    assert steps[-1][0] == steps[-1][1], "progress ends at its total"
    made = first.stat()

    steps.clear()
    again = optimized_unet(unet_folder / "model.onnx", cache, lambda *event: steps.append(event))
    assert again == first
    assert steps == [], "a cached copy is not made again"
    assert (again.stat().st_ino, again.stat().st_mtime_ns) == (made.st_ino, made.st_mtime_ns)
    assert [p.name for p in cache.iterdir() if p.name.startswith(".partial")] == []


@needs_fixture
def test_weights_are_copied_beside_the_fused_graph_and_the_source_is_untouched(unet_folder, tmp_path):
    source_weights = unet_folder / "model.onnx_data"
    before = source_weights.stat()
    fused = optimized_unet(unet_folder / "model.onnx", tmp_path / "cache")
    weights = fused.parent / "model.onnx_data"
    assert weights.is_file() and not weights.is_symlink(), "onnxruntime takes weights beside the graph only"
    assert weights.read_bytes() == source_weights.read_bytes()
    after = source_weights.stat()
    # A hard link would make the onnx package refuse the user's own model ("hardlink attack").
    assert (after.st_nlink, after.st_mtime_ns) == (1, before.st_mtime_ns)
    onnx.load(str(unet_folder / "model.onnx"), load_external_data=True)  # still readable by others
    graph = onnx.load(str(fused), load_external_data=False).graph
    assert any(t.data_location == TensorProto.EXTERNAL for t in graph.initializer), "big weights stay in the linked file"


@needs_fixture
def test_a_changed_model_gets_a_new_copy_and_the_old_one_goes(unet_folder, tmp_path):
    cache = tmp_path / "cache"
    old = optimized_unet(unet_folder / "model.onnx", cache)
    stat = (unet_folder / "model.onnx_data").stat()
    os.utime(unet_folder / "model.onnx_data", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # new weights, say

    new = optimized_unet(unet_folder / "model.onnx", cache)
    assert new != old
    assert new.parent.name == f"unet-{source_identity(unet_folder / 'model.onnx')}"
    assert not old.parent.exists(), "the stale copy (and its copy of the old weights) is removed"


def test_a_model_without_attention_is_refused_once_and_remembered(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Relu", ["sample"], ["out_sample"])],
        "no-attention",
        [helper.make_tensor_value_info("sample", TensorProto.FLOAT, ["batch", 4, "h", "w"])],
        [helper.make_tensor_value_info("out_sample", TensorProto.FLOAT, ["batch", 4, "h", "w"])],
    )
    source = tmp_path / "unet" / "model.onnx"
    source.parent.mkdir()
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(source))
    cache = tmp_path / "cache"
    steps = []
    with pytest.raises(studio.ModelError, match="no attention"):
        optimized_unet(source, cache, lambda *event: steps.append(event))
    assert steps, "the first try really ran"

    steps.clear()
    with pytest.raises(studio.ModelError, match="no attention"):
        optimized_unet(source, cache, lambda *event: steps.append(event))
    assert steps == [], "a model known not to fuse is not tried again"
    assert not list(cache.glob("unet-*/model.onnx"))


@pytest.mark.parametrize(
    "content, message",
    [(b"", "not a readable ONNX model"), (b"\x08\x07garbage that is not a protobuf" * 10, "not a readable ONNX model")],
)
def test_a_damaged_file_raises_model_error_and_leaves_nothing(tmp_path, content, message):
    source = tmp_path / "unet" / "model.onnx"
    source.parent.mkdir()
    source.write_bytes(content)
    cache = tmp_path / "cache"
    with pytest.raises(studio.ModelError, match=message):
        optimized_unet(source, cache)
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".failed")) == []


def test_a_missing_file_raises_model_error(tmp_path):
    with pytest.raises(studio.ModelError, match="does not exist"):
        optimized_unet(tmp_path / "nothing" / "model.onnx", tmp_path / "cache")


@needs_fixture
def test_missing_weights_raise_model_error_and_leave_nothing(unet_folder, tmp_path):
    (unet_folder / "model.onnx_data").unlink()
    cache = tmp_path / "cache"
    with pytest.raises(studio.ModelError, match="could not be optimized|missing"):
        optimized_unet(unet_folder / "model.onnx", cache)
    assert list(cache.iterdir()) == [], "no entry, no half-written copy, and no remembered failure (the user may restore the file)"


@needs_fixture
def test_weights_outside_the_folder_are_refused(unet_folder, tmp_path):
    model = onnx.load(str(unet_folder / "model.onnx"), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../elsewhere/model.onnx_data"
    onnx.save_model(model, str(unet_folder / "model.onnx"))
    with pytest.raises(studio.ModelError, match="points at weights outside its folder"):
        optimized_unet(unet_folder / "model.onnx", tmp_path / "cache")


@needs_fixture
def test_an_interrupted_copy_is_swept_away(unet_folder, tmp_path):
    cache = tmp_path / "cache"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    abandoned = cache / f".partial-{int(gone.stdout)}-x1y2"
    abandoned.mkdir(parents=True)
    (abandoned / "model.onnx_data").write_bytes(b"\0" * 1024)  # what a killed process left
    alive = cache / f".partial-{os.getppid()}-a3b4"  # a process that still runs: hands off
    alive.mkdir()

    optimized_unet(unet_folder / "model.onnx", cache)
    assert not abandoned.exists()
    assert alive.exists()
