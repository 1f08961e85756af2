"""A diffusers Stable Diffusion pipeline (torch) -> the diffusers ONNX folder Studio's SD plugin reads.

The layout, input and output names, dtypes and dimension names are the ones optimum's exporter
writes (``tests/fixtures/sd/README.md``), so an imported model and a downloaded optimum export
are one kind of folder to the plugin::

    model_index.json   scheduler/scheduler_config.json   tokenizer/ [tokenizer_2/]
    text_encoder/model.onnx [text_encoder_2/]   input_ids int64 -> last_hidden_state, pooler_output
                                                (SDXL: text_embeds first on encoder 2; hidden_states.N)
    unet/model.onnx + model.onnx_data           sample, timestep (float, shape []),
                                                encoder_hidden_states [, text_embeds, time_ids]
                                                [, timestep_cond] -> out_sample
    vae_decoder/model.onnx                      latent_sample -> sample
    vae_encoder/model.onnx                      sample -> latent_parameters (mean and log-variance)
    unet/, text_encoder*/ weights_map.json      (studio.convert.weights_map: LoRAs read it)

The exporter is torch's TorchScript one (``dynamo=False``), opset 18, as optimum runs it: its
graphs are the ones onnxruntime's UNet attention fusion (``plugins/stable_diffusion/optimize.py``)
was made for, and it exports every diffusers UNet (SDXL's added conditions, 9 input channels,
LCM's ``timestep_cond``) with the example inputs alone. Each component is exported in fp32 and
let go before the next, so a checkpoint's memory is the model once plus one graph being written.

``options["variant"] == "fp16"`` also writes ``model_fp16.onnx`` for the UNet and the text
encoders (onnxruntime's float16 converter, inputs and outputs kept float32 so the plugin feeds
both alike); the VAE stays fp32 (SD 1.x and SDXL VAEs overflow in fp16), which the library's
variant listing allows (a part without the variant uses its fp32 file).
"""

from __future__ import annotations

import gc
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from studio.convert.protocol import ConvertError
from studio.convert.weights_map import Fingerprints

OPSET = 18
#: Graphs above this go to an external-data file (protobuf refuses messages over 2 GB).
EXTERNAL_ABOVE_BYTES = int(1.8e9)
#: The UNet always keeps its weights beside the graph, as optimum saves SD UNets.
ALWAYS_EXTERNAL = ("unet",)
#: Parts that get an fp16 copy; the VAE's activations overflow fp16 in SD 1.x and SDXL.
FP16_PARTS = ("text_encoder", "text_encoder_2", "unet")
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json")
BATCH = 2  # example batch: a batch of 1 can let a tracer treat the batch axis as a constant

Report = Callable[[str, int, int, str], None]


# -- the modules as the plugin calls them -----------------------------------------------------


class _TextEncoder(torch.nn.Module):
    def __init__(self, encoder: torch.nn.Module, projection: bool, hidden_states: bool) -> None:
        super().__init__()
        self.encoder, self.projection, self.hidden_states = encoder, projection, hidden_states

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.encoder(input_ids=input_ids, output_hidden_states=self.hidden_states, return_dict=True)
        first = (out.text_embeds, out.last_hidden_state) if self.projection else (out.last_hidden_state, out.pooler_output)
        return (*first, *out.hidden_states) if self.hidden_states else first


class _UNet(torch.nn.Module):
    def __init__(self, unet: torch.nn.Module, extras: tuple[str, ...]) -> None:
        super().__init__()
        self.unet, self.extras = unet, extras

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.extras, extra))
        added = {key: named[key] for key in ("text_embeds", "time_ids") if key in named}
        return self.unet(sample, timestep, encoder_hidden_states, timestep_cond=named.get("timestep_cond"),
                         added_cond_kwargs=added or None, return_dict=False)[0]


class _VaeEncoder(torch.nn.Module):
    def __init__(self, vae: torch.nn.Module) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, sample: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(sample, return_dict=True).latent_dist.parameters


