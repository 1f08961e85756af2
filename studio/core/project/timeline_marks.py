"""What a saved timeline holds besides its sound: its markers and each track's height.

Both are read leniently: a marker that makes no sense is left out with a sentence saying so,
and a track height out of range falls back to the nearest one allowed, so nothing of the
music is lost over how it was laid out.
"""

from __future__ import annotations

from typing import Any, Callable

from studio.core.audio.timeline import Marker, Timeline, Track
from studio.core.media.text import well_formed
from studio.core.project.fields import Fields, is_int
from studio.core.project.format import MAX_POSITION

#: The tallest row a track may be saved with, in pixels (a 4K screen's height); 0: the default.
MAX_TRACK_HEIGHT = 2160
MAX_MARKER_NAME = 200  # characters


def marker_records(timeline: Timeline) -> list[dict[str, Any]]:
    return [{"frame": int(m.frame), "name": str(m.name)} for m in timeline.markers]


def read_markers(record: Fields, part: Callable[[str, Callable[[], Any]], Any]) -> tuple[Marker, ...]:
    """The markers of ``timeline.json`` (none in a file from before them); ``part`` reads each
    so that a bad one is said and left out, never the timeline with it."""
    items = part("the markers of the timeline", lambda: record.list("markers", default=[])) or []
    markers = [part(f"marker {n + 1} of the timeline", lambda item=item, n=n: _marker(item, n)) for n, item in enumerate(items)]
    return tuple(sorted((m for m in markers if m is not None), key=lambda m: m.frame))


def _marker(item: Any, n: int) -> Marker:
    f = Fields(item, f"marker {n + 1}")
    name = well_formed(" ".join(f.str("name", default="").split()))[:MAX_MARKER_NAME]
    return Marker(f.int("frame", 0, MAX_POSITION), name)


def track_height(record: dict[str, Any]) -> int:
    """A track's saved height: 0 (the default) when absent or not a number, else clamped."""
    value = record.get("height", 0)
    if not is_int(value) or value <= 0:
        return 0
    return min(int(value), MAX_TRACK_HEIGHT)


def height_record(track: Track) -> dict[str, int]:
    return {"height": int(track.height)} if track.height else {}
