"""The generation parameters a picture carries, made ready to fill a generator's form.

Studio writes two copies into what it exports (``studio.core.project.outputs``): exact JSON
(``studio``) and AUTOMATIC1111's ``parameters`` text, which other tools read and write.
A picture from Studio is reused from the JSON; one from A1111, ComfyUI's A1111 export,
InvokeAI and friends from the text, whose names (``CFG scale``, ``Sampler``, ``Size``) are
matched to the target generator's own parameter names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from studio.core.engine.generators import INPUT_TYPES, Param

# A1111's own pattern for "Key: value" pairs, a value possibly a JSON-quoted string.
_PAIR = re.compile(r'\s*(\w[\w \-/+]*):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
# A1111 names -> the names a Studio generator may use for the same thing, best first.
ALIASES: dict[str, tuple[str, ...]] = {
    "cfg_scale": ("guidance_scale", "guidance", "cfg_scale", "cfg"),
    "sampler": ("scheduler", "sampler"),
    "schedule_type": ("schedule", "sigmas"),
    "denoising_strength": ("strength", "denoising_strength"),
    "steps": ("steps", "num_inference_steps"),
    "batch_size": ("batch_count", "batch_size"),
    # Not A1111's: the language models' "weights" ("as exported" | "int8") became "variant".
    "weights": ("variant",),
}
# A1111 sampler names -> words a scheduler choice is likely to contain.
SAMPLERS = {
    "euler a": "euler ancestral",
    "euler": "euler",
    "ddim": "ddim",
    "dpm++ 2m karras": "dpm 2m karras",
    "dpm++ 2m": "dpm 2m",
    "lcm": "lcm",
}


@dataclass
class PictureParameters:
    """What a picture says made it: a generator id ("" when the text does not say) and values."""

    generator: str
    params: dict[str, Any] = field(default_factory=dict)
    source: str = "studio"  # "studio" (exact JSON) or "a1111" (parsed text)

    def summary(self, limit: int = 80) -> str:
        prompt = str(self.params.get("prompt") or "").strip().replace("\n", " ")
        bits = [self.generator or "unknown generator"]
        if prompt:
            bits.append(f"“{prompt[: limit - 3] + '…' if len(prompt) > limit else prompt}”")
        if self.params.get("seed") is not None:
            bits.append(f"seed {self.params['seed']}")
        return ", ".join(bits)


def picture_parameters(metadata: Mapping[str, str]) -> PictureParameters | None:
    """The parameters in a picture's text metadata (see ``studio.core.media.pictures.read_picture``)."""
    raw = metadata.get("studio")
    if raw:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("params"), dict) and data.get("generator"):
            return PictureParameters(str(data["generator"]), dict(data["params"]), "studio")
    text = metadata.get("parameters")
    if text:
        return parse_a1111(text)
    return None


def parse_a1111(text: str) -> PictureParameters | None:
    """AUTOMATIC1111's parameters text: prompt lines, ``Negative prompt: …``, then ``Key: value, …``."""
    lines = text.strip().splitlines()
    if not lines:
        return None
    settings: dict[str, Any] = {}
    last = lines[-1]
    pairs = _PAIR.findall(last)
    # A1111 takes the last line as settings when it holds at least three pairs; Studio's own
    # text always names its generator, so one pair and that name will do.
    if len(pairs) >= 3 or any(key.strip().lower() == "generator" for key, _ in pairs):
        lines = lines[:-1]
        for key, value in pairs:
            settings[key.strip().lower().replace(" ", "_").replace("-", "_")] = _value(value.strip())
    prompt, negative, in_negative = [], [], False
    for line in lines:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:") :].strip()
        (negative if in_negative else prompt).append(line)
    params: dict[str, Any] = {}
    if prompt:
        params["prompt"] = "\n".join(prompt).strip()
    if in_negative:
        params["negative_prompt"] = "\n".join(negative).strip()
    generator = str(settings.pop("generator", "") or "")
    size = settings.pop("size", None)
    if isinstance(size, str) and re.fullmatch(r"\d+x\d+", size):
        width, height = size.split("x")
        params["width"], params["height"] = int(width), int(height)
    params.update(settings)
    if not params:
        return None
    return PictureParameters(generator, params, "a1111")


def _value(text: str) -> Any:
    if text.startswith('"'):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text.strip('"')
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def fit_parameters(params: Mapping[str, Any], wanted: Sequence[Param]) -> dict[str, Any]:
    """``params`` renamed and converted for a generator declaring ``wanted``; the rest left out.

    Exact names win; then A1111 aliases (``cfg_scale`` fills ``guidance_scale``…); a choice
    takes the option that names the same thing (``Euler a`` -> ``euler_ancestral``).
    """
    out: dict[str, Any] = {}
    for param in wanted:
        if param.type in INPUT_TYPES:
            continue  # pictures and sounds come from the workspace, never from text
        candidates = [param.name] + [name for name, aliases in ALIASES.items() if param.name in aliases]
        value = next((params[name] for name in candidates if name in params), None)
        if value is None:
            continue
        if param.type == "choice":
            value = _closest_choice(str(value), param.choices)
            if value is None:
                continue
        out[param.name] = value
    return out


def _closest_choice(value: str, choices: Sequence[str]) -> str | None:
    if value in choices:
        return value
    spoken = SAMPLERS.get(value.strip().lower(), value.lower())

    def words(text: str) -> list[str]:
        return [w for w in re.split(r"[^a-z0-9]+", text.lower().replace("++", "pp")) if w]

    wanted = words(spoken.replace("dpm 2m", "dpmpp 2m") if "++" in value else spoken)
    for choice in choices:
        if words(choice) == wanted:
            return choice
    for choice in choices:  # e.g. "euler ancestral" in "euler_ancestral_discrete"
        have = words(choice)
        if all(word in have for word in wanted) and len(have) <= len(wanted) + 1:
            return choice
    return None
