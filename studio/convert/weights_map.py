"""Which ONNX initializer holds each torch weight: ``weights_map.json`` beside an exported graph.

A LoRA names the weights it changes by the torch module's parameter names
(``down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight``); an exported graph
names its initializers as the exporter pleases (``onnx::MatMul_1234`` for a Linear weight the
exporter transposed for a MatMul, the parameter's own name for a Conv). Studio applies a LoRA
by handing the session replaced initializers, so it needs the one mapping to the other::

    {"format": 1, "component": "unet",
     "weights": {"<parameter name>": {"initializer": "<ONNX name>", "transposed": false}, ...}}

The pairs are found by VALUE after the export (each 2-D and 4-D float weight hashed, and its
transpose for 2-D), not by guessing the exporter's names: the map stays right whatever the
exporter or its version calls things. Initializers are read through a memory map of the
external-data file, so a 3.4 GB UNet is hashed without being loaded.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np

FORMAT = 1
FILENAME = "weights_map.json"
_FLOAT = 1  # onnx.TensorProto.FLOAT


def _digest(array: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(array).tobytes(), digest_size=16).digest()


def _initializers(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    """(name, float32 array) of every 2-D / 4-D float initializer, external data memory-mapped."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path), load_external_data=False)
    maps: dict[str, mmap.mmap] = {}
    files = []
    try:
        for tensor in model.graph.initializer:
            if tensor.data_type != _FLOAT or len(tensor.dims) not in (2, 4):
                continue
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                entries = {entry.key: entry.value for entry in tensor.external_data}
                location = entries["location"]
                if location not in maps:
                    handle = open(path.parent / location, "rb")
                    files.append(handle)
                    maps[location] = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
                offset, count = int(entries.get("offset", 0)), int(np.prod(tensor.dims))
                array = np.frombuffer(maps[location], dtype="<f4", count=count, offset=offset).reshape(tuple(tensor.dims))
            else:
                array = numpy_helper.to_array(tensor)
            yield tensor.name, array
            del array  # a view into the map: let it go before the map closes
    finally:
        for mapped in maps.values():
            try:
                mapped.close()
            except BufferError:  # a caller still holds a view; the process ends soon anyway
                pass
        for handle in files:
            handle.close()


def match_weights(parameters: dict[str, Any], onnx_path: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``({parameter name: {"initializer", "transposed"}}, [names matched by nothing])`` for the
    2-D and 4-D float weights among ``parameters`` (name -> torch tensor) in the graph at ``onnx_path``."""
    wanted: dict[tuple[tuple[int, ...], bytes], list[tuple[str, bool]]] = {}
    names = []
    for name, tensor in parameters.items():
        if tensor.dim() not in (2, 4) or not tensor.is_floating_point():
            continue
        value = tensor.detach().float().cpu().numpy()
        names.append(name)
        wanted.setdefault((value.shape, _digest(value)), []).append((name, False))
        if value.ndim == 2:
            wanted.setdefault((value.T.shape, _digest(value.T)), []).append((name, True))
    found: dict[str, dict[str, Any]] = {}
    for initializer, array in _initializers(onnx_path):
        for name, transposed in wanted.get((array.shape, _digest(array)), ()):
            # The exporter's own name for the untransposed weight wins over a transposed copy.
            if name not in found or (found[name]["transposed"] and not transposed):
                found[name] = {"initializer": initializer, "transposed": transposed}
    missing = [name for name in names if name not in found]
    return {name: found[name] for name in names if name in found}, missing


def public_name(name: str, component: str) -> str:
    """The parameter's name as SD repositories and LoRAs spell it. transformers 5 dropped the
    ``text_model.`` level of CLIPTextModel (not of CLIPTextModelWithProjection); every
    checkpoint and LoRA still names CLIP weights ``text_model.encoder.layers.0…``."""
    if component.startswith("text_encoder") and not name.startswith(("text_model.", "text_projection.")):
        return f"text_model.{name}"
    return name


def write_weights_map(module: Any, onnx_path: Path, component: str) -> Path:
    """Match ``module``'s weights (a torch module, still alive) to the graph's initializers and
    write ``weights_map.json`` beside the graph. Weights the graph does not hold by value (a
    weight the exporter folded into another constant) are left out and named on stderr."""
    parameters = {public_name(name, component): value for name, value in module.named_parameters()}
    weights, missing = match_weights(parameters, Path(onnx_path))
    if missing:
        print(f"weights_map: {len(missing)} {component} weights have no initializer of the same value: "
              f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}", file=sys.stderr)
    target = Path(onnx_path).parent / FILENAME
    document = {"format": FORMAT, "component": component, "weights": weights}
    target.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return target
