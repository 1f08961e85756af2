"""The jobs panel: every job with its state, progress, a live preview and Cancel.

A model download is a job like any other: its row shows the variant it fetches, the bytes, rate
and time left its progress messages carry, and what it installed when it ends."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea, QVBoxLayout, QWidget

from studio.core.engine.generators import Preview, Progress
from studio.core.engine.jobs import Job, JobState
from studio.core.image.canvas_inputs import as_rgba
from studio.core.models.variants import human_size
from studio.ui.images import qimage_from_rgba
from studio.ui.plain import ElidedLabel, plain_label

THUMB = 56
STATE_TEXT = {
    JobState.QUEUED: "Waiting…",
    JobState.RUNNING: "Running",
    JobState.FINISHED: "Done",
    JobState.CANCELLED: "Cancelled",
    JobState.FAILED: "Failed",
}


class JobRow(QFrame):
    """One job: thumbnail, title, status line, progress bar, Cancel."""

    def __init__(self, job: Job, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.setObjectName(f"job_{job.id}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setStyleSheet("background: #1b1b1f; border-radius: 4px; color: #888;")
        self.thumb.setText({"image": "▣", "text": "¶", "audio": "♪", "model": "↓"}.get(job.generator.kind, "•"))
        # The generator's title and every message come from a plugin: plain text, never HTML.
        self.title = ElidedLabel(_title(job))
        self.title.setObjectName("job_title")
        self.title.setStyleSheet("font-weight: bold;")
        self.detail = ElidedLabel(_detail(job))
        self.detail.setStyleSheet("color: #999;")
        self.status = plain_label(STATE_TEXT[job.state])
        self.status.setObjectName("job_status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancel_button")
        self.cancel_button.clicked.connect(self.cancel)

        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.detail)
        text.addWidget(self.status)
        text.addWidget(self.bar)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 6, 6, 6)
        row.addWidget(self.thumb)
        row.addLayout(text, 1)
        row.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignTop)

    def cancel(self) -> None:
        self.job.cancel()
        if not self.job.state.done:
            self.status.setText("Cancelling…")
        self.cancel_button.setEnabled(False)

    def on_state(self, state: JobState, message: str) -> None:
        if state is JobState.RUNNING:
            self.status.setText("Starting…")
            return
        if not state.done:
            self.status.setText(STATE_TEXT[state])
            return
        self.cancel_button.hide()
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if state is JobState.FINISHED else 0)
        elapsed = ""
        if self.job.started is not None and self.job.ended is not None:
            elapsed = f" in {self.job.ended - self.job.started:.1f} s"
        if state is JobState.FINISHED and self.job.generator.kind == "model":
            info = self.job.result.info if self.job.result else {}
            size = f" {human_size(int(info['bytes']))}" if isinstance(info.get("bytes"), int) else ""
            self.status.setText(f"Installed{size}{elapsed}")
        elif state is JobState.FINISHED:
            self._show_final_picture()
            info = self.job.result.info if self.job.result else {}
            provider = info.get("provider") or ""
            text = f"Done{elapsed}" + (f" · {provider.replace('ExecutionProvider', '')}" if provider else "")
            notes = [note for result in self.job.results for note in result.info.get("notes", ())]
            if notes:  # e.g. a prompt cut to the encoder's length: amber, the user should read it
                text += "\n" + "\n".join(dict.fromkeys(notes))
                self.status.setStyleSheet("color: #e3b341;")
            self.status.setText(text)
        elif state is JobState.FAILED:
            self.status.setStyleSheet("color: #ff7b72;")
            self.status.setText(f"Failed: {message}")
        elif self.job.abandoned:  # it ignored Cancel and was left behind: say so, plainly
            self.status.setStyleSheet("color: #e3b341;")
            self.status.setText(message)
        else:
            self.status.setText("Cancelled")

    def on_progress(self, progress: Progress) -> None:
        if self.job.state.done:
            return
        if progress.total <= 0:
            self.bar.setRange(0, 0)  # indeterminate
        else:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(progress.step)
        self.status.setText(progress.message or f"{progress.step} / {progress.total}")

    def on_preview(self, preview: Preview) -> None:
        if preview.kind == "image":
            self._show_thumb(preview.value)

    def _show_final_picture(self) -> None:
        """The thumbnail becomes the finished picture (the last one of a batch), not the last
        rough preview the job sent before it."""
        pictures = [result.value for result in self.job.results if result.kind == "image"]
        if pictures:
            self._show_thumb(pictures[-1])

    def _show_thumb(self, pixels) -> None:
        pixels = np.asarray(pixels)
        rgba = pixels if pixels.ndim == 3 and pixels.shape[2] == 4 else as_rgba(pixels)
        image = qimage_from_rgba(rgba, copy=False)  # only the thumbnail is copied
        # Shrunk before it becomes a pixmap: a 4096 px result need not be copied whole.
        small = image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.thumb.setPixmap(QPixmap.fromImage(small))


def _title(job: Job) -> str:
    """A download's row names the model, not the whole ``owner/name`` (the dock is narrow)."""
    repo_id = str(job.request.params.get("repo_id") or "") if job.generator.kind == "model" else ""
    if "/" in repo_id:
        return f"Download {repo_id.split('/', 1)[1]}"
    return job.generator.title or job.generator.id


def _detail(job: Job) -> str:
    """The row's second line: the job's number and seed, for a download the variant it fetches
    and whose repository it is, for an import the variant it makes and the model's name."""
    if job.generator.kind == "model" and "path" in job.request.params:  # an import: the variant it makes, the name
        params = job.request.params
        parts = [f"#{job.id}", f"fp32 + {params['variant']}" if params.get("variant") else "fp32", f"as {params['name']}" if params.get("name") else ""]
        return " · ".join(p for p in parts if p)
    if job.generator.kind == "model":
        params = job.request.params
        owner = str(params.get("repo_id") or "").partition("/")[0]
        parts = [f"#{job.id}", params.get("variant") or "default variant", params.get("revision") or "", f"from {owner}" if owner else ""]
        return " · ".join(p for p in parts if p)
    return f"#{job.id} · seed {job.request.seed if job.request.seed is not None else '–'}"


class JobsPanel(QScrollArea):
    """Newest job first; finished rows stay as a short history."""

    cancel_requested = Signal(object)
    MAX_ROWS = 30

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.rows: dict[int, JobRow] = {}
        body = QWidget()
        self.list = QVBoxLayout(body)
        self.list.setContentsMargins(4, 4, 4, 4)
        self.list.setSpacing(4)
        self.placeholder = QLabel("No jobs yet. Choose a generator and press Generate.")
        self.placeholder.setStyleSheet("color: #888;")
        self.placeholder.setWordWrap(True)  # the panel may be narrower than the sentence
        self.list.addWidget(self.placeholder)
        self.list.addStretch(1)
        self.setWidget(body)

    def add(self, job: Job) -> JobRow:
        self.placeholder.hide()
        row = JobRow(job)
        self.rows[job.id] = row
        self.list.insertWidget(0, row)
        for old_id in list(self.rows)[: -self.MAX_ROWS]:
            old = self.rows[old_id]
            if old.job.state.done:
                self.rows.pop(old_id).deleteLater()
        return row

    def row(self, job: Job) -> JobRow | None:
        return self.rows.get(job.id)
