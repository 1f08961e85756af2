"""Writing results to files, with the parameters that reproduce them inside the file.

One entry point, ``write_result(result, path)``, chosen by the result's kind and the file's
extension:

- image (uint8 RGB/RGBA, or 2-D grey) -> ``.png``, ``.jpg``/``.jpeg``, ``.webp`` (Pillow),
  each with an XMP packet saying what made it (IPTC DigitalSourceType: ``provenance``).
  A PNG carries two text chunks: ``parameters``, in the AUTOMATIC1111 convention that image
  viewers, Krita's AI plugin and the web UIs already read (prompt, "Negative prompt: ...", then
  one "Key: value, ..." line), and ``studio``, JSON ``{"generator": ..., "params": {...}}``
  for an exact round trip (``read_parameters``). JPEG and WebP carry the same two things in
  EXIF: the A1111 text in UserComment (where A1111 itself puts it, UTF-16 "UNICODE" form)
  and the JSON in ImageDescription. JPEG has no alpha, so it is dropped.
- text (str) -> ``.txt`` or ``.md``, UTF-8, as generated (plain text has no place for
  metadata; the CLI prints the parameters instead).
- audio (float32 ``(frames,)`` or ``(frames, channels)``) -> ``.wav`` (32-bit float: lossless
  for what the model made), ``.flac`` (16-bit), ``.ogg`` (Vorbis), via soundfile. The JSON
  goes in the file's comment. WAV keeps at most about 2 KB of comment (libsndfile's limit);
  a longer one is left out rather than cut into invalid JSON.

Files are written atomically: the bytes are made in memory first, written to a temporary
file beside the target and moved over it with ``os.replace``, so a failure never leaves half
a file and never destroys the file that was there.
"""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from studio.core.audio.midi import write_score
from studio.core.base.atomic_write import write_atomically
from studio.core.engine.generators import Result
from studio.core.engine.lora_values import lora_tag
from studio.core.media.sound import Audio
from studio.core.media.sound_files import AUDIO_FORMATS, encode_sound
from studio.core.image.provenance import PNG_XMP_KEY, TRAINED, xmp_packet
from studio.errors import OutputError

log = logging.getLogger(__name__)

# Extensions each kind can be written as; the first is the default.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image": (".png", ".jpg", ".jpeg", ".webp"),
    "text": (".txt", ".md"),
    "audio": (".wav", ".flac", ".ogg", ".mid"),  # .mid: the notes of a symbolic generator
}
KIND_NOUNS = {"image": "an image", "text": "text", "audio": "audio"}
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
PARAMETERS_CHUNK = "parameters"  # the AUTOMATIC1111 key
STUDIO_CHUNK = "studio"  # our exact, machine-readable copy
WAV_COMMENT_LIMIT = 2000  # bytes; libsndfile silently drops a longer WAV comment

# EXIF tags (Pillow wants numbers).
EXIF_IFD = 0x8769
EXIF_IMAGE_DESCRIPTION = 0x010E
EXIF_SOFTWARE = 0x0131
EXIF_USER_COMMENT = 0x9286
UNICODE_PREFIX = b"UNICODE\x00"


def default_extension(kind: str) -> str:
    return _extensions_for(kind)[0]


# -- checking before generating -----------------------------------------------------------