class _VaeDecoder(torch.nn.Module):
    def __init__(self, vae: torch.nn.Module) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latent_sample, return_dict=False)[0]


# -- the pipeline ----------------------------------------------------------------------------


def export_pipeline(pipe: Any, out: Path, options: dict[str, Any], report: Report) -> dict[str, Any]:
    """Write ``pipe`` (a diffusers SD / SDXL pipeline, fp32 on the CPU) into ``out`` as the ONNX
    layout; return the converter's ``done`` dict (layout, variants, description). The pipeline's
    components are dropped from it as they are exported."""
    out = Path(out)
    check_supported(pipe)
    fp16 = options.get("variant") == "fp16"
    xl = getattr(pipe, "text_encoder_2", None) is not None
    encoders = [name for name in ("text_encoder", "text_encoder_2") if getattr(pipe, name, None) is not None]
    stages = [*encoders, "unet", "vae_decoder", "vae_encoder"]
    total = len(stages) + (len([s for s in stages if s in FP16_PARTS]) if fp16 else 0)
    step = 0
    description = describe(pipe)
    extras = unet_extras(pipe)  # read from the text encoders, which are let go before the UNet

    def progress(part: str, message: str) -> None:
        nonlocal step
        report(COMPONENT_NAMES[part], step, total, message)
        step += 1

    _write_configs(pipe, out, encoders)
    with torch.inference_mode(False), torch.no_grad():
        for name in encoders:
            progress(name, f"Exporting {THE[name]}")
            export_text_encoder(pipe, name, out / name, hidden_states=xl)
        progress("unet", f"Exporting {THE['unet']}")
        export_unet(pipe, extras, out / "unet")
        progress("vae_decoder", f"Exporting {THE['vae_decoder']}")
        export_vae(pipe.vae, out / "vae_decoder", decoder=True)
        progress("vae_encoder", f"Exporting {THE['vae_encoder']}")
        export_vae(pipe.vae, out / "vae_encoder", decoder=False)
        pipe.vae = None
        gc.collect()
    variants = ["fp32"]
    if fp16:
        for name in [s for s in stages if s in FP16_PARTS]:
            progress(name, f"Writing the fp16 copy of {THE[name]}")
            write_fp16(out / name / "model.onnx")
        variants.append("fp16")
    report("Done", total, total, "Exported")
    return {"layout": "sd", "variants": variants, "description": description}


COMPONENT_NAMES = {"text_encoder": "Text encoder", "text_encoder_2": "Text encoder 2", "unet": "UNet",
                   "vae_decoder": "VAE decoder", "vae_encoder": "VAE encoder"}
THE = {"text_encoder": "the text encoder", "text_encoder_2": "the second text encoder", "unet": "the UNet",
       "vae_decoder": "the VAE decoder", "vae_encoder": "the VAE encoder"}


def check_supported(pipe: Any) -> None:
    """Refuse, before any export, what the SD plugin could not run."""
    unet = getattr(pipe, "unet", None)
    if unet is None or getattr(pipe, "vae", None) is None:
        raise ConvertError("this pipeline has no UNet or no VAE; Studio imports Stable Diffusion 1.x, 2.x and SDXL models")
    if getattr(pipe, "text_encoder", None) is None:
        raise ConvertError("this pipeline has no first text encoder (an SDXL refiner?); Studio's Stable Diffusion "
                           "pipeline needs text_encoder/: import a base model")
    config = unet.config
    if config.get("addition_embed_type") not in (None, "text_time") or config.get("class_embed_type") is not None \
            or config.get("encoder_hid_dim_type") is not None:
        raise ConvertError("this UNet takes extra conditions (image embeddings or class labels) that Studio's "
                           "Stable Diffusion pipeline does not give it")
    if config.get("in_channels") not in (4, 9):
        raise ConvertError(f"this UNet takes {config.get('in_channels')} input channels; Studio runs 4 (ordinary) or 9 (inpainting)")


