"""User-facing errors.

A ``StudioError`` is an expected failure with a message a person can act on: the UI shows
it as it is and the CLI prints it and exits with status 2. Anything else that escapes a
plugin or the core is an internal error: it is logged with its traceback and shown as
"internal error" with the log's path.
"""

from __future__ import annotations


class StudioError(Exception):
    """An expected failure, with a plain-language message."""


class ParamError(StudioError):
    """A parameter value is missing, of the wrong type or out of range."""


class UnknownGeneratorError(StudioError):
    """No loaded plugin provides a generator with that id."""


class ModelError(StudioError):
    """A model folder or model file cannot be used."""


class OutputError(StudioError):
    """A result cannot be written where it was asked to go."""


class ResultError(StudioError):
    """A plugin's generator yielded something that breaks the contract: the plugin is to blame."""


class Cancelled(Exception):
    """Raised inside a job when the user cancelled it; not an error."""
