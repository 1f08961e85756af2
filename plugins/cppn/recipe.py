"""Recipe for the built-in CPPN model: ``python -m studio_plugins.cppn.recipe [OUT_DIR]``.

A CPPN (compositional pattern-producing network) maps each pixel's coordinates (x, y, r)
plus a latent vector to a colour. Its weights are random, drawn from a fixed seed, so the
network is ours and the recipe rebuilds the committed ``resources/models/cppn`` byte for
byte. Needs the ``onnx`` package (``pip install -e '.[recipes]'``); run time does not.

Graph (N pixels, H hidden units, Z latent dims):
    h0 = tanh((coords[N,3] @ Wc) * complexity + latent[1,Z] @ Wz + b0)
    h  = act_k(h @ Wk + bk)           k = 1 .. layers-1, act alternating sin / tanh
    rgb = sigmoid(h @ Wo + bo)        [N, 3]
The latent enters as one [1, H] bias instead of being tiled per pixel: the same picture for
a fraction of the work. ``complexity`` scales the coordinate weights: higher, finer detail.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

CONFIG = {
    "format": "studio-cppn",
    "version": 1,
    "title": "CPPN abstract art",
    "latent_dim": 8,
    "hidden": 32,
    "layers": 8,
    "weight_seed": 20261121,
}
OPSET = 17
IR_VERSION = 8


def build(config: dict = CONFIG):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(config["weight_seed"])
    hidden, latent_dim, layers = config["hidden"], config["latent_dim"], config["layers"]

    def weight(name: str, fan_in: int, fan_out: int, gain: float):
        w = rng.standard_normal((fan_in, fan_out)).astype(np.float32) * np.float32(gain / np.sqrt(fan_in))
        return numpy_helper.from_array(w, name)

    def bias(name: str, size: int, spread: float):
        return numpy_helper.from_array(rng.uniform(-spread, spread, (size,)).astype(np.float32), name)

    initializers = [
        weight("w_coords", 3, hidden, 3.0),
        weight("w_latent", latent_dim, hidden, 2.0),
        bias("b_0", hidden, 0.5),
    ]
    nodes = [
        helper.make_node("MatMul", ["coords", "w_coords"], ["coords_proj"]),
        helper.make_node("Mul", ["coords_proj", "complexity"], ["coords_scaled"]),
        helper.make_node("MatMul", ["latent", "w_latent"], ["latent_proj"]),
        helper.make_node("Add", ["latent_proj", "b_0"], ["latent_bias"]),
        helper.make_node("Add", ["coords_scaled", "latent_bias"], ["pre_0"]),
        helper.make_node("Tanh", ["pre_0"], ["h_0"]),
    ]
    for k in range(1, layers):
        initializers += [weight(f"w_{k}", hidden, hidden, 1.6), bias(f"b_{k}", hidden, 0.3)]
        nodes += [
            helper.make_node("MatMul", [f"h_{k - 1}", f"w_{k}"], [f"mm_{k}"]),
            helper.make_node("Add", [f"mm_{k}", f"b_{k}"], [f"pre_{k}"]),
            helper.make_node("Sin" if k % 2 else "Tanh", [f"pre_{k}"], [f"h_{k}"]),
        ]
    initializers += [weight("w_out", hidden, 3, 3.0), bias("b_out", 3, 0.2)]
    nodes += [
        helper.make_node("MatMul", [f"h_{layers - 1}", "w_out"], ["mm_out"]),
        helper.make_node("Add", ["mm_out", "b_out"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["rgb"]),
    ]
    graph = helper.make_graph(
        nodes,
        "cppn",
        inputs=[
            helper.make_tensor_value_info("coords", TensorProto.FLOAT, ["pixels", 3]),
            helper.make_tensor_value_info("latent", TensorProto.FLOAT, [1, latent_dim]),
            helper.make_tensor_value_info("complexity", TensorProto.FLOAT, [1]),
        ],
        outputs=[helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["pixels", 3])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="studio-cppn-recipe")
    model.ir_version = IR_VERSION
    model.producer_version = str(config["version"])
    onnx.checker.check_model(model)
    return model


def write(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model.onnx").write_bytes(build().SerializeToString())
    (out_dir / "cppn.json").write_text(json.dumps(CONFIG, indent=2) + "\n")


def main(argv: list[str]) -> None:
    default = Path(__file__).resolve().parents[2] / "resources" / "models" / "cppn"
    out_dir = Path(argv[0]) if argv else default
    write(out_dir)
    print(f"wrote {out_dir / 'model.onnx'} and {out_dir / 'cppn.json'}")


if __name__ == "__main__":
    main(sys.argv[1:])
