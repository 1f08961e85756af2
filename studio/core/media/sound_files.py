"""Reading, encoding and writing sound files, and resampling between rates.

- ``read_audio(path, sample_rate=None)``: WAV, FLAC or OGG (anything libsndfile reads) as an
  ``Audio`` of float32 (frames, 1 or 2 channels), resampled to ``sample_rate`` when given.
- ``write_audio(path, samples, sample_rate)``: ``.wav`` as 32-bit float (lossless for the
  mix), ``.flac`` as 24-bit PCM; atomically, so a failed export never costs the file that was
  at that path.
- ``encode_sound(samples, sample_rate, suffix, path, ...)``: the bytes of a ``.wav``, ``.flac``
  or ``.ogg`` file (``AUDIO_FORMATS``): the one encoder for generated results and exported mixes.
- ``resample(samples, from_rate, to_rate)``: python-soxr (libsoxr, "HQ"), not a hand-written
  filter.

Every failure a person can meet (missing file, not audio, truncated, too many channels, a rate
outside 8 kHz .. 384 kHz, no frames, an export path that cannot be written) is an
``AudioFileError`` whose message names the file and says what is wrong.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.base.atomic_write import write_atomically
from studio.core.base.input_files import open_input
from studio.core.base.memory import ensure_memory
from studio.core.media.sound import Audio
from studio.errors import OutputError, StudioError

MIN_RATE = 8_000
MAX_RATE = 384_000
MAX_CHANNELS = 2
#: What a mix exports as (encoded by ``AUDIO_FORMATS`` below: float WAV, 24-bit FLAC).
EXPORT_SUFFIXES = (".wav", ".flac")
#: What libsndfile writes in its log when a file ends before its header says it should.
_TRUNCATION_HINTS = re.compile(r"\(should be \d+\)|lacks an end-of-stream|Junk after the last page")


class AudioFileError(StudioError):
    """A sound file that cannot be read or written, with the reason in plain words."""


# -- reading ---------------------------------------------------------------------------------


def read_audio(path: str | os.PathLike[str], sample_rate: int | None = None) -> Audio:
    """The file's samples as float32 (frames, channels), at ``sample_rate`` when given."""
    import soundfile

    path = Path(path).expanduser()
    try:
        with open_input(path, "sound file", error=AudioFileError) as opened, soundfile.SoundFile(opened) as file:
            rate, channels, declared = int(file.samplerate), int(file.channels), int(file.frames)
            _check_shape(path, rate, channels, declared)
            # float32 samples, and a resampled copy: refused before reading, not killed midway.
            ensure_memory(declared * channels * 4 * 2, f"reading {path}")
            samples = file.read(dtype="float32", always_2d=True)
            log = file.extra_info
    except soundfile.LibsndfileError as exc:
        detail = str(exc.error_string or exc).strip().rstrip(".")
        if "not recognised" in detail.lower() or "unknown format" in detail.lower():
            raise AudioFileError(f"cannot open {path}: it is not a sound file Studio can read (WAV, FLAC or OGG)") from None
        raise AudioFileError(f"cannot read {path}: the file is damaged or truncated ({detail})") from None
    except (RuntimeError, OSError) as exc:  # soundfile's other errors, or the OS refusing to read
        raise AudioFileError(f"cannot read {path}: {exc}") from None
    # A cut-off WAV or OGG opens fine: libsndfile shortens it and only says so in its log.
    log = "\n".join(line for line in (log or "").splitlines() if not line.startswith("File :"))  # not the path
    if samples.shape[0] < declared or _TRUNCATION_HINTS.search(log):
        raise AudioFileError(f"cannot read {path}: the file is truncated (it ends before its header says it should)")
    if samples.shape[0] == 0:
        raise AudioFileError(f"{path} holds no audio (zero frames)")
    if not np.isfinite(samples).all():
        raise AudioFileError(f"cannot read {path}: it contains invalid samples (NaN or infinite values)")
    if sample_rate is not None and int(sample_rate) != rate:
        samples = resample(samples, rate, int(sample_rate))
        rate = int(sample_rate)
    return Audio(samples, rate)


