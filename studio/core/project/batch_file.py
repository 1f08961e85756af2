"""Batch files for ``studio batch``: one generation request a line (JSON Lines), read and
checked whole before anything runs.

A line is a JSON object::

    {"generator": "cppn", "params": {"seed": 7, "width": 96}, "prompt": "optional"}

``params`` holds what ``--param NAME=VALUE`` would give (strings are parsed as the command
line's are; JSON numbers and booleans are taken as they are, by ``Param.coerce``); ``prompt`` is
a shorthand, like ``--prompt``. Blank lines and lines starting with ``#`` are skipped.

Every line is checked before the first is run, so an hour-long batch never stops at line 190
on a typo: ``read_batch`` returns the good requests and, for each bad line, its number and
what is wrong with it. Each request keeps a hash of its line (``key``) so that a re-run can tell
a line already done from one that was changed (``studio.core.project.batch_record``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from studio.core.base.input_files import open_input
from studio.core.engine.generators import Generator, Request
from studio.errors import StudioError

#: Bounds on what is read: a batch file is typed or made by a script, and a file of gigabytes
#: or of millions of lines is a mistake (a wrong path, a runaway loop) to refuse at once.
MAX_BATCH_BYTES = 64 * 1024**2
MAX_REQUESTS = 100_000
KEYS = ("generator", "params", "prompt")
EXAMPLE = '{"generator": "cppn", "params": {"seed": 7}}'


@dataclass(frozen=True)
class BatchRequest:
    """One good line: its generator and values, ready to become a ``Request``.

    ``values`` are the line's own (the prompt shorthand folded in) plus any seed drawn for it,
    so the request made from them again is the very one that was checked. The ``Request``
    itself is not kept: a picture or a sound given as a parameter would be held in memory for
    every line of the file until its turn came.
    """

    line: int
    generator: Generator
    values: Mapping[str, Any]
    key: str  # the hash of the line's canonical JSON
    seed: int | None

    def request(self) -> Request:
        return self.generator.request(self.values)


@dataclass
class BatchFile:
    path: Path
    requests: list[BatchRequest] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)


class _DuplicateKey(ValueError):
    pass


def read_batch(path: str | Path, find_generator: Callable[[str], Generator]) -> BatchFile:
    """Read and check the batch file at ``path``; ``find_generator`` turns an id into a
    generator or raises ``StudioError`` (``Host.generator``). Raises ``StudioError`` for a
    file that cannot be read or is too large; bad lines are listed in ``problems``."""
    path = Path(path)
    with open_input(path, "batch file", max_bytes=MAX_BATCH_BYTES) as file:
        data = file.read()
    lines = data.split(b"\n")
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):  # a BOM, as some editors on Windows write
        lines[0] = lines[0][3:]
    count = sum(1 for raw in lines if _is_request(raw))
    if count > MAX_REQUESTS:
        raise StudioError(f"{path} holds {count:,} requests; a batch runs at most {MAX_REQUESTS:,}: split it into smaller files")
    batch = BatchFile(path)
    generators: dict[str, Generator | StudioError] = {}  # each id looked up once, however many lines use it
    for number, raw in enumerate(lines, start=1):
        if not _is_request(raw):
            continue
        try:
            batch.requests.append(_read_line(number, raw, generators, find_generator))
        except StudioError as exc:
            batch.problems.append((number, str(exc)))
    return batch


def _is_request(raw: bytes) -> bool:
    text = raw.strip()
    return bool(text) and not text.startswith(b"#")


def _read_line(
    number: int, raw: bytes, generators: dict[str, Generator | StudioError], find_generator: Callable[[str], Generator]
) -> BatchRequest:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StudioError(f"not UTF-8 text (byte {exc.start + 1} of the line)") from None
    entry = _parse(text)
    unknown = [key for key in entry if key not in KEYS]
    if unknown:  # a typo ("parmas") would otherwise run the defaults, silently
        raise StudioError(f"unknown key {', '.join(map(repr, unknown))} (a line may have {', '.join(KEYS)})")
    generator_id = entry.get("generator")
    if not isinstance(generator_id, str) or not generator_id:
        raise StudioError(f'no "generator": each line names one, for example {EXAMPLE}')
    if generator_id not in generators:
        try:
            generators[generator_id] = find_generator(generator_id)
        except StudioError as exc:
            generators[generator_id] = exc
    generator = generators[generator_id]
    if isinstance(generator, StudioError):
        raise StudioError(str(generator))
    values = _values(generator, entry)
    request = generator.request(values)  # ParamError (a StudioError) says which value and why
    # A seed left to chance was drawn just now: keep it, so the run makes what was checked.
    for param in generator.params:
        if param.type == "seed":
            values[param.name] = request.params[param.name]
    return BatchRequest(number, generator, values, line_key(entry), request.seed)


def _parse(text: str) -> dict[str, Any]:
    try:
        entry = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise StudioError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise StudioError(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise StudioError("not valid JSON: nested too deeply") from None
    if not isinstance(entry, dict):
        raise StudioError(f"expected a JSON object such as {EXAMPLE}, not {_json_kind(entry)}")
    return entry


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys; a seed given twice is a mistake to show.
    entry: dict[str, Any] = {}
    for key, value in pairs:
        if key in entry:
            raise _DuplicateKey(f"{key!r} is given twice")
        entry[key] = value
    return entry


def _values(generator: Generator, entry: Mapping[str, Any]) -> dict[str, Any]:
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise StudioError(f'"params" must be an object such as {{"seed": 7}}, not {_json_kind(params)}')
    types = {param.name: param.type for param in generator.params}
    for name, value in params.items():
        # Param.coerce would turn a list or an object into its text for a text parameter;
        # only a LoRA set is a list, and no parameter is an object.
        if isinstance(value, dict) or (isinstance(value, list) and types.get(name) != "loras"):
            raise StudioError(f"params.{name}: expected a single value, not {_json_kind(value)}")
    values = dict(params)
    if "prompt" in entry:
        prompt = entry["prompt"]
        if not isinstance(prompt, str):
            raise StudioError(f'"prompt" must be text, not {_json_kind(prompt)}')
        if "prompt" not in types:
            names = ", ".join(types) or "none"
            raise StudioError(f"{generator.id} takes no prompt (its parameters: {names})")
        if "prompt" in values:
            raise StudioError('the prompt is given twice: use either "prompt" or params.prompt, not both')
        values["prompt"] = prompt
    return values


def line_key(entry: Mapping[str, Any]) -> str:
    """A hash of the line's canonical JSON: the same request however its line is spaced or its
    keys are ordered; another as soon as any value changes."""
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return "a number"
