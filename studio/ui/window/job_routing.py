"""Each job's events reach only the document it was started for.

A job writes into the workspace of its generator's kind (a picture onto the canvas, text
into the editor, audio onto the timeline). When that workspace's document is replaced (a
text file opened, a picture opened, a project new, opened or recovered), the job started for
the old one is stopped, and whatever it still sends (chunks already queued, a result from a
plugin that finishes its long call before it looks at Cancel) is dropped instead of landing
in the new document. The user is told which generation stopped and why.

A download or an import (a job of kind ``model``) writes into no document: when it installs a
model, the model folders are loaded again, the Generate panel lists the new generator and the
status bar says where to find it.

A document is told apart by the moment it was shown, in job ids: ids come from one
increasing counter (``studio.core.base.ids``), so a job whose id is below the id drawn when its
workspace's document was replaced was started for an earlier document.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QObject, QTimer

from studio.core.base.ids import new_id
from studio.core.engine.generators import Result
from studio.core.engine.jobs import Job

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow

#: A generator's kind -> what its workspace holds, as the user names it.
DOCUMENTS = {"image": "canvas", "text": "text", "audio": "timeline"}


class JobRouting(QObject):
    """Connects the window's job bridge to its handlers, dropping events meant for a replaced document."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self._shown: dict[str, int] = {}  # kind -> the id drawn when its document was last replaced
        bridge, handlers = window.bridge, window.generation
        bridge.state_changed.connect(handlers.on_state)  # the Jobs panel shows every job's end
        bridge.progress.connect(handlers.on_progress)  # the Jobs panel's bar; no workspace changes
        bridge.preview.connect(self._only_current(handlers.on_preview))
        to_document = self._only_current(handlers.on_result, self._dropped)
        bridge.result.connect(lambda job, result: self.installed(job, result) if job.generator.kind == "model" else to_document(job, result))
        window.canvas.document_replaced.connect(lambda: self.replaced("image"))
        window.text.document_replaced.connect(lambda: self.replaced("text"))
        window.audio.document_replaced.connect(lambda: self.replaced("audio"))

    def current(self, job: Job) -> bool:
        """True while the document ``job`` was started for is still the one shown."""
        chat = getattr(self.window, "chatting", None)  # a chat reply follows its conversation, not the story
        return job.id > self._shown.get(job.generator.kind, 0) or (chat is not None and chat.owns(job))

    def _elsewhere(self, job: Job) -> bool:
        """A job whose output does not land in a document: a chat reply follows its conversation,
        and the Explorer's pictures land in its own panel."""
        chat = getattr(self.window, "chatting", None)
        explorer = getattr(self.window, "explorer", None)
        return (chat is not None and chat.owns(job)) or (explorer is not None and explorer.jobs.owns(job))

    def replaced(self, kind: str) -> None:
        """The ``kind`` workspace shows another document: stop the jobs started for the old one."""
        self._shown[kind] = new_id()
        stopped = [job for job in self.window.host.runner.active() if job.generator.kind == kind and not self._elsewhere(job)]
        for job in stopped:
            job.cancel()
        if stopped:
            names = ", ".join(f"“{_title(job)}”" for job in stopped)
            self._tell(f"Stopped {names}: the {DOCUMENTS[kind]} it was generating into was replaced")

    def installed(self, job: Job, result: Result) -> None:
        """A download or an import finished: load the model folders again (the new one among them),
        list its generator in the Generate panel and say so; a folder no plugin can run is a warning."""
        window = self.window
        folder = Path(str(result.value)).expanduser().resolve()
        entries = window.host.reload_model_folders()
        entry = next((e for e in entries if e.path.expanduser().resolve() == folder), None)
        window.menus.models.refresh()
        name = str(result.info.get("repo_id") or folder.name)
        if entry is None or not entry.ok or entry.generator is None:
            why = entry.error if entry is not None and entry.error else "no installed plugin reads its folder"
            done = "Imported" if "path" in job.request.params else "Downloaded"
            window.warn(f"{done} {name}, but Studio cannot run it", f"{why}\n\nIt is in {folder}")
            return
        title = entry.generator.title or entry.generator.id
        if window.menus.models.library_window is not None:  # open: it shows the new model
            window.menus.models.library_window.select(entry.generator.id)
        window.statusBar().showMessage(f"Installed {title}: choose it in the Generate panel", 20000)

    def _only_current(self, handler: Callable[..., None], otherwise: Callable[..., None] | None = None) -> Callable[..., None]:
        def deliver(job: Job, *event: Any) -> None:
            if self.current(job):
                handler(job, *event)
            elif otherwise is not None:
                otherwise(job)

        return deliver

    def _dropped(self, job: Job) -> None:
        if job.cancel_requested:  # stopped by the replacement (and said so) or by the user
            return
        self._tell(f"“{_title(job)}” finished after the {DOCUMENTS[job.generator.kind]} it was generating into was replaced: its result is not used")

    def _tell(self, text: str) -> None:
        """Show ``text`` after what the replacement itself says ("New project", "Opened …")."""

        def show() -> None:
            bar = self.window.statusBar()
            current = bar.currentMessage()
            bar.showMessage(f"{current} · {text}" if current and text not in current else text, 15000)

        QTimer.singleShot(0, show)


def _title(job: Job) -> str:
    return job.generator.title or job.generator.id
