"""What a latent generator's folder holds: read from its ``studio-latent.json``, or recognised
from its graphs' inputs and outputs when it has none.

Three shapes of model, each a folder of ONNX graphs:

- ``gan`` (DCGAN, BigGAN and the like): ``generator.onnx`` (or a ``model.onnx`` whose graph has
  that shape): a latent z, ``[batch, size]`` or DCGAN's ``[batch, size, 1, 1]``; optionally a
  class (an ``int64`` index ``[batch]`` or a one-hot ``[batch, classes]``) and a truncation
  value; a picture out.
- ``stylegan``: ``mapping.onnx`` (z -> w) and ``synthesis.onnx`` (w, once or once per layer
  ``[batch, layers, size]``, -> picture); optionally ``w_avg.npy``, the average w, else Studio
  works it out from sampled latents.
- ``vae``: ``decoder.onnx`` (z -> picture) and optionally ``encoder.onnx`` (picture -> the
  latent's mean first, its log-variance after, if it says).

Pictures come out ``[batch, channels, height, width]`` (channels 1, 3 or 4) or channels last,
with values in ``output_range`` (-1..1 for a GAN ending in tanh; 0..1 for a sigmoid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import studio
from studio.core.engine.latent_values import MAX_LATENT_SIZE
from studio.core.models.graph_io import GraphSignature, TensorSpec, graph_signature
from studio.core.models.limits import bounded_int
from studio.core.models.loaders import read_json

MANIFEST = "studio-latent.json"
KINDS = ("gan", "stylegan", "vae")
DEFAULT_FILES = {
    "gan": {"generator": "generator.onnx"},
    "stylegan": {"mapping": "mapping.onnx", "synthesis": "synthesis.onnx", "w_avg": "w_avg.npy"},
    "vae": {"decoder": "decoder.onnx", "encoder": "encoder.onnx"},
}
OPTIONAL_FILES = {"w_avg", "encoder"}
DEFAULT_RANGE = {"gan": (-1.0, 1.0), "stylegan": (-1.0, 1.0), "vae": (0.0, 1.0)}
MAX_SIDE = 4096
MAX_CLASSES = 100_000
EXPECTED = (
    f"a {MANIFEST}, or graphs Studio recognises: generator.onnx (a latent in, a picture out), "
    "mapping.onnx + synthesis.onnx (StyleGAN), or decoder.onnx with an optional encoder.onnx (a VAE)"
)


@dataclass(frozen=True)
class LatentModel:
    """A latent generator's folder, understood: its kind, its graphs and how to feed them."""

    folder: Path
    kind: str
    title: str
    latent_size: int
    files: dict[str, Path]
    latent: TensorSpec  # the graph input the latent goes to (z, or w for StyleGAN's synthesis)
    output: TensorSpec  # the picture the generator, synthesis or decoder makes
    output_range: tuple[float, float] = (-1.0, 1.0)
    image_size: tuple[int, int] | None = None
    class_input: TensorSpec | None = None
    class_names: tuple[str, ...] = ()
    truncation_input: TensorSpec | None = None
    truncation: float | None = None  # the default truncation (psi); None: the model takes none
    noise_inputs: tuple[TensorSpec, ...] = ()  # StyleGAN synthesis' per-layer noise, fed zeros
    background: str = "white"
    description: str = ""
    license: str = ""

    @property
    def classes(self) -> int:
        """How many classes: the names given, else a one-hot input's width (0: not known)."""
        if self.class_names:
            return len(self.class_names)
        one_hot = self.class_input is not None and self.class_input.type == "float" and self.class_input.shape
        return (_static(self.class_input.shape[-1]) or 0) if one_hot else 0


def has_layout(folder: Path) -> bool:
    """Cheap: the files that mark a latent generator's folder (its graphs are read on load)."""
    return (folder / MANIFEST).is_file() or _kind_from_files(folder) is not None


