"""The status bar's job indicator: how far the running jobs are, while the Jobs panel is a tab
behind others (the default layout keeps it there, so the canvas has the room).

A click on it brings the Jobs panel forward.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QToolButton, QWidget

from studio.core.engine.generators import Progress
from studio.core.engine.jobs import Job


class JobIndicator(QWidget):
    """A small bar and a button ("Generating · 40 %", "2 jobs · 40 %"); hidden while no job runs."""

    def __init__(self, show_jobs: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("job_indicator")
        self._fractions: dict[int, float | None] = {}  # running job id -> its share done (None: unknown)
        self.button = QToolButton()
        self.button.setObjectName("job_indicator_button")
        self.button.setAutoRaise(True)
        self.button.setToolTip("Show the Jobs panel")
        self.button.clicked.connect(show_jobs)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedSize(90, 8)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.setSpacing(4)
        layout.addWidget(self.bar, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.button)
        self.hide()

    def started(self, job: Job) -> None:
        self._fractions.setdefault(job.id, None)
        self._show()

    def progressed(self, job: Job, progress: Progress) -> None:
        if job.id in self._fractions or not job.state.done:
            self._fractions[job.id] = progress.step / progress.total if progress.total > 0 else None
            self._show()

    def ended(self, job: Job) -> None:
        self._fractions.pop(job.id, None)
        self._show()

    def _show(self) -> None:
        count = len(self._fractions)
        self.setVisible(count > 0)
        if not count:
            return
        known = [f for f in self._fractions.values() if f is not None]
        if known:
            share = sum(known) / len(known)
            self.bar.setRange(0, 100)
            self.bar.setValue(round(share * 100))
            done = f" · {share * 100:.0f} %"
        else:
            self.bar.setRange(0, 0)  # busy, no steps to count
            done = ""
        self.button.setText(("Generating" if count == 1 else f"{count} jobs") + done)
