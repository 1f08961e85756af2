"""The project file: one ``.studio`` file holds the canvas, the text, the timeline and the history.

Format (version 1): a ZIP archive with these members.

``manifest.json``
    ``{"format": "studio-project", "version": 1, "app": "Studio 0.1.0", "saved": ISO time,
    "members": {name: uncompressed size, ...}}``. Written LAST: a file whose manifest is
    there was written to the end. The loader reads it first; a member it does not list does
    not belong to the project.
``canvas.json``
    ``{"width", "height", "layers": [{"name", "file", "width", "height", "visible",
    "opacity", "generator", "params", "x", "y", "locked", "id", "source", "blend"}],
    "mask", "selection"}`` (``source``, added later, is what made the pixels, an IPTC digital
    source type or null: ``studio.core.image.provenance``; when absent or unknown, a layer
    with a generator counts as a trained model's; ``blend``,
    added later, is one of ``studio.core.image.blend.BLEND_MODES``: normal when absent, and
    an unknown one loads as normal with a note; ``kept_latents``, added later and optional, is the
    Explorer's kept pictures, ``[{"generator", "params"}]`` with ``params["latent"]`` a list of
    numbers: ``studio.core.image.kept_latents``; a project without it keeps none);
    each layer's pixels are ``canvas/<n>.png`` (RGBA, straight alpha, lossless: the colour
    under a fully transparent pixel survives), ``mask`` and ``selection`` name
    ``canvas/mask.png`` / ``canvas/selection.png`` (greyscale, the selection as 0/255) or
    are null. A layer with no pixels (a side of 0) has ``"file": null``.
``text.txt`` and ``text.json``
    The text as UTF-8, byte for byte (no newline conversion), and ``{"spans": [[start, end,
    key], ...]}``, the generated spans. A text document holds no lone surrogates
    (``studio.core.media.text.well_formed``): one that reaches a save anyway is written as U+FFFD,
    the same one UTF-16 unit, so the spans (counted in UTF-16 units) keep their words. Every
    string in the JSON members is written well-formed too. (Files of the first Studio kept
    lone surrogates with ``surrogatepass``; they still open, with U+FFFD in their place.)
``timeline.json`` and ``audio/<n>.wav``
    ``{"sample_rate", "tempo", "beats_per_bar", "master_gain_db", "audio": [{"file", "sample_rate", "frames",
    "channels"}], "tracks": [{"name", "gain_db", "pan", "mute", "solo", "colour", "id",
    "clips": [{"name", "audio", "start", "offset", "length", "fade_in", "fade_out",
    "gain_db", "generator", "params", "info", "score", "id"}]}]}``. Each distinct ``Audio``
    buffer is written once as a 32-bit float WAV (sample-exact) and clips name it by index,
    so clips split from one buffer still share one buffer after loading. A clip's
    ``info["score"]`` (MIDI ``Note`` s) is stored apart as ``[[pitch, start, duration,
    velocity, voice], ...]`` and comes back as Notes; the rest of ``info`` is JSON-plain
    (anything else is described as a string).
``history.json``
    ``{"entries": [{"kind", "generator", "title", "params", "model", "target", "created",
    "seconds", "id", "source"}]}``; ``source`` (optional) is the passage of the text an entry
    was made from, ``{"kind": "text", "start", "end", "excerpt"}`` (``history.Passage``), or
    the chat reply it wrote, ``{"kind": "chat", "message", "take", "excerpt"}`` (``history.ChatReplyLink``).
``writing.json`` (optional)
    ``{"notes": {"memory", "authors_note", "note_depth", "lore": [{"name", "keys", "text",
    "priority", "enabled"}]}, "takes": [...], "chat": {...}}``: the story notes
    (``studio.core.text.story``), the takes at places of the text (``Takes.to_json``) and the
    chat (``ChatLog.to_json``), read and written by ``studio.core.project.writing``. Left out
    when all three are empty; a project without it loads with empty ones.

PNG and WAV members are stored (already compressed, or incompressible), JSON and text
deflated. Each member may hold at most ``member_limit(name)`` bytes: a save refuses a
project past these limits (``OutputError``) and the loader refuses a file past them, so
whatever a save writes, the loader opens (on a machine with the memory to hold it: the
loader counts every picture and buffer against the memory free before decoding it, and
leaves out, plainly, what would not fit). A picture or an audio buffer is decoded once:
a member named by two parts of the file (which a save never writes) is read for the
first only. The ``id`` s in the file only tie its parts together (a history entry's target,
a span's key): loading gives every layer, track, clip and entry a fresh id and remaps the
references, so a loaded project never collides with what is open.

Saving is atomic (``save_project``): the archive is written to a temporary file in the
target's folder, flushed to disk, the old file is kept as ``backup_path(path)`` and the new
one renamed over it; at every instant the target holds the old or the new complete file.

Loading (``load_project``, ``read_project``) trusts nothing: ``studio.core.project.archive`` checks
every member before reading it into memory (nothing is extracted, nothing executed: JSON,
PNG and WAV only); a damaged part is left out and named in ``LoadedProject.problems`` while
the rest opens; only ``StudioError`` s ever leave it.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from studio.core.audio.timeline import Timeline
from studio.core.image.document import ImageDocument
from studio.core.project.archive import MAX_MEMBER_BYTES, ProjectError
from studio.core.project.history import HistoryEntry
from studio.core.project.writing import frozen_writing
from studio.core.text.chat import ChatLog
from studio.core.text.document import Span
from studio.core.text.story import StoryNotes
from studio.core.text.takes import Takes

__all__ = ["FORMAT_VERSION", "SUFFIX", "ProjectError", "Project", "LoadedProject", "backup_path"]

FORMAT_VERSION = 1
SUFFIX = ".studio"
FORMAT_NAME = "studio-project"
MANIFEST = "manifest.json"

#: PNG effort: level 1 is nearly as small as the default on real pictures and several
#: times faster, and an autosave must not make the painter wait.
PNG_COMPRESS_LEVEL = 1
#: Pictures are encoded (and decoded) on this many threads: Pillow's codec releases the GIL.
CODEC_THREADS = max(1, min(4, os.cpu_count() or 1))
#: What one load may allocate for pixels and samples in all (a hostile file can declare a
#: huge picture in a few bytes): beyond it parts are left out rather than exhausting memory.
MAX_DECODED_BYTES = 24 * 1024**3
MAX_JSON_BYTES = 256 * 1024**2
#: The text: a pasted log of hundreds of MB still fits; a text editor is long past usable.
MAX_TEXT_BYTES = 256 * 1024**2
MAX_SAMPLE_RATE = 1_536_000
MAX_POSITION = 2**53  # frames or pixels: past any real document, still exact in a float


def member_limit(name: str) -> int:
    """The most bytes the member ``name`` may hold, unpacked: the limit save and load share."""
    if name.endswith(".json"):
        return MAX_JSON_BYTES
    if name == "text.txt":
        return MAX_TEXT_BYTES
    return MAX_MEMBER_BYTES


# -- the documents ------------------------------------------------------------------------------


def _empty_timeline() -> Timeline:
    return Timeline()


@dataclass(eq=False)
class Project:
    """Everything a session holds: the three workspaces and the generation history."""

    image: ImageDocument = field(default_factory=ImageDocument)
    text: str = ""
    text_spans: list[Span] = field(default_factory=list)
    timeline: Timeline = field(default_factory=_empty_timeline)
    history: list[HistoryEntry] = field(default_factory=list)
    notes: StoryNotes = field(default_factory=StoryNotes)  # memory, author's note, lorebook
    takes: Takes = field(default_factory=Takes)  # the alternatives made at places of the text
    chat: ChatLog = field(default_factory=ChatLog)

    def frozen_copy(self) -> "Project":
        """A copy a background save can write while the user keeps working on this one.

        Layer pixels, the mask, spans, history entries, the story notes, takes and chat are
        copied (they change in place); the timeline is immutable and shared, as is the selection (a ``Selection``
        is immutable: every change makes a new one).
        """
        image = ImageDocument(self.image.width, self.image.height)
        image.layers = [replace(layer, pixels=layer.pixels.copy(), params=dict(layer.params)) for layer in self.image.layers]
        image.mask = None if self.image.mask is None else self.image.mask.copy()
        image.selection = self.image.selection
        image.kept_latents = list(self.image.kept_latents)  # each entry is immutable
        spans = [Span(s.start, s.end, s.job) for s in self.text_spans]
        history = [replace(e, params=dict(e.params)) for e in self.history]
        return Project(image, self.text, spans, self.timeline, history, *frozen_writing(self))


@dataclass(eq=False)
class LoadedProject:
    """A loaded project and what could not be read of it (one plain sentence each; [] = all)."""

    project: Project
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.problems


def backup_path(path: str | os.PathLike[str]) -> Path:
    """Where the previous version of ``path`` is kept: ``P.studio`` -> ``P.studio.bak``."""
    path = Path(path)
    return path.with_name(path.name + ".bak")


# -- shared by saving and loading ---------------------------------------------------------------------


def _in_order(work: Callable[[Any], Any], items: list[Any], consume: Callable[[Any], None]) -> None:
    """``consume(work(item))`` for each item in order, the work done on a few threads with few
    results held at once.

    The pool lives only inside this call, so an exception from ``consume`` shuts it down
    here. (As a generator it was left suspended when its reader stopped early, and the
    garbage collector later closed it on whatever thread it ran on, which deadlocked.)
    """
    if len(items) < 2 or CODEC_THREADS < 2:
        for item in items:
            consume(work(item))
        return
    with ThreadPoolExecutor(CODEC_THREADS, thread_name_prefix="studio-codec") as pool:
        pending: deque = deque()
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) > CODEC_THREADS:
                    consume(pending.popleft().result())
            while pending:
                consume(pending.popleft().result())
        finally:
            for future in pending:
                future.cancel()
