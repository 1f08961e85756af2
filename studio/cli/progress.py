"""The progress bar of ``studio generate``: one redrawn line on a terminal, a line now and then in a log."""

from __future__ import annotations

import shutil
import threading
import time
from typing import Any, TextIO


class ProgressBar:
    """A job listener that draws progress on a stream.

    On a terminal it redraws one line with ``\\r``; into a file or a pipe (CI logs) it writes
    a plain line now and then, so the log shows life without thousands of lines.
    """

    WIDTH = 24
    LINE_INTERVAL = 2.0  # seconds between plain lines

    def __init__(self, stream: TextIO, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = _isatty(stream)
        self._lock = threading.Lock()  # events arrive on the job's worker thread
        self._drawn = 0  # length of the line on screen (tty)
        self._last_line = 0.0
        self._last_text = ""

    def __call__(self, job: Any, event: Any) -> None:
        from studio.core.engine.generators import Progress

        if self.enabled and isinstance(event, Progress):
            self.update(event)

    def update(self, progress: Any) -> None:
        text = self.render(progress)
        with self._lock:
            if self.tty:
                self._redraw(text)
            else:
                self._maybe_print(progress, text)

    def render(self, progress: Any) -> str:
        """``[#####-----]  40% 6/16 message`` on a terminal; ``40% (6/16) message`` in a log."""
        fraction = progress.fraction
        message = progress.message or ("" if fraction is not None else "working…")
        if fraction is None:
            text = f"[{'·' * self.WIDTH}] {message}" if self.tty else message
        elif self.tty:
            filled = round(fraction * self.WIDTH)
            text = f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {fraction * 100:3.0f}% {progress.step}/{progress.total} {message}"
        else:
            text = f"{fraction * 100:.0f}% ({progress.step}/{progress.total}) {message}"
        return text.rstrip()

    def _redraw(self, text: str) -> None:
        columns = shutil.get_terminal_size((80, 24)).columns
        text = text[: max(10, columns - 1)]
        self.stream.write("\r" + text.ljust(self._drawn))
        self.stream.flush()
        self._drawn = len(text)

    def _maybe_print(self, progress: Any, text: str) -> None:
        now = time.monotonic()
        final = progress.total > 0 and progress.step >= progress.total
        new_phase = progress.fraction is None and text != self._last_text
        if final or new_phase or now - self._last_line >= self.LINE_INTERVAL:
            if text != self._last_text:
                print(text, file=self.stream, flush=True)
            self._last_line, self._last_text = now, text

    def say(self, text: str) -> None:
        """A line of its own between progress lines (the bar is written from the job's thread)."""
        with self._lock:
            if self.tty and self._drawn:
                self.stream.write("\r" + " " * self._drawn + "\r")
                self._drawn = 0
            self.stream.write(text + "\n")
            self.stream.flush()

    def finish(self) -> None:
        """Clear the bar (tty) so the next message starts on a clean line."""
        with self._lock:
            if self.tty and self._drawn:
                self.stream.write("\r" + " " * self._drawn + "\r")
                self.stream.flush()
            self._drawn = 0


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