def describe(pipe: Any) -> str:
    """Plain words for the model list: "Stable Diffusion XL, inpainting", "Stable Diffusion 2.x, v-prediction"."""
    config = pipe.unet.config
    if getattr(pipe, "text_encoder_2", None) is not None:
        family = "Stable Diffusion XL"
    else:
        family = {768: "Stable Diffusion 1.x", 1024: "Stable Diffusion 2.x"}.get(config.get("cross_attention_dim"), "Stable Diffusion")
    words = [family]
    if config.get("in_channels") == 9:
        words.append("inpainting")
    if config.get("time_cond_proj_dim"):
        words.append("LCM-distilled")
    if pipe.scheduler.config.get("prediction_type") == "v_prediction":
        words.append("v-prediction")
    return ", ".join(words)


def _write_configs(pipe: Any, out: Path, encoders: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "model_index.json", dict(pipe.config))
    (out / "scheduler").mkdir(exist_ok=True)
    _write_json(out / "scheduler" / "scheduler_config.json", dict(pipe.scheduler.config))
    for name in encoders:
        (out / name).mkdir(exist_ok=True)
        _write_json(out / name / "config.json", getattr(pipe, name).config.to_dict())
    (out / "unet").mkdir(exist_ok=True)
    _write_json(out / "unet" / "config.json", dict(pipe.unet.config))
    for part in ("vae_decoder", "vae_encoder"):
        (out / part).mkdir(exist_ok=True)
        _write_json(out / part / "config.json", dict(pipe.vae.config))
    for name in ("tokenizer", "tokenizer_2"):
        tokenizer = getattr(pipe, name, None)
        if tokenizer is not None:
            write_tokenizer(tokenizer, out / name)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    data = {key: value for key, value in data.items() if key != "_name_or_path"}  # the source's path: not the model's
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n", encoding="utf-8")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    return str(value)


def write_tokenizer(tokenizer: Any, folder: Path) -> None:
    """The tokenizer's own files when it was read from a folder (the repository's format, which
    the plugin reads; transformers may rewrite it otherwise), else what transformers saves."""
    folder.mkdir(parents=True, exist_ok=True)
    source = Path(str(getattr(tokenizer, "name_or_path", "") or ""))
    if source.is_dir() and ((source / "vocab.json").is_file() or (source / "tokenizer.json").is_file()):
        for name in TOKENIZER_FILES:
            if (source / name).is_file():
                shutil.copyfile(source / name, folder / name)
        return
    tokenizer.save_pretrained(str(folder))


# -- components --------------------------------------------------------------------------------


def export_text_encoder(pipe: Any, name: str, folder: Path, hidden_states: bool) -> None:
    """Export ``pipe.<name>`` and take it out of the pipeline (its memory goes before the graph is saved)."""
    encoder = getattr(pipe, name).float().eval()
    setattr(pipe, name, None)
    projection = hasattr(encoder, "text_projection")
    layers = int(encoder.config.num_hidden_layers)
    names = ["text_embeds", "last_hidden_state"] if projection else ["last_hidden_state", "pooler_output"]
    if hidden_states:
        names += [f"hidden_states.{i}" for i in range(layers + 1)]
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"}}
    for output in names:
        axes[output] = {0: "batch_size"} if output == "pooler_output" else {0: "batch_size", 1: "sequence_length"}
    length = int(getattr(encoder.config, "max_position_embeddings", 77))
    ids = torch.randint(0, int(encoder.config.vocab_size), (BATCH, length), dtype=torch.int64)
    fingerprints = Fingerprints(encoder, name)
    held = [_TextEncoder(encoder, projection, hidden_states)]
    del encoder
    _export(held, (ids,), folder, ["input_ids"], names, axes)
    fingerprints.write(folder / "model.onnx")


