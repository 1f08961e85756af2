"""The one check of everything a generator yields, before anything uses it.

The runner calls ``check_event`` for every event (``JobRunner._accept``), so the window, ``-o``
and ``--project`` all receive the same checked results, and a malformed one fails its job with
a message that blames the plugin instead of crashing the window, poisoning a mix or a project,
or surfacing later as "cannot write x.png". What a ``Result`` must hold, by kind:

- **image**: a numpy ``uint8`` array, ``(height, width, 4)`` RGBA or ``(height, width, 3)``
  RGB (opaque); each side 1 to ``MAX_SIDE`` pixels, at most ``MAX_PICTURE_PIXELS`` in all.
- **text**: a ``str`` of at most ``MAX_TEXT_CHARS`` characters. Lone surrogates (which no file
  can hold) become U+FFFD rather than failing the job. When the job streamed text
  ``Preview`` chunks since its last result, the result is exactly those chunks joined, so
  what was shown is what is written.
- **audio**: floating-point samples (float32, or float16/float64, stored as float32), frames
  first: ``(frames,)`` or ``(frames, channels)`` with 1 or 2 channels; at least one frame, all
  finite, peaks within ``MAX_PEAK`` (samples are -1..1; integer samples are refused, not
  guessed at); ``sample_rate`` an int from ``MIN_RATE`` to ``MAX_RATE``; at most
  ``MAX_AUDIO_SECONDS`` long. A ``studio.Audio`` is accepted and unpacked.
- **model** (a download or import): the ``str`` path of an existing folder under
  ``paths.models()`` that holds its manifest (``studio-model.json``, written last).
- every kind: ``kind`` is the generator's, ``generator`` its id, ``params`` a mapping of
  names to JSON-plain values (plus the pictures and sounds it was given), ``info`` a mapping
  whose ``notes``, when present, is a list of strings.

Previews are checked by the same rules, as what they are: an image preview is uint8 RGBA
(the window draws it as such), a text preview a ``str``, an audio preview float chunks.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from studio.core.base import paths
from studio.core.engine.generators import Preview, Progress, Result
from studio.core.media.pictures import MAX_PICTURE_PIXELS, MAX_SIDE
from studio.core.media.sound import Audio
from studio.core.media.text import well_formed
from studio.errors import ResultError

MAX_TEXT_CHARS = 2_000_000
MIN_RATE, MAX_RATE = 8_000, 384_000
MAX_CHANNELS = 2
MAX_AUDIO_SECONDS = 30 * 60
#: Far beyond full scale (+24 dB): only a bug (integer samples stored as floats) gets there.
MAX_PEAK = 16.0
MAX_DEPTH = 32
MANIFEST_NAME = "studio-model.json"  # studio.core.models.manifest.FILE_NAME

# The text each job streamed since its last result, to hold the result to it. Weak: a job
# that is dropped takes its entry along.
_streamed: "weakref.WeakKeyDictionary[Any, list[str]]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def check_event(job: Any, event: Any) -> Any:
    """``event`` checked (and normalised) for ``job``; a ``ResultError`` blaming the plugin when
    it breaks the contract."""
    generator = job.generator
    if isinstance(event, Progress):
        _check_progress(generator, event)
        return event
    if isinstance(event, Preview):
        event = check_preview(generator, event)
        if event.kind == "text":
            with _lock:
                _streamed.setdefault(job, []).append(event.value)
        return event
    if isinstance(event, Result):
        result = check_result(generator, event)
        with _lock:
            chunks = _streamed.pop(job, None)
        if result.kind == "text" and chunks:
            _check_streamed(generator, "".join(chunks), result.value)
        return result
    raise ResultError(f"{blame(generator)} yielded {_describe(event)}, which is not a studio.Progress, Preview or Result")


def check_result(generator: Any, result: Result) -> Result:
    """``result`` with its value normalised (text without lone surrogates, audio as float32)."""
    _check_kind(generator, result.kind, "returned a", "result")
    if result.generator != generator.id:
        raise ResultError(f"{blame(generator)} returned a result that names the generator {result.generator!r}; it must be {generator.id!r}")
    what, rate = f"returned a bad {result.kind}", result.sample_rate
    if result.kind == "image":
        value = _image(generator, result.value, what)
    elif result.kind == "text":
        value = _text(generator, result.value, what)
    elif result.kind == "model":
        value = _model_folder(generator, result.value, what)
    else:
        value, rate = _audio_result(generator, result.value, rate, what)
    params = _params(generator, result.params)
    _info(generator, result.info)
    return replace(result, value=value, sample_rate=rate, params=params)


def check_preview(generator: Any, preview: Preview) -> Preview:
    _check_kind(generator, preview.kind, "sent a", "preview")
    what = f"sent a bad {preview.kind} preview"
    if preview.kind == "image":
        value = _image(generator, preview.value, what, channels=(4,))
    elif preview.kind == "text":
        value = _text(generator, preview.value, what)
    else:
        samples = _samples(generator, preview.value, what, minimum=0)
        if preview.sample_rate:
            _rate(generator, preview.sample_rate, what)
        value = samples
    return preview if value is preview.value else replace(preview, value=value)


def blame(generator: Any) -> str:
    owner = getattr(generator, "plugin_name", "") or type(generator).__module__
    return f"plugin {owner!r} (generator {generator.id!r})"


# -- the parts -----------------------------------------------------------------------------


def _check_kind(generator: Any, kind: Any, verb: str, what: str) -> None:
    if kind != generator.kind:
        raise ResultError(f"{blame(generator)} {verb} {kind!r} {what}, but its kind is {generator.kind!r}")


def _check_progress(generator: Any, progress: Progress) -> None:
    for name in ("step", "total"):
        number = getattr(progress, name)
        if isinstance(number, bool) or not isinstance(number, (int, float, np.integer, np.floating)) or not math.isfinite(number):
            raise ResultError(f"{blame(generator)} sent a bad progress: {name} is {number!r}, expected a finite number")
    if not isinstance(progress.message, str):
        raise ResultError(f"{blame(generator)} sent a bad progress: its message is a {type(progress.message).__name__}, not text")


def _image(generator: Any, value: Any, what: str, channels: tuple[int, ...] = (4, 3)) -> np.ndarray:
    layout = "height × width × 4 (RGBA)" + (" or × 3 (RGB)" if 3 in channels else "")
    if not isinstance(value, np.ndarray):
        raise ResultError(f"{blame(generator)} {what}: a {type(value).__name__}, expected a numpy uint8 array of {layout}")
    if value.dtype != np.uint8:
        raise ResultError(f"{blame(generator)} {what}: {value.dtype} pixels, expected uint8 (0 to 255) of {layout}")
    if value.ndim != 3 or value.shape[2] not in channels or min(value.shape[:2]) < 1:
        raise ResultError(f"{blame(generator)} {what}: shape {value.shape}, expected {layout} with both at least 1")
    height, width = value.shape[:2]
    if height > MAX_SIDE or width > MAX_SIDE or height * width > MAX_PICTURE_PIXELS:
        raise ResultError(
            f"{blame(generator)} {what}: {width} × {height} pixels; Studio takes up to {MAX_SIDE} a side "
            f"and {MAX_PICTURE_PIXELS // 1_000_000} million in all"
        )
    return value


def _text(generator: Any, value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ResultError(f"{blame(generator)} {what}: a {type(value).__name__}, expected a str")
    if len(value) > MAX_TEXT_CHARS:
        raise ResultError(f"{blame(generator)} {what}: {len(value):,} characters; Studio takes up to {MAX_TEXT_CHARS:,}")
    return well_formed(value)


def _model_folder(generator: Any, value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ResultError(f"{blame(generator)} {what}: a {type(value).__name__}, expected the installed folder's path as a str")
    folder = Path(value)
    models = paths.models().resolve()
    if not folder.is_dir() or folder.resolve().parent != models:
        raise ResultError(f"{blame(generator)} {what}: {value} is not a model folder in {models}")
    # The manifest's name, not its module: the engine sits below studio.core.models.
    if not (folder / MANIFEST_NAME).is_file():
        raise ResultError(f"{blame(generator)} {what}: {value} has no {MANIFEST_NAME}, so it is not installed")
    return str(folder)


def _check_streamed(generator: Any, streamed: str, text: str) -> None:
    if streamed != text:
        raise ResultError(
            f"{blame(generator)} returned text that differs from the text it streamed "
            f"({len(streamed):,} characters streamed, {len(text):,} in the result): a text result must be its chunks joined"
        )


def _audio_result(generator: Any, value: Any, rate: Any, what: str) -> tuple[np.ndarray, int]:
    if isinstance(value, Audio):
        if rate and rate != value.sample_rate:
            raise ResultError(f"{blame(generator)} {what}: sample_rate {rate} but its Audio is at {value.sample_rate} Hz")
        value, rate = value.samples, value.sample_rate
    # The layout first: a (channels, frames) array must be refused before anything costs memory.
    samples = _samples(generator, value, what, minimum=1, convert=False)
    rate = _rate(generator, rate, what)
    seconds = samples.shape[0] / rate
    if seconds > MAX_AUDIO_SECONDS:
        raise ResultError(f"{blame(generator)} {what}: {seconds / 60:.1f} minutes long; Studio takes up to {MAX_AUDIO_SECONDS // 60}")
    return _finite(generator, samples, what), rate


def _samples(generator: Any, value: Any, what: str, minimum: int, convert: bool = True) -> np.ndarray:
    layout = f"(frames,) or (frames, channels) with 1 to {MAX_CHANNELS} channels"
    if not isinstance(value, np.ndarray):
        raise ResultError(f"{blame(generator)} {what}: a {type(value).__name__}, expected a numpy float array of {layout}")
    if value.dtype.kind != "f":
        hint = f" (divide {value.dtype} samples by {2 ** (8 * value.dtype.itemsize - 1)})" if value.dtype.kind in "iu" else ""
        raise ResultError(f"{blame(generator)} {what}: {value.dtype} samples, expected floating-point samples from -1 to 1{hint}")
    if value.ndim == 2 and value.shape[1] > MAX_CHANNELS and value.shape[0] <= MAX_CHANNELS:
        raise ResultError(
            f"{blame(generator)} {what}: shape {value.shape} looks like channels first; "
            f"audio is frames first, {layout} (yield samples.T)"
        )
    if value.ndim not in (1, 2) or (value.ndim == 2 and not 1 <= value.shape[1] <= MAX_CHANNELS):
        raise ResultError(f"{blame(generator)} {what}: shape {value.shape}, expected {layout}")
    if value.shape[0] < minimum:
        raise ResultError(f"{blame(generator)} {what}: no frames (shape {value.shape}), expected at least {minimum}")
    return _finite(generator, value, what) if convert else value


def _finite(generator: Any, samples: np.ndarray, what: str) -> np.ndarray:
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: refused next
        samples = np.ascontiguousarray(samples, dtype=np.float32)
    # Two reductions and no temporary array (a long take is hundreds of MB): NaN propagates
    # through max and min, and an infinity is their value.
    high, low = (float(samples.max()), float(samples.min())) if samples.size else (0.0, 0.0)
    if not (math.isfinite(high) and math.isfinite(low)):
        raise ResultError(f"{blame(generator)} {what}: it contains NaN or infinite samples")
    peak = max(high, -low)
    if peak > MAX_PEAK:
        raise ResultError(
            f"{blame(generator)} {what}: samples reach {peak:g}, far outside -1 to 1 "
            "(integer samples stored as floats? divide 16-bit ones by 32768)"
        )
    return samples


def _rate(generator: Any, rate: Any, what: str) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not MIN_RATE <= rate <= MAX_RATE:
        raise ResultError(f"{blame(generator)} {what}: sample_rate {rate!r}, expected a whole number of Hz from {MIN_RATE} to {MAX_RATE}")
    return int(rate)


def _params(generator: Any, params: Any) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        raise ResultError(f"{blame(generator)} returned params that are a {type(params).__name__}, not a mapping of names to values")
    checked = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise ResultError(f"{blame(generator)} returned a parameter named {name!r}; names are str")
        if isinstance(value, (np.ndarray, Audio)):  # a picture or sound it was given: described when stored
            checked[name] = value
        else:
            checked[well_formed(name)] = _plain(generator, name, value, 0)
    return checked


def _plain(generator: Any, name: str, value: Any, depth: int) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ResultError(f"{blame(generator)} returned the parameter {name!r} as {value!r}; numbers in params must be finite")
        return value
    if isinstance(value, str):
        return well_formed(value)
    if depth < MAX_DEPTH and isinstance(value, (list, tuple)):
        return [_plain(generator, name, item, depth + 1) for item in value]
    if depth < MAX_DEPTH and isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return {well_formed(key): _plain(generator, name, item, depth + 1) for key, item in value.items()}
    raise ResultError(
        f"{blame(generator)} returned the parameter {name!r} as {_describe(value)}; "
        "params hold JSON-plain values (numbers, text, true/false, None, lists and str-keyed dicts of them)"
    )


def _info(generator: Any, info: Any) -> None:
    if not isinstance(info, Mapping):
        raise ResultError(f"{blame(generator)} returned info that is a {type(info).__name__}, not a mapping")
    notes = info.get("notes", ())
    if not isinstance(notes, (list, tuple)) or not all(isinstance(note, str) for note in notes):
        raise ResultError(f"{blame(generator)} returned info['notes'] as {_describe(notes)}; notes are a list of str")


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{text[:60]}… (a {type(value).__name__})" if len(text) > 60 else f"{text} (a {type(value).__name__})"
