"""Connecting a menu entry or a button to a method that wants no argument from the click.

``QAction.triggered`` and ``QAbstractButton.clicked`` carry ``checked`` (a bool), and PySide
hands it to any slot that can take an argument: a method with an optional parameter gets
``False`` in it. That is how every File ▸ Save ended in "Internal error: 'bool' object is
not callable" (``save(then=None)`` got ``then=False``) and Layer ▸ Delete layer asked to
delete the layer ``False``. Every action and button whose slot is a plain command is
connected through ``connect_command``, which calls it with nothing.
"""

from __future__ import annotations

from typing import Any, Callable


def connect_command(signal: Any, command: Callable[[], Any]) -> None:
    """Connect ``signal`` (``triggered``, ``clicked``…) so that it calls ``command()``, dropping
    whatever the signal carries."""
    signal.connect(lambda *_ignored: command())
