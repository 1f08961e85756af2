"""Clip gain in the arrangement: the clip menu's "Clip gain…" and "Normalise", and the gain
shown on a clip whose gain is not 0 dB.

Each is one undo step. Normalise brings the peak of what the clip plays (after its fades) to
-1 dBFS (``studio.core.audio.levels.normalise_gain_db``); a silent clip is said so and left
as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QInputDialog, QMenu, QWidget

from studio.core.audio.levels import NORMALISE_DB, normalise_gain_db
from studio.core.audio.timeline import Clip, TimelineError

if TYPE_CHECKING:
    from studio.ui.timeline.workspace import AudioWorkspace

GAIN_MIN, GAIN_MAX = -60.0, 36.0  # dB a clip may be given; 36 dB lifts a very quiet take to full scale


def clip_title(clip: Clip) -> str:
    """The clip's name, and its gain when it has one (as the arrangement draws it)."""
    return clip.name if abs(clip.gain_db) < 0.05 else f"{clip.name}  {clip.gain_db:+.1f} dB"


def set_clip_gain(workspace: "AudioWorkspace", clip_id: int, db: float) -> None:
    db = min(GAIN_MAX, max(GAIN_MIN, float(db)))
    try:
        after = workspace.timeline.update_clip(clip_id, gain_db=db)
    except TimelineError:
        return  # the clip went meanwhile (undone, deleted)
    workspace.apply(after, f"Clip gain {db:+.1f} dB")


def normalise_clip(workspace: "AudioWorkspace", clip_id: int) -> None:
    try:
        clip = workspace.timeline.clip(clip_id)
    except TimelineError:
        return
    db = normalise_gain_db(clip)
    if db is None:
        workspace.message.emit(f"“{clip.name}” is silent: there is nothing to normalise")
        return
    if db > GAIN_MAX:
        workspace.message.emit(f"“{clip.name}” is too quiet to normalise: it would need {db:+.0f} dB")
        return
    workspace.apply(workspace.timeline.update_clip(clip_id, gain_db=db), "Normalise clip")
    workspace.message.emit(f"Normalised “{clip.name}”: its peak is now {NORMALISE_DB:.0f} dBFS (clip gain {db:+.1f} dB)")


def ask_clip_gain(parent: QWidget, workspace: "AudioWorkspace", clip: Clip) -> None:
    db, ok = QInputDialog.getDouble(parent, "Clip gain", "Gain of this clip (dB):", clip.gain_db, GAIN_MIN, GAIN_MAX, 1)
    if ok:
        set_clip_gain(workspace, clip.id, db)


def add_gain_actions(menu: QMenu, parent: QWidget, workspace: "AudioWorkspace", clip: Clip) -> None:
    """The clip menu's gain entries."""
    menu.addAction("Clip gain…", lambda: ask_clip_gain(parent, workspace, clip))
    normalise = menu.addAction("Normalise", lambda: normalise_clip(workspace, clip.id))
    normalise.setToolTip(f"Bring the clip's peak to {NORMALISE_DB:.0f} dBFS")
