"""The Audio workspace's one undo step: the timeline before and after an edit.

``Timeline`` is immutable, so an edit of any kind (a drag, a rename, a generation that also
adds a track) is the pair of values around it: undo restores ``before``, redo ``after``.
Nothing is recomputed and no edit needs its own command class. Edits that come in a stream
(a gain slider turned with the keyboard, a tempo typed digit by digit) share a ``merge_key``
so consecutive ones collapse into one step.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QUndoCommand

from studio.core.audio.timeline import Timeline

MERGEABLE = 0x7A11  # QUndoCommand.id() of commands that may merge with the previous one


class SetTimeline(QUndoCommand):
    def __init__(self, restore: Callable[[Timeline], None], before: Timeline, after: Timeline, text: str, merge_key: str = "") -> None:
        super().__init__(text)
        self.restore, self.before, self.after, self.merge_key = restore, before, after, merge_key

    def redo(self) -> None:
        self.restore(self.after)

    def undo(self) -> None:
        self.restore(self.before)

    def id(self) -> int:  # noqa: A003 - Qt's name
        return MERGEABLE if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, SetTimeline) or other.merge_key != self.merge_key or other.before is not self.after:
            return False
        self.after = other.after
        return True
