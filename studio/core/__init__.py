"""The Qt-free core: generators, jobs, runtime, models and documents.

Nothing in this package may import Qt (checked by ``tests/core/test_no_qt.py`` and the
import-linter contract in ``pyproject.toml``): the CLI and the tests use it headless.
"""
