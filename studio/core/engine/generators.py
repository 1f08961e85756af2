"""The generator contract: what a plugin implements and what the UI, CLI and runner consume.

A generator declares its parameters as data (``Param``). From that one declaration the UI
builds its form, the CLI its ``--param`` parsing and the core its validation, so the three
can never disagree.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Mapping, Union

import numpy as np

from studio.core.engine.latent_values import LatentSpace, coerce_latent
from studio.core.engine.lora_values import coerce_loras
from studio.core.media.pictures import load_picture
from studio.core.media.sound import Audio
from studio.core.media.sound_files import read_audio
from studio.errors import ParamError, StudioError

if TYPE_CHECKING:
    from studio.core.engine.jobs import JobContext

KINDS = ("image", "text", "audio")
#: Every kind a job may have: the documents' kinds, and "model" (a model download or import,
#: whose result is the folder it installed; ``studio.core.models.download``).
JOB_KINDS = (*KINDS, "model")
PARAM_TYPES = ("int", "float", "bool", "choice", "text", "seed", "image", "mask", "audio", "loras", "control", "latent")
#: Parameters whose value comes from the workspace (canvas, timeline) or a file, never a form field.
INPUT_TYPES = ("image", "mask", "audio", "control")
SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class Param:
    """One parameter of a generator.

    ``type`` is one of ``int``, ``float``, ``bool``, ``choice``, ``text`` (a prompt or any
    string; ``multiline`` for a prompt box), ``seed`` (an int; ``None`` or ``-1`` means
    "pick one", and the result records the seed actually used), ``image`` (uint8 RGBA,
    H x W x 4), ``mask`` (uint8 H x W, 255 = repaint) or ``audio`` (a ``studio.Audio``:
    float32 samples, frames first, and their rate) or ``loras`` (a tuple of ``(path, weight)``
    pairs: LoRA ``.safetensors`` files, absolute paths, weights from -4 to 4; default ``()``;
    ``studio.core.engine.lora_values``) or ``control`` (uint8 RGBA like an image: a picture
    that steers the generation, e.g. a ControlNet's, which the user picks from the layers by
    name in the window; ``studio.core.image.control_inputs``) or ``latent`` (a tuple of float32
    numbers that makes the picture, given or kept by the explorer; ``None``, the default, draws
    it from the seed; ``studio.core.engine.latent_values``). Images and masks come
    from the canvas in the window, audio from the selected clip on the timeline, and each
    from a file path on the command line; with ``optional`` they may be left out (``None``),
    which is how a generator tells text-to-image from image-to-image, or a new piece of
    music from a continuation.

    Numbers lie in ``min``..``max`` and, with a ``step``, on the grid every ``step`` from
    ``min`` (from 0 without a min): the form's slider, the CLI and validation all keep to it.
    Text must be valid Unicode (no lone surrogates), so no plugin has to check it.
    """

    name: str
    type: str
    default: Any = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    label: str = ""
    multiline: bool = False
    optional: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"parameter name {self.name!r} is not an identifier")
        if self.type not in PARAM_TYPES:
            raise ValueError(f"parameter {self.name!r}: type must be one of {PARAM_TYPES}")
        if self.type == "choice" and not self.choices:
            raise ValueError(f"parameter {self.name!r}: a choice needs choices")
        if self.type == "choice" and self.default is not None and self.default not in self.choices:
            raise ValueError(f"parameter {self.name!r}: default is not one of its choices")

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def coerce(self, value: Any) -> Any:
        """Return ``value`` as this parameter's type, or raise ``ParamError`` saying why not.

        Strings are parsed (they come from the command line); everything is range-checked.
        """
        if self.type == "seed":
            return self._coerce_seed(value)
        if self.type in ("image", "mask", "control"):
            return self._coerce_picture(value)
        if self.type == "audio":
            return self._coerce_audio(value)
        if self.type == "loras":
            return coerce_loras(self.name, value)
        if self.type == "latent":
            return coerce_latent(self.name, value, optional=True)
        if value is None:
            raise ParamError(f"{self.name}: a value is required")
        if self.type == "int":
            number = self._parse_number(value, int)
            return int(self._check_step(self._check_range(number)))
        if self.type == "float":
            number = self._parse_number(value, float)
            return float(self._check_step(self._check_range(number)))
        if self.type == "bool":
            return self._coerce_bool(value)
        if self.type == "choice":
            text = str(value)
            if text not in self.choices:
                raise ParamError(f"{self.name}: {text!r} is not one of {', '.join(self.choices)}")
            return text
        return self._check_text(str(value))

    def _parse_number(self, value: Any, kind: type) -> float:
        if isinstance(value, bool):
            raise ParamError(f"{self.name}: expected a number, got {value!r}")
        if isinstance(value, str):
            try:
                value = float(value.strip()) if kind is float else int(value.strip(), 10)
            except ValueError:
                wanted = "a whole number" if kind is int else "a number"
                raise ParamError(f"{self.name}: expected {wanted}, got {value!r}") from None
        if kind is int and isinstance(value, (float, np.floating)):
            if not value.is_integer():
                raise ParamError(f"{self.name}: expected a whole number, got {value!r}")
            value = int(value)
        if not isinstance(value, (int, float, np.integer, np.floating)):
            raise ParamError(f"{self.name}: expected a number, got {value!r}")
        if isinstance(value, (float, np.floating)) and not math.isfinite(value):
            raise ParamError(f"{self.name}: expected a finite number, got {value!r}")
        return value

    def _check_range(self, number: float) -> float:
        low = self.min if self.min is not None else -math.inf
        high = self.max if self.max is not None else math.inf
        if not low <= number <= high:
            raise ParamError(f"{self.name}: {number} is out of range ({_fmt(self.min)} to {_fmt(self.max)})")
        return number

    def _check_step(self, number: float) -> float:
        # The grid counts from min (from 0 without one), so 0.1 + 0.2 is on a 0.1 grid: a
        # millionth of a step of float error is forgiven, a typo like 0.15 is not.
        if not self.step:
            return number
        origin = self.min if self.min is not None else 0
        steps = (number - origin) / self.step
        if abs(steps - round(steps)) <= 1e-6:
            return number
        below, above = (origin + math.floor(steps) * self.step, origin + math.ceil(steps) * self.step)
        neighbours = " and ".join(_fmt(self._typed(v)) for v in (below, above) if self._in_range(v))
        offset = origin / self.step
        grid = (f"a multiple of {_fmt(self.step)}" if abs(offset - round(offset)) <= 1e-6
                else f"on its grid (every {_fmt(self.step)} from {_fmt(origin)})")
        raise ParamError(f"{self.name}: {number} is not {grid}" + (f"; the nearest allowed values are {neighbours}" if neighbours else ""))

    def snap(self, number: float) -> float:
        """The value on this parameter's step grid nearest to ``number``, within its range
        (what a slider or a model's suggested default should become)."""
        low = self.min if self.min is not None else -math.inf
        high = self.max if self.max is not None else math.inf
        number = min(max(number, low), high)
        if self.step:
            origin = self.min if self.min is not None else 0
            steps = round((number - origin) / self.step)
            number = origin + steps * self.step
            if number - high > 1e-6 * self.step:  # a max that is not itself a step: the last step below it
                number -= self.step
        return self._typed(min(number, high))

    def _in_range(self, number: float) -> bool:
        return (self.min is None or number >= self.min) and (self.max is None or number <= self.max)

    def _typed(self, number: float) -> float:
        return int(round(number)) if self.type == "int" else float(round(number, 12))

    def _check_text(self, text: str) -> str:
        # A str holding a lone surrogate cannot be encoded as UTF-8: the tokenizers refuse it
        # deep inside a plugin ("TextInputSequence must be str"). It arrives from a terminal
        # that is not UTF-8 (Python keeps each undecodable byte as U+DC80..U+DCFF) or from
        # broken UTF-16; refuse it here, once for every plugin, saying where it is.
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(text[exc.start])
            where = f"character {exc.start + 1}"
            if 0xDC80 <= code <= 0xDCFF:
                detail = f"invalid UTF-8: byte 0x{code - 0xDC00:02x} at {where}; is the terminal or file set to UTF-8?"
            else:
                detail = f"a lone UTF-16 surrogate U+{code:04X} at {where}"
            raise ParamError(f"{self.name}: not valid text ({detail})") from None
        return text

    def _coerce_bool(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ParamError(f"{self.name}: expected true or false, got {value!r}")

    def _coerce_picture(self, value: Any) -> np.ndarray | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            if self.optional:
                return None
            raise ParamError(f"{self.name}: an {self.type} is required")
        if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
            return load_picture(value, "mask" if self.type == "mask" else "image", self.name)
        array = np.asarray(value)
        if self.type in ("image", "control"):
            if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 4:
                raise ParamError(f"{self.name}: an image is uint8 RGBA of shape (height, width, 4), got {array.dtype} {array.shape}")
        elif array.dtype != np.uint8 or array.ndim != 2:
            raise ParamError(f"{self.name}: a mask is uint8 of shape (height, width), got {array.dtype} {array.shape}")
        return array

    def _coerce_audio(self, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            if self.optional:
                return None
            raise ParamError(f"{self.name}: audio is required")
        if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
            try:
                return read_audio(value)
            except StudioError as exc:  # say which parameter the file was for, as pictures do
                raise ParamError(f"{self.name}: {exc}") from None
        if not isinstance(value, Audio):
            raise ParamError(f"{self.name}: expected audio (a sound file or a clip), got {type(value).__name__}")
        return value

    def _coerce_seed(self, value: Any) -> int | None:
        if value is None or value == "" or value == -1 or value == "-1" or value == "random":
            return None
        number = self._parse_number(value, int)
        if not 0 <= number <= SEED_MAX:
            raise ParamError(f"{self.name}: {number} is out of range (0 to {SEED_MAX}, or -1 for random)")
        return int(number)


def _fmt(bound: float | None) -> str:
    return "unbounded" if bound is None else f"{bound:g}"


@dataclass(frozen=True)
class Progress:
    """``step`` of ``total`` done; ``total`` <= 0 means the length is not known."""

    step: int
    total: int
    message: str = ""

    @property
    def fraction(self) -> float | None:
        return None if self.total <= 0 else min(1.0, max(0.0, self.step / self.total))


@dataclass(frozen=True)
class Preview:
    """Partial output while the job runs; optional.

    ``value`` is, by kind: image -> uint8 RGBA array (H, W, 4), possibly smaller than the
    result (the newest replaces the last); text -> the new chunk of text (str; the chunks
    before a text ``Result`` must add up to its text); audio -> a float chunk (frames,
    channels). ``studio.core.engine.result_check`` holds each to this.
    """

    kind: str
    value: Any
    sample_rate: int = 0


@dataclass(frozen=True)
class Result:
    """The final output and everything needed to make it again.

    ``value`` is, by ``kind`` (the generator's kind):

    - image: a numpy uint8 array, (height, width, 4) RGBA or (height, width, 3) RGB, each side
      1 to 16384 pixels and 268 million pixels at most;
    - text: a ``str`` (lone surrogates become U+FFFD); the text chunks streamed before it, if
      any, joined. A text generator need not stream: its result is then shown whole;
    - audio: float samples from -1 to 1, frames first, (frames,) or (frames, channels) with 1
      or 2 channels, all finite, and ``sample_rate`` an int from 8000 to 384000 Hz (a
      ``studio.Audio`` carries its own); integer samples are refused, not guessed at.
    - model (a download or import, not a plugin's): the ``str`` path of the folder it installed
      under Studio's models folder, holding its manifest.

    ``generator`` is the generator's id. ``params`` is the full, validated parameter set with
    the seed actually used (JSON-plain values, plus the pictures and sounds it was given), so
    the same generator given ``params`` reproduces ``value``. ``info`` is free-form facts
    (provider, tokens/s...); ``info["notes"]``, a list of str, is shown to the user; an image
    with ``info["own_size"]`` true is larger than its input picture by design (an upscale) and
    lands at its own size at the input's top-left instead of being fitted back into it.

    The runner checks every result against this before anything uses it
    (``studio.core.engine.result_check``); one that breaks it fails the job, blaming the plugin.
    """

    kind: str
    value: Any
    generator: str
    params: Mapping[str, Any]
    sample_rate: int = 0
    info: Mapping[str, Any] = field(default_factory=dict)


Event = Union[Progress, Preview, Result]


@dataclass(frozen=True)
class Request:
    """A validated set of parameters for one generator; build it with ``Generator.request``."""

    generator: str
    params: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    @property
    def seed(self) -> int | None:
        return self.params.get("seed")


class Generator:
    """Base class for everything that makes an image, a text or a sound.

    Subclasses set ``id``, ``title``, ``kind`` and ``params`` and implement ``generate``.
    ``load`` runs once before the first generation on a device (create sessions there, they
    are cached); ``generate`` yields any number of ``Progress`` and ``Preview`` events and
    ends with one ``Result`` (a batch yields one per item). Call ``ctx.check_cancelled()``
    between steps and run onnxruntime through ``ctx.run`` so that cancel also stops a long
    call. A text generator that has a ``prompt`` parameter gets the text before the cursor
    in the window; one without continues at the cursor without it.
    """

    id: ClassVar[str] | str = ""
    title: ClassVar[str] | str = ""
    kind: ClassVar[str] | str = "image"
    description: ClassVar[str] | str = ""
    params: ClassVar[tuple[Param, ...]] | tuple[Param, ...] = ()
    #: What IPTC calls the pictures it makes, written into every image file that holds them
    #: (``studio.core.image.provenance``): a trained model's by default; a network with no
    #: training data behind it (random weights, a formula) says ``"algorithmicMedia"``; one
    #: that only resamples its input picture says ``""``: its pictures are what its input was.
    digital_source: ClassVar[str] | str = "trainedAlgorithmicMedia"
    #: A latent generator's space (``studio.LatentSpace``), which the explorer walks; it then
    #: has a ``latent`` parameter and records the latent of each picture in its params.
    latent_space: ClassVar[LatentSpace | None] | LatentSpace | None = None

    def load(self, ctx: "JobContext") -> None:
        """Prepare to generate on ``ctx.device`` (create sessions). Default: nothing."""

    def generate(self, request: Request, ctx: "JobContext") -> Iterator[Event]:
        raise NotImplementedError

    def context_plan(self, values: Mapping[str, Any]) -> Any:
        """Optional, for text generators: the context the next generation with ``values`` would
        read, as a ``studio.core.text.context.ContextPlan`` (memory, lore, the story, the
        author's note, and what was cut), validated like ``request``; the window's context view
        and ``studio generate --show-context`` show it. Default: None (not told)."""
        return None

    # -- helpers shared by every generator -------------------------------------------------

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def request(self, values: Mapping[str, Any] | None = None, rng: random.Random | None = None) -> Request:
        """Validate ``values`` (missing names take their defaults) into a ``Request``.

        Unknown names are an error, so a typo on the command line is never silently ignored.
        A seed left to chance is drawn here, so the request already says what reproduces it.
        """
        values = dict(values or {})
        known = {p.name for p in self.params}
        unknown = sorted(set(values) - known)
        if unknown:
            names = ", ".join(sorted(known)) or "none"
            raise ParamError(f"{self.id} has no parameter {', '.join(unknown)} (its parameters: {names})")
        params: dict[str, Any] = {}
        for param in self.params:
            value = param.coerce(values.get(param.name, param.default))
            if param.type == "seed" and value is None:
                value = (rng or random.SystemRandom()).randint(0, SEED_MAX)
            params[param.name] = value
        return Request(self.id, params)


def check_generator(generator: Any) -> None:
    """Raise ``TypeError``/``ValueError`` if ``generator`` breaks the contract (used at registration)."""
    if not isinstance(generator, Generator):
        raise TypeError(f"{generator!r} is not a studio.Generator")
    if not generator.id or not isinstance(generator.id, str):
        raise ValueError(f"{type(generator).__name__} has no id")
    if generator.kind not in JOB_KINDS:
        raise ValueError(f"generator {generator.id!r}: kind must be one of {JOB_KINDS}, not {generator.kind!r}")
    for param in generator.params:
        if not isinstance(param, Param):
            raise TypeError(f"generator {generator.id!r}: {param!r} is not a studio.Param")
    names = [p.name for p in generator.params]
    if len(names) != len(set(names)):
        raise ValueError(f"generator {generator.id!r}: duplicate parameter names")
    space = generator.latent_space
    if space is not None:
        if not isinstance(space, LatentSpace):
            raise TypeError(f"generator {generator.id!r}: latent_space {space!r} is not a studio.LatentSpace")
        if generator.kind != "image" or not any(p.name == "latent" and p.type == "latent" for p in generator.params):
            raise ValueError(f"generator {generator.id!r}: a latent space belongs to an image generator with a 'latent' parameter of type 'latent'")
    for param in generator.params:
        if param.type in INPUT_TYPES:
            continue  # pictures and sounds have no default: they come from the workspace or a file
        try:
            param.coerce(param.default)  # a default must itself be valid (a seed's may be None: random)
        except ParamError as exc:
            raise ValueError(f"generator {generator.id!r}: invalid default for {exc}") from None
