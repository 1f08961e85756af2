"""The variants present in a model folder, whatever its layout (studio/core/models/folder_variants.py):
transformers.js repositories (onnx/model_q4.onnx alone, or beside model.onnx at the root),
encoder-decoder parts, MusicGen as optimum writes it, onnxruntime-genai folders with the builder's
long names, diffusers folders. Real ONNX graphs (tests/core/test_variants.py makes them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.core.models.folder_variants import folder_variants
from studio.core.models.variants import SUFFIXES, VARIANTS, graph_size
from studio.errors import ModelError

from test_variants import save_graph

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_a_q4_graph_alone_is_a_variant(tmp_path):
    save_graph(tmp_path / "onnx" / "model_q4.onnx", data_file="model_q4.onnx_data")

    found = folder_variants(tmp_path)

    assert list(found) == ["q4"]
    assert found["q4"].files == (tmp_path / "onnx" / "model_q4.onnx",)
    assert found["q4"].size == graph_size(tmp_path / "onnx" / "model_q4.onnx")


def test_every_variant_beside_the_plain_graph_is_listed(tmp_path):
    save_graph(tmp_path / "model.onnx", weights=1024)
    for name in ("model_fp16.onnx", "model_q4.onnx", "model_q4f16.onnx", "model_int8.onnx", "model_bnb4.onnx"):
        save_graph(tmp_path / "onnx" / name)
    save_graph(tmp_path / "onnx" / "model.onnx", weights=64)  # the root's copy wins, as the loaders read it

    found = folder_variants(tmp_path)

    assert list(found) == ["fp32", "fp16", "q4", "q4f16", "int8", "bnb4"]
    assert found["fp32"].files == (tmp_path / "model.onnx",)


def test_encoder_decoder_parts_make_each_variant(tmp_path):
    onnx_dir = tmp_path / "onnx"
    for base in ("encoder_model", "decoder_model_merged", "decoder_model", "decoder_with_past_model"):
        save_graph(onnx_dir / f"{base}.onnx")
    for base in ("encoder_model", "decoder_model_merged"):
        save_graph(onnx_dir / f"{base}_q4.onnx")
    save_graph(onnx_dir / "decoder_model_fp16.onnx")  # only the unmerged decoder: not a whole variant

    found = folder_variants(tmp_path)

    assert list(found) == ["fp32", "q4"]
    # The merged decoder is what runs; the unmerged pair beside it is not part of a variant.
    assert found["q4"].files == (onnx_dir / "decoder_model_merged_q4.onnx", onnx_dir / "encoder_model_q4.onnx")


def test_musicgen_as_optimum_writes_it(tmp_path):
    for base in ("text_encoder", "decoder_model", "decoder_with_past_model", "encodec_decode"):
        save_graph(tmp_path / f"{base}.onnx")

    found = folder_variants(tmp_path)

    assert list(found) == ["fp32"]
    assert {p.name for p in found["fp32"].files} == {"text_encoder.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx", "encodec_decode.onnx"}


def test_musicgen_as_the_public_exports_ship_it():
    folder = FIXTURES / "musicgen" / "model"
    found = folder_variants(folder)
    assert "fp32" in found
    assert folder / "onnx" / "decoder_model_merged.onnx" in found["fp32"].files


def genai_folder(tmp_path: Path, filename: str) -> Path:
    folder = tmp_path / "genai"
    folder.mkdir()
    (folder / "genai_config.json").write_text(json.dumps({"model": {"type": "qwen2", "decoder": {"filename": filename}}}))
    return folder


def test_a_genai_folder_names_its_graph_and_the_name_says_the_precision(tmp_path):
    name = "model-cpu-int4-rtn-block-32-acc-level-4.onnx"
    folder = genai_folder(tmp_path, name)
    save_graph(folder / name, weights=1024, data_file=name + ".data")
    save_graph(folder / "model.onnx")  # not the file genai_config.json names: not listed

    found = folder_variants(folder)

    assert list(found) == ["q4"]
    assert found["q4"].files == (folder / name,)
    assert found["q4"].size == (folder / name).stat().st_size + 4096


def test_a_genai_folder_whose_graph_is_missing_has_no_variant(tmp_path):
    assert folder_variants(genai_folder(tmp_path, "model.onnx")) == {}


@pytest.mark.parametrize("config", ["{ nope", '{"model": {"decoder": {"filename": "../../etc/passwd"}}}', '{"model": 3}'])
def test_a_damaged_genai_config_is_a_plain_error(tmp_path, config):
    folder = tmp_path / "genai"
    folder.mkdir()
    (folder / "genai_config.json").write_text(config)
    with pytest.raises(ModelError, match="genai_config.json"):
        folder_variants(folder)


def test_a_diffusers_folder_is_one_variant_of_all_its_graphs():
    folder = FIXTURES / "sd" / "models" / "sd1"

    found = folder_variants(folder)

    assert list(found) == ["fp32"]
    graphs = sorted(folder.glob("*/model.onnx"))
    assert sorted(found["fp32"].files) == graphs
    assert found["fp32"].size == sum(graph_size(p) for p in graphs)


def test_a_folder_without_graphs_has_no_variant(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert folder_variants(tmp_path) == {}
    assert folder_variants(tmp_path / "missing") == {}


def test_the_exporters_own_folders():
    """Folders the real exporters and quantizers wrote (tests/fixtures/lm, tests/fixtures/musicgen)."""
    lm = FIXTURES / "lm" / "models"

    def shipped(place: Path, base: str) -> list[str]:  # the variants whose main graph is there
        return [name for suffix, name in sorted(SUFFIXES.items(), key=lambda i: VARIANTS.index(i[1]))
                if (place / f"{base}{suffix}.onnx").is_file()]

    assert list(folder_variants(lm / "llama-variants")) == shipped(lm / "llama-variants" / "onnx", "model")
    assert len(shipped(lm / "llama-variants" / "onnx", "model")) == 8
    genai = folder_variants(lm / "llama-genai-int4")
    assert list(genai) == ["q4"] and genai["q4"].files[0].name == "llama-cpu-int4-rtn-block-32-acc-level-4.onnx"
    assert genai["q4"].size > genai["q4"].files[0].stat().st_size  # its .onnx.data, named by the graph
    assert list(folder_variants(lm / "llama-genai-fp32")) == ["fp32"]
    assert list(folder_variants(FIXTURES / "musicgen" / "model-optimum")) == ["fp32"]
    musicgen = FIXTURES / "musicgen" / "model-variants"
    assert list(folder_variants(musicgen)) == shipped(musicgen / "onnx", "decoder_model_merged")
    assert len(shipped(musicgen / "onnx", "decoder_model_merged")) >= 6
