"""A finished generation added to a project, without a window (``studio generate --project``).

The same placement the window gives a result, as plain data:

- **image**: a new top layer "<title> · <seed>" at 0, 0; an empty canvas takes the picture's
  size (``ImageDocument.insert``), as the first picture generated in the window does.
- **text**: appended after a blank line and marked as generated, under a fresh key that the
  history entry points at (the key the editor marks a job's words with).
- **audio**: resampled to the timeline's rate, as a clip on a new track named after the take
  (its prompt or key, and seed; the generator's title when it has no words), starting at 0. Each run is a *take*: takes stacked from bar 1 on tracks of their
  own are what a musician compares and comps between (as when recording over the same bars),
  and what the window does for a generation at its starting playhead. Appending at the end of
  the last clip would instead string unrelated takes into one ever longer piece, with silence
  before each new one on its track. The first clip of an empty timeline sets its tempo from
  ``info["tempo"]``, so a symbolic generator's bars sit on the grid.

Then a ``HistoryEntry`` is appended to the project's history and returned.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from studio.core.audio.timeline import Clip, Track
from studio.core.base.ids import new_id
from studio.core.engine.generators import Result
from studio.core.image.canvas_inputs import as_rgba, layer_params
from studio.core.image.document import Layer
from studio.core.image.provenance import legacy_source
from studio.core.media.sound import Audio
from studio.core.media.sound_files import resample
from studio.core.project.format import Project
from studio.core.project.history import HistoryEntry, entry_for
from studio.core.text.document import Span
from studio.errors import StudioError


def add_result(project: Project, result: Result, title: str, model: str = "", seconds: float = 0.0, source: str | None = None) -> HistoryEntry:
    """Put ``result`` into ``project`` where the window would, and record it in the history.

    ``title`` is the generator's title (names the layer, clip and track); ``model`` the model
    folder it ran from ("" for a built-in model). Raises ``StudioError`` for a result of a
    kind or shape a project cannot hold; the project is then unchanged. ``source``: what
    made a picture (``studio.core.image.provenance``), a trained model when not said.
    """
    title = title or result.generator
    if result.kind == "image":
        target = _add_image(project, result, title, source or legacy_source(result.generator))
    elif result.kind == "text":
        target = _add_text(project, str(result.value))
    elif result.kind == "audio":
        target = _add_audio(project, result, title)
    else:
        raise StudioError(f"{title} made a {result.kind!r} result, which a project cannot hold")
    entry = entry_for(result.kind, result.generator, title, result.params, target, model, seconds)
    project.history.append(entry)
    return entry


def describe_added(project: Project, entry: HistoryEntry) -> str:
    """What ``entry`` put into ``project``, for a person: "layer 'CPPN · 42'"."""
    if entry.kind == "image":
        layer = next((l for l in project.image.layers if l.id == entry.target), None)
        return f"layer '{layer.name}'" if layer else "a layer"
    if entry.kind == "text":
        span = next((s for s in project.text_spans if s.job == entry.target), None)
        count = len(span) if span else 0
        words = " ".join(_editor_slice(project.text, span.start, span.end).split()) if span else ""
        preview = f": “{words[:40]}{'…' if len(words) > 40 else ''}”" if words else ""
        return f"text ({count} character{'s' if count != 1 else ''}{preview})"
    for track in project.timeline.tracks:
        for clip in track.clips:
            if clip.id == entry.target:
                return f"clip '{clip.name}' ({clip.length / project.timeline.sample_rate:.1f} s) on track '{track.name}'"
    return "a clip"


def result_name(title: str, params: Mapping[str, Any], prompt: bool = False) -> str:
    """"<title> · <seed>"; with ``prompt``, a take's name: the start of the prompt (or the
    key) and the seed ("C major · 4821", "lofi piano with rain… · 77"), the title only when
    there are no such words. Two takes of one generator then differ by name on the timeline,
    as a DAW names takes after what they are, never after the tool that made them."""
    words = take_words(params) if prompt else ""
    seed = params.get("seed")
    return " · ".join(part for part in (words or title, "" if seed is None else str(seed)) if part)


def take_words(params: Mapping[str, Any]) -> str:
    """The start of a generation's prompt, else its key ("" when it has neither)."""
    words = " ".join(str(params.get("prompt", "") or params.get("key", "") or "").split())
    return words[:27].rstrip() + "…" if len(words) > 28 else words


def editor_length(text: str) -> int:
    """``len(text)`` as the text editor counts positions: UTF-16 code units (an emoji is 2).

    Generated spans are stored in the editor's positions, so the window marks the right words."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _editor_slice(text: str, start: int, end: int) -> str:
    """``text`` between two editor positions (UTF-16 code units)."""
    units = text.encode("utf-16-le", "surrogatepass")
    return units[2 * start : 2 * end].decode("utf-16-le", "replace")


def _add_image(project: Project, result: Result, title: str, source: str | None) -> int:
    try:
        pixels = as_rgba(np.asarray(result.value))
    except (ValueError, TypeError) as exc:
        raise StudioError(f"{title} gave a picture Studio cannot place: {exc}") from None
    layer = Layer(result_name(title, result.params), pixels, generator=result.generator, params=layer_params(dict(result.params)), source=source)
    project.image.insert(layer)  # on top; an empty canvas takes the picture's size
    return layer.id


def _add_text(project: Project, generated: str) -> int:
    text = project.text
    if text and not text.endswith("\n\n"):
        text += "\n" if text.endswith("\n") else "\n\n"  # one blank line between, never more
    key = new_id()  # the editor marks a job's words under its id; here no job ran in a window
    start = editor_length(text)
    project.text = text + generated
    if generated:
        project.text_spans.append(Span(start, start + editor_length(generated), key))
    return key


def _add_audio(project: Project, result: Result, title: str) -> int:
    timeline = project.timeline
    samples = np.asarray(result.value, dtype=np.float32)
    rate = int(result.sample_rate or timeline.sample_rate)
    try:
        if rate != timeline.sample_rate:
            samples = resample(samples, rate, timeline.sample_rate)
        clip = Clip(
            result_name(title, result.params, prompt=True), Audio(samples, timeline.sample_rate), start=0,
            generator=result.generator, params=dict(result.params), info=dict(result.info),
        )
    except ValueError as exc:  # TimelineError is a ValueError: empty or misshapen audio
        raise StudioError(f"{title} gave audio Studio cannot place: {exc}") from None
    tempo = result.info.get("tempo")
    if not timeline.clips and isinstance(tempo, (int, float)) and not isinstance(tempo, bool) and tempo > 0:
        timeline = timeline.with_settings(tempo=float(tempo))
    track = Track(clip.name if take_words(result.params) else title)  # named after its take
    project.timeline = timeline.add_track(track).add_clip(track.id, clip)
    return clip.id