def check_writable(path: str | os.PathLike[str], kind: str) -> Path:
    """Raise ``OutputError`` unless a ``kind`` result can be written to ``path``.

    Cheap, and done before generating, so a long job is never wasted on a typo in a path.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        example = path / f"output{default_extension(kind)}"
        raise OutputError(f"cannot write {path}: it is a folder; give a file name such as {example}")
    _format_suffix(path, kind)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise OutputError(f"cannot write {path}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: the folder {folder} is not writable")
    # os.replace would overwrite a read-only file; a read-only mark is the user saying "keep".
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"cannot write {path}: the file is read-only")
    return path


def _extensions_for(kind: str) -> tuple[str, ...]:
    try:
        return EXTENSIONS[kind]
    except KeyError:
        raise OutputError(f"cannot write a result of kind {kind!r}; known kinds: {', '.join(EXTENSIONS)}") from None


def _format_suffix(path: Path, kind: str) -> str:
    suffix = path.suffix.lower()
    supported = _extensions_for(kind)
    if suffix not in supported:
        given = f"a {suffix} file" if suffix else "a file without an extension"
        raise OutputError(f"cannot write {path}: {KIND_NOUNS[kind]} cannot be saved as {given}; use one of {', '.join(supported)}")
    return suffix


# -- writing -----------------------------------------------------------------------------


def write_result(result: Result, path: str | os.PathLike[str], source_type: str | None = None) -> Path:
    """Write ``result`` to ``path`` in the format its extension names; return the path.

    An image says what made it (``studio.core.image.provenance``): ``source_type``, or,
    when not given, a trained model's picture if a generator made it and nothing if not.
    Raises ``OutputError`` with a plain message for an unsupported extension, data that is
    not what its kind promises, or a path that cannot be written.
    """
    path = check_writable(path, result.kind)
    suffix = path.suffix.lower()
    if suffix == ".mid":
        return write_score(path, result.info)
    if result.kind == "image":
        if source_type is None and result.generator:
            source_type = TRAINED  # "" says: nothing generated in it, no claim
        data = encode_image(result, suffix, path, source_type)
    elif result.kind == "audio":
        data = encode_audio(result, suffix, path)
    else:
        data = encode_text(result, path)
    write_atomically(path, data)
    return path


# -- images ------------------------------------------------------------------------------


def encode_image(result: Result, suffix: str, path: Path, source_type: str | None = None) -> bytes:
    from PIL import Image  # Pillow is only needed when an image is written

    pixels = _image_array(result.value, path)
    image = Image.fromarray(pixels)
    fmt = IMAGE_FORMATS[suffix]
    text = parameters_text(result.generator, result.params)
    studio_json = studio_parameters_json(result.generator, result.params)
    xmp = xmp_packet(source_type, _system_used(result)) if source_type else None
    buffer = io.BytesIO()
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text(PARAMETERS_CHUNK, text)
        info.add_text(STUDIO_CHUNK, studio_json)
        info.add_text("Software", "Studio")
        if xmp:
            info.add_itxt(PNG_XMP_KEY, xmp.decode("utf-8"))
        image.save(buffer, "PNG", pnginfo=info)
    else:
        if fmt == "JPEG" and image.mode in ("RGBA", "LA"):
            image = image.convert("RGB" if image.mode == "RGBA" else "L")
        extra = {"xmp": xmp} if xmp else {}
        image.save(buffer, fmt, quality=95, exif=_exif(text, studio_json), **extra)
    return buffer.getvalue()


def _system_used(result: Result) -> str:
    """IPTC's "AI system used": the generator, and the model folder where the result names one."""
    model = result.params.get("model")
    return f"Studio {result.generator}" + (f" ({model})" if isinstance(model, str) and model else "") if result.generator else ""


def _image_array(value: Any, path: Path) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.dtype != np.uint8:
        got = f"{value.dtype} array" if isinstance(value, np.ndarray) else type(value).__name__
        raise OutputError(f"cannot write {path}: the image is not 8-bit pixel data (got {got})")
    if not (value.ndim == 2 or (value.ndim == 3 and value.shape[2] in (3, 4))) or 0 in value.shape:
        raise OutputError(f"cannot write {path}: an image must be (height, width, 3 or 4) pixels, not shape {value.shape}")
    return np.ascontiguousarray(value)


def _exif(text: str, studio_json: str) -> Any:
    from PIL import Image

    exif = Image.Exif()
    exif[EXIF_SOFTWARE] = "Studio"
    # ImageDescription is ASCII by the standard: escape the JSON to ASCII.
    exif[EXIF_IMAGE_DESCRIPTION] = json.dumps(json.loads(studio_json), ensure_ascii=True)
    # A1111 writes UserComment as "UNICODE\0" + UTF-16 big-endian; readers expect that.
    exif.get_ifd(EXIF_IFD)[EXIF_USER_COMMENT] = UNICODE_PREFIX + text.encode("utf-16-be")
    return exif


# -- the parameters, as text and as JSON -------------------------------------------------


def parameters_text(generator: str, params: Mapping[str, Any]) -> str:
    """The AUTOMATIC1111 ``parameters`` text: prompt, negative prompt, then "Key: value, ..."."""
    lines = []
    # LoRAs go into the prompt as A1111 writes them, <lora:NAME:WEIGHT>, where the tools that
    # read this text look for them (and not as a "Loras:" setting).
    tags = _lora_tags(params.get("loras"))
    prompt = " ".join(filter(None, [str(params.get("prompt") or ""), *tags]))
    if prompt:
        lines.append(prompt)
    if "negative_prompt" in params:
        lines.append(f"Negative prompt: {params['negative_prompt'] or ''}")
    settings = [
        f"{_a1111_key(name)}: {_a1111_value(value)}"
        for name, value in params.items()
        if name not in ("prompt", "negative_prompt", "loras")
    ]
    settings.append(f"Generator: {_a1111_value(generator)}")
    lines.append(", ".join(settings))
    return "\n".join(lines)


