"""Which ONNX files run for each variant of a MusicGen folder.

A folder holds one or more variants of the weights, named as the public exports name them
(Xenova/musicgen-small: ``decoder_model_merged_q4.onnx``, ``text_encoder_fp16.onnx``...), and
its decoder comes in one of two shapes:

- merged (the public exports): ``decoder_model_merged.onnx`` runs every step, its
  ``use_cache_branch`` input choosing the first step's graph or the cached one;
- split (``optimum-cli export onnx --task text-to-audio`` today): ``decoder_model.onnx`` runs the
  first step and ``decoder_with_past_model.onnx`` every step after it.

A variant exists when the decoder has it (merged, or both split files); the text encoder and
EnCodec fall back to their fp32 file when they lack it, as the exports ship them (the rule of
``studio.core.models.variants.collect``). When both shapes hold a variant the merged file runs:
one session instead of two. Only file names are read here; sizes (``sized``) read the graphs'
external-data entries, never their weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.core.models.variants import VARIANTS, Variant, collect, variant_files

TEXT_ENCODER, ENCODEC = "text_encoder", "encodec_decode"
MERGED, FIRST, WITH_PAST = "decoder_model_merged", "decoder_model", "decoder_with_past_model"

#: What each part is, in the words a message about a missing file uses.
PARTS = {
    TEXT_ENCODER: "the T5 text encoder",
    MERGED: "the decoder, with use_cache_branch; or decoder_model.onnx and decoder_with_past_model.onnx, as optimum-cli writes them",
    ENCODEC: "the EnCodec audio decoder",
}


@dataclass(frozen=True)
class Graphs:
    """The files one variant runs."""

    variant: str
    text_encoder: Path
    decoder: tuple[Path, ...]  # (merged,) or (first step, every step after)
    encodec_decode: Path

    @property
    def split(self) -> bool:
        return len(self.decoder) == 2


@dataclass(frozen=True)
class FolderGraphs:
    """Every graph file of a folder's ``place`` (``onnx/`` or the root), by part and variant."""

    text_encoder: dict[str, Path]
    merged: dict[str, Path]
    first: dict[str, Path]
    with_past: dict[str, Path]
    encodec: dict[str, Path]

    @classmethod
    def read(cls, place: Path) -> "FolderGraphs":
        return cls(*(variant_files(place, base) for base in (TEXT_ENCODER, MERGED, FIRST, WITH_PAST, ENCODEC)))

    def usable(self) -> dict[str, Graphs]:
        """The variants that run, in ``VARIANTS`` order."""
        found: dict[str, Graphs] = {}
        for name in VARIANTS:
            if name in self.merged:
                decoder: tuple[Path, ...] = (self.merged[name],)
            elif name in self.first and name in self.with_past:
                decoder = (self.first[name], self.with_past[name])
            else:
                continue
            text = self.text_encoder.get(name) or self.text_encoder.get("fp32")
            codec = self.encodec.get(name) or self.encodec.get("fp32")
            if text and codec:
                found[name] = Graphs(name, text, decoder, codec)
        return found

    def missing(self, prefix: str) -> list[str]:
        """What the folder lacks to run any variant, one phrase per part (``prefix``: ``"onnx/"`` or ``""``)."""
        decoders = set(self.merged) | (set(self.first) & set(self.with_past))
        lacks: dict[str, str] = {}
        for base, found in ((TEXT_ENCODER, self.text_encoder), (ENCODEC, self.encodec)):
            if "fp32" not in found and not decoders & set(found):
                lacks[base] = f"{prefix}{base}.onnx ({PARTS[base]})"
        if not decoders:
            lacks[MERGED] = self.decoder_lack(prefix)
        return [lacks[base] for base in PARTS if base in lacks]

    def decoder_lack(self, prefix: str) -> str:
        """What is missing of a decoder when no variant has one."""
        if self.first and not self.with_past:
            return (f"{prefix}{WITH_PAST}.onnx (the decoder's steps after the first: {FIRST}.onnx runs only the first, "
                    "and optimum-cli writes both)")
        if self.with_past and not self.first:
            return (f"{prefix}{FIRST}.onnx (the decoder's first step: {WITH_PAST}.onnx runs only the steps after it, "
                    "and optimum-cli writes both)")
        if self.first and self.with_past:
            return f"a {FIRST} and a {WITH_PAST} of the same variant (there are {names(self.first)} and {names(self.with_past)})"
        return f"{prefix}{MERGED}.onnx ({PARTS[MERGED]})"

    def sized(self, usable: dict[str, Graphs]) -> dict[str, Variant]:
        """``{variant: Variant}`` with the files each runs and their size on disk (external data included)."""
        shared = {TEXT_ENCODER: self.text_encoder, ENCODEC: self.encodec}
        merged = collect({"decoder": self.merged, **shared}, required=("decoder",))
        split = collect({"decoder": self.first, "decoder_with_past": self.with_past, **shared}, required=("decoder", "decoder_with_past"))
        return {name: merged[name] if name in merged else split[name] for name in usable}


def names(found: dict[str, Path]) -> str:
    return ", ".join(path.name for path in found.values())
