"""The user's settings (model folders and when each was added, device, autosave), persisted with QSettings.

QtCore only (no widgets), so the CLI shares the window's settings. The file lives at
``studio.core.base.paths.settings_file()``; ``STUDIO_HOME`` moves it (the tests do).

Several Studios share the file (a window and a few `studio models add`). QSettings merges
what others wrote key by key when it syncs, but a key read, changed and written back (the
model folders) lost the others' changes: six `models add` at once kept one folder. So every
write is ``update``: under a file lock, read the file again, change, write (QSettings
writes through a temp file and a rename: atomically).
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QSettings

from studio.core.base import paths
from studio.core.base.file_lock import locked

DEFAULT_AUTOSAVE_MINUTES = 2


def _resolved(folder: str | Path) -> Path:
    """A folder's real path, or the path as given when it cannot be resolved (a looping link)."""
    path = Path(folder).expanduser()
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path


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
        self.update("models/folders", lambda _: list(dict.fromkeys(str(f) for f in folders)))

    def _change_model_folders(self, change: Callable[[list[str]], list[str]]) -> list[str]:
        def apply(_: Any) -> list[str]:
            return list(dict.fromkeys(change(self.model_folders)))  # the list as it is in the file now

        return self.update("models/folders", apply)

    @property
    def model_folders_added(self) -> dict[str, str]:
        """When each folder was added (ISO 8601, UTC), by its resolved path; folders added by a
        Studio that kept no times are absent. JSON in one key: an INI file keeps no mappings."""
        try:
            data = json.loads(str(self._qt.value("models/added", "{}") or "{}"))
        except ValueError:
            return {}
        return {str(k): v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}

    def _change_added(self, change: Callable[[dict[str, str]], None]) -> None:
        def apply(_: Any) -> str:
            added = self.model_folders_added  # as it is in the file now
            change(added)
            return json.dumps(added, sort_keys=True)

        self.update("models/added", apply)

    def add_model_folder(self, folder: str | Path) -> None:
        resolved = str(_resolved(folder))
        self._change_model_folders(lambda folders: [*folders, resolved])
        now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
        self._change_added(lambda added: added.setdefault(resolved, now))

    def remove_model_folder(self, folder: str | Path) -> bool:
        resolved = str(_resolved(folder))
        removed = False

        def without(folders: list[str]) -> list[str]:
            nonlocal removed
            kept = [f for f in folders if f not in (str(folder), resolved)]
            removed = len(kept) != len(folders)
            return kept

        self._change_model_folders(without)
        if removed:
            self._change_added(lambda added: [added.pop(key, None) for key in (str(folder), resolved)])
        return removed

    @property
    def device(self) -> str:
        return str(self._qt.value("runtime/device", "auto"))

    @device.setter
    def device(self, device_id: str) -> None:
        self.update("runtime/device", lambda _: device_id)

    @property
    def cluster_address(self) -> str:
        """The Ray cluster's address (``ray://HOST:10001``, ``HOST:6379`` or ``auto``); empty:
        ``RAY_ADDRESS`` if set (``studio.cluster.address``)."""
        return str(self._qt.value("cluster/address", "") or "")

    @cluster_address.setter
    def cluster_address(self, address: str) -> None:
        self.update("cluster/address", lambda _: (address or "").strip())

    @property
    def autosave_minutes(self) -> float:
        """How often unsaved work is copied to the recovery folder; 0 is never."""
        try:
            return max(0.0, float(self._qt.value("project/autosave_minutes", DEFAULT_AUTOSAVE_MINUTES)))
        except (TypeError, ValueError):
            return float(DEFAULT_AUTOSAVE_MINUTES)

    @autosave_minutes.setter
    def autosave_minutes(self, minutes: float) -> None:
        self.update("project/autosave_minutes", lambda _: max(0.0, float(minutes)))

    def value(self, key: str, default=None):
        return self._qt.value(key, default)

    def set_value(self, key: str, value) -> None:
        self.update(key, lambda _: value)

    def update(self, key: str, change: Callable[[Any], Any]) -> Any:
        """Set ``key`` to ``change(its value in the file now)``, as one locked read-modify-write.

        Returns the value written. Raises ``StudioError`` when the lock cannot be had."""
        # Not "settings.ini.lock": QSettings' own QLockFile takes that name while it syncs.
        with locked(self.path, lock_file=self.path.with_name(self.path.name + ".writing")):
            self._qt.sync()  # takes in what another Studio wrote since this one last read
            value = change(self._qt.value(key))
            self._qt.setValue(key, value)
            self._qt.sync()
        return value
