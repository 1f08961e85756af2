"""Hostile model folders, built for real in tmp_path, and the rule that nothing in one runs.

The external-data tests prove the refusal is Studio's own and comes before onnxruntime sees
the model: the messages are ours (onnxruntime words these cases differently, or not at all),
and a weights "file" that is a named pipe would hang onnxruntime's read forever.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import shutil
import threading
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from studio.core.engine.model_safety import (
    check_model_file,
    external_references,
    may_reference_external_data,
)
from studio.core.engine.runtime import Runtime
from studio.core.models.loaders import ModelLoader, find_loader
from studio.core.models.unusable_weights import (
    find_unusable_weights,
    unusable_weights_message,
)
from studio.errors import ModelError

ROOT = Path(__file__).resolve().parents[2]
VALUES = np.arange(64, dtype=np.float32)


# -- building models -------------------------------------------------------------------------


def external(tensor, location, offset=0, length=None):
    """Point ``tensor`` at ``location`` instead of holding its data (what a hostile file says)."""
    data = tensor.raw_data or numpy_helper.from_array(numpy_helper.to_array(tensor)).raw_data
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(len(data) if length is None else length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return data


def io():
    return ([helper.make_tensor_value_info("x", TensorProto.FLOAT, [64])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64])])


def initializer_model(location):
    weight = numpy_helper.from_array(VALUES, "w")
    data = external(weight, location)
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", *io(), [weight])
    return graph, data


def constant_model(location):
    """The weights in a Constant node's attribute, not in the initializers."""
    value = numpy_helper.from_array(VALUES, "c")
    data = external(value, location)
    nodes = [helper.make_node("Constant", [], ["c"], value=value), helper.make_node("Add", ["x", "c"], ["y"])]
    return helper.make_graph(nodes, "g", *io()), data


def subgraph_model(location):
    """The weights inside an If node's then-branch, two graphs deep."""
    weight = numpy_helper.from_array(VALUES, "w")
    data = external(weight, location)
    then = helper.make_graph([helper.make_node("Add", ["x", "w"], ["t"])], "then", [], [helper.make_tensor_value_info("t", TensorProto.FLOAT, [64])], [weight])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [], [helper.make_tensor_value_info("e", TensorProto.FLOAT, [64])])
    condition = numpy_helper.from_array(np.array(True), "cond")
    graph = helper.make_graph([helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other)], "g", *io(), [condition])
    return graph, data


def sparse_model(location):
    values = numpy_helper.from_array(VALUES, "s")
    data = external(values, location)
    sparse = helper.make_sparse_tensor(values, numpy_helper.from_array(np.arange(64, dtype=np.int64), "i"), [64])
    graph = helper.make_graph([helper.make_node("Add", ["x", "s"], ["y"])], "g", *io(), sparse_initializer=[sparse])
    return graph, data


PLACES = {"initializer": initializer_model, "constant": constant_model, "if-branch": subgraph_model, "sparse": sparse_model}


def save(folder: Path, graph, name="model.onnx") -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(model.SerializeToString())
    return folder / name


def hostile(tmp_path: Path, location: str, place: str = "initializer") -> tuple[Path, bytes]:
    graph, data = PLACES[place](location)
    return save(tmp_path / "model", graph), data


def refused(path: Path, *words: str) -> str:
    with pytest.raises(ModelError) as caught:
        Runtime().session(path)
    message = str(caught.value)
    for word in words:
        assert word in message, message
    return message


# -- external data that leaves the folder ----------------------------------------------------


def test_weights_beside_the_model_load_and_run(tmp_path):
    path, data = hostile(tmp_path, "weights.bin")
    (path.parent / "weights.bin").write_bytes(data)

    loaded = Runtime().session(path)

    (y,) = loaded.session.run(None, {"x": np.ones(64, np.float32)})
    assert np.array_equal(y, VALUES + 1)
    assert [r.location for r in external_references(path)] == ["weights.bin"]


@pytest.mark.parametrize("place", PLACES)
def test_a_path_out_of_the_folder_is_refused_wherever_the_tensor_hides(tmp_path, place):
    path, data = hostile(tmp_path, "../secret.bin", place)
    (tmp_path / "secret.bin").write_bytes(data)

    refused(path, "points at weights outside its folder", "'../secret.bin'", "climbs out", "refused this model before loading it")


