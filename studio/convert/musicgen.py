"""A transformers MusicGen folder (safetensors) -> the ONNX folder ``plugins/musicgen`` reads.

The output is the layout the public MusicGen ONNX exports ship (DESIGN.md, "Model layouts")::

    onnx/text_encoder.onnx  onnx/decoder_model_merged.onnx  onnx/encodec_decode.onnx
    onnx/encodec_encode.onnx (continuing an audio prompt)  onnx/build_delay_pattern_mask.onnx
    config.json  generation_config.json  tokenizer.json (+ the source's tokenizer_config.json,
    special_tokens_map.json, preprocessor_config.json)

Each graph is traced from transformers' own modules (``musicgen_export``), so what it computes
is what ``generate`` computes. The decoder is traced twice (first step, cached steps) and the two
graphs merged into one behind ``use_cache_branch`` (``musicgen_merge``): one copy of its weights
in memory and on disk. A graph whose weights pass 1.8 GB keeps them beside it in
``<graph>.onnx_data`` (protobuf stops at 2 GB; musicgen-medium's and -large's decoders).

Mono MusicGen only (small, medium, large and their fine-tunes): the plugin plays mono models,
and MusicGen Melody is another architecture (chroma conditioning); both are refused plainly.
Runs only in the converter's child process (``python -m studio.convert musicgen SOURCE OUT``).
"""

from __future__ import annotations

import gc
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from studio.convert.protocol import ConvertError

#: EnCodec's k-means bookkeeping: saved by transformers but never read when codes are decoded,
#: so a folder without them (saved by another tool) still converts.
UNUSED_BUFFERS = (".inited", ".cluster_size", ".embed_avg")
PICKLED = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
COPIED = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
          "special_tokens_map.json", "preprocessor_config.json")
#: Bytes of one graph past which its weights go to ``<graph>.onnx_data`` (option
#: ``external_data_over`` changes it: the tests check that layout on a tiny model).
EXTERNAL_OVER = 1_800_000_000

#: (file, what it is, export function name in musicgen_export), in the order they are made.
PARTS = (
    ("text_encoder.onnx", "the T5 text encoder", "export_text_encoder"),
    ("decoder_model.onnx", "the decoder's first step", "export_first_step"),
    ("decoder_with_past_model.onnx", "the decoder's cached steps", "export_cached_step"),
    ("encodec_decode.onnx", "the EnCodec audio decoder", "export_encodec_decode"),
    ("encodec_encode.onnx", "the EnCodec audio encoder", "export_encodec_encode"),
    ("build_delay_pattern_mask.onnx", "the delay pattern", "export_delay_pattern"),
)
COMPONENTS = {"text_encoder.onnx": "text_encoder", "decoder_model.onnx": "decoder", "decoder_with_past_model.onnx": "decoder",
              "encodec_decode.onnx": "audio_codec", "encodec_encode.onnx": "audio_codec", "build_delay_pattern_mask.onnx": "decoder"}
DECODER_PAIR = ("decoder_model.onnx", "decoder_with_past_model.onnx")
MERGED = "decoder_model_merged.onnx"


def convert(source: Path, out: Path, options: dict[str, Any], report: Callable[[str, int, int, str], None]) -> dict[str, Any]:
    source, out = Path(source), Path(out)
    config = read_config(source)
    check_weights(source)
    if options.get("variant"):
        raise ConvertError(f"MusicGen is imported in full precision only; there is no {options['variant']} variant to make")
    external_over = int(options.get("external_data_over", EXTERNAL_OVER))
    total = len(PARTS) + 3
    report("model", 1, total, "Loading the MusicGen weights")
    model = load(source)
    from studio.convert import musicgen_export, musicgen_merge

    graphs = out / "onnx"
    graphs.mkdir()
    with tempfile.TemporaryDirectory(prefix="musicgen-export-", dir=out) as scratch:
        traced: dict[str, Path] = {}
        for step, (name, what, function) in enumerate(PARTS, 2):
            report(COMPONENTS[name], step, total, f"Exporting {what}")
            traced[name] = Path(scratch) / name.removesuffix(".onnx") / name
            traced[name].parent.mkdir()
            getattr(musicgen_export, function)(model, traced[name])
        # torch's copy of the weights goes before onnx loads the decoder's two graphs to merge.
        del model
        gc.collect()
        report("decoder", total - 1, total, "Merging the decoder's two graphs")
        first, cached = (traced.pop(name) for name in DECODER_PAIR)
        merged = musicgen_merge.merge(first, cached)
        # Held in memory now: their files go before the merged one is written (the disk holds
        # at most about two fp32 copies of the weights, as the import's estimate counts).
        shutil.rmtree(first.parent)
        shutil.rmtree(cached.parent)
        weights = sum(t.ByteSize() for t in merged.graph.initializer)
        musicgen_merge.save(merged, graphs / MERGED, external=weights >= external_over)
        del merged
        for name, path in traced.items():
            place(path, graphs / name, external_over)
    report("files", total, total, "Writing the configuration and the tokenizer")
    write_files(source, out, config)
    return {"layout": "musicgen", "variants": ["fp32"], "description": describe(config), **license_of(source)}


