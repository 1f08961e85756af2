"""Logging to a file the user can find: internal errors name this file in their message."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from studio.core.base import paths

_configured: Path | None = None


def setup_logging(level: int = logging.INFO) -> Path:
    """Send Studio's log to ``paths.log_file()`` (rotated); return that path. Idempotent."""
    global _configured
    path = paths.log_file()
    if _configured == path:
        return path
    loggers = [logging.getLogger(name) for name in ("studio", "studio_plugins")]  # the app and its built-ins
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:  # a read-only profile must not stop the app
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    handler._studio = True  # type: ignore[attr-defined]
    for logger in loggers:
        logger.setLevel(level)
        for old in [h for h in logger.handlers if getattr(h, "_studio", False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
    _configured = path
    return path


def log_path() -> Path:
    return _configured or paths.log_file()
