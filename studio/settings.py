"""The user's settings (model folders, device, autosave), persisted with QSettings.

QtCore only (no widgets), so the CLI shares the window's settings. The file lives at
``studio.core.paths.settings_file()``; ``STUDIO_HOME`` moves it (the tests do).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from studio.core import paths

DEFAULT_AUTOSAVE_MINUTES = 2


class Settings:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.settings_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._qt = QSettings(str(self.path), QSettings.Format.IniFormat)

    @property
    def model_folders(self) -> list[str]:
        value = self._qt.value("models/folders", [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-item list
            value = [value]
        return [str(v) for v in (value or [])]

    @model_folders.setter
    def model_folders(self, folders: list[str]) -> None:
        self._qt.setValue("models/folders", list(dict.fromkeys(str(f) for f in folders)))
        self._qt.sync()

    def add_model_folder(self, folder: str | Path) -> None:
        self.model_folders = [*self.model_folders, str(Path(folder).expanduser().resolve())]

    def remove_model_folder(self, folder: str | Path) -> bool:
        resolved = str(Path(folder).expanduser().resolve())
        before = self.model_folders
        after = [f for f in before if f not in (str(folder), resolved)]
        self.model_folders = after
        return len(after) != len(before)

    @property
    def device(self) -> str:
        return str(self._qt.value("runtime/device", "auto"))

    @device.setter
    def device(self, device_id: str) -> None:
        self._qt.setValue("runtime/device", device_id)
        self._qt.sync()

    @property
    def autosave_minutes(self) -> float:
        """How often unsaved work is copied to the recovery folder; 0 is never."""
        try:
            return max(0.0, float(self._qt.value("project/autosave_minutes", DEFAULT_AUTOSAVE_MINUTES)))
        except (TypeError, ValueError):
            return float(DEFAULT_AUTOSAVE_MINUTES)

    @autosave_minutes.setter
    def autosave_minutes(self, minutes: float) -> None:
        self._qt.setValue("project/autosave_minutes", max(0.0, float(minutes)))
        self._qt.sync()

    def value(self, key: str, default=None):
        return self._qt.value(key, default)

    def set_value(self, key: str, value) -> None:
        self._qt.setValue(key, value)
        self._qt.sync()
