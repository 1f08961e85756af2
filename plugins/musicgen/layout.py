"""MusicGen folders as the public ONNX exports ship them (optimum's text-to-audio export)::

    config.json  generation_config.json  tokenizer.json
    onnx/text_encoder.onnx  onnx/decoder_model_merged.onnx  onnx/encodec_decode.onnx
    onnx/build_delay_pattern_mask.onnx  shipped, not needed: the pattern is built in numpy
    onnx/encodec_encode.onnx            optional: continuing an audio prompt

and the variants they ship beside them (``decoder_model_merged_q4.onnx``, ``text_encoder_fp16.onnx``:
graphs.py). ``optimum-cli export onnx --task text-to-audio`` writes the files at the folder's root,
and on optimum-onnx >= 0.1 without a merged decoder: ``decoder_model.onnx`` (the first step) and
``decoder_with_past_model.onnx`` (every step after it) run instead. The ONNX files are looked for
under ``onnx/`` first, then at the root. Reading a folder looks at file names and JSON only; the
ONNX files are opened when a job runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import studio
from studio.core.models.limits import bounded_int
from studio.core.models.loaders import read_json
from studio.core.models.variants import Variant

from .graphs import ENCODEC, FIRST, MERGED, TEXT_ENCODER, WITH_PAST, FolderGraphs, Graphs

#: The files that, at a folder's root, say the ONNX files are there rather than under onnx/.
ROOT_MARKS = tuple(f"{base}.onnx" for base in (TEXT_ENCODER, MERGED, FIRST, WITH_PAST, ENCODEC))
#: Shipped by the public exports and recognised, but not needed: the delay pattern is built in
#: numpy (delay.py), since optimum's export fixes that graph's sequence length at 16.
DELAY_PART = "build_delay_pattern_mask.onnx"
ENCODE_PART = "encodec_encode.onnx"
LAYOUT = (
    "a MusicGen ONNX folder: config.json, generation_config.json, tokenizer.json and "
    "onnx/text_encoder.onnx, onnx/decoder_model_merged.onnx, onnx/encodec_decode.onnx "
    "(or decoder_model.onnx with decoder_with_past_model.onnx instead of the merged decoder, as optimum-cli writes them; "
    "variants such as decoder_model_merged_q4.onnx beside them; build_delay_pattern_mask.onnx, as the public exports ship it, may be there too)"
)


def onnx_place(folder: Path) -> Path:
    """Where the ONNX files are: ``onnx/`` (the public repos), else the root (optimum-cli's output)."""
    if (folder / "onnx").is_dir() or not any((folder / name).is_file() for name in (*ROOT_MARKS, DELAY_PART)):
        return folder / "onnx"
    return folder


def is_musicgen_folder(folder: Path) -> bool:
    """Cheap recognition: the EnCodec or delay-pattern file, or a config that says musicgen.

    Deliberately looser than ``MusicGenModel.read``, so an incomplete MusicGen folder is
    claimed by this loader and gets a message naming what is missing."""
    for place in (folder / "onnx", folder):
        if (place / "encodec_decode.onnx").is_file() or (place / DELAY_PART).is_file():
            return True
    try:
        config = read_json(folder / "config.json", "config.json", required=False)
    except studio.ModelError:
        return False
    return config.get("model_type") == "musicgen"


#: What the pipeline can use of each number in config.json, so that a damaged or hostile file
#: (``num_codebooks: 1e9`` made a 7.45 GiB array) is refused before anything is allocated.
#: Released MusicGen models: 4 or 8 codebooks of 2048 codes, 32 kHz, hop 640, 2048 positions.
LIMITS = {  # key: (lowest, highest, default when absent; None: required)
    "decoder.num_codebooks": (1, 64, None),
    "decoder.vocab_size": (2, 1 << 16, None),
    "decoder.max_position_embeddings": (16, 1 << 16, 2048),
    "decoder.num_hidden_layers": (1, 256, 24),
    "decoder.hidden_size": (1, 1 << 14, 1024),
    "decoder.num_attention_heads": (1, 256, 16),
    "audio_encoder.sampling_rate": (1000, 192_000, None),
    "text_encoder.vocab_size": (1, 1 << 20, 0),
}
MAX_HOP = 4096  # samples per code frame: 640 in every released model


@dataclass
class MusicGenModel:
    folder: Path
    config: dict[str, Any]
    generation: dict[str, Any] = field(default_factory=dict)
    graphs: dict[str, Graphs] = field(default_factory=dict)  # the variants that run, in VARIANTS order
    found: FolderGraphs | None = field(default=None, repr=False)

    @classmethod
    def read(cls, folder: Path) -> "MusicGenModel":
        folder = Path(folder)
        place = onnx_place(folder)
        found = FolderGraphs.read(place)
        graphs = found.usable()
        missing = [] if graphs else found.missing("onnx/" if place != folder else "") or [
            "a text encoder, a decoder and an EnCodec decoder of one variant (or the fp32 ones)"]
        missing += [name for name in ("config.json", "tokenizer.json") if not (folder / name).is_file()]
        if missing:
            raise studio.ModelError(f"the MusicGen folder {folder} lacks {', '.join(missing)}. It should contain {LAYOUT.split(': ', 1)[1]}")
        config = read_json(folder / "config.json", "config.json")
        generation = read_json(folder / "generation_config.json", "generation_config.json", required=False)
        model = cls(folder, config, generation, graphs, found)
        model.check()
        return model

    def graphs_for(self, variant: str | None = None) -> Graphs:
        """The files ``variant`` runs; without one, fp32 when the folder has it, else its first variant."""
        if variant is None:
            return self.graphs.get("fp32") or next(iter(self.graphs.values()))
        if variant not in self.graphs:
            raise studio.ModelError(f"{self.name} has no {variant} variant; it has {', '.join(self.graphs)}")
        return self.graphs[variant]

    @cached_property
    def variants(self) -> dict[str, Variant]:
        """Each variant with its files and their size on disk (read once, when first asked)."""
        return self.found.sized(self.graphs)

    def check(self) -> None:
        """Every number the pipeline needs is there and makes sense, or a ``ModelError`` says which."""
        for key in ("decoder", "audio_encoder", "text_encoder"):
            if not isinstance(self.config.get(key), dict):
                raise studio.ModelError(f"config.json in {self.folder} has no {key!r} section; is this a MusicGen config?")
        if self.audio_channels != 1:
            raise studio.ModelError(f"{self.folder.name} is a stereo MusicGen model; Studio plays mono MusicGen models only for now")
        ratios = self.config["audio_encoder"].get("upsampling_ratios")
        if not isinstance(ratios, list) or not ratios or not all(isinstance(r, int) and not isinstance(r, bool) and r > 0 for r in ratios):
            raise studio.ModelError("config.json has no audio_encoder.upsampling_ratios (a list of whole numbers)")
        if math.prod(ratios) > MAX_HOP:
            raise studio.ModelError(f"config.json: audio_encoder.upsampling_ratios make {math.prod(ratios):,} samples a frame; Studio can use up to {MAX_HOP:,}")
        # Every bounded number is read once here, so a bad one is reported when the folder is added.
        for key in LIMITS:
            self.number(key)
        for token in (self.pad_token_id, self.start_token_id):
            if not 0 <= token <= self.codebook_size:
                raise studio.ModelError(f"config.json: the decoder's start or pad token {token} is not one of its {self.codebook_size} codes")

    # -- the numbers the pipeline uses ---------------------------------------------------------

    def number(self, key: str) -> int:
        """A number of config.json, within what the pipeline can use (``LIMITS``)."""
        low, high, default = LIMITS[key]
        where = str(self.folder / "config.json")
        if default is None:
            return bounded_int(self.config, key, low, high, where)
        return bounded_int(self.config, key, low, high, where, default=default)

    @property
    def name(self) -> str:
        return self.folder.name

    def onnx(self, name: str) -> Path:
        return onnx_place(self.folder) / name

    @property
    def can_encode(self) -> bool:
        return self.onnx(ENCODE_PART).is_file()

    @property
    def decoder(self) -> dict[str, Any]:
        return self.config["decoder"]

    @property
    def num_codebooks(self) -> int:
        return self.number("decoder.num_codebooks")

    @property
    def codebook_size(self) -> int:
        return self.number("decoder.vocab_size")

    @property
    def audio_channels(self) -> int:
        value = self.decoder.get("audio_channels", 1)
        return value if isinstance(value, int) else 1

    @property
    def pad_token_id(self) -> int:
        value = self.generation.get("pad_token_id", self.decoder.get("pad_token_id"))
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise studio.ModelError("config.json has no whole number decoder.pad_token_id; is this a MusicGen config?")

    @property
    def start_token_id(self) -> int:
        for source in (self.generation, self.decoder):
            for key in ("decoder_start_token_id", "bos_token_id"):
                if isinstance(source.get(key), int):
                    return source[key]
        return self.pad_token_id

    @property
    def sampling_rate(self) -> int:
        return self.number("audio_encoder.sampling_rate")

    @property
    def max_positions(self) -> int:
        """The decoder's positions: one a step, so they bound the length of what it makes."""
        return self.number("decoder.max_position_embeddings")

    @property
    def num_layers(self) -> int:
        return self.number("decoder.num_hidden_layers")

    @property
    def hidden_size(self) -> int:
        return self.number("decoder.hidden_size")

    @property
    def hop_length(self) -> int:
        return math.prod(self.config["audio_encoder"]["upsampling_ratios"])

    @property
    def frame_rate(self) -> int:
        """Code frames per second of audio, as EnCodecConfig.frame_rate computes it."""
        return math.ceil(self.sampling_rate / self.hop_length)

    def default(self, key: str, fallback: Any, kind: type) -> Any:
        value = self.generation.get(key)
        return kind(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else fallback