def read_model(folder: Path) -> LatentModel:
    """``folder`` as a ``LatentModel``; a ``ModelError`` saying what was expected otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise studio.ModelError(f"{folder} is not a folder")
    manifest = read_json(folder / MANIFEST, f"the latent generator's description ({MANIFEST})", required=False)
    if manifest:
        return _from_manifest(folder, manifest)
    kind = _kind_from_files(folder)
    if kind is None:
        raise studio.ModelError(f"{folder} is not a latent generator: expected {EXPECTED}")
    return _build(folder, kind, {}, {role: folder / name for role, name in DEFAULT_FILES[kind].items()})


def _kind_from_files(folder: Path) -> str | None:
    if (folder / "mapping.onnx").is_file() and (folder / "synthesis.onnx").is_file():
        return "stylegan"
    if (folder / "decoder.onnx").is_file():
        return "vae"
    if (folder / "generator.onnx").is_file():
        return "gan"
    return None


def _from_manifest(folder: Path, manifest: dict[str, Any]) -> LatentModel:
    where = str(folder / MANIFEST)
    if manifest.get("format") != "studio-latent":
        raise studio.ModelError(f"{where} does not describe a latent generator (its format should be 'studio-latent')")
    kind = manifest.get("kind")
    if kind not in KINDS:
        raise studio.ModelError(f"{where}: kind should be one of {', '.join(KINDS)}, not {kind!r}")
    named = manifest.get("files", {})
    if not isinstance(named, dict) or not all(isinstance(v, str) for v in named.values()):
        raise studio.ModelError(f"{where}: files should map each part to a file name")
    files = {}
    for role, default in DEFAULT_FILES[kind].items():
        files[role] = _inside(folder, named.get(role, default), where)
    return _build(folder, kind, manifest, files)


def _inside(folder: Path, name: str, where: str) -> Path:
    path = Path(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or not name.strip():
        raise studio.ModelError(f"{where}: {name!r} is not a file name inside the model's folder")
    return folder / path


def _build(folder: Path, kind: str, manifest: dict[str, Any], files: dict[str, Path]) -> LatentModel:
    where = str(folder / MANIFEST) if manifest else str(folder)
    for role, path in files.items():
        if role not in OPTIONAL_FILES and not path.is_file():
            raise studio.ModelError(f"{folder} is a {kind} model without its {role} graph: {path.name} is missing")
    files = {role: path for role, path in files.items() if path.is_file()}
    main = files["generator" if kind == "gan" else "synthesis" if kind == "stylegan" else "decoder"]
    signature = graph_signature(main)
    first = files["mapping"] if kind == "stylegan" else main  # the graph that takes z
    latent, class_input, truncation_input = _inputs(graph_signature(first) if first != main else signature, first.name)
    output = _picture_output(signature, main.name)
    stated = manifest.get("latent_size")
    graph_size = _latent_size(latent)
    if stated is not None:
        stated = bounded_int(manifest, "latent_size", 1, MAX_LATENT_SIZE, where)
        if graph_size is not None and graph_size != stated:
            raise studio.ModelError(
                f"{where} says the latent has {stated} numbers, but {first.name} takes {graph_size} "
                f"(its input {latent.described()}): the description or the graph is wrong"
            )
    size = stated or graph_size
    if size is None:
        raise studio.ModelError(f"{folder}: the latent's size is not in the graph ({latent.described()}); state it as latent_size in {MANIFEST}")
    w_input, noise = None, ()
    if kind == "stylegan":
        w_input = _first_float(signature, main.name, "a w input")
        noise = _noise_inputs(signature, w_input, main.name)
        w_size = _static(w_input.shape[-1]) if w_input.shape else None
        if w_size is None:
            raise studio.ModelError(f"{main}: the size of w is not in the graph ({w_input.described()})")
        size_w = w_size
    else:
        size_w = size
    class_names = _class_names(manifest, where, class_input)
    truncation = _truncation(manifest, where, kind, truncation_input)
    return LatentModel(
        folder=folder, kind=kind, title=_text(manifest, "title", folder.name, where),
        latent_size=size if kind != "stylegan" else size_w, files=files,
        latent=latent if kind != "stylegan" else w_input, output=output,
        output_range=_range(manifest, where, kind), image_size=_image_size(manifest, where, output),
        class_input=class_input, class_names=class_names, truncation_input=truncation_input, truncation=truncation, noise_inputs=noise,
        background=_text(manifest, "background", "white", where), description=_text(manifest, "description", "", where),
        license=_text(manifest, "license", "", where),
    )


def z_size(model: LatentModel) -> int:
    """The size of z: the latent itself, or for StyleGAN the mapping's input."""
    if model.kind != "stylegan":
        return model.latent_size
    mapping = graph_signature(model.files["mapping"])
    return _latent_size(_inputs(mapping, model.files["mapping"].name)[0]) or 0


def _inputs(signature: GraphSignature, name: str) -> tuple[TensorSpec, TensorSpec | None, TensorSpec | None]:
    """The latent input (the first float input of rank 2, or rank 4 with 1 x 1 last), the class
    input (int64, or a second float of rank 2) and a truncation input (a float scalar)."""
    latent = class_input = truncation = None
    for spec in signature.inputs:
        rank = len(spec.shape) if spec.shape is not None else -1
        if spec.type in ("int64", "int32") and class_input is None:
            class_input = spec
        elif spec.type == "float" and rank in (0, 1) and truncation is None:
            truncation = spec
        elif spec.type == "float" and latent is None and (rank == 2 or (rank == 4 and all(_static(d) == 1 for d in spec.shape[2:]))):
            latent = spec
        elif spec.type == "float" and rank == 2 and class_input is None:
            class_input = spec
        else:
            raise studio.ModelError(f"{name} takes an input Studio cannot give a latent generator: {spec.described()}; expected {EXPECTED}")
    if latent is None:
        inputs = ", ".join(spec.described() for spec in signature.inputs) or "none"
        raise studio.ModelError(f"{name} has no latent input (a float [batch, size] or [batch, size, 1, 1]); its inputs: {inputs}")
    return latent, class_input, truncation


