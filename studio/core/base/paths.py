"""Where Studio keeps its files: settings, logs, downloaded models, the built-in models.

``STUDIO_HOME`` moves everything of the user's (settings, logs) to one folder; the tests use
it so they never touch the real profile.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def home() -> Path:
    """The folder for the user's settings and logs."""
    explicit = os.environ.get("STUDIO_HOME")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "Studio"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Studio"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "studio"


def cache() -> Path:
    """Files Studio derives and can make again (optimized models): safe to delete."""
    explicit = os.environ.get("STUDIO_HOME")
    if explicit:
        return Path(explicit).expanduser() / "cache"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "Studio" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "Studio"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "studio"


def models() -> Path:
    """Where downloaded and imported models live, one folder each (real files, no links)."""
    return home() / "models"


#: A copy Studio derives from a model into the cache (4-bit weights, a fused graph) names the
#: file it was made from in this file, so removing the model removes its copies too.
MADE_FROM = "made-from.txt"


def settings_file() -> Path:
    return home() / "settings.ini"


def log_file() -> Path:
    return home() / "logs" / "studio.log"


def resources() -> Path:
    """``resources/``: icons and the models that ship inside Studio."""
    import studio_resources

    return Path(studio_resources.__file__).resolve().parent


def builtin_models() -> Path:
    """``resources/models``: the models that ship inside Studio."""
    return resources() / "models"
