"""Markers: named places in the piece ("Verse", "Chorus"), in a lane along the top of the ruler.

M adds one at the playhead; a drag on its flag moves it (snapped, one undo step); a
double-click renames it; its right-click menu renames or deletes it; Alt+Left and Alt+Right
go to the previous and next marker. Each edit is one undo step through ``AudioWorkspace.apply``, and the
markers are part of the timeline, so a project keeps them.

``MarkerEdits`` is a part of ``AudioWorkspace`` (a mixin); ``paint_markers`` draws the lane
(``ArrangementGeometry.marker_at`` hits it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QInputDialog, QMenu

from studio.core.audio.timeline import Marker, TimelineError
from studio.ui.timeline.arrangement_geometry import MARKER_LANE

if TYPE_CHECKING:
    from studio.ui.timeline.arrangement import Arrangement

FLAG, FLAG_TEXT, FLAG_LINE = QColor("#c9a227"), QColor("#1c1c20"), QColor(201, 162, 39, 70)


class MarkerEdits:
    """Adding, moving, renaming and deleting markers, and jumping between them."""

    def add_marker_at_playhead(self) -> Marker | None:
        """A marker at the playhead, named after its place among the others ("Marker 3")."""
        if any(m.frame == self._playhead for m in self._timeline.markers):
            self.message.emit("There is a marker at the playhead already")
            return None
        marker = Marker(int(self._playhead), f"Marker {len(self._timeline.markers) + 1}")
        self.apply(self._timeline.add_marker(marker), f"Add marker “{marker.name}”")
        return marker

    def rename_marker(self, marker_id: int, name: str) -> None:
        name = " ".join(name.split())
        if name:
            self.apply(self._timeline.update_marker(marker_id, name=name), "Rename marker")

    def delete_marker(self, marker_id: int) -> None:
        try:
            name = self._timeline.marker(marker_id).name
        except TimelineError:
            return
        self.apply(self._timeline.remove_marker(marker_id), f"Delete marker “{name}”")

    def go_to_marker(self, step: int) -> None:
        """The playhead to the next marker (``step`` 1) or the previous one (-1)."""
        frames = [m.frame for m in self._timeline.markers]
        ahead = [f for f in frames if f > self._playhead] if step > 0 else [f for f in frames if f < self._playhead]
        if ahead:
            self.set_playhead(min(ahead) if step > 0 else max(ahead))
            self.arrangement.viewport().update()


def paint_markers(view: "Arrangement", painter: QPainter, height: int) -> None:
    """Each marker's flag in the ruler's top lane and a faint line down over the lanes."""
    width = view.viewport().width()
    painter.fillRect(QRectF(0, 0, width, MARKER_LANE), QColor("#232328"))
    painter.setFont(view._fonts()[0])
    for marker in view.timeline.markers:
        rect = view.flag_rect(marker)
        if rect.right() < 0 or rect.left() > width:
            continue
        painter.setPen(QPen(FLAG_LINE, 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(rect.left(), MARKER_LANE), QPointF(rect.left(), height))
        painter.fillRect(rect.adjusted(0, 1, 0, -1), FLAG)
        painter.setPen(FLAG_TEXT)
        text = painter.fontMetrics().elidedText(marker.name, Qt.TextElideMode.ElideRight, int(rect.width()) - 8)
        painter.drawText(rect.adjusted(4, 0, -2, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)


def rename_marker_dialog(view: "Arrangement", marker: Marker) -> None:
    name, ok = QInputDialog.getText(view, "Rename marker", "Name:", text=marker.name)
    if ok:
        view.workspace.rename_marker(marker.id, name)


def marker_menu(view: "Arrangement", marker: Marker, where) -> QMenu:
    ws = view.workspace
    menu = QMenu(view)
    menu.addAction("Rename marker…", lambda: rename_marker_dialog(view, marker))
    menu.addAction("Delete marker", lambda: ws.delete_marker(marker.id))
    menu.popup(where)
    return menu
