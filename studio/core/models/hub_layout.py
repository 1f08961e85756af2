"""Which files of a hub repository make each variant of its model, what kind of model it is,
and whether Studio can run it: read from the file list alone, before a byte is downloaded.

A repository often ships every variant of its graphs side by side (``onnx/model.onnx``,
``model_q4.onnx`` + ``model_q4.onnx_data``, ``model_fp16.onnx``...; encoder-decoder and MusicGen
repos repeat the suffixes per part). A download takes one variant: for each graph of the model
(a folder and a base name: ``onnx/decoder_model_merged``) the file of that variant, or the plain
file where the part has no such variant (the public MusicGen exports quantize the decoder, not
always EnCodec), plus every external-data file that graph's name leads (``model_q4.onnx_data``,
``model_q4.onnx_data_1``, ``model.onnx.data``), plus the small shared files (configs,
tokenizer, the model card). Weights in other formats (safetensors, PyTorch, GGUF) are left out:
Studio runs ONNX. After the download the graphs themselves say which data files they name
(``model_safety.check_model_file``), never this guess.

onnxruntime-genai folders (``genai_config.json``) are one variant each: the folder as it is.
Diffusers repos (``unet/``, ``text_encoder/``...) have one variant: everything ONNX they hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from studio.core.models.variants import SUFFIXES, VARIANTS, genai_variant

#: Weights Studio cannot run (it runs ONNX); a repository's copies of them are never fetched.
FOREIGN_WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack", ".tflite",
                   ".mlmodel", ".ot", ".npz", ".pb.gz", ".onnx.gz", ".zip", ".tar", ".gz")
#: Folders of other runtimes' copies of the model (Core ML, OpenVINO, TF.js...).
FOREIGN_FOLDERS = ("coreml", "openvino", "tfjs", "mlx", "flax", "tf", "rust", "gguf")
#: Files beside the graphs that are configs or tokenizers, not weights.
TEXT_SUFFIXES = (".json", ".txt", ".md", ".jinja", ".model", ".tiktoken", ".yaml", ".yml")
#: A shared file larger than this is not a config: it is someone's weights under another name.
SHARED_MAX = 64 * 1024 * 1024
#: When a folder holds the merged decoder, the two graphs it merges are not needed.
MERGED = "decoder_model_merged"
MERGED_FROM = ("decoder_model", "decoder_with_past_model")
MUSICGEN_PARTS = ("text_encoder", "encodec_decode")


@dataclass(frozen=True)
class RepoFile:
    """One file of a hub repository: its path, size and (for an LFS file) sha256."""

    path: str
    size: int
    sha256: str | None = None
    blob_id: str | None = None  # git's sha1 of a small file kept in git

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""


@dataclass(frozen=True)
class Graph:
    """An ONNX file: which part of which folder it is, and of which variant."""

    file: RepoFile
    base: str  # "model", "decoder_model_merged", "text_encoder"...
    variant: str

    @property
    def part(self) -> tuple[str, str]:
        return (self.file.folder, self.base)


def split_graph_name(name: str) -> tuple[str, str]:
    """``"model_q4f16.onnx"`` -> ``("model", "q4f16")``; ``"encodec_decode.onnx"`` -> ``("encodec_decode", "fp32")``."""
    stem = name[: -len(".onnx")]
    for suffix in sorted((s for s in SUFFIXES if s), key=len, reverse=True):
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)], SUFFIXES[suffix]
    return stem, "fp32"


def is_foreign(path: str) -> bool:
    lowered = path.lower()
    first = lowered.split("/", 1)[0] if "/" in lowered else ""
    return lowered.endswith(FOREIGN_WEIGHTS) or first in FOREIGN_FOLDERS


def data_files(graph: RepoFile, files: list[RepoFile]) -> list[RepoFile]:
    """The external-data files beside ``graph`` that its name leads: ``model_q4.onnx_data``,
    ``model_q4.onnx_data_1``, ``model.onnx.data`` (confirmed from the graph after download)."""
    prefixes = (graph.path + "_data", graph.path + ".data")
    return [f for f in files if f.path.startswith(prefixes)]


def genai_folders(files: list[RepoFile]) -> list[str]:
    return sorted({f.folder for f in files if f.name == "genai_config.json" and not is_foreign(f.path)})


class RepoLayout:
    """The variants of one repository's model, and the files each would download."""

    def __init__(self, files: list[RepoFile]) -> None:
        self.files = [f for f in files if not f.name.startswith(".") and not is_foreign(f.path)]
        self.genai = genai_folders(self.files)
        onnx = [f for f in self.files if f.path.endswith(".onnx")]
        self.graphs = [Graph(f, *split_graph_name(f.name)) for f in onnx]
        self.data = {f.path for g in self.graphs for f in data_files(g.file, self.files)}

    def within(self, subfolder: str) -> "RepoLayout":
        """The model in one folder of a repository that holds several builds (Microsoft's genai
        repos: ``cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4``), with the model card and
        the other small files at the repository's root."""
        subfolder = subfolder.strip("/")
        inside = [f for f in self.files if f.path.startswith(subfolder + "/")]
        return RepoLayout(inside + [f for f in self.files if f.folder == "" and f.size <= SHARED_MAX
                                    and not f.path.endswith(".onnx")])

    # -- what the repository holds -----------------------------------------------------------

    @property
    def bases(self) -> set[str]:
        return {g.base for g in self.graphs}

    def variant_names(self) -> list[str]:
        if self.genai:
            return [name for name in VARIANTS if name in self._genai_variants()]
        found = {g.variant for g in self.graphs}
        return [name for name in VARIANTS if name in found]

    def _genai_variants(self) -> dict[str, str]:
        """genai folder per variant name (the first folder of a name wins: CPU folders sort first
        in Microsoft's repos, ``cpu_and_mobile/`` before ``cuda/``)."""
        chosen: dict[str, str] = {}
        for folder in self.genai:
            graphs = [f for f in self.files if f.folder == folder and f.path.endswith(".onnx")]
            name = genai_variant(graphs[0].name if graphs else folder)
            if name == "fp32" and folder:
                name = genai_variant(folder.rsplit("/", 1)[-1] + ".onnx")
            chosen.setdefault(name, folder)
        return chosen

    def shared(self) -> list[RepoFile]:
        """The small files every variant takes: configs, tokenizer, chat template, model card.
        Beside the graphs only text counts: anything else there is some graph's weights."""
        graph_folders = {g.file.folder for g in self.graphs}
        return [f for f in self.files
                if not f.path.endswith(".onnx") and f.path not in self.data and f.size <= SHARED_MAX
                and (f.folder not in graph_folders or f.name.endswith(TEXT_SUFFIXES))
                and ".onnx_data" not in f.name and ".onnx.data" not in f.name  # an absent graph's data
                and not (self.genai and any(f.folder == g or f.path.startswith(g + "/") for g in self.genai if g))]

    def install_prefix(self, variant: str) -> str:
        """The repository folder whose files make the model's root once installed: a genai
        variant's own folder (``cpu_and_mobile/cpu-int4/``), else none."""
        folder = self._genai_variants().get(variant, "") if self.genai else ""
        return f"{folder}/" if folder else ""

    def files_for(self, variant: str) -> list[RepoFile]:
        """Every file a download of ``variant`` fetches, in the repository's order."""
        if self.genai:
            folder = self._genai_variants().get(variant)
            if folder is None:
                return []
            picked = {f.path for f in self.files if f.folder == folder} | {f.path for f in self.shared()}
            return [f for f in self.files if f.path in picked]
        if variant not in {g.variant for g in self.graphs}:
            return []
        parts: dict[tuple[str, str], dict[str, Graph]] = {}
        for graph in self.graphs:
            parts.setdefault(graph.part, {})[graph.variant] = graph
        merged_folders = {folder for (folder, base), found in parts.items()
                          if base == MERGED and (variant in found or "fp32" in found)}
        picked: set[str] = {f.path for f in self.shared()}
        # A folder whose graphs come in one variant only (diffusers' unet/, text_encoder/...) is
        # taken whole: its external data may have any name (unet/weights.pb) and any size.
        variants_in: dict[str, set[str]] = {}
        for graph in self.graphs:
            variants_in.setdefault(graph.file.folder, set()).add(graph.variant)
        whole = {folder for folder, found in variants_in.items() if found == {"fp32"} and folder}
        picked.update(f.path for f in self.files if f.folder in whole)
        for (folder, base), found in parts.items():
            if base in MERGED_FROM and folder in merged_folders:
                continue  # the merged decoder does both of their jobs
            graph = found.get(variant) or found.get("fp32")
            if graph is None:
                continue
            picked.add(graph.file.path)
            picked.update(f.path for f in data_files(graph.file, self.files))
        return [f for f in self.files if f.path in picked]

    def sizes(self) -> dict[str, int]:
        """Bytes each variant downloads, shared files included."""
        return {name: sum(f.size for f in self.files_for(name)) for name in self.variant_names()}

    # -- what Studio makes of it -------------------------------------------------------------

    def kind(self) -> str:
        paths = {f.path for f in self.files}
        bases = self.bases
        if "model_index.json" in paths and any(g.file.folder.endswith("unet") for g in self.graphs):
            return "image"
        if all(part in bases for part in MUSICGEN_PARTS) and (MERGED in bases or "decoder_model" in bases):
            return "audio"
        if self.genai:
            return "text"
        decoder = bases & {"model", MERGED}
        if decoder and "config.json" in paths and "encoder_model" not in bases:
            return "text"
        return ""

    def verdict(self) -> tuple[bool, str]:
        """Whether Studio can run this repository, and one plain sentence saying so or why not."""
        kind = self.kind()
        names = ", ".join(self.variant_names())
        if kind:
            what = {"text": "a language model", "image": "an image model (Stable Diffusion ONNX)",
                    "audio": "a music model (MusicGen)"}[kind]
            return True, f"Studio can run this as {what} (variants: {names or 'one'})"
        if not self.graphs:
            return False, ("it holds no ONNX model: Studio runs ONNX exports (look for an onnx-community copy of it, "
                           "or export it with optimum)")
        if "encoder_model" in self.bases:
            return False, "it is an encoder-decoder model (encoder_model.onnx), which no Studio pipeline runs yet"
        return False, ("its ONNX files are not in a layout Studio reads (a language model needs config.json and "
                       "model.onnx or decoder_model_merged.onnx, MusicGen its text_encoder and encodec_decode, "
                       "Stable Diffusion model_index.json and unet/)")