def _check_shape(path: Path, rate: int, channels: int, frames: int) -> None:
    if channels > MAX_CHANNELS:
        raise AudioFileError(f"{path} has {channels} channels; the timeline takes mono or stereo")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioFileError(f"{path} is sampled at {rate} Hz; Studio reads audio from 8 kHz to 384 kHz")
    if frames == 0:
        raise AudioFileError(f"{path} holds no audio (zero frames)")


# -- resampling ------------------------------------------------------------------------------


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """float32 (frames, channels) at ``to_rate``: libsoxr's high-quality band-limited resampler.

    The length is ``frames * to_rate / from_rate`` rounded, as libsoxr produces it.
    """
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive (got {from_rate} -> {to_rate})")
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.ndim != 2:
        raise ValueError(f"samples are (frames, channels), not shape {samples.shape}")
    if from_rate == to_rate or samples.shape[0] == 0:
        return np.array(samples, dtype=np.float32, order="C")
    import soxr

    out = soxr.resample(np.ascontiguousarray(samples), from_rate, to_rate, quality="HQ")
    return np.ascontiguousarray(out, dtype=np.float32).reshape(-1, samples.shape[1])


# -- writing ---------------------------------------------------------------------------------


def write_audio(path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int) -> Path:
    """Write float samples (frames,) or (frames, 1|2) to ``.wav`` (float32) or ``.flac`` (24-bit).

    The file is written beside the target under a temporary name and renamed over it, so a
    failure (no such folder, no permission, disk full) leaves whatever was there untouched.
    """
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise AudioFileError(f"cannot write {path}: export as .wav or .flac")
    if path.is_dir():
        raise AudioFileError(f"cannot write {path}: it is a folder")
    shape = np.shape(samples)
    if len(shape) == 2 and shape[1] > MAX_CHANNELS:
        raise AudioFileError(f"cannot write {path}: audio must be mono or stereo (frames, 1 or 2), not shape {shape}")
    if not MIN_RATE <= int(sample_rate) <= MAX_RATE:
        raise AudioFileError(f"cannot write {path}: {sample_rate} Hz is outside 8 kHz .. 384 kHz")
    try:
        write_atomically(path, encode_sound(samples, int(sample_rate), suffix, path))
    except OutputError as exc:
        raise AudioFileError(str(exc)) from None
    return path


AUDIO_FORMATS = {".wav": ("WAV", "FLOAT"), ".flac": ("FLAC", "PCM_24"), ".ogg": ("OGG", "VORBIS")}


def encode_sound(samples: Any, sample_rate: int, suffix: str, path: Path, comment: str = "", title: str = "") -> bytes:
    """Float samples as the bytes of a ``suffix`` sound file (``AUDIO_FORMATS``); the one
    encoder for generated results and exported mixes. Integer formats clip, never wrap."""
    import soundfile

    samples = _audio_array(samples, path)
    if sample_rate <= 0:
        raise OutputError(f"cannot write {path}: the audio has no sample rate")
    fmt, subtype = AUDIO_FORMATS[suffix]
    if subtype.startswith("PCM"):
        samples = np.clip(samples, -1.0, 1.0)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    buffer = io.BytesIO()
    try:
        with soundfile.SoundFile(buffer, "w", samplerate=int(sample_rate), channels=channels, format=fmt, subtype=subtype) as file:
            file.software = "Studio"
            if comment:
                file.comment = comment
            if title:
                file.title = title
            file.write(samples)
    except (RuntimeError, ValueError, TypeError) as exc:  # soundfile's own errors
        raise OutputError(f"cannot write {path}: {exc}") from None
    return buffer.getvalue()


def _audio_array(value: Any, path: Path) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        got = f"{value.dtype} array" if isinstance(value, np.ndarray) else type(value).__name__
        raise OutputError(f"cannot write {path}: the audio is not floating-point samples (got {got})")
    if value.ndim not in (1, 2) or (value.ndim == 2 and not 1 <= value.shape[1] <= 64):
        raise OutputError(f"cannot write {path}: audio must be (frames,) or (frames, channels), not shape {value.shape}")
    if value.shape[0] == 0:
        raise OutputError(f"cannot write {path}: there is no audio to write (zero frames)")
    if not np.isfinite(value).all():
        raise OutputError(f"cannot write {path}: the audio contains invalid samples (NaN or infinite values)")
    return np.ascontiguousarray(value, dtype=np.float32)