def _noise_inputs(signature: GraphSignature, w_input: TensorSpec, name: str) -> tuple[TensorSpec, ...]:
    """A synthesis graph's other inputs: per-layer noise (StyleGAN's noise_mode 'none' feeds them
    zeros), each of a size the graph states (the batch aside)."""
    noise = tuple(spec for spec in signature.inputs if spec is not w_input)
    for spec in noise:
        if spec.type != "float" or not spec.shape or not all(_static(d) for d in spec.shape[1:]):
            raise studio.ModelError(f"{name} takes an input Studio cannot give a StyleGAN's synthesis: {spec.described()}; "
                                    "expected w and, at most, noise of fixed sizes")
    return noise


def _first_float(signature: GraphSignature, name: str, what: str) -> TensorSpec:
    for spec in signature.inputs:
        if spec.type == "float" and spec.shape is not None and len(spec.shape) in (2, 3):
            return spec
    inputs = ", ".join(spec.described() for spec in signature.inputs) or "none"
    raise studio.ModelError(f"{name} has no {what} (float [batch, size] or [batch, layers, size]); its inputs: {inputs}")


def _picture_output(signature: GraphSignature, name: str) -> TensorSpec:
    output = signature.outputs[0] if signature.outputs else None
    if output is None or output.shape is None or len(output.shape) != 4 or output.type not in ("float", "float16", "double"):
        found = output.described() if output else "no output"
        raise studio.ModelError(
            f"{name} does not make a picture: its output is {found}; a latent generator's output must be "
            "a picture, [batch, channels, height, width] with 1, 3 or 4 channels"
        )
    if _channels_at(output.shape) is None and all(isinstance(d, int) for d in output.shape[1:]):
        raise studio.ModelError(f"{name}'s output {output.described()} is not a picture with 1, 3 or 4 channels")
    return output


def _channels_at(shape: tuple) -> int | None:
    """The axis holding the colour channels: 1 (channels first), 3 (last), None when unclear."""
    if _static(shape[1]) in (1, 3, 4):
        return 1
    if _static(shape[3]) in (1, 3, 4):
        return 3
    return None


def _latent_size(spec: TensorSpec) -> int | None:
    return _static(spec.shape[1]) if spec.shape and len(spec.shape) >= 2 else None


def _static(dim: Any) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def _range(manifest: dict, where: str, kind: str) -> tuple[float, float]:
    value = manifest.get("output_range", DEFAULT_RANGE[kind])
    if (not isinstance(value, (list, tuple)) or len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            or not all(math.isfinite(v) for v in value) or value[0] >= value[1]):
        raise studio.ModelError(f"{where}: output_range should be two numbers, low then high (like [-1, 1]), not {value!r}")
    return float(value[0]), float(value[1])


def _image_size(manifest: dict, where: str, output: TensorSpec) -> tuple[int, int] | None:
    value = manifest.get("image_size")
    if value is not None:
        if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIDE for v in value):
            raise studio.ModelError(f"{where}: image_size should be [height, width], each 1 to {MAX_SIDE}, not {value!r}")
        return int(value[0]), int(value[1])
    axis = _channels_at(output.shape)
    dims = output.shape[2:] if axis == 1 else output.shape[1:3]
    height, width = (_static(d) for d in dims)
    if not (height and width):
        return None  # not written in the graph: the first picture says
    if max(height, width) > MAX_SIDE:
        raise studio.ModelError(f"its graph makes {width} × {height} pictures; Studio takes latent generators' pictures up to {MAX_SIDE} a side")
    return height, width


def _class_names(manifest: dict, where: str, class_input: TensorSpec | None) -> tuple[str, ...]:
    names = manifest.get("class_names", [])
    if not isinstance(names, list) or len(names) > MAX_CLASSES or not all(isinstance(n, str) and n.strip() for n in names):
        raise studio.ModelError(f"{where}: class_names should be a list of names (up to {MAX_CLASSES:,})")
    if names and class_input is None:
        raise studio.ModelError(f"{where} names classes, but the graph takes no class input")
    if class_input is not None and class_input.type == "float":
        count = _static(class_input.shape[-1])
        if names and count and count != len(names):
            raise studio.ModelError(f"{where} names {len(names)} classes, but the graph's class input {class_input.described()} has {count}")
    if len(set(names)) != len(names):
        raise studio.ModelError(f"{where}: class_names holds the same name twice")
    return tuple(names)


def _truncation(manifest: dict, where: str, kind: str, truncation_input: TensorSpec | None) -> float | None:
    value = manifest.get("truncation")
    if value is None:
        return 1.0 if kind == "stylegan" or truncation_input is not None else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 2.0:
        raise studio.ModelError(f"{where}: truncation should be a number from 0 to 2 (1: none), not {value!r}")
    return float(value)


def _text(manifest: dict, key: str, default: str, where: str) -> str:
    value = manifest.get(key, default)
    if not isinstance(value, str):
        raise studio.ModelError(f"{where}: {key} should be text, not {type(value).__name__}")
    return value[:500]
