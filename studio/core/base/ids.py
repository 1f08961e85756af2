"""One counter for every id a session hands out: layers, tracks, clips, jobs.

A project file keeps the ids it was saved with only as references between its parts (the
history entry that made a clip, the generated text of a job); the loader gives every
object a fresh id from here, so a loaded project never collides with what is already open.
"""

from __future__ import annotations

import itertools

_ids = itertools.count(1)


def new_id() -> int:
    """A process-wide unique positive id (``next`` on a count is atomic under the GIL)."""
    return next(_ids)
