"""MusicGen folders as the public ONNX exports ship them (optimum's text-to-audio export)::

    config.json  generation_config.json  tokenizer.json
    onnx/text_encoder.onnx  onnx/decoder_model_merged.onnx  onnx/encodec_decode.onnx
    onnx/build_delay_pattern_mask.onnx  shipped, not needed: the pattern is built in numpy
    onnx/encodec_encode.onnx            optional: continuing an audio prompt

``optimum-cli export onnx --task text-to-audio`` writes the same files at the folder's root
(without a merged decoder on optimum-onnx >= 0.1: merge it, see tests/fixtures/musicgen/
build_models.py): the ONNX files are looked for under ``onnx/`` first, then at the root.
Reading a folder looks at file names and JSON only; the ONNX files are opened when a job runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import studio
from studio.core.models import read_json

ONNX_PARTS = {
    "text_encoder.onnx": "the T5 text encoder",
    "decoder_model_merged.onnx": "the decoder (with use_cache_branch)",
    "encodec_decode.onnx": "the EnCodec audio decoder",
}
#: Shipped by the public exports and recognised, but not needed: the delay pattern is built in
#: numpy (delay.py), since optimum's export fixes that graph's sequence length at 16.
DELAY_PART = "build_delay_pattern_mask.onnx"
ENCODE_PART = "encodec_encode.onnx"
LAYOUT = (
    "a MusicGen ONNX folder: config.json, generation_config.json, tokenizer.json and "
    "onnx/text_encoder.onnx, onnx/decoder_model_merged.onnx, onnx/encodec_decode.onnx "
    "(build_delay_pattern_mask.onnx, as the public exports ship it, may be there too)"
)


def onnx_place(folder: Path) -> Path:
    """Where the ONNX files are: ``onnx/`` (the public repos), else the root (optimum-cli's output)."""
    if (folder / "onnx").is_dir() or not any((folder / name).is_file() for name in (*ONNX_PARTS, DELAY_PART)):
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


def _int(section: dict[str, Any], key: str, where: str) -> int:
    value = section.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise studio.ModelError(f"config.json has no whole number {where}.{key}; is this a MusicGen config?")
    return value


@dataclass
class MusicGenModel:
    folder: Path
    config: dict[str, Any]
    generation: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path) -> "MusicGenModel":
        folder = Path(folder)
        place = onnx_place(folder)
        prefix = "onnx/" if place != folder else ""
        missing = [f"{prefix}{name} ({what})" for name, what in ONNX_PARTS.items() if not (place / name).is_file()]
        missing += [name for name in ("config.json", "tokenizer.json") if not (folder / name).is_file()]
        if missing:
            raise studio.ModelError(f"the MusicGen folder {folder} lacks {', '.join(missing)}. It should contain {LAYOUT.split(': ', 1)[1]}")
        config = read_json(folder / "config.json", "config.json")
        generation = read_json(folder / "generation_config.json", "generation_config.json", required=False)
        model = cls(folder, config, generation)
        model.check()
        return model

    def check(self) -> None:
        """Every number the pipeline needs is there and makes sense, or a ``ModelError`` says which."""
        for key in ("decoder", "audio_encoder", "text_encoder"):
            if not isinstance(self.config.get(key), dict):
                raise studio.ModelError(f"config.json in {self.folder} has no {key!r} section; is this a MusicGen config?")
        if self.audio_channels != 1:
            raise studio.ModelError(f"{self.folder.name} is a stereo MusicGen model; Studio plays mono MusicGen models only for now")
        ratios = self.config["audio_encoder"].get("upsampling_ratios")
        if not isinstance(ratios, list) or not ratios or not all(isinstance(r, int) and r > 0 for r in ratios):
            raise studio.ModelError("config.json has no audio_encoder.upsampling_ratios (a list of whole numbers)")
        for value in (self.num_codebooks, self.codebook_size, self.sampling_rate):
            if value <= 0:
                raise studio.ModelError("config.json gives MusicGen a zero or negative size")
        _ = self.pad_token_id, self.start_token_id

    # -- the numbers the pipeline uses ---------------------------------------------------------

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
        return _int(self.decoder, "num_codebooks", "decoder")

    @property
    def codebook_size(self) -> int:
        return _int(self.decoder, "vocab_size", "decoder")

    @property
    def audio_channels(self) -> int:
        value = self.decoder.get("audio_channels", 1)
        return value if isinstance(value, int) else 1

    @property
    def pad_token_id(self) -> int:
        value = self.generation.get("pad_token_id", self.decoder.get("pad_token_id"))
        return value if isinstance(value, int) else _int(self.decoder, "pad_token_id", "decoder")

    @property
    def start_token_id(self) -> int:
        for source in (self.generation, self.decoder):
            for key in ("decoder_start_token_id", "bos_token_id"):
                if isinstance(source.get(key), int):
                    return source[key]
        return self.pad_token_id

    @property
    def sampling_rate(self) -> int:
        return _int(self.config["audio_encoder"], "sampling_rate", "audio_encoder")

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
