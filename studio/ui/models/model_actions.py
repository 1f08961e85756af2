"""The Models menu's commands: the Models window, the Download and Import dialogs, a download or
an import started as a job.

One part of the main window owns them so the window, the dialogs and the menu share one Models
window (opened again, it is raised, not duplicated) and one way to start a download or an
import: the core's ``start_download`` / ``start_import`` with the window's job bridge
listening, so the Jobs panel shows its progress and its Cancel works like any job's. The
dialogs may close while it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from studio.core.engine.jobs import Job
from studio.errors import StudioError

if TYPE_CHECKING:
    from studio.ui.models.download_dialog import DownloadDialog
    from studio.ui.models.import_dialog import ImportDialog
    from studio.ui.models.library_window import ModelsWindow
    from studio.ui.window.main_window import MainWindow


class ModelActions(QObject):
    """Opens the Models window and the Download dialog; starts downloads as jobs."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.library_window: "ModelsWindow | None" = None
        self.download_dialog: "DownloadDialog | None" = None
        self.import_dialog: "ImportDialog | None" = None

    def device_kind(self) -> str:
        """``"gpu"`` when the window's device probe found a working accelerator, else ``"cpu"``.

        Read from the status bar's probe (it runs in a thread at start-up) rather than asking
        the runtime here: a first probe creates a session, which must not run on the GUI thread."""
        report = self.window.report
        if report is None:
            return "cpu"
        return "cpu" if report.best.device.is_cpu else "gpu"

    def open_models_window(self) -> "ModelsWindow":
        from studio.ui.models.library_window import ModelsWindow  # loaded when first opened: start-up stays lean

        if self.library_window is None:
            self.library_window = ModelsWindow(self.window, self)
        self.library_window.refresh()
        self.library_window.show()
        self.library_window.raise_()
        self.library_window.activateWindow()
        return self.library_window

    def open_download_dialog(self) -> "DownloadDialog":
        from studio.ui.models.download_dialog import DownloadDialog

        if self.download_dialog is None:
            self.download_dialog = DownloadDialog(self.window, self)
        self.download_dialog.show()
        self.download_dialog.raise_()
        self.download_dialog.activateWindow()
        return self.download_dialog

    def open_import_dialog(self, path: str = "") -> "ImportDialog":
        """File ▸ Import model…: the Import dialog, looking at ``path`` when one is given (a dropped file)."""
        from studio.ui.models.import_dialog import ImportDialog

        if self.import_dialog is None:
            self.import_dialog = ImportDialog(self.window, self)
        self.import_dialog.show()
        self.import_dialog.raise_()
        self.import_dialog.activateWindow()
        if path:
            self.import_dialog.look_at(path)
        return self.import_dialog

    def show_repo(self, repo_id: str) -> "DownloadDialog":
        """The Download dialog, asking the hub about ``repo_id`` (a downloaded model's other variants)."""
        dialog = self.open_download_dialog()
        dialog.repo_box.setText(repo_id)
        dialog.inspect()
        return dialog

    def add_model_folder(self) -> None:
        """File ▸ Add model folder…, then the Models window (when open) shows the new folder."""
        self.window.files.add_model_folder()
        self.refresh()

    def add_folders(self, folders: list[str]) -> int:
        """Folders dropped on the Models window: each added as File ▸ Add model folder does."""
        added = sum(1 for folder in folders if self.window.files.add_model_folder_path(folder))
        self.refresh()
        return added

    def download(self, repo_id: str, variant: str = "", revision: str = "", subfolder: str = "") -> Job | None:
        """Start downloading ``repo_id`` (its ``variant``; of ``subfolder`` where the catalogue
        names the build to take) as a job the Jobs panel shows."""
        from studio.core.models.download import start_download  # the hub library loads on first use

        window = self.window
        try:
            job = start_download(window.host, repo_id, variant=variant, revision=revision, subfolder=subfolder,
                                 listeners=[window.bridge.listener])
        except StudioError as exc:
            window.warn("Cannot download this model", str(exc))
            return None
        window.jobs_panel.add(job)
        which = f" ({variant})" if variant else ""
        window.statusBar().showMessage(f"Downloading {repo_id}{which}: the Jobs panel shows how far it is", 8000)
        return job

    def import_model(self, path: str, name: str, variant: str = "") -> Job:
        """Start converting ``path`` into the model ``name`` (with ``variant`` beside its fp32
        weights) as a job the Jobs panel shows; a refusal before it starts (no room, no
        converter installed) is raised as the ``StudioError`` that says what to do."""
        from studio.core.models.importing import start_import  # the importer loads on first use

        window = self.window
        job = start_import(window.host, path, name=name, variant=variant, listeners=[window.bridge.listener])
        window.jobs_panel.add(job)
        window.statusBar().showMessage(f"Importing {name}: the Jobs panel shows how far it is", 8000)
        return job

    def refresh(self) -> None:
        """The model list changed (a download installed, a folder added): show it."""
        if self.library_window is not None:
            self.library_window.refresh()
        if self.download_dialog is not None:
            self.download_dialog.refresh_installed()
        panel, generators = self.window.generate_panel, self.window.host.generators
        if panel.generators != generators:  # re-listing alone would re-announce the choice
            panel.set_generators(generators)
