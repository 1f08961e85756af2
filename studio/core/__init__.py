"""The Qt-free core, in rooms that each import only the rooms below them.

``project`` > ``image`` | ``text`` | ``audio`` (the documents, independent of each other) >
``models`` > ``engine`` > ``media`` > ``base`` (import-linter's layers contract in
``pyproject.toml``). Nothing in this package may import Qt (checked by ``tests/core/test_no_qt.py``
and the import-linter contracts): the CLI and the tests use it headless.
"""
