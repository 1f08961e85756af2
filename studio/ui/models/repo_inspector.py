"""Asking the hub about a repository without blocking the window.

``inspect_repo`` goes over the network (up to 10 s when the hub cannot be reached), so it runs
in a thread of its own and its answer comes back as a Qt signal, queued to the GUI thread. Only
the latest question is answered: a reply to one the user has since replaced is dropped.
"""

from __future__ import annotations

import itertools
import logging
import threading

from PySide6.QtCore import QObject, Signal

from studio.core.models.hub import inspect_repo
from studio.errors import StudioError

log = logging.getLogger(__name__)


class RepoInspector(QObject):
    """``inspect(repo_id)`` -> ``answered(RepoListing)`` or ``failed(repo_id, sentence)``."""

    answered = Signal(object)  # RepoListing
    failed = Signal(str, str)  # repo id, one plain sentence
    _reply = Signal(int, object, str, str)  # question number, listing or None, repo id, error

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._numbers = itertools.count(1)
        self._latest = 0
        self.busy = False
        self._reply.connect(self._deliver)

    def inspect(self, repo_id: str, revision: str = "") -> None:
        number = self._latest = next(self._numbers)
        self.busy = True
        threading.Thread(target=self._ask, args=(number, repo_id, revision), name=f"inspect {repo_id}", daemon=True).start()

    def _ask(self, number: int, repo_id: str, revision: str) -> None:
        listing, error = None, ""
        try:
            listing = inspect_repo(repo_id, revision)
        except StudioError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug must reach the user as a sentence, not kill the thread
            log.exception("inspecting %s failed", repo_id)
            error = f"internal error while asking the hub about {repo_id}: {exc}"
        try:
            self._reply.emit(number, listing, repo_id, error)
        except RuntimeError:  # the window closed while the hub answered: nobody is left to tell
            log.info("the answer about %s came after its window closed", repo_id)

    def _deliver(self, number: int, listing: object, repo_id: str, error: str) -> None:
        if number != self._latest:
            return  # the user asked about another repository since
        self.busy = False
        if listing is None:
            self.failed.emit(repo_id, error)
        else:
            self.answered.emit(listing)
