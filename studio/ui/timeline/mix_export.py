"""Rendering the mix for export off the GUI thread, with the master meter following it.

``render_to_file`` mixes the timeline in chunks on a worker thread (the mixer measures each
chunk's master level as it goes), writes the file there too, and waits for it in a local
event loop: the window keeps painting and the master meter shows the render's levels, the
status bar its progress, however long the piece; the caller still gets the result when it
returns. The timeline is an immutable value, so edits made meanwhile do not touch the render.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEventLoop, QObject, Signal

from studio.core.audio.levels import Level, Levels
from studio.core.audio.mixer import CHANNELS, Mixer
from studio.core.audio.timeline import Timeline
from studio.core.media.sound_files import write_audio
from studio.errors import StudioError

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace

CHUNK = 1 << 15  # frames a chunk: ~0.7 s of music, a few ms of work


class _Render(QObject):
    progress = Signal(float, object)  # fraction done, the chunk's Levels
    done = Signal(object)  # None, or the StudioError that stopped it


def render_to_file(workspace: "AudioWorkspace", path: Path, timeline: Timeline, start: int = 0, end: int | None = None) -> int | None:
    """Render ``start .. end`` of ``timeline`` to ``path``; the first frame over 0 dBFS (None when
    the mix does not clip). Raises the ``StudioError`` of a failed write."""
    end = timeline.end if end is None else int(end)
    total = max(0, end - start)
    bridge = _Render()
    over: list[int] = []
    outcome: list[StudioError | None] = []
    loop = QEventLoop()
    shown = [-1]

    def show(fraction: float, levels: Levels) -> None:
        metering = getattr(workspace, "metering", None)
        if metering is not None:
            metering.show_render(levels)
        tenth = int(fraction * 10)
        if tenth != shown[0] and tenth < 10:
            shown[0] = tenth
            workspace.message.emit(f"Exporting the mix… {tenth * 10}%")

    def finish(error: StudioError | None) -> None:
        outcome.append(error)
        loop.quit()

    bridge.progress.connect(show)
    bridge.done.connect(finish)

    def work() -> None:
        try:
            mixed = np.zeros((total, CHANNELS), dtype=np.float32)
            mixer = Mixer(CHUNK)
            peaks = np.zeros((len(mixer.compiled(timeline).track_ids) + 1, 2), dtype=np.float32)
            power = np.zeros_like(peaks)
            for first in range(0, total, CHUNK):
                block = mixed[first : first + CHUNK]
                mixer.mix(timeline, start + first, block.shape[0], out=block, levels=(peaks, power))
                if peaks[0].max() > 1.0 and not over:
                    over.append(start + first + int(np.argmax(np.abs(block).max(axis=1) > 1.0)))
                level = Level(tuple(float(v) for v in peaks[0]), tuple(float(v) for v in np.sqrt(power[0])))
                bridge.progress.emit((first + block.shape[0]) / total, Levels(level))
            write_audio(path, mixed, timeline.sample_rate)
        except StudioError as exc:
            bridge.done.emit(exc)
            return
        except MemoryError:
            bridge.done.emit(StudioError("the mix is too long to render in this computer's memory"))
            return
        bridge.done.emit(None)

    threading.Thread(target=work, name="studio-export-mix", daemon=True).start()
    if not outcome:
        loop.exec()
    if outcome[0] is not None:
        raise outcome[0]
    return over[0] if over else None