@pytest.mark.parametrize(
    "location, words",
    [
        ("/etc/passwd", ["'/etc/passwd'", "absolute path"]),
        ("C:\\Windows\\win.ini", ["absolute path"]),
        ("C:weights.bin", ["absolute path"]),  # a drive letter without a root is still another drive
        ("\\\\server\\share\\w.bin", ["absolute path"]),
        ("sub/../../secret.bin", ["climbs out"]),
        ("..\\secret.bin", ["climbs out"]),  # Windows separators count too
    ],
)
def test_absolute_drive_and_climbing_locations_are_refused(tmp_path, location, words):
    path, _ = hostile(tmp_path, location)
    refused(path, "points at weights outside its folder", *words)


def test_a_weights_file_that_is_a_link_out_of_the_folder_is_refused(tmp_path):
    path, data = hostile(tmp_path, "weights.bin")
    (tmp_path / "elsewhere.bin").write_bytes(data)
    (path.parent / "weights.bin").symlink_to(tmp_path / "elsewhere.bin")

    refused(path, "is a symbolic link", str(tmp_path / "elsewhere.bin"), "--local-dir")


def test_a_weights_file_under_a_linked_folder_is_refused(tmp_path):
    path, data = hostile(tmp_path, "shards/weights.bin")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "weights.bin").write_bytes(data)
    (path.parent / "shards").symlink_to(tmp_path / "outside", target_is_directory=True)

    refused(path, "'shards/weights.bin'", "is a symbolic link (or lies in a linked folder)")


def test_a_link_that_stays_inside_the_folder_is_fine(tmp_path):
    path, data = hostile(tmp_path, "weights.bin")
    (path.parent / "real.bin").write_bytes(data)
    (path.parent / "weights.bin").symlink_to("real.bin")

    (y,) = Runtime().session(path).session.run(None, {"x": np.zeros(64, np.float32)})
    assert np.array_equal(y, VALUES)


def test_a_model_file_that_is_a_link_out_of_its_folder_is_refused(tmp_path):
    real, data = hostile(tmp_path, "weights.bin")
    (real.parent / "weights.bin").write_bytes(data)
    assert Runtime().session(real)  # the model itself is fine where it lives
    linked = tmp_path / "added" / "model.onnx"
    linked.parent.mkdir()
    linked.symlink_to(real)

    refused(linked, "is a symbolic link to", str(real), "outside its folder")


def test_a_missing_weights_file_is_named(tmp_path):
    path, _ = hostile(tmp_path, "shards/part-7.bin")
    # onnxruntime says 'External data path does not exist: "<full path>"'; ours names the file
    # as the model does, and the folder it should be in.
    refused(path, f"the weights file shards/part-7.bin that model.onnx needs is missing from {path.parent}")


def test_a_short_weights_file_is_called_truncated(tmp_path):
    path, data = hostile(tmp_path, "weights.bin")
    (path.parent / "weights.bin").write_bytes(data[:100])
    refused(path, "truncated", "needs bytes 0 to 256, the file has 100")


def test_onnxruntimes_memory_address_marker_is_refused(tmp_path):
    # onnxruntime takes the offset of a tensor at this "location" as a memory address to read.
    # The marker is a valid relative path, so a folder can even hold a file by that name.
    path, data = hostile(tmp_path, "*/_ORT_MEM_ADDR_/*")
    planted = path.parent / "*" / "_ORT_MEM_ADDR_" / "*"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(data)

    refused(path, "internal marker for data already in memory")


def test_a_pipe_in_place_of_weights_is_refused_before_onnxruntime_opens_it(tmp_path):
    """Opening a FIFO for reading blocks until someone writes: had onnxruntime been given the
    model, the load would hang. The refusal must come at once, and nobody may be reading."""
    path, _ = hostile(tmp_path, "weights.bin")
    fifo = path.parent / "weights.bin"
    os.mkfifo(fifo)
    outcome: list[BaseException | object] = []

    def load() -> None:
        try:
            outcome.append(Runtime().session(path))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # a reader is blocked on the pipe: release it, then fail
        with open(fifo, "wb"):
            pass
        thread.join(10)
        pytest.fail("the pipe was opened for reading: the model reached onnxruntime")
    assert isinstance(outcome[0], ModelError), outcome
    assert "is not a regular file" in str(outcome[0])
    with pytest.raises(OSError):  # ENXIO: no reader has the pipe open
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_a_location_without_a_file_name_is_damage(tmp_path):
    path, _ = hostile(tmp_path, "")
    refused(path, "does not say which")


