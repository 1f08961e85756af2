"""What a hub repository holds, read from its file list before a byte is downloaded: the
variants and the files each takes, the kind of model, the verdict (``hub_layout``); and the
listing itself through huggingface_hub against the stand-in hub (``hub.inspect_repo``).

The file lists below are those of real public repositories (names as they ship them)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from studio.core.models.hub import HubError, check_repo_id, inspect_repo
from studio.core.models.hub_layout import RepoFile, RepoLayout, split_graph_name

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from hub import GATED_REPO, GENAI_REPO, LLAMA_REPO, MUSICGEN_REPO, VARIANTS_REPO, fixture_repos  # noqa: E402

MB = 1_000_000


def layout(listing: dict[str, int]) -> RepoLayout:
    return RepoLayout([RepoFile(path, size) for path, size in listing.items()])


QWEN = {  # onnx-community/Qwen2.5-0.5B-Instruct
    ".gitattributes": 1_600, "README.md": 4_000, "added_tokens.json": 600, "config.json": 700,
    "generation_config.json": 250, "merges.txt": 1_600_000, "special_tokens_map.json": 600,
    "tokenizer.json": 7_000_000, "tokenizer_config.json": 7_000, "vocab.json": 2_700_000,
    "onnx/model.onnx": 2_000_000, "onnx/model.onnx_data": 1_980 * MB, "onnx/model_bnb4.onnx": 370 * MB,
    "onnx/model_fp16.onnx": 990 * MB, "onnx/model_int8.onnx": 500 * MB, "onnx/model_q4.onnx": 480 * MB,
    "onnx/model_q4f16.onnx": 460 * MB, "onnx/model_quantized.onnx": 500 * MB, "onnx/model_uint8.onnx": 500 * MB,
    "model.safetensors": 990 * MB,
}
SHARED = {"README.md", "added_tokens.json", "config.json", "generation_config.json", "merges.txt",
          "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.json"}


def paths_of(files) -> set[str]:
    return {f.path for f in files}


def test_each_variant_takes_its_graph_its_data_and_the_shared_files_only():
    repo = layout(QWEN)
    assert repo.variant_names() == ["fp32", "fp16", "q4", "q4f16", "int8", "uint8", "quantized", "bnb4"]
    assert paths_of(repo.files_for("q4")) == SHARED | {"onnx/model_q4.onnx"}
    assert paths_of(repo.files_for("fp32")) == SHARED | {"onnx/model.onnx", "onnx/model.onnx_data"}
    assert repo.sizes()["q4"] == sum(QWEN[p] for p in SHARED) + 480 * MB
    assert repo.files_for("fp8") == []
    assert repo.kind() == "text"
    assert repo.verdict() == (True, "Studio can run this as a language model (variants: fp32, fp16, q4, q4f16, int8, uint8, quantized, bnb4)")


def test_every_external_data_file_a_graph_name_leads_is_taken():
    repo = layout({"config.json": 1, "onnx/model.onnx": 1, "onnx/model.onnx_data": 2, "onnx/model.onnx_data_1": 3,
                   "onnx/model_fp16.onnx": 1, "onnx/model_fp16.onnx_data": 4, "genai/model.onnx.data": 9})
    assert paths_of(repo.files_for("fp32")) == {"config.json", "onnx/model.onnx", "onnx/model.onnx_data", "onnx/model.onnx_data_1"}
    assert paths_of(repo.files_for("fp16")) == {"config.json", "onnx/model_fp16.onnx", "onnx/model_fp16.onnx_data"}


def test_musicgen_takes_each_part_of_the_variant_or_its_plain_file_and_the_merged_decoder_only():
    repo = layout({  # Xenova/musicgen-small
        "config.json": 1, "generation_config.json": 1, "tokenizer.json": 1, "tokenizer_config.json": 1,
        "onnx/text_encoder.onnx": 10, "onnx/text_encoder_quantized.onnx": 3, "onnx/decoder_model.onnx": 20,
        "onnx/decoder_with_past_model.onnx": 20, "onnx/decoder_model_merged.onnx": 21,
        "onnx/decoder_model_merged_quantized.onnx": 6, "onnx/encodec_decode.onnx": 8,
        "onnx/build_delay_pattern_mask.onnx": 1,
    })
    assert repo.kind() == "audio" and repo.variant_names() == ["fp32", "quantized"]
    assert paths_of(repo.files_for("quantized")) == {
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
        "onnx/text_encoder_quantized.onnx", "onnx/decoder_model_merged_quantized.onnx",
        "onnx/encodec_decode.onnx", "onnx/build_delay_pattern_mask.onnx"}
    assert "onnx/decoder_model.onnx" not in paths_of(repo.files_for("fp32"))  # the merged one does its job


def test_musicgen_as_optimum_writes_it_takes_both_decoders():
    repo = layout({"config.json": 1, "text_encoder.onnx": 1, "decoder_model.onnx": 1, "decoder_with_past_model.onnx": 1,
                   "encodec_decode.onnx": 1, "build_delay_pattern_mask.onnx": 1})
    assert repo.kind() == "audio"
    assert {"decoder_model.onnx", "decoder_with_past_model.onnx"} <= paths_of(repo.files_for("fp32"))


def test_a_diffusers_repository_is_taken_whole_whatever_its_weights_are_named():
    repo = layout({
        "model_index.json": 1, "scheduler/scheduler_config.json": 1, "tokenizer/vocab.json": 1, "tokenizer/merges.txt": 1,
        "text_encoder/model.onnx": 490 * MB, "unet/model.onnx": 1 * MB, "unet/weights.pb": 3_440 * MB,
        "vae_decoder/model.onnx": 198 * MB, "vae_encoder/model.onnx": 136 * MB, "unet/diffusion_pytorch_model.bin": 3_440 * MB,
    })
    assert repo.kind() == "image" and repo.variant_names() == ["fp32"]
    taken = paths_of(repo.files_for("fp32"))
    assert "unet/weights.pb" in taken and "unet/diffusion_pytorch_model.bin" not in taken
    assert len(taken) == 9


def test_onnxruntime_genai_folders_are_one_variant_each_installed_at_the_root():
    repo = layout({  # microsoft/Phi-3-mini-4k-instruct-onnx
        "README.md": 1, "LICENSE": 1,
        "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4/genai_config.json": 1,
        "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4/phi3-mini-4k-instruct-cpu-int4-rtn-block-32-acc-level-4.onnx": 1,
        "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4/phi3-mini-4k-instruct-cpu-int4-rtn-block-32-acc-level-4.onnx.data": 2_700 * MB,
        "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4/tokenizer.json": 1,
        "cuda/cuda-fp16/genai_config.json": 1, "cuda/cuda-fp16/phi3-mini-4k-instruct-cuda-fp16.onnx": 1,
        "cuda/cuda-fp16/phi3-mini-4k-instruct-cuda-fp16.onnx.data": 7_600 * MB, "cuda/cuda-fp16/tokenizer.json": 1,
    })
    assert repo.kind() == "text" and repo.variant_names() == ["fp16", "q4"]
    prefix = "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4/"
    assert repo.install_prefix("q4") == prefix
    assert paths_of(repo.files_for("q4")) == {"README.md", "LICENSE"} | {
        prefix + name for name in ("genai_config.json", "tokenizer.json", "phi3-mini-4k-instruct-cpu-int4-rtn-block-32-acc-level-4.onnx",
                                   "phi3-mini-4k-instruct-cpu-int4-rtn-block-32-acc-level-4.onnx.data")}


@pytest.mark.parametrize("listing, why", [
    ({"config.json": 1, "model.safetensors": 1, "tokenizer.json": 1}, "it holds no ONNX model"),
    ({"config.json": 1, "onnx/encoder_model.onnx": 1, "onnx/decoder_model_merged.onnx": 1}, "it is an encoder-decoder model"),
    ({"onnx/model.onnx": 1}, "its ONNX files are not in a layout Studio reads"),
])
def test_what_studio_cannot_run_is_said(listing, why):
    repo = layout(listing)
    runnable, verdict = repo.verdict()
    assert not runnable and verdict.startswith(why) and repo.kind() == ""


def test_graph_names_split_into_part_and_variant():
    assert split_graph_name("model_q4f16.onnx") == ("model", "q4f16")
    assert split_graph_name("decoder_model_merged_quantized.onnx") == ("decoder_model_merged", "quantized")
    assert split_graph_name("encodec_decode.onnx") == ("encodec_decode", "fp32")
    assert split_graph_name("_q4.onnx") == ("_q4", "fp32")


@pytest.mark.parametrize("text, repo_id", [
    ("onnx-community/Qwen2.5-0.5B-Instruct", "onnx-community/Qwen2.5-0.5B-Instruct"),
    (" https://huggingface.co/Xenova/musicgen-small/tree/main ", "Xenova/musicgen-small"),
])
def test_a_repo_id_or_its_page_address_is_accepted(text, repo_id):
    assert check_repo_id(text) == repo_id


@pytest.mark.parametrize("text", ["", "justaname", "a/b/c", "../etc/passwd", "owner/..", "own er/name"])
def test_anything_else_is_refused_in_plain_words(text):
    with pytest.raises(HubError, match="is not a hub repository id: it looks like owner/name"):
        check_repo_id(text)


def test_inspect_lists_files_with_hashes_variants_sizes_license_and_verdict(stand_in_hub):
    listing = inspect_repo(VARIANTS_REPO)
    source = fixture_repos()[VARIANTS_REPO]
    assert listing.revision == stand_in_hub.repos[VARIANTS_REPO].sha
    assert {f.path: f.size for f in listing.files} == {p: f.stat().st_size for p, f in source.items()}
    onnx = next(f for f in listing.files if f.path == "onnx/model_q4.onnx")
    assert onnx.sha256 == stand_in_hub.repos[VARIANTS_REPO].files["onnx/model_q4.onnx"].sha256 and onnx.blob_id is None
    config = next(f for f in listing.files if f.path == "config.json")
    assert config.sha256 is None and config.blob_id == stand_in_hub.repos[VARIANTS_REPO].files["config.json"].blob_id
    assert list(listing.variants) == ["fp32", "fp16", "q4", "q4f16", "int8", "uint8", "quantized", "bnb4"]
    shared = sum(source[p].stat().st_size for p in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"))
    assert listing.variants["fp16"] == shared + source["onnx/model_fp16.onnx"].stat().st_size + source["onnx/model_fp16.onnx_data"].stat().st_size
    assert listing.license == "apache-2.0" and not listing.gated
    assert listing.runnable and listing.kind == "text"
    assert stand_in_hub.fetched("GET") == [] and stand_in_hub.fetched("HEAD") == []


def test_inspect_says_what_each_repository_is(stand_in_hub):
    assert inspect_repo(MUSICGEN_REPO).kind == "audio"
    genai = inspect_repo(GENAI_REPO)
    assert genai.kind == "text" and list(genai.variants) == ["fp32", "q4"]
    gated = inspect_repo(GATED_REPO)  # the listing of a gated repository is public, as on the hub
    assert gated.gated and gated.runnable
    assert inspect_repo(LLAMA_REPO, revision=stand_in_hub.repos[LLAMA_REPO].sha).revision == stand_in_hub.repos[LLAMA_REPO].sha
    with pytest.raises(HubError, match="^there is no repository someone/nothing on "):
        inspect_repo("someone/nothing")
