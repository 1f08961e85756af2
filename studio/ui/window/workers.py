"""The bridge from core job events (worker threads) to Qt signals (GUI thread).

``JobBridge.listener`` is handed to the core runner; it is called on a worker thread and
only emits signals, which Qt queues to the bridge's (GUI) thread. Image previews are whole
snapshots, so they are coalesced: if the GUI has not yet drawn the last one, a newer one
replaces it instead of queueing behind it, and a fast generator cannot flood the event
loop. Text chunks add up: those that arrive before the GUI takes the last ones are joined
into one (a flood of one-character chunks is one event, not thousands). Audio chunks are
all delivered.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from studio.core.engine.generators import Preview, Progress, Result
from studio.core.engine.jobs import Job, StateChanged


class JobBridge(QObject):
    state_changed = Signal(object, object, str)  # job, JobState, message
    progress = Signal(object, object)  # job, Progress
    preview = Signal(object, object)  # job, Preview (latest only)
    result = Signal(object, object)  # job, Result
    _preview_ready = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._latest: dict[int, tuple[Job, Preview | list[str]]] = {}  # an image, or text chunks to join
        self._lock = threading.Lock()
        self._preview_ready.connect(self._deliver_preview)

    def listener(self, job: Job, event: Any) -> None:
        """Called by the core on any thread: turn the event into a signal."""
        if isinstance(event, StateChanged):
            self.state_changed.emit(job, event.state, event.message)
        elif isinstance(event, Progress):
            self.progress.emit(job, event)
        elif isinstance(event, Preview) and event.kind not in ("image", "text"):
            self.preview.emit(job, event)  # audio chunks add up: never drop one
        elif isinstance(event, Preview):
            with self._lock:
                pending = job.id in self._latest
                if event.kind == "text":
                    chunks = self._latest[job.id][1] if pending else []
                    chunks.append(str(event.value))
                    self._latest[job.id] = (job, chunks)
                else:
                    self._latest[job.id] = (job, event)
            if not pending:
                self._preview_ready.emit(job.id)
        elif isinstance(event, Result):
            self.result.emit(job, event)

    @Slot(object)
    def _deliver_preview(self, job_id: int) -> None:
        with self._lock:
            item = self._latest.pop(job_id, None)
        if item is not None:
            job, preview = item
            self.preview.emit(job, Preview("text", "".join(preview)) if isinstance(preview, list) else preview)
