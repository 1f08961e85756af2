"""Built-in plugin: CPPN abstract art, from the model that ships in ``resources/models/cppn``."""

from __future__ import annotations

import studio
from studio.core.base.paths import builtin_models

from .generator import CPPNGenerator, CPPNLoader


@studio.hookimpl
def register_generators(register):
    register(CPPNGenerator(builtin_models() / "cppn", "cppn", "CPPN abstract art"))


@studio.hookimpl
def register_model_loaders(register):
    register(CPPNLoader())