def read_config(source: Path) -> dict[str, Any]:
    """The source's config.json, if it is a mono MusicGen's; else a ``ConvertError`` saying what it is."""
    path = source / "config.json"
    if not source.is_dir() or not path.is_file():
        raise ConvertError(f"{source} is not a transformers MusicGen folder: it has no config.json")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConvertError(f"{path} cannot be read as JSON ({exc})") from None
    kind = config.get("model_type") if isinstance(config, dict) else None
    if kind == "musicgen_melody":
        raise ConvertError("this is MusicGen Melody (melody-conditioned, another architecture); "
                           "Studio imports text-to-music MusicGen models (small, medium, large) only for now")
    if kind != "musicgen":
        raise ConvertError(f"{source} holds a {kind or 'model without a model_type'}, not a MusicGen model")
    decoder = config.get("decoder") if isinstance(config.get("decoder"), dict) else {}
    if decoder.get("audio_channels", 1) != 1:
        raise ConvertError("this is a stereo MusicGen model; Studio plays mono MusicGen models only for now "
                           "(the same sizes are published in mono: musicgen-small, -medium, -large)")
    return config


def check_weights(source: Path) -> None:
    """Weights in safetensors, or the plain refusal of pickled ones (they can run code when loaded)."""
    if any(source.glob("*.safetensors")):
        return
    pickled = sorted(p.name for p in source.iterdir() if p.suffix.lower() in PICKLED)
    if pickled:
        raise ConvertError(
            f"{source} holds its weights as {pickled[0]}, a pickled file: loading a pickle can run any code hidden "
            "in it, so Studio reads only .safetensors weights. The same model is almost always published as "
            ".safetensors too: download that one and import it")
    raise ConvertError(f"{source} holds no .safetensors weights")


def load(source: Path):
    import torch
    from transformers import MusicgenForConditionalGeneration

    try:
        # Eager attention: plain MatMul/Softmax graphs that run on any onnxruntime device.
        model, info = MusicgenForConditionalGeneration.from_pretrained(
            str(source), local_files_only=True, use_safetensors=True, attn_implementation="eager",
            dtype=torch.float32, output_loading_info=True)
    except Exception as exc:  # a damaged or cut-short file, shapes that do not fit the config
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConvertError(f"transformers could not read the MusicGen weights in {source} "
                           f"({', '.join(p.name for p in sorted(source.glob('*.safetensors')))}): {first[:300]}") from None
    # transformers fills a weight the files lack with random numbers and only warns: the model
    # would make noise. A folder that lost part of its weights is refused, naming them.
    missing = sorted(k for k in info.get("missing_keys") or () if not k.endswith(UNUSED_BUFFERS))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ConvertError(f"the weights in {source} lack {len(missing)} of the model's tensors ({shown}): "
                           "the folder is incomplete, or its weights belong to another model")
    return model.eval()


def place(traced: Path, final: Path, external_over: int = EXTERNAL_OVER) -> None:
    """Move a traced graph into the output, its weights beside it in one ``<name>_data`` file when
    they pass ``external_over`` bytes or are too big for one protobuf (the exporter then wrote
    one file per tensor beside the graph)."""
    others = [p for p in traced.parent.iterdir() if p != traced]
    if not others and traced.stat().st_size < external_over:
        shutil.move(str(traced), str(final))
        return
    import onnx_ir as ir

    model = ir.load(str(traced))
    data = final.with_name(final.name + "_data")
    ir.save(model, str(final), external_data=data.name)
    if data.stat().st_size == 0:  # no tensor big enough to leave the graph (the delay pattern's)
        data.unlink()


def write_files(source: Path, out: Path, config: dict[str, Any]) -> None:
    """config.json and the tokenizer as the source has them; generation_config.json and
    tokenizer.json made by transformers when the source lacks them."""
    for name in COPIED:
        if (source / name).is_file():
            shutil.copyfile(source / name, out / name)
    if not (out / "generation_config.json").is_file():
        from transformers import GenerationConfig

        GenerationConfig.from_model_config(_config_object(config)).save_pretrained(str(out))
    if not (out / "tokenizer.json").is_file():
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
            tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
        except Exception as exc:  # no tokenizer files, or sentencepiece missing for spiece.model
            raise ConvertError(f"{source} has no tokenizer.json and transformers could not make one from its "
                               f"tokenizer files ({exc})") from None


def _config_object(config: dict[str, Any]):
    from transformers import MusicgenConfig

    return MusicgenConfig.from_dict(config)


def describe(config: dict[str, Any]) -> str:
    decoder = config["decoder"]
    layers, width = decoder.get("num_hidden_layers"), decoder.get("hidden_size")
    rate = config.get("audio_encoder", {}).get("sampling_rate")
    size = {(24, 1024): "small", (48, 1536): "medium", (48, 2048): "large"}.get((layers, width))
    words = f"MusicGen {size}" if size else f"MusicGen ({layers} layers, width {width})"
    return f"{words}, text to music, mono" + (f" {rate // 1000} kHz" if isinstance(rate, int) else "")


def license_of(source: Path) -> dict[str, str]:
    """The license a hub folder's README states in its front matter (musicgen: cc-by-nc-4.0)."""
    readme = source / "README.md"
    try:
        text = readme.read_text(encoding="utf-8")[:4000] if readme.is_file() else ""
    except (OSError, UnicodeDecodeError):
        return {}
    if not text.startswith("---"):
        return {}
    for line in text.split("\n---", 1)[0].splitlines():
        if line.startswith("license:"):
            return {"license": line.split(":", 1)[1].strip()}
    return {}
