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


class Fingerprints:
    """The digests of a torch module's 2-D and 4-D float weights (and of each 2-D one transposed),
    taken BEFORE the export, so the module can be let go before its graph is read back: a real
    UNet is 3.4 GB, and holding it while the graph's weights are re-saved doubles the peak."""

    def __init__(self, module: Any, component: str) -> None:
        self.component = component
        self.names: list[str] = []
        self.wanted: dict[tuple[tuple[int, ...], bytes], list[tuple[str, bool]]] = {}
        for raw_name, tensor in module.named_parameters():
            if tensor.dim() not in (2, 4) or not tensor.is_floating_point():
                continue
            name = public_name(raw_name, component)
            value = tensor.detach().float().cpu().numpy()
            self.names.append(name)
            self.wanted.setdefault((value.shape, _digest(value)), []).append((name, False))
            if value.ndim == 2:
                self.wanted.setdefault((value.T.shape, _digest(value.T)), []).append((name, True))

    def match(self, onnx_path: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """``({parameter name: {"initializer", "transposed"}}, [names matched by nothing])``."""
        found: dict[str, dict[str, Any]] = {}
        for initializer, array in _initializers(Path(onnx_path)):
            for name, transposed in self.wanted.get((array.shape, _digest(array)), ()):
                # The exporter's own name for the untransposed weight wins over a transposed copy.
                if name not in found or (found[name]["transposed"] and not transposed):
                    found[name] = {"initializer": initializer, "transposed": transposed}
        missing = [name for name in self.names if name not in found]
        return {name: found[name] for name in self.names if name in found}, missing

    def write(self, onnx_path: Path) -> Path:
        """Write ``weights_map.json`` beside the graph. Weights the graph does not hold by value
        (one the exporter folded into another constant) are left out and named on stderr."""
        weights, missing = self.match(onnx_path)
        if missing:
            print(f"weights_map: {len(missing)} {self.component} weights have no initializer of the same value: "
                  f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}", file=sys.stderr)
        target = Path(onnx_path).parent / FILENAME
        document = {"format": FORMAT, "component": self.component, "weights": weights}
        target.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        return target


def public_name(name: str, component: str) -> str:
    """The parameter's name as SD repositories and LoRAs spell it. transformers 5 dropped the
    ``text_model.`` level of CLIPTextModel (not of CLIPTextModelWithProjection); every
    checkpoint and LoRA still names CLIP weights ``text_model.encoder.layers.0…``."""
    if component.startswith("text_encoder") and not name.startswith(("text_model.", "text_projection.")):
        return f"text_model.{name}"
    return name


def write_weights_map(module: Any, onnx_path: Path, component: str) -> Path:
    """Fingerprint ``module`` (a torch module, still alive) and write the graph's ``weights_map.json``."""
    return Fingerprints(module, component).write(onnx_path)
