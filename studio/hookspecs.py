"""Every hook a Studio plugin can implement.

A plugin is a module (or object) with functions decorated ``@studio.hookimpl`` named after
these specs. Each hook receives a ``register`` callable and calls it once per thing it
contributes, so a plugin never needs to know how the host stores them.
"""

from __future__ import annotations

from typing import Callable

import pluggy

from studio.core.engine.generators import Generator
from studio.core.models.loaders import ModelLoader

hookspec = pluggy.HookspecMarker("studio")
hookimpl = pluggy.HookimplMarker("studio")


@hookspec
def register_generators(register: Callable[[Generator], None]) -> None:
    """Contribute generators: call ``register(generator)`` once for each ``studio.Generator``
    instance the plugin provides (a generator needs no user model folder: built-in models,
    procedural generators)."""


@hookspec
def register_model_loaders(register: Callable[[ModelLoader], None]) -> None:
    """Contribute model loaders: call ``register(loader)`` once for each ``studio.ModelLoader``;
    a loader recognises a model-folder layout and turns such a folder into a generator."""
