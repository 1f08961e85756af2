"""The tensors of a transformers folder's safetensors weights, one at a time, as float32.

One ``model.safetensors`` or shards (``model.safetensors.index.json`` or every ``*.safetensors``
in the folder); fp32, fp16 and bf16 (numpy has no bfloat16, so each tensor goes through torch).
A tensor is read when the graph needs it and let go once written, so a model never sits in
memory whole.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from studio.convert.protocol import ConvertError

PICKLED = ("pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.ckpt")


class Weights:
    def __init__(self, folder: Path) -> None:
        from safetensors import safe_open

        files = sorted(folder.glob("*.safetensors"))
        if not files:
            pickled = [name for name in PICKLED if (folder / name).exists()]
            if pickled:
                raise ConvertError(f"{folder} holds its weights as {pickled[0]}, a pickled format that can run code when loaded, "
                                   "so Studio never reads it; the same model is almost always published with .safetensors weights")
            raise ConvertError(f"{folder} has no .safetensors weights")
        index = folder / "model.safetensors.index.json"
        if index.is_file():  # only the shards the index names (a folder may hold leftovers)
            try:
                named = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ConvertError(f"{index} cannot be read ({exc})") from None
            missing = sorted(name for name in named if not (folder / name).is_file())
            if missing:
                raise ConvertError(f"{folder} lacks the weight shard {missing[0]} its index names: copy the whole model folder")
            files = [folder / name for name in sorted(named)]
        self._where: dict[str, object] = {}
        self._handles = []
        for path in files:
            try:
                handle = safe_open(str(path), framework="pt")
            except Exception as exc:  # noqa: BLE001 - safetensors' own error says what is wrong with the file
                raise ConvertError(f"{path.name} is not a readable safetensors file ({exc}); it may be cut short") from None
            self._handles.append(handle)
            for name in handle.keys():
                self._where[name] = handle

    def names(self) -> list[str]:
        return list(self._where)

    def has(self, name: str) -> bool:
        return name in self._where

    def get(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """Tensor ``name`` as float32, checked against ``shape`` (what config.json implies)."""
        handle = self._where.get(name)
        if handle is None:
            raise ConvertError(f"the weights have no tensor {name}: the folder does not match its config.json")
        try:
            array = handle.get_tensor(name).float().numpy()
        except Exception as exc:  # noqa: BLE001 - a damaged file
            raise ConvertError(f"the tensor {name} cannot be read ({exc}); the weights file may be cut short") from None
        if shape is not None and tuple(array.shape) != tuple(shape):
            raise ConvertError(f"the tensor {name} has the shape {tuple(array.shape)}, but config.json implies {tuple(shape)}")
        return array

    def parameters(self) -> int:
        total = 0
        for name, handle in self._where.items():
            total += int(np.prod(handle.get_slice(name).get_shape()))
        return total
