"""The checkpoint converter: safetensors checkpoints and Hugging Face folders -> Studio's ONNX layouts.

Everything in this package imports torch (the ``convert`` extra) and runs only in a child
process started by ``studio/core/models/importing.py`` (``python -m studio.convert``): torch
never enters the app's process, and its memory goes back to the system when the child ends.
Nothing in studio.core, studio.ui, studio.cli or the plugins imports it (import-linter).
"""
