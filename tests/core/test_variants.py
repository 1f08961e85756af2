"""The variants of a model's weights as the public exports name them (studio/core/models/variants.py):
the suffix table, onnxruntime-genai's long names, sizes on disk with the external data each graph
names (read from the graph, never guessed), and the device each variant suits.

The graphs are real ONNX files made with ``onnx.helper`` and saved by ``onnx.save``; a graph that
names a weights file outside its folder is refused by model_safety and never counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from studio.core.engine.model_safety import check_model_file, external_references
from studio.core.models import variants
from studio.core.models.variants import (
    SUFFIXES,
    SUITS,
    VARIANTS,
    Variant,
    collect,
    genai_variant,
    graph_size,
    human_size,
    preferred,
    variant_files,
    variant_of,
)
from studio.errors import ModelError


def save_graph(path: Path, weights: int = 256, data_file: str | None = None) -> Path:
    """A real one-MatMul ONNX graph whose initializer holds ``weights`` floats; with ``data_file``
    the weights go to that external-data file (named in the graph), as exporters write them."""
    side = int(weights ** 0.5)
    weight = numpy_helper.from_array(np.arange(side * side, dtype=np.float32).reshape(side, side), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, side])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, side])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path.parent.mkdir(parents=True, exist_ok=True)
    if data_file:
        onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location=data_file, size_threshold=0)
    else:
        onnx.save(model, str(path))
    return path


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix, name", sorted(SUFFIXES.items()))
@pytest.mark.parametrize("base", ["model", "decoder_model_merged", "encoder_model", "text_encoder"])
def test_every_suffix_names_its_variant_for_every_part(base, suffix, name):
    assert variant_of(f"{base}{suffix}.onnx", base) == name


def test_the_suffix_table_covers_every_variant_once():
    assert sorted(SUFFIXES.values()) == sorted(VARIANTS)
    assert set(SUITS) == set(VARIANTS)


@pytest.mark.parametrize(
    "filename, base",
    [
        ("decoder_model_merged.onnx", "decoder_model"),  # another part, not a variant of decoder_model
        ("decoder_with_past_model_q4.onnx", "decoder_model"),
        ("model.onnx_data", "model"),  # external data is not a graph
        ("model_q4.onnx_data", "model"),
        ("model_q5.onnx", "model"),  # no such variant
        ("model_fp16.onnx.data", "model"),
        ("other.onnx", "model"),
    ],
)
def test_files_that_are_not_a_variant_of_the_part(filename, base):
    assert variant_of(filename, base) is None


@pytest.mark.parametrize(
    "filename, name",
    [
        ("model-cpu-int4-rtn-block-32-acc-level-4.onnx", "q4"),
        ("phi-3-mini-4k-instruct-cpu-int4-rtn-block-32-acc-level-4.onnx", "q4"),
        ("phi3-mini-4k-instruct-cuda-fp16.onnx", "fp16"),
        ("model-int4-awq-block-128.onnx", "q4"),
        ("qwen-cpu-int8.onnx", "int8"),
        ("model_bf16.onnx", "fp16"),
        ("model-fp32.onnx", "fp32"),
        ("model.onnx", "fp32"),  # the builder's plain name says no precision
        ("printing.onnx", "fp32"),  # "int" inside a word is not a precision
    ],
)
def test_genai_names_say_their_precision(filename, name):
    assert genai_variant(filename) == name


def test_variant_files_lists_every_variant_of_one_part_in_order(tmp_path):
    onnx_dir = tmp_path / "onnx"
    for name in ("model_uint8.onnx", "model_q4.onnx", "model.onnx", "model_fp16.onnx", "decoder_model_merged.onnx"):
        save_graph(onnx_dir / name)
    (onnx_dir / "model.onnx_data").write_bytes(b"\0" * 10)
    (onnx_dir / "model_q4f16.onnx").mkdir()  # a folder with a graph's name is not a graph

    found = variant_files(onnx_dir, "model")

    assert list(found) == ["fp32", "fp16", "q4", "uint8"]
    assert found["q4"] == onnx_dir / "model_q4.onnx"
    assert variant_files(tmp_path / "missing", "model") == {}


# -- sizes ----------------------------------------------------------------------------------


def test_a_graph_without_external_data_is_its_own_size(tmp_path):
    path = save_graph(tmp_path / "model.onnx", weights=1024)
    assert graph_size(path) == path.stat().st_size > 4096


def test_external_data_is_counted_under_the_name_the_graph_gives(tmp_path):
    # A name nobody would guess from the graph's: the size must come from reading the graph.
    path = save_graph(tmp_path / "model_q4.onnx", weights=4096, data_file="weights-of-q4.bin")
    (tmp_path / "model_q4.onnx_data").write_bytes(b"\0" * 100_000)  # a guess's file: not named, not counted
    data = tmp_path / "weights-of-q4.bin"

    assert [r.location for r in external_references(path)] == ["weights-of-q4.bin"]
    assert data.stat().st_size == 4096 * 4
    assert graph_size(path) == path.stat().st_size + data.stat().st_size


def test_genai_dot_data_and_transformers_js_underscore_data(tmp_path):
    genai = save_graph(tmp_path / "genai" / "model.onnx", weights=1024, data_file="model.onnx.data")
    hub = save_graph(tmp_path / "hub" / "model_fp16.onnx", weights=1024, data_file="model_fp16.onnx_data")

    assert graph_size(genai) == genai.stat().st_size + 4096
    assert graph_size(hub) == hub.stat().st_size + 4096


def test_a_missing_external_data_file_counts_nothing(tmp_path):
    path = save_graph(tmp_path / "model.onnx", weights=1024, data_file="model.onnx_data")
    (tmp_path / "model.onnx_data").unlink()
    assert graph_size(path) == path.stat().st_size


def hostile(tmp_path: Path, location: str) -> Path:
    """A graph whose weights say they live at ``location`` (outside the folder)."""
    path = save_graph(tmp_path / "model" / "model.onnx", weights=1024, data_file="model.onnx_data")
    model = onnx.load(str(path), load_external_data=False)
    for entry in model.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = location
    onnx.save(model, str(path))
    return path


def test_a_graph_naming_a_file_outside_its_folder_is_refused_and_not_counted(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\1" * 50_000)
    path = hostile(tmp_path, "../secret.bin")

    with pytest.raises(ModelError, match="climbs out of the folder"):
        check_model_file(path)
    # The size never reads (or counts) a file the graph is not allowed to name.
    assert graph_size(path) == path.stat().st_size


def test_an_absolute_external_data_name_is_refused_and_not_counted(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\1" * 50_000)
    path = hostile(tmp_path, str(secret))

    with pytest.raises(ModelError, match="absolute path"):
        check_model_file(path)
    assert graph_size(path) == path.stat().st_size


def test_a_damaged_graph_has_a_plain_error(tmp_path):
    path = tmp_path / "model.onnx"
    # Bytes that look like they could hold an external-data "location" key, then garbage.
    path.write_bytes(b"location" + b"\xff" * 64)
    with pytest.raises(ModelError, match="damaged or not an ONNX model"):
        graph_size(path)


# -- several parts, devices -------------------------------------------------------------------


def test_collect_needs_every_required_part_and_falls_back_to_fp32_for_the_rest(tmp_path):
    for name in ("decoder_model_merged.onnx", "decoder_model_merged_q4.onnx", "decoder_model_merged_fp16.onnx",
                 "text_encoder.onnx", "text_encoder_fp16.onnx", "encodec_decode.onnx"):
        save_graph(tmp_path / name)
    parts = {base: variant_files(tmp_path, base) for base in ("text_encoder", "decoder_model_merged", "encodec_decode")}

    found = collect(parts, required=("decoder_model_merged",))

    assert list(found) == ["fp32", "fp16", "q4"]
    q4 = found["q4"]
    assert q4.files == (tmp_path / "text_encoder.onnx", tmp_path / "decoder_model_merged_q4.onnx", tmp_path / "encodec_decode.onnx")
    assert q4.size == sum(p.stat().st_size for p in q4.files)
    assert found["fp16"].files[0] == tmp_path / "text_encoder_fp16.onnx"
    assert list(collect(parts)) == ["fp32"]  # every part required: only fp32 is whole


def test_each_variant_says_the_device_it_suits():
    assert Variant("q4", (), 0).suits.startswith("CPU")
    assert Variant("fp16", (), 0).suits == "GPU"
    assert Variant("fp32", (), 0).suits == "CPU or GPU"


def test_preferred_variant_per_device():
    assert preferred(["fp32", "fp16", "q4"], "cpu") == "q4"
    assert preferred(["fp32", "fp16", "q4"], "gpu") == "fp16"
    assert preferred(["fp32", "int8"], "cpu") == "int8"
    assert preferred(["bnb4"], "gpu") == "bnb4"
    assert preferred([], "cpu") is None


@pytest.mark.parametrize("size, text", [(0, "0 bytes"), (999, "999 bytes"), (1536, "1.5 KB"),
                                        (400_000_000, "400.0 MB"), (2_500_000_000, "2.5 GB"), (12 * 10**12, "12000.0 GB")])
def test_human_size(size, text):
    assert human_size(size) == text


def test_every_variant_is_preferred_somewhere_on_each_device():
    for kind in ("cpu", "gpu"):
        assert sorted(variants.PREFERRED[kind]) == sorted(VARIANTS)