def unet_extras(pipe: Any) -> dict[str, tuple[int, ...]]:
    """The UNet's inputs beyond sample, timestep and encoder_hidden_states, with example shapes."""
    config = pipe.unet.config
    extras: dict[str, tuple[int, ...]] = {}
    if config.get("addition_embed_type") == "text_time":
        encoder = getattr(pipe, "text_encoder_2", None) or pipe.text_encoder
        pooled = int(encoder.config.projection_dim if hasattr(encoder.config, "projection_dim") else encoder.config.hidden_size)
        count = (int(config["projection_class_embeddings_input_dim"]) - pooled) // int(config["addition_time_embed_dim"])
        extras["text_embeds"] = (BATCH, pooled)
        extras["time_ids"] = (BATCH, count)
    if config.get("time_cond_proj_dim"):
        extras["timestep_cond"] = (BATCH, int(config["time_cond_proj_dim"]))
    return extras


def export_unet(pipe: Any, extras: dict[str, tuple[int, ...]], folder: Path) -> None:
    """Export ``pipe.unet`` and take it out of the pipeline (its memory goes before the graph is saved)."""
    unet = pipe.unet.float().eval()
    pipe.unet = None
    config = unet.config
    blocks = len(config["block_out_channels"])
    side = max(8, 2 * 2 ** (blocks - 1))  # every down block halves it: stay whole at the bottom
    cross = config["cross_attention_dim"]
    cross = int(cross[0] if isinstance(cross, (list, tuple)) else cross)
    args = [
        torch.randn(BATCH, int(config["in_channels"]), side, side),
        torch.tensor(999.0),
        torch.randn(BATCH, 77, cross),
        *(torch.randn(*shape) for shape in extras.values()),
    ]
    inputs = ["sample", "timestep", "encoder_hidden_states", *extras]
    axes = {"sample": {0: "batch_size", 2: "height", 3: "width"}, "timestep": {},
            "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"},
            **{name: {0: "batch_size"} for name in extras},
            "out_sample": {0: "batch_size", 2: "height", 3: "width"}}
    fingerprints = Fingerprints(unet, "unet")
    held = [_UNet(unet, tuple(extras))]
    del unet
    _export(held, tuple(args), folder, inputs, ["out_sample"], axes)
    fingerprints.write(folder / "model.onnx")


def export_vae(vae: torch.nn.Module, folder: Path, decoder: bool) -> None:
    vae = vae.float().eval()
    scale = 2 ** (len(vae.config.block_out_channels) - 1)
    if decoder:
        latent = torch.randn(BATCH, int(vae.config.latent_channels), 8, 8)
        axes = {"latent_sample": {0: "batch_size", 2: "latent_height", 3: "latent_width"},
                "sample": {0: "batch_size", 2: f"latent_height * {scale}", 3: f"latent_width * {scale}"}}
        _export([_VaeDecoder(vae)], (latent,), folder, ["latent_sample"], ["sample"], axes)
    else:
        image = torch.rand(BATCH, int(vae.config.in_channels), 8 * scale, 8 * scale) * 2 - 1
        axes = {"sample": {0: "batch_size", 2: "sample_height", 3: "sample_width"},
                "latent_parameters": {0: "batch_size", 2: f"sample_height / {scale}", 3: f"sample_width / {scale}"}}
        _export([_VaeEncoder(vae)], (image,), folder, ["sample"], ["latent_parameters"], axes)


