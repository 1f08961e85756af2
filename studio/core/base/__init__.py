"""Small shared utilities with no domain: where files live, ids, memory, input files, file locks, logs, atomic writes.

The bottom layer of the core: it imports nothing else of studio.core (import-linter's layers contract).
"""
