"""Built-in plugin: four-part chorale sketches from the model that ships in
``resources/models/chorale`` (trained here on music21's Bach chorales by ``recipe.py``),
played by a built-in synthesizer; the notes export as MIDI."""

from __future__ import annotations

import logging

import studio
from studio.core.base.paths import builtin_models

from .generator import ChoraleGenerator, ChoraleLoader

log = logging.getLogger(__name__)


@studio.hookimpl
def register_generators(register):
    try:
        generator = ChoraleGenerator(builtin_models() / "chorale", "chorale", "Bach chorale sketch")
    except studio.ModelError as exc:  # a damaged install: the loader for retrained models still works
        log.error("the built-in chorale model cannot be used: %s", exc)
        return
    register(generator)


@studio.hookimpl
def register_model_loaders(register):
    register(ChoraleLoader())