# -- the skim that spares big inline models a second parse -----------------------------------


def test_a_model_with_inline_weights_is_not_parsed(tmp_path):
    # The key's bytes inside the weights themselves (as a whole protobuf string, even) must not
    # make the check parse the model: the weights are stepped over, not searched.
    weights = np.frombuffer(b"\x0a\x08location" + bytes(53), np.uint8).copy()
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["y"])], "g", [],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, [64])], [numpy_helper.from_array(weights, "w")],
    )
    path = save(tmp_path / "inline", graph)
    assert b"\x08location" in path.read_bytes()

    assert may_reference_external_data(path) is False
    assert check_model_file(path) == path.resolve()


def test_a_node_named_like_the_key_does_not_count(tmp_path):
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"], name="/model/location_embed")], "g", *io())
    assert may_reference_external_data(save(tmp_path / "m", graph)) is False




@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(place=st.sampled_from(sorted(PLACES)), edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4))
def test_the_skim_never_misses_a_reference_that_protobuf_would_read(tmp_path, place, edits):
    """Differential: mutate hostile models at random; whenever protobuf still parses them and
    finds an external reference, the skim must have said "maybe"."""
    graph, _ = PLACES[place]("w.bin")
    data = bytearray(helper.make_model(graph).SerializeToString())
    for position, value in edits:
        data[position % len(data)] = value
    path = tmp_path / f"mutated-{place}.onnx"
    path.write_bytes(bytes(data))
    try:
        model = onnx.load_model_from_string(bytes(data))
    except Exception:
        return  # not a model any more: onnxruntime would not read it either
    from studio.core.engine.model_safety import _tensors

    if any(t.data_location == TensorProto.EXTERNAL or len(t.external_data) for t in _tensors(model)):
        if any(e.key == "location" for t in _tensors(model) for e in t.external_data):
            assert may_reference_external_data(path), edits


# -- pickled weights ---------------------------------------------------------------------------


class NeverLoader(ModelLoader):
    id, title, layout = "never", "Nothing", "a file nobody has"

    def detect(self, folder):
        return False


