"""Latent generator folders Studio cannot use: each refused in words that say what is wrong
and what was expected, never a traceback, and a job that meets a broken graph fails plainly.
Also graphs made by hand here (onnx.helper) whose outputs show what Studio fed them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import studio
from studio.core.engine.jobs import JobRunner, JobState
from studio.core.engine.runtime import Runtime
from studio_plugins.latent.generator import LatentLoader
from studio_plugins.latent.manifest import MANIFEST, read_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "latent"


@pytest.fixture(scope="module")
def runner():
    runner = JobRunner(Runtime())
    yield runner
    runner.shutdown()


def fails(runner, generator, **values) -> str:
    job = runner.submit(generator, generator.request(values))
    assert job.wait(60)
    assert job.state is JobState.FAILED and not job.internal_error, (job.state, job.message)
    return job.message


def copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def rewrite(folder: Path, **changes) -> None:
    path = folder / MANIFEST
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_a_generator_whose_output_is_not_a_picture_is_refused_when_read():
    with pytest.raises(studio.ModelError, match="does not make a picture") as error:
        LatentLoader().load(FIXTURES / "bad-not-image")
    assert "[batch, 10]" in str(error.value) and "[batch, channels, height, width]" in str(error.value)


def test_nan_in_the_output_fails_the_job_and_says_so(runner):
    generator = LatentLoader().load(FIXTURES / "bad-nan")
    message = fails(runner, generator, seed=1)
    assert "NaN or infinite values" in message and "generator.onnx" in message


def test_a_latent_size_the_graph_does_not_take_is_named_with_both_sizes():
    with pytest.raises(studio.ModelError, match="says the latent has 12 numbers, but decoder.onnx takes 6"):
        LatentLoader().load(FIXTURES / "bad-latent-size")


def test_a_damaged_description_is_named():
    with pytest.raises(studio.ModelError, match="not readable JSON") as error:
        LatentLoader().load(FIXTURES / "bad-manifest")
    assert MANIFEST in str(error.value)


def test_a_folder_with_nothing_it_knows_says_what_it_expected(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"\0" * 16)
    assert not LatentLoader().detect(tmp_path)
    with pytest.raises(studio.ModelError, match="is not a latent generator: expected") as error:
        read_model(tmp_path)
    for words in (MANIFEST, "generator.onnx", "mapping.onnx + synthesis.onnx", "decoder.onnx"):
        assert words in str(error.value)


def test_a_file_that_is_not_an_onnx_graph_is_named(tmp_path):
    (tmp_path / "generator.onnx").write_bytes(b"this is not a graph" * 10)
    assert LatentLoader().detect(tmp_path)
    with pytest.raises(studio.ModelError, match="not an ONNX graph Studio can read"):
        LatentLoader().load(tmp_path)


def test_a_missing_part_is_named(tmp_path):
    folder = copy("stylegan", tmp_path)
    (folder / "synthesis.onnx").unlink()
    with pytest.raises(studio.ModelError, match="without its synthesis graph: synthesis.onnx is missing"):
        LatentLoader().load(folder)


@pytest.mark.parametrize("changes, words", [
    ({"files": {"decoder": "../../etc/passwd"}}, "not a file name inside the model's folder"),
    ({"files": {"decoder": "/etc/passwd"}}, "not a file name inside the model's folder"),
    ({"kind": "diffusion"}, "kind should be one of gan, stylegan, vae"),
    ({"format": "other"}, "format should be 'studio-latent'"),
    ({"output_range": [1, -1]}, "output_range should be two numbers"),
    ({"output_range": "0..1"}, "output_range should be two numbers"),
    ({"image_size": [64, 10**6]}, "image_size should be [height, width]"),
    ({"latent_size": 10**9}, "latent_size"),
    ({"class_names": ["a", "b"]}, "the graph takes no class input"),
    ({"title": ["not", "text"]}, "title should be text"),
])
def test_bad_descriptions_are_refused_in_words(tmp_path, changes, words):
    folder = copy("vae", tmp_path)
    rewrite(folder, **changes)
    with pytest.raises(studio.ModelError) as error:
        LatentLoader().load(folder)
    assert words in str(error.value)


def test_bad_truncation_and_class_counts_are_refused(tmp_path):
    folder = copy("dcgan-named", tmp_path)
    rewrite(folder, truncation=5)
    with pytest.raises(studio.ModelError, match="truncation should be a number from 0 to 2"):
        LatentLoader().load(folder)
    rewrite(folder, truncation=0.8, class_names=["circle", "circle", "star"])
    with pytest.raises(studio.ModelError, match="the same name twice"):
        LatentLoader().load(folder)


def test_a_latent_that_does_not_fit_the_model_fails_its_job_in_words(runner):
    generator = LatentLoader().load(FIXTURES / "vae")
    assert "5 numbers, but this model's latent has 6" in fails(runner, generator, latent=[0.1] * 5)
    assert "one picture" in fails(runner, generator, latent=[0.1] * 6, batch_count=2)


def test_a_class_index_the_model_does_not_have_fails_the_job_not_the_app(runner):
    generator = LatentLoader().load(FIXTURES / "dcgan")
    assert "generator.onnx failed to run" in fails(runner, generator, seed=1, label=57)


def reshaping_generator(folder: Path, latent: int, shape: list[int], output_shape) -> None:
    """A generator graph that only reshapes its latent: its output is whatever ``shape`` says."""
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", latent])
    out = helper.make_tensor_value_info("image", TensorProto.FLOAT, output_shape)
    target = helper.make_tensor("shape", TensorProto.INT64, [len(shape)], shape)
    graph = helper.make_graph([helper.make_node("Reshape", ["z", "shape"], ["image"])], "g", [z], [out], [target])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder.mkdir(exist_ok=True)
    onnx.save(model, folder / "generator.onnx")


def test_an_output_whose_shape_the_graph_does_not_state_is_checked_when_it_comes(tmp_path, runner):
    reshaping_generator(tmp_path / "five", 20, [-1, 5, 2, 2], ["a", "b", "c", "d"])  # 5 channels: no picture
    generator = LatentLoader().load(tmp_path / "five")
    message = fails(runner, generator, seed=1)
    assert "does not make a picture: its output has shape [1, 5, 2, 2]" in message
    reshaping_generator(tmp_path / "grey", 4, [-1, 2, 2, 1], ["a", "b", "c", "d"])  # channels last, one: grey
    generator = LatentLoader().load(tmp_path / "grey")
    job = runner.submit(generator, generator.request({"seed": 1, "scale": 1}))
    assert job.wait(30) and job.state is JobState.FINISHED, job.message
    assert job.result.value.shape == (2, 2, 4)
    assert np.array_equal(job.result.value[..., 0], job.result.value[..., 2])


def test_an_output_of_another_rank_is_refused_when_read(tmp_path):
    reshaping_generator(tmp_path, 4, [-1, 4], ["batch", 4])
    with pytest.raises(studio.ModelError, match="does not make a picture"):
        LatentLoader().load(tmp_path)


def test_a_biggan_shaped_graph_gets_a_one_hot_class_and_its_truncation(tmp_path, runner):
    """BigGAN's inputs: z, a one-hot class vector and the truncation as a scalar input. The graph
    (image = (z @ Wz + y @ Wy) * truncation, as 3 x 2 x 2) shows what Studio fed it."""
    from onnx import numpy_helper

    rng = np.random.default_rng(0)
    wz, wy = rng.standard_normal((4, 12)).astype(np.float32), rng.standard_normal((3, 12)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["z", "wz"], ["a"]), helper.make_node("MatMul", ["y", "wy"], ["b"]),
        helper.make_node("Add", ["a", "b"], ["c"]), helper.make_node("Mul", ["c", "truncation"], ["d"]),
        helper.make_node("Tanh", ["d"], ["e"]), helper.make_node("Reshape", ["e", "shape"], ["image"]),
    ]
    graph = helper.make_graph(nodes, "biggan", [
        helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4]),
        helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
        helper.make_tensor_value_info("truncation", TensorProto.FLOAT, []),
    ], [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 2, 2])], [
        numpy_helper.from_array(wz, "wz"), numpy_helper.from_array(wy, "wy"),
        numpy_helper.from_array(np.array([-1, 3, 2, 2], np.int64), "shape"),
    ])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "generator.onnx")
    (tmp_path / MANIFEST).write_text(json.dumps({
        "format": "studio-latent", "version": 1, "kind": "gan", "class_names": ["cat", "dog", "owl"], "truncation": 0.4,
    }))
    generator = LatentLoader().load(tmp_path)
    assert generator.param("truncation").default == 0.4 and generator.param("label").choices == ("cat", "dog", "owl")
    latent = rng.standard_normal(4).astype(np.float32)
    job = runner.submit(generator, generator.request({"latent": latent.tolist(), "label": "owl", "truncation": 0.4, "scale": 1}))
    assert job.wait(30) and job.state is JobState.FINISHED, job.message
    expected = np.tanh((latent @ wz + wy[2]) * np.float32(0.4)).reshape(3, 2, 2)
    pixels = np.clip((expected + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    assert np.abs(job.result.value[..., :3].astype(int) - pixels).max() <= 1


def test_an_enlargement_past_studios_largest_picture_is_refused_before_it_is_made(tmp_path, runner):
    reshaping_generator(tmp_path, 4096, [-1, 1, 2048, 2], ["batch", 1, 2048, 2])  # tall grey 2 x 2048 pictures
    generator = LatentLoader().load(tmp_path)
    assert "would pass 16384 pixels a side; choose at most 8" in fails(runner, generator, seed=1, scale=16)


def test_a_graph_that_states_a_giant_picture_is_refused_when_read(tmp_path):
    reshaping_generator(tmp_path, 4, [-1, 1, 2, 2], ["batch", 1, 99999, 2])
    with pytest.raises(studio.ModelError, match="99999"):
        LatentLoader().load(tmp_path)


def test_a_stylegan_export_with_an_empty_class_and_its_own_truncation_input(tmp_path, runner):
    """StyleGAN2-ADA exports give the mapping a class input c of width 0 (unconditional) and
    sometimes a truncation_psi input, and the synthesis noise inputs: Studio feeds an empty c and
    ψ = 1 there, truncates w itself towards the folder's w_avg, and feeds the noise zeros."""
    from onnx import numpy_helper

    rng = np.random.default_rng(1)
    weight = rng.standard_normal((4, 4)).astype(np.float32)
    mapping = helper.make_graph(
        [helper.make_node("MatMul", ["z", "w_map"], ["raw"]), helper.make_node("Mul", ["raw", "truncation_psi"], ["w"])], "mapping",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("c", TensorProto.FLOAT, ["batch", 0]),
         helper.make_tensor_value_info("truncation_psi", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("w", TensorProto.FLOAT, ["batch", 4])], [numpy_helper.from_array(weight, "w_map")],
    )
    synthesis = helper.make_graph(  # the picture is w, plus its noise input (fed zeros)
        [helper.make_node("Reshape", ["ws", "shape"], ["flat"]), helper.make_node("Add", ["flat", "noise0"], ["image"])], "synthesis",
        [helper.make_tensor_value_info("ws", TensorProto.FLOAT, ["batch", 2, 4]),
         helper.make_tensor_value_info("noise0", TensorProto.FLOAT, [1, 1, 2, 4])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 2, 4])],
        [numpy_helper.from_array(np.array([-1, 1, 2, 4], np.int64), "shape")],
    )
    for name, graph in (("mapping", mapping), ("synthesis", synthesis)):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.save(model, tmp_path / f"{name}.onnx")
    w_avg = np.full(4, 0.25, np.float32)
    np.save(tmp_path / "w_avg.npy", w_avg)
    generator = LatentLoader().load(tmp_path)
    assert generator.model.kind == "stylegan" and generator.param("truncation").default == 1.0
    assert "label" not in {param.name for param in generator.params}  # c of width 0: no class to choose
    job = runner.submit(generator, generator.request({"seed": 3, "truncation": 0.5, "scale": 1}))
    assert job.wait(30) and job.state is JobState.FINISHED, job.message
    w = np.random.default_rng(3).standard_normal(4).astype(np.float32) @ weight
    assert np.allclose(job.result.params["latent"], w, atol=1e-5)
    truncated = w_avg + np.float32(0.5) * (w - w_avg)
    expected = np.clip((truncated + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)  # each of the two layers the same w
    assert np.abs(job.result.value[..., 0].astype(int) - np.stack([expected, expected])).max() <= 1
