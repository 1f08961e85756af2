"""A note clip drawn in the arrangement as its notes (a small piano roll), not its waveform.

The notes change the moment they are edited, while the audio follows a render later: drawing
the notes shows the edit at once, and reads as music to a musician where a waveform does not.
Notes are drawn per voice in the clip's window only (a trimmed or split clip shows what it
plays), pitches spread over the lane's height.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter

from studio.core.audio import note_takes as takes
from studio.core.audio.timeline import Clip

MAX_DRAWN = 5000  # more notes than that paint as the waveform: a paint must stay cheap while playing
VOICE_SHADES = (1.0, 0.82, 0.66, 0.5)  # the voices of one track's colour, top voice brightest


def paint_clip_notes(painter: QPainter, area: QRectF, clip: Clip, frames_per_pixel: float, visible: tuple[float, float], colour: QColor) -> bool:
    """Draw ``clip``'s notes in ``area`` (the clip's body); False (nothing drawn) when the clip
    is audio only or its notes cannot be read, so the caller draws the waveform."""
    score = clip.info.get("score")
    if not isinstance(score, (list, tuple)) or not score or len(score) > MAX_DRAWN or area.height() < 8:
        return False
    try:
        take = takes.read_take(clip.info)  # read once per edit (note_takes keeps it), not per paint
    except takes.TakeError:
        return False
    frames_per_beat = clip.sample_rate * 60.0 / take.tempo
    low = min(n.pitch for n in take.notes) - 1
    high = max(n.pitch for n in take.notes) + 1
    row = max(1.0, min(4.0, (area.height() - 4) / (high - low + 1)))
    top = area.top() + 2 + max(0.0, (area.height() - 4 - row * (high - low + 1)) / 2)
    left, right = max(area.left(), visible[0]), min(area.right(), visible[1])
    for note in take.notes:
        x0 = area.left() + (note.start * frames_per_beat - clip.offset) / frames_per_pixel
        x1 = area.left() + (note.end * frames_per_beat - clip.offset) / frames_per_pixel
        x0, x1 = max(x0, left), min(x1, right)
        if x1 <= x0:
            continue
        shade = QColor(colour).lighter(int(90 + 40 * VOICE_SHADES[note.voice % len(VOICE_SHADES)]))
        painter.fillRect(QRectF(x0, top + (high - note.pitch) * row, max(1.0, x1 - x0 - 1), max(1.0, row - 0.5)), shade)
    return True
