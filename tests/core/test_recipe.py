"""The CPPN recipe rebuilds the committed model byte for byte: the weights are ours, reproducibly."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("onnx", reason="the recipe needs the onnx package (pip install -e '.[recipes]')")

from studio.core.base.paths import builtin_models  # noqa: E402
from studio_plugins.cppn import recipe  # noqa: E402
from studio_plugins.cppn.generator import read_config  # noqa: E402

COMMITTED = builtin_models() / "cppn"


def test_the_recipe_reproduces_the_committed_model_byte_for_byte(tmp_path):
    recipe.write(tmp_path / "cppn")
    for name in ("model.onnx", "cppn.json"):
        built = (tmp_path / "cppn" / name).read_bytes()
        committed = (COMMITTED / name).read_bytes()
        assert built == committed, f"{name} differs from resources/models/cppn/{name}: rerun the recipe and commit"


def test_the_committed_config_is_the_recipes_and_is_readable():
    assert json.loads((COMMITTED / "cppn.json").read_text()) == recipe.CONFIG
    assert read_config(COMMITTED)["latent_dim"] == recipe.CONFIG["latent_dim"]


def test_the_model_matches_its_config():
    import onnx

    model = onnx.load(str(COMMITTED / "model.onnx"))
    onnx.checker.check_model(model)
    inputs = {i.name: [d.dim_value or d.dim_param for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert inputs == {"coords": ["pixels", 3], "latent": [1, recipe.CONFIG["latent_dim"]], "complexity": [1]}
    assert [o.name for o in model.graph.output] == ["rgb"]
    assert model.opset_import[0].version == recipe.OPSET


def test_a_different_weight_seed_gives_different_weights():
    other = dict(recipe.CONFIG, weight_seed=recipe.CONFIG["weight_seed"] + 1)
    assert recipe.build(other).SerializeToString() != recipe.build().SerializeToString()


def test_the_recipe_can_be_run_as_a_script(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "studio_plugins.cppn.recipe", str(out)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert (out / "model.onnx").read_bytes() == (COMMITTED / "model.onnx").read_bytes()
    assert "wrote" in done.stdout
