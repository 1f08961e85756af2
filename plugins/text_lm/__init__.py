"""Built-in plugin: causal language models (GPT-2, Llama/Mistral/Qwen2, Phi-3) from ONNX folders,
and the Shakespeare model that ships in ``resources/models/shakespeare``."""

from __future__ import annotations

import logging

import studio
from studio.core.base.paths import builtin_models

from .generator import LMGenerator, LMLoader
from .layout import LMModel


log = logging.getLogger(__name__)


@studio.hookimpl
def register_generators(register):
    folder = builtin_models() / "shakespeare"
    try:
        model = LMModel.read(folder)
    except studio.ModelError as exc:  # a damaged install: the loader for the user's own models still works
        log.error("the built-in Shakespeare model cannot be used: %s", exc)
        return
    register(LMGenerator(model, "shakespeare", "Shakespeare (built-in)"))


@studio.hookimpl
def register_model_loaders(register):
    register(LMLoader())