def _export(held: list[torch.nn.Module], args: tuple, folder: Path, inputs: list[str], outputs: list[str], axes: dict) -> None:
    """torch.onnx.export of the one module in ``held`` into a scratch folder, then saved as
    ``folder/model.onnx`` (+ ``model.onnx_data``). The module is taken out of ``held`` and
    dropped once exported: where the caller kept no other reference, its memory goes back
    before the weights are copied into place."""
    folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        module = held.pop()
        torch.onnx.export(module, args, str(scratch / "model.onnx"), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)
        del module
        gc.collect()
        _save(scratch / "model.onnx", folder / "model.onnx", external=folder.name in ALWAYS_EXTERNAL)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _save(exported: Path, target: Path, external: bool) -> None:
    """Re-save an export as the layout wants it: every weight over 1 KiB in one file named after
    the graph (``model.onnx_data``), or all inside the graph. The exporter writes a graph over
    2 GB with one file per tensor; those are copied across one tensor at a time, never all
    loaded at once."""
    import onnx

    model = onnx.load(str(exported), load_external_data=False)
    outside = [tensor for tensor in model.graph.initializer if tensor.data_location == onnx.TensorProto.EXTERNAL]
    size = sum(tensor.ByteSize() for tensor in model.graph.initializer) + sum(_length(t, exported.parent) for t in outside)
    data = target.with_name(target.name + "_data")
    data.unlink(missing_ok=True)
    if not external and size <= EXTERNAL_ABOVE_BYTES:
        onnx.load_external_data_for_model(model, str(exported.parent))
        onnx.save_model(model, str(target))
        return
    with open(data, "wb") as sink:
        for tensor in model.graph.initializer:
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                blob = _external_bytes(tensor, exported.parent)
            elif tensor.HasField("raw_data") and len(tensor.raw_data) > 1024:
                blob = tensor.raw_data
            else:
                continue  # small tensors stay in the graph, as onnx's own save leaves them
            if len(blob) > ALIGN_ABOVE_BYTES:  # as onnx aligns them, so a loader can map them
                sink.write(b"\0" * (-sink.tell() % ALIGNMENT))
            offset = sink.tell()
            sink.write(blob)
            tensor.ClearField("raw_data")
            del tensor.external_data[:]
            tensor.data_location = onnx.TensorProto.EXTERNAL
            for key, value in (("location", data.name), ("offset", str(offset)), ("length", str(len(blob)))):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
            del blob
    onnx.save_model(model, str(target))


ALIGNMENT, ALIGN_ABOVE_BYTES = 65536, 1 << 20


def _entries(tensor: Any) -> dict[str, str]:
    return {entry.key: entry.value for entry in tensor.external_data}


def _length(tensor: Any, folder: Path) -> int:
    entries = _entries(tensor)
    return int(entries["length"]) if "length" in entries else (folder / entries["location"]).stat().st_size - int(entries.get("offset", 0))


def _external_bytes(tensor: Any, folder: Path) -> bytes:
    entries = _entries(tensor)
    with open(folder / entries["location"], "rb") as source:
        source.seek(int(entries.get("offset", 0)))
        return source.read(_length(tensor, folder))


def _save_model(model: Any, target: Path, external: bool) -> None:
    import onnx

    data = target.with_name(target.name + "_data")
    data.unlink(missing_ok=True)
    if external:
        onnx.save_model(model, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data.name, size_threshold=1024)
        data.chmod(0o644)  # onnx writes it readable by its owner only
    else:
        onnx.save_model(model, str(target))


def write_fp16(fp32: Path) -> Path:
    """``model_fp16.onnx`` beside ``fp32``: weights and arithmetic in float16, inputs and outputs
    float32. Initializer names are kept (``weights_map.json`` serves both files)."""
    import onnx

    from studio.core.engine.onnx_import import import_onnxruntime

    float16 = import_onnxruntime("transformers.float16")
    model = onnx.load(str(fp32))
    large = sum(tensor.ByteSize() for tensor in model.graph.initializer) > EXTERNAL_ABOVE_BYTES
    # Shape inference cannot read a graph of over 2 GB from memory; the converter casts at the
    # graph's edges and around the ops it keeps in fp32 without it.
    model = float16.convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=large)
    target = fp32.with_name("model_fp16.onnx")
    _save_model(model, target, fp32.with_name("model.onnx_data").is_file() or large)
    del model
    gc.collect()
    return target
