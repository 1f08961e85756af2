"""Reading the JSON of a project file without trusting it: typed fields and fresh ids.

``studio.core.project.load`` builds a project from these; every wrong or missing value
raises ``BadPart``, which leaves out the part it belongs to (not the whole project).
"""

from __future__ import annotations

import json
import math
from typing import Any

from studio.core.base.ids import new_id
from studio.core.project.format import MAX_POSITION
from studio.errors import StudioError


class BadPart(StudioError):
    """A part of the file holds something it should not; the part is left out."""


def parse_json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadPart("it is not UTF-8 text") from None
    except RecursionError:
        raise BadPart("it is nested too deeply") from None
    except ValueError as exc:
        raise BadPart(f"it is not valid JSON ({str(exc)[:120]})") from None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Fields:
    """Typed access to one JSON object of the file; a missing or wrong value raises ``BadPart``."""

    _MISSING: Any = object()

    def __init__(self, record: Any, what: str) -> None:
        if not isinstance(record, dict):
            raise BadPart(f"{what} is not a JSON object")
        self.record = record
        self.what = what

    def _get(self, key: str, default: Any) -> Any:
        if key in self.record:
            return self.record[key]
        if default is self._MISSING:
            raise BadPart(f"{self.what} has no {key!r}")
        return default

    def _wrong(self, key: str, expected: str) -> BadPart:
        return BadPart(f"{self.what}: {key!r} is {str(self.record.get(key))[:60]!r}, not {expected}")

    def int(self, key: str, low: int = -MAX_POSITION, high: int = MAX_POSITION, default: Any = _MISSING) -> int:
        value = self._get(key, default)
        if not is_int(value) or not low <= value <= high:
            raise self._wrong(key, f"a whole number from {low} to {high}")
        return value

    def float(self, key: str, low: float = -math.inf, high: float = math.inf, default: Any = _MISSING) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._wrong(key, "a number")
        value = float(value)
        if not (low <= value <= high or (math.isnan(value) and low == -math.inf and high == math.inf)):
            raise self._wrong(key, f"a number from {low} to {high}")
        return value

    def bool(self, key: str, default: Any = _MISSING) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false")
        return value

    def str(self, key: str, default: Any = _MISSING) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self._wrong(key, "text")
        return value

    def optional_str(self, key: str) -> str | None:
        value = self._get(key, None)
        if value is not None and not isinstance(value, str):
            raise self._wrong(key, "text or null")
        return value

    def optional_int(self, key: str) -> int | None:
        value = self._get(key, None)
        if value is not None and not is_int(value):
            raise self._wrong(key, "a whole number or null")
        return value

    def dict(self, key: str, default: Any = _MISSING) -> dict[str, Any]:
        value = self._get(key, default)
        if not isinstance(value, dict):
            raise self._wrong(key, "a JSON object")
        return value

    def list(self, key: str, default: Any = _MISSING) -> list[Any]:
        value = self._get(key, default)
        if not isinstance(value, list):
            raise self._wrong(key, "a list")
        return value


class Remap:
    """Fresh ids for the file's objects, with every reference to an old id following it.

    A reference may be met before or after its object (a span key before the history entry
    that names it, a target whose layer was deleted): the first mention of an old id
    reserves a fresh one, and the first object carrying that old id claims it. A second
    object with the same old id (a damaged file) gets an id of its own.
    """

    def __init__(self) -> None:
        self._new: dict[int, int] = {}
        self._claimed: set[int] = set()

    def object(self, old: int) -> int:
        fresh = self.ref(old)
        if fresh in self._claimed:
            return new_id()
        self._claimed.add(fresh)
        return fresh

    def ref(self, old: int) -> int:
        if old not in self._new:
            self._new[old] = new_id()
        return self._new[old]
