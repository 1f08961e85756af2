"""The window's project: its file, its unsaved state, recent files, autosave and recovery.

The canvas, the text and the timeline live in their workspaces; this class reads them into
a ``studio.core.project.format.Project`` to save, and puts a loaded one back. "Unsaved" is the
shared undo stack away from its clean index, the text document modified, or a change
outside both (a generation's history entry, a recovered project not yet saved).

Before a save writes over the project's file it checks, under the file's lock, that the
file is still the version the window read or last wrote (``FileStamp``); when another
Studio changed it meanwhile, the person chooses what happens (``studio.ui.window.save_conflict``).

Autosave writes a frozen copy of the project on a worker thread into the recovery folder
(``studio.core.project.recovery``) every few minutes while there are unsaved changes; a clean exit
or a save removes it, so what the next start finds there is what a crash left.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox

from studio.core.base.file_lock import FileStamp, locked
from studio.core.project.format import SUFFIX, Project, backup_path
from studio.core.project.load import load_project
from studio.core.project.recovery import Autosave, RecoveryStore
from studio.core.project.save import save_project
from studio.errors import StudioError
from studio.ui.plain import plain_box, plain_tip
from studio.ui.window.save_conflict import ask_about_changed_file

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow

log = logging.getLogger(__name__)
PROJECT_FILTER = f"Studio projects (*{SUFFIX});;Backups (*{SUFFIX}.bak);;All files (*)"
RECENT_KEY = "project/recent"
RECENT_MAX = 10


class ProjectSession(QObject):
    state_changed = Signal()  # the file, its name or its unsaved state changed
    _autosave_finished = Signal(object)  # from the autosave thread: a Path, or the StudioError
    _save_finished = Signal(object)  # from the save thread: (path, None or the StudioError, changes, seconds, then)

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.path: Path | None = None
        self.on_disk: FileStamp | None = None  # the version of ``path`` the window read or last wrote
        self.untitled_name = "Untitled"
        self.recovery = RecoveryStore()
        self._changed_outside_undo = False
        self._changes = 0  # bumped on every edit: autosave only writes what it has not written
        self._autosaved_changes = 0
        self._autosave_thread: threading.Thread | None = None
        self._autosave_error = ""
        self._autosave_finished.connect(self._on_autosaved)
        self._save_thread: threading.Thread | None = None
        self._save_finished.connect(self._on_saved)
        window.undo_stack.cleanChanged.connect(lambda _: self.state_changed.emit())
        window.undo_stack.indexChanged.connect(self._count_change)
        document = window.text.editor.document()
        document.modificationChanged.connect(lambda _: self.state_changed.emit())
        document.contentsChanged.connect(self._count_change)
        window.story_panel.changed.connect(self.mark_changed)  # memory, note, lorebook: saved with the project
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.autosave)
        self.apply_settings()

    # -- state -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.path.stem if self.path is not None else self.untitled_name

    @property
    def modified(self) -> bool:
        return (
            not self.window.undo_stack.isClean()
            or self.window.text.editor.document().isModified()
            or self._changed_outside_undo
        )

    def mark_changed(self) -> None:
        """A change no undo step records (a history entry, a recovered project)."""
        self._changed_outside_undo = True
        self._count_change()
        self.state_changed.emit()

    def _count_change(self, *_args) -> None:
        self._changes += 1

    def _mark_saved(self) -> None:
        self.window.undo_stack.setClean()
        self.window.text.editor.document().setModified(False)
        self._changed_outside_undo = False
        self.state_changed.emit()

    # -- reading and showing the documents ---------------------------------------------------

    def capture(self) -> Project:
        """The project as the window shows it (the live documents, not copies)."""
        w = self.window
        return Project(
            image=w.canvas.document,
            text=w.text.editor.toPlainText(),
            text_spans=list(w.text.spans.spans),
            takes=w.text.takes,  # the alternatives at each place, the page's texts copied in
            timeline=w.audio.timeline,
            history=list(w.history_panel.entries()),
            notes=w.story_panel.notes(),
            chat=w.chatting.view.chat_log(),  # the Text tab's chat view
        )

    def show(self, project: Project) -> None:
        """Put ``project`` in the workspaces; the undo history of the old one is dropped."""
        w = self.window
        w.canvas.load_document(project.image)  # each workspace's jobs are stopped (and named) as it is replaced
        w.text.load_text(project.text, project.text_spans)
        w.text.set_takes(project.takes)
        w.audio.load_timeline(project.timeline)
        w.host.runner.cancel_all()  # any other job still running belongs to the project being closed
        w.history_panel.set_entries(project.history)
        w.story_panel.set_notes(project.notes)
        w.chatting.view.set_chat_log(project.chat)
        w.undo_stack.clear()

    # -- asking before work is lost ------------------------------------------------------------

    def confirm_unsaved(self, then: Callable[[], None], action: str = "closing") -> QMessageBox | None:
        """Run ``then`` now when nothing is unsaved, else after the user says Save or Discard.

        Not modal: jobs keep reporting while the question waits.
        """
        if not self.modified:
            then()
            return None
        box = plain_box(  # the name is a file's: plain text
            QMessageBox.Icon.Question,
            "Unsaved changes",
            f"Save the changes to “{self.name}” before {action}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            self.window,
            informative="Without saving, the changes since the last save are lost.",
        )
        box.setObjectName("unsaved_project")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(button) -> None:
            choice = box.standardButton(button)
            if choice == QMessageBox.StandardButton.Save:
                self.save(then)  # ``then`` once it is written; a failed save says so and stops there
            elif choice == QMessageBox.StandardButton.Discard:
                then()

        box.buttonClicked.connect(answered)
        box.open()
        return box

    # -- New, Open, Save -----------------------------------------------------------------------

    def new(self) -> None:
        self.confirm_unsaved(self._new, "starting a new project")

    def _new(self) -> None:
        self.show(Project())
        self.path, self.on_disk, self.untitled_name = None, None, "Untitled"
        self.recovery.clear()
        self._mark_saved()
        self.window.statusBar().showMessage("New project", 5000)

    def open(self, path: str | Path | None = None) -> None:
        """Open ``path`` (or ask for one) once unsaved work is saved or given up."""

        def choose_and_open() -> None:
            target = path
            if target is None:
                target, _ = QFileDialog.getOpenFileName(self.window, "Open project", str(self._folder()), PROJECT_FILTER)
            if target:
                self.open_file(target)

        self.confirm_unsaved(choose_and_open, "opening another project")

    def open_file(self, path: str | Path) -> bool:
        """Load ``path`` now (no question asked). A damaged project opens with what could be
        read, under a new name, so saving it never replaces the damaged original."""
        path = Path(path).expanduser()
        stamp = FileStamp.of(path)  # before reading: a change made while it loads is a change
        try:
            loaded = load_project(path)
        except StudioError as exc:
            self.window.warn("Cannot open the project", str(exc))
            return False
        except MemoryError:
            self.window.warn("Cannot open the project", f"{path} is too large to fit in memory")
            return False
        self.show(loaded.project)
        self.recovery.clear()
        if loaded.problems:
            self.path, self.untitled_name = None, f"{path.stem} (recovered)"
            self._mark_saved()
            self.mark_changed()
            problems = "\n".join(f"• {p}" for p in loaded.problems)
            self.window.warn(
                "Parts of the project could not be read",
                f"{path.name} is damaged. What could be read is open as “{self.untitled_name}”; "
                f"the file itself was not changed.\n\nNot opened:\n{problems}",
            )
        else:
            self.path, self.on_disk = path.resolve(), stamp
            self._mark_saved()
            self.window.statusBar().showMessage(f"Opened {path}", 5000)
        self._remember(path)
        return True

    @property
    def saving(self) -> bool:
        return self._save_thread is not None and self._save_thread.is_alive()

    def save(self, then: Callable[[], None] | None = None) -> bool:
        """Save to the project's file (untitled: ask where). ``then`` runs once it is written."""
        return self.save_as(then) if self.path is None else self.save_to(self.path, then)

    def save_as(self, then: Callable[[], None] | None = None) -> bool:
        start = self.path or self._folder() / f"{self.name}{SUFFIX}"
        target, _ = QFileDialog.getSaveFileName(self.window, "Save project", str(start), PROJECT_FILTER)
        if not target:
            return False
        target_path = Path(target)
        if target_path.suffix.lower() != SUFFIX:
            target_path = target_path.with_name(target_path.name + SUFFIX)
        return self.save_to(target_path, then)

    def save_to(self, path: str | Path, then: Callable[[], None] | None = None, overwrite: bool = False) -> bool:
        """Start writing the project to ``path``; False when a save is already under way.

        Unless ``overwrite``, a file at ``path`` that is no longer the version the window
        read or last wrote (or, for another path, saw when the save began) is left alone,
        and the person is asked what to do (``studio.ui.window.save_conflict``).

        A frozen copy is written on a worker thread (a large project takes seconds to
        encode, and the window must not freeze meanwhile). The project counts as saved from
        the moment of the copy, so an edit made while it is written makes it unsaved again;
        a save that fails marks it unsaved, says why, and leaves the old file as it was.
        """
        if self.saving:
            self.window.statusBar().showMessage("Still saving the project…", 5000)
            return False
        path = Path(path).expanduser()
        expected = self.on_disk if self.path is not None and path.resolve() == self.path else FileStamp.of(path)
        self.window.audio.commit_gesture()  # a drag in progress is part of what the user sees
        try:
            snapshot = self.capture().frozen_copy()
        except MemoryError:
            self.window.warn("Cannot save the project", "Not enough memory to copy it for writing. Your work is still open here, unsaved.")
            return False
        self._mark_saved()
        changes = self._changes
        self.window.statusBar().showMessage(f"Saving {path.name}…")
        started = time.perf_counter()

        def write() -> None:
            try:
                with locked(path):  # no other Studio writes it between the check and the save
                    now = FileStamp.of(path)  # None: the file is gone, and no one's work with it
                    if not overwrite and now is not None and now != expected:
                        outcome: object = _ChangedOnDisk()
                    else:
                        save_project(snapshot, path)
                        outcome = _Written(FileStamp.of(path))
            except StudioError as exc:
                outcome = exc
            except MemoryError:
                outcome = StudioError("not enough memory to write it")
            except Exception as exc:  # a bug here must never take the window down
                log.exception("saving %s failed", path)
                outcome = StudioError(f"internal error: {type(exc).__name__}: {exc}")
            self._save_finished.emit((path, outcome, changes, time.perf_counter() - started, then))

        self._save_thread = threading.Thread(target=write, name="studio-save", daemon=False)
        self._save_thread.start()
        return True

    def _on_saved(self, report: tuple) -> None:
        path, outcome, changes, seconds, then = report
        if isinstance(outcome, StudioError):
            self.mark_changed()
            self.window.warn("Cannot save the project", f"{outcome}\n\nYour work is still open here, unsaved.")
            return
        if isinstance(outcome, _ChangedOnDisk):
            self.mark_changed()
            self.window.statusBar().showMessage(f"{path.name} changed on disk: not saved", 8000)
            ask_about_changed_file(
                self.window, path,
                reload=lambda: self.open_file(path),
                keep_mine=lambda: self.save_to(path, then, overwrite=True),
                save_as=lambda: self.save_as(then),
            )
            return
        self.path, self.on_disk = path.resolve(), outcome.stamp
        if changes == self._changes:
            self.recovery.clear()  # the file on disk is now the newest copy
        self._autosaved_changes = changes
        self._remember(self.path)
        self.state_changed.emit()
        backup = backup_path(self.path)
        kept = f" (the previous version is kept as {backup.name})" if backup.exists() else ""
        took = f" in {seconds:.1f} s" if seconds >= 0.5 else ""
        self.window.statusBar().showMessage(f"Saved {self.path}{took}{kept}", 8000)
        if then is not None:
            then()

    def _folder(self) -> Path:
        if self.path is not None:
            return self.path.parent
        recent = self.recent()
        return Path(recent[0]).parent if recent else Path.home()

    # -- recent files ------------------------------------------------------------------------

    def recent(self) -> list[str]:
        value = self.window.host.settings.value(RECENT_KEY, [])
        if isinstance(value, str):  # QSettings gives a lone string for a one-item list
            value = [value]
        return [str(v) for v in (value or []) if v]

    def _remember(self, path: Path) -> None:
        path_text = str(Path(path).resolve())

        def first(value) -> list[str]:  # the list as it is in the file now: another window adds too
            value = [value] if isinstance(value, str) else [str(v) for v in (value or []) if v]
            return [path_text, *(p for p in value if p != path_text)][:RECENT_MAX]

        try:
            self.window.host.settings.update(RECENT_KEY, first)
        except StudioError as exc:  # a list of recent files is not worth an error box
            log.warning("could not update the recent projects: %s", exc)

    def fill_recent_menu(self, menu: QMenu) -> None:
        menu.clear()
        recent = self.recent()
        for path in recent:
            action = menu.addAction(Path(path).name)
            action.setToolTip(plain_tip(path))
            action.setStatusTip(path)
            action.triggered.connect(lambda checked=False, p=path: self._open_recent(p))
        if not recent:
            menu.addAction("No recent projects").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear the list", lambda: self.window.host.settings.set_value(RECENT_KEY, []))

    def _open_recent(self, path: str) -> None:
        if not Path(path).is_file():
            self.window.host.settings.set_value(RECENT_KEY, [p for p in self.recent() if p != path])
            self.window.warn("Cannot open the project", f"{path} is no longer there (moved or deleted); it was taken off the list.")
            return
        self.open(path)

    # -- autosave and recovery ---------------------------------------------------------------

    def apply_settings(self) -> None:
        minutes = self.window.host.settings.autosave_minutes
        if minutes > 0:
            self.timer.start(int(minutes * 60_000))
        else:
            self.timer.stop()

    def autosave(self, wait: bool = False) -> bool:
        """Write unsaved work to the recovery folder on a worker thread (``wait``: and join it).

        Nothing is written when nothing changed since the last save or autosave, or while an
        autosave is still writing.
        """
        if not self.modified or self._changes == self._autosaved_changes:
            return False
        if self._autosave_thread is not None and self._autosave_thread.is_alive():
            return False
        self.window.audio.commit_gesture()
        snapshot = self.capture().frozen_copy()  # the user keeps painting while it is written
        self._autosaved_changes = self._changes
        source, name = self.path, self.name

        def write() -> None:
            try:
                self._autosave_finished.emit(self.recovery.autosave(snapshot, source, name))
            except StudioError as exc:
                self._autosave_finished.emit(exc)
            except Exception as exc:  # a bug here must never take the window down
                log.exception("autosave failed")
                self._autosave_finished.emit(StudioError(f"internal error: {type(exc).__name__}: {exc}"))

        self._autosave_thread = threading.Thread(target=write, name="studio-autosave", daemon=True)
        self._autosave_thread.start()
        if wait:
            self._autosave_thread.join()
        return True

    def _on_autosaved(self, outcome) -> None:
        if isinstance(outcome, StudioError):
            self._autosaved_changes = -1  # try again at the next tick
            message = f"Autosave failed: {outcome}"
            if message != self._autosave_error:  # say it once, not every few minutes
                self.window.statusBar().showMessage(message, 15000)
            self._autosave_error = message
            log.warning("%s", message)
        else:
            self._autosave_error = ""
            log.info("autosaved to %s", outcome)

    def offer_recovery(self) -> QMessageBox | None:
        """After a crash: offer the newest autosave a dead session left (then the next one)."""
        orphans = self.recovery.orphans()
        if not orphans:
            return None
        autosave = orphans[0]
        when = time.strftime("%H:%M on %d %b", time.localtime(autosave.saved))
        more = f"\n\n{len(orphans) - 1} more autosaved project(s) will be offered after this one." if len(orphans) > 1 else ""
        box = plain_box(  # the name is a file's: plain text
            QMessageBox.Icon.Information,
            "Recover unsaved work",
            f"Studio did not close properly last time. Unsaved work on “{autosave.name}” was autosaved at {when}.",
            QMessageBox.StandardButton.NoButton,
            self.window,
            informative=f"Recover it? Recovered work opens unsaved: save it to keep it.{more}",
        )
        box.setObjectName("recovery")
        recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(recover)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def answered(button) -> None:
            if button is recover:
                if self.recover(autosave):
                    QTimer.singleShot(0, self.offer_recovery)
            elif button is discard:
                autosave.discard()
                QTimer.singleShot(0, self.offer_recovery)
            # "Not now": the autosave stays for the next start

        box.buttonClicked.connect(answered)
        box.open()
        return box

    def recover(self, autosave: Autosave) -> bool:
        """Open an autosave as unsaved work for its project file; it becomes ours to autosave."""
        try:
            loaded = load_project(autosave.path)
        except StudioError as exc:
            self.window.warn("Cannot recover the autosave", f"{exc}\n\nIt stays in {autosave.path.parent}.")
            return False
        self.show(loaded.project)
        project = Path(autosave.project) if autosave.project else None
        self.path = project
        # The autosave is the version to write over: its file as it is now (it may be newer).
        self.on_disk = FileStamp.of(project) if project is not None else None
        self.untitled_name = autosave.name if project is None else "Untitled"
        self._mark_saved()
        self.mark_changed()  # recovered work is unsaved until the user saves it
        self.autosave(wait=True)  # our own copy first, then the dead session's may go
        autosave.discard()
        note = f" ({len(loaded.problems)} part(s) could not be read)" if loaded.problems else ""
        self.window.statusBar().showMessage(f"Recovered “{autosave.name}”{note}: save it to keep it", 15000)
        return True

    def shutdown(self) -> None:
        """A clean exit: no autosave to recover next time (a save under way finishes first)."""
        self.timer.stop()
        for thread in (self._save_thread, self._autosave_thread):
            if thread is not None:
                thread.join()
        self.recovery.clear()


class _ChangedOnDisk:
    """A save's outcome: the file was not the expected version, so nothing was written."""


class _Written:
    """A save's outcome: written; ``stamp`` is the version now on disk."""

    def __init__(self, stamp: FileStamp | None) -> None:
        self.stamp = stamp