def torch_zip(path: Path) -> None:
    """What torch.save writes: a zip whose data.pkl is the pickle (built without torch)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"weight": [1.0, 2.0]}, protocol=2))
        archive.writestr("archive/version", "3\n")


def refused_folder(folder: Path, *words: str) -> str:
    with pytest.raises(ModelError) as caught:
        find_loader(folder, [NeverLoader()])
    message = str(caught.value)
    for word in words:
        assert word in message, message
    return message


def test_a_transformers_repo_with_pytorch_model_bin_says_how_to_export(tmp_path):
    repo = tmp_path / "gpt2"
    repo.mkdir()
    (repo / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    torch_zip(repo / "pytorch_model.bin")

    message = refused_folder(
        repo, "pickled PyTorch weights (pytorch_model.bin)", "never loads pickled weights", "can run any code",
        "almost always published with .safetensors weights", f"studio models import {repo}",
    )
    assert "optimum" not in message


def test_a_diffusers_repo_says_text_to_image(tmp_path):
    repo = tmp_path / "sd"
    (repo / "unet").mkdir(parents=True)
    (repo / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    (repo / "unet" / "diffusion_pytorch_model.bin").write_bytes(pickle.dumps({"w": 1}, protocol=4))

    refused_folder(repo, "unet/diffusion_pytorch_model.bin", "a diffusers pipeline", f"studio models import {repo}")


@pytest.mark.parametrize("name", ["model.pt", "weights.pth", "last.ckpt", "model.pkl", "state.pickle"])
def test_a_bare_checkpoint_says_import_its_safetensors_release_or_torch_onnx_export(tmp_path, name):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / name).write_bytes(b"\x80\x04K\x01.")
    message = refused_folder(tmp_path / "ckpt", name, "never loads pickled weights", "its .safetensors release",
                             "studio models import FILE.safetensors", "torch.onnx.export")
    assert "optimum" not in message


def test_safetensors_only_is_not_pickle_but_not_onnx_either(tmp_path):
    repo = tmp_path / "st"
    repo.mkdir()
    (repo / "config.json").write_text("{}")
    (repo / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}              ")
    message = refused_folder(repo, "safetensors weights (model.safetensors)", "cannot run code", "not an ONNX model",
                             f"Import it instead: studio models import {repo} (or File > Import model…) converts it to ONNX")
    assert "pickled" not in message


def test_onnx_external_data_named_bin_is_not_pickled_weights(tmp_path):
    # Exporters call external data weights.bin or model.onnx_data; a .bin the .onnx names is ONNX.
    path, data = hostile(tmp_path, "weights.bin")
    (path.parent / "weights.bin").write_bytes(b"\x80\x02" + data[2:])  # even when its bytes look like a pickle
    assert find_unusable_weights(path.parent).pickled == []
    assert unusable_weights_message(path.parent) is None
    refused_folder(path.parent, "no installed plugin understands", "a file nobody has")


def test_a_bin_nobody_references_counts_only_when_it_is_a_pickle(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "noise.bin").write_bytes(bytes(range(256)))
    assert unusable_weights_message(folder) is None
    torch_zip(folder / "model.bin")
    assert [p.name for p in find_unusable_weights(folder).pickled] == ["model.bin"]


def test_nothing_is_unpickled_while_looking(tmp_path):
    # A pickle that would create a file if it were ever loaded.
    class Plant:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "pytorch_model.bin").write_bytes(pickle.dumps(Plant(), protocol=2))
    torch_zip(tmp_path / "evil" / "model.pt")

    refused_folder(tmp_path / "evil", "pickled")
    assert not (tmp_path / "pwned").exists()


# -- nothing in a project or model folder is ever executed ----------------------------------

#: Build-time code (torch, training) that never runs in the app.
BUILD_TIME = {"recipe.py"}
UNSAFE_CALLS = {
    "pickle.load", "pickle.loads", "pickle.Unpickler", "cPickle.load", "cPickle.loads", "dill.load", "dill.loads",
    "joblib.load", "torch.load", "marshal.load", "marshal.loads", "shelve.open", "yaml.load", "yaml.unsafe_load",
    "importlib.util.spec_from_file_location", "importlib.machinery.SourceFileLoader", "runpy.run_path",
    "runpy.run_module", "imp.load_source", "ctypes.CDLL", "ctypes.cdll.LoadLibrary",
}
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}
#: What renders a template outside jinja2's sandbox. jinja2's syntax tree (``nodes``), its
#: compiler and its exceptions render nothing by themselves: a sandbox may be built from them.
JINJA_RENDERERS = {"Template", "Environment", "NativeEnvironment", "NativeTemplate", "*"}
JINJA_RENDERING_MODULES = {"jinja2.environment", "jinja2.nativetypes"}


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


def unsafe_code(root: Path) -> list[str]:
    """Every place in the run-time code of ``root`` that could execute what a file contains."""
    found = []
    files = [p for folder in ("studio", "plugins") for p in sorted((root / folder).rglob("*.py")) if p.name not in BUILD_TIME]
    assert files, root
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        aliases: dict[str, str] = {}  # `from pickle import loads as l` -> {"l": "pickle.loads"}
        jinja_sandboxed = False
        where = lambda node: f"{path.relative_to(root)}:{node.lineno}"  # noqa: E731
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                for name in node.names:
                    aliases[name.asname or name.name] = f"{node.module}.{name.name}"
                if node.module == "jinja2.sandbox":
                    jinja_sandboxed = True
                elif node.module.split(".")[0] == "jinja2" and (
                    node.module in JINJA_RENDERING_MODULES or any(a.name in JINJA_RENDERERS for a in node.names)
                ):
                    found.append(f"{where(node)}: jinja2 used without its sandbox (from {node.module} import ...)")
            elif isinstance(node, ast.Import):
                for name in node.names:
                    if name.name == "jinja2":
                        found.append(f"{where(node)}: jinja2 imported whole (use jinja2.sandbox)")
                    aliases[name.asname or name.name] = name.name
            elif isinstance(node, ast.Call):
                name = dotted(node.func)
                head, _, rest = name.partition(".")
                full = aliases.get(head, head) + (f".{rest}" if rest else "")
                if full in UNSAFE_CALLS or (name in UNSAFE_BUILTINS and name not in aliases) or full in {f"builtins.{b}" for b in UNSAFE_BUILTINS}:
                    found.append(f"{where(node)}: {full}(")
                if full in ("numpy.load", "np.load"):
                    for keyword in node.keywords:
                        if keyword.arg == "allow_pickle" and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                            found.append(f"{where(node)}: {full}(allow_pickle=...)")
                if full == "importlib.import_module" and node.args and not isinstance(node.args[0], ast.Constant):
                    found.append(f"{where(node)}: importlib.import_module of a computed name")
                if name.endswith(".from_string") and not jinja_sandboxed and "jinja" in path.read_text(encoding="utf-8"):
                    found.append(f"{where(node)}: a template rendered outside jinja2.sandbox")
            elif isinstance(node, ast.keyword) and node.arg == "trust_remote_code":
                found.append(f"{where(node)}: trust_remote_code=")
            elif isinstance(node, ast.Constant) and node.value == "trust_remote_code":
                found.append(f"{where(node)}: 'trust_remote_code'")
    return found


def test_run_time_code_never_executes_what_a_file_contains():
    assert unsafe_code(ROOT) == []


def test_chat_templates_are_rendered_only_in_jinja_sandbox():
    """The tokenizer renders through chat_template.py, whose one environment is a subclass of
    jinja2's immutable sandbox."""
    tokenizer = ast.parse((ROOT / "plugins" / "text_lm" / "tokenizer.py").read_text(encoding="utf-8"))
    calls = [dotted(n.func) for n in ast.walk(tokenizer) if isinstance(n, ast.Call)]
    assert "render_chat_template" in calls
    assert not [c for c in calls if "Environment" in c or "Sandbox" in c or c.endswith("from_string")]

    tree = ast.parse((ROOT / "plugins" / "text_lm" / "chat_template.py").read_text(encoding="utf-8"))
    imported = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert ("jinja2.sandbox", "ImmutableSandboxedEnvironment") in imported
    sandboxes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and "ImmutableSandboxedEnvironment" in [dotted(b) for b in n.bases]}
    made = [dotted(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call) and ("Environment" in dotted(n.func) or dotted(n.func) in sandboxes)]
    assert made and set(made) <= sandboxes, made