def _lora_tags(loras: Any) -> list[str]:
    """``<lora:NAME:WEIGHT>`` for each (path, weight) pair; a value of another shape gives none."""
    if not isinstance(loras, (list, tuple)):
        return []
    return [
        lora_tag(str(entry[0]), float(entry[1])) for entry in loras
        if isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[1], (int, float))
    ]


def _a1111_key(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _a1111_value(value: Any) -> str:
    text = str(plain_value(value))
    # A1111 quotes a value that would break its "Key: value, " parsing (its own quote()).
    if any(mark in text for mark in (",", ":", "\n", '"')):
        return json.dumps(text, ensure_ascii=False)
    return text


def studio_parameters_json(generator: str, params: Mapping[str, Any]) -> str:
    return json.dumps({"generator": generator, "params": dict(params)}, ensure_ascii=False, default=plain_value)


def plain_value(value: Any) -> Any:
    """numpy scalars as Python numbers (a plugin may put one in its params)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Audio):  # an audio prompt is described, like a picture
        return f"<audio {value.frames / value.sample_rate:.2f} s at {value.sample_rate} Hz>"
    if isinstance(value, np.ndarray):
        # An input image or mask is described, not embedded: the parameters stay readable text.
        if value.size <= 64:
            return value.tolist()
        kind = "image" if value.ndim == 3 else "mask" if value.ndim == 2 else "array"
        return f"<{kind} {value.shape[1]}x{value.shape[0]}>" if value.ndim >= 2 else f"<array of {value.size}>"
    return value


# -- audio -------------------------------------------------------------------------------


def encode_audio(result: Result, suffix: str, path: Path) -> bytes:
    comment = studio_parameters_json(result.generator, result.params)
    if suffix == ".wav" and len(comment.encode("utf-8")) > WAV_COMMENT_LIMIT:
        log.info("parameters too long for a WAV comment (%d bytes); %s is written without them", len(comment), path)
        comment = ""
    prompt = str(result.params.get("prompt") or "")[:200]
    return encode_sound(result.value, result.sample_rate, suffix, path, comment=comment, title=prompt)


# -- text --------------------------------------------------------------------------------


def encode_text(result: Result, path: Path) -> bytes:
    if not isinstance(result.value, str):
        raise OutputError(f"cannot write {path}: the text result is a {type(result.value).__name__}, not text")
    return result.value.encode("utf-8")


# -- reading the parameters back -----------------------------------------------------------


def read_parameters(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``{"generator": ..., "params": {...}}`` Studio stored in a file it wrote.

    None when the file is a readable image or sound without Studio's parameters; an
    ``OutputError`` when it is missing, not an image or sound, or damaged.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise OutputError(f"cannot read {path}: {'it is a folder' if path.is_dir() else 'no such file'}")
    suffix = path.suffix.lower()
    if suffix in AUDIO_FORMATS:
        raw = _audio_comment(path)
    else:
        raw = _image_studio_text(path)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise OutputError(f"{path}: its Studio parameters are damaged (not valid JSON)") from None
    if not isinstance(data, dict) or "generator" not in data or not isinstance(data.get("params"), dict):
        raise OutputError(f"{path}: its Studio parameters are damaged (no generator and params)")
    return data


def _image_studio_text(path: Path) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()  # decode now: a truncated file fails here, not later
            if image.format == "PNG":
                return image.text.get(STUDIO_CHUNK)
            description = image.getexif().get(EXIF_IMAGE_DESCRIPTION)
    except UnidentifiedImageError:
        raise OutputError(f"cannot read {path}: it is not an image") from None
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow's ways of saying "damaged"
        raise OutputError(f"cannot read {path}: the image is damaged ({exc})") from None
    if isinstance(description, bytes):
        description = description.decode("utf-8", "replace")
    if isinstance(description, str) and description.lstrip().startswith("{"):
        return description
    return None


def _audio_comment(path: Path) -> str | None:
    import soundfile

    try:
        with soundfile.SoundFile(path) as file:
            comment = file.comment
    except RuntimeError as exc:  # soundfile's LibsndfileError
        raise OutputError(f"cannot read {path}: it is not a sound file or it is damaged ({exc})") from None
    return comment if comment and comment.lstrip().startswith("{") else None