def test_a_hostile_chat_template_cannot_reach_python(tmp_path):
    """The sandbox at work: a template that climbs to Python's classes is stopped."""
    from plugins.text_lm.layout import LMModel
    from plugins.text_lm.tokenizer import LMTokenizer

    folder = tmp_path / "lm"
    shutil.copytree(ROOT / "tests" / "fixtures" / "lm" / "models" / "gpt2", folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    tokenizer = LMTokenizer(LMModel.read(folder))

    with pytest.raises(ModelError, match="chat template"):
        tokenizer.chat_prompt([{"role": "user", "content": "hi"}])


@pytest.mark.parametrize(
    "planted",
    [
        "import pickle\nstate = pickle.load(open(path, 'rb'))\n",
        "from pickle import loads as unpack\nstate = unpack(blob)\n",
        "import torch\nstate = torch.load(path)\n",
        "import numpy as np\narrays = np.load(path, allow_pickle=True)\n",
        "value = eval(config['expression'])\n",
        "exec(open(path).read())\n",
        "model = AutoModel.from_pretrained(path, trust_remote_code=True)\n",
        "import importlib.util\nspec = importlib.util.spec_from_file_location('m', folder / 'modeling.py')\n",
        "import importlib\nmodule = importlib.import_module(config['module'])\n",
        "from jinja2 import Template\ntext = Template(config['chat_template']).render()\n",
        "import yaml\nconfig = yaml.load(stream)\n",
    ],
    ids=["pickle.load", "aliased-loads", "torch.load", "np.load-allow_pickle", "eval", "exec", "trust_remote_code",
         "spec_from_file_location", "import_module", "jinja2.Template", "yaml.load"],
)
def test_the_scan_finds_a_planted_example(tmp_path, planted):
    """The scan above could not fail unless it finds each of these in a copy of the code."""
    copy = tmp_path / "tree"
    for folder in ("studio", "plugins"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "plugins" / "text_lm" / "layout.py"
    target.write_text(target.read_text(encoding="utf-8") + "\n\ndef planted(path, blob, config, folder, stream):\n" + "".join(f"    {line}\n" for line in planted.splitlines()))

    found = unsafe_code(copy)

    assert len(found) >= 1 and all("plugins/text_lm/layout.py" in line for line in found), found
