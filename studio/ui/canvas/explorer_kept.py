"""The Explorer's Kept section: the pictures a painter keeps, saved with the canvas.

The kept latents live in the canvas document (``ImageDocument.kept_latents``), so they are
saved and opened with the project; the strip shows those of the chosen generator, in order,
drawn from their latents when no picture of them is at hand (after a project opens). Keeping and
removing one is a change to the project that no undo step records, as a layer's eye is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel

from studio.core.engine.latent_values import recorded
from studio.core.image.kept_latents import KeptLatent, kept_latent
from studio.ui.canvas.explorer_grid import PictureStrip
from studio.ui.canvas.explorer_sections import action_button

if TYPE_CHECKING:
    from studio.ui.canvas.explorer import ExplorerPanel

STRIP_SIDE = 64
EMPTY = "Keep pictures to come back to them and to morph between them"


class Keeping(QObject):
    """Keep, the Kept strip (double-click: current; Delete or Remove: gone) and its pictures."""

    def __init__(self, panel: "ExplorerPanel") -> None:
        super().__init__(panel)
        self.panel = panel
        self.rows: list[int] = []  # strip row -> index in the document's kept list
        self.pictures: dict[int, np.ndarray] = {}  # id(entry) -> its thumbnail
        self.remove_action = panel._action("Remove", "explorer_remove_action", "Remove the selected kept picture", self.remove_selected)
        self.note = QLabel(EMPTY)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #9a9aa2;")
        self.strip = PictureStrip(STRIP_SIDE, removable=True)
        self.strip.setObjectName("explorer_kept")
        self.strip.setToolTip("Double-click: make it current · Delete: remove it")
        self.strip.activated_at.connect(self.make_current)
        self.strip.remove_requested.connect(self.remove)
        self.strip.currentRowChanged.connect(lambda _: self.update_actions())
        row = QHBoxLayout()
        row.addWidget(self.note, 1)
        row.addWidget(action_button(self.remove_action, "explorer_remove_kept"))
        panel.kept_column.addLayout(row)
        panel.kept_column.addWidget(self.strip)

    @property
    def kept(self) -> list[KeptLatent]:
        return self.panel.canvas.document.kept_latents

    def keep(self) -> None:
        shown = self.panel.shown
        if shown is None:
            return
        entry = kept_latent(shown.generator, {**shown.style, "seed": shown.seed, "latent": recorded(shown.latent)})
        if shown.picture is not None:
            self.pictures[id(entry)] = shown.picture
        self.kept.append(entry)
        self.panel.canvas.changed_outside_undo.emit()  # saved with the project: it has changed
        self.refresh()
        self.strip.setCurrentRow(self.strip.count() - 1)

    def kept_here(self) -> list[KeptLatent]:
        """The kept pictures of the chosen generator, in order."""
        return [self.kept[index] for index in self.rows]

    def refresh(self) -> None:
        """The strip shows the chosen generator's kept pictures; one not drawn yet is drawn."""
        panel, generator = self.panel, self.panel.generator()
        kept = self.kept
        self.rows = [i for i, entry in enumerate(kept) if generator is not None and entry.generator == generator.id]
        self.strip.set_count(len(self.rows), [f"{n + 1}" for n in range(len(self.rows))])
        panel.jobs.cancel_all("kept:")
        for row, index in enumerate(self.rows):
            entry = kept[index]
            picture = self.pictures.get(id(entry))
            if picture is not None:
                self.strip.show_picture(row, picture)
            else:
                panel.submit(f"kept:{row}", panel.thumbnail_values(np.float32(entry.latent), entry.seed or 0, panel.style_of(dict(entry.params))))
        others = len(kept) - len(self.rows)
        self.note.setText((f"{len(self.rows)} kept" if self.rows else EMPTY) + (f" ({others} more for other generators)" if others else ""))
        panel.morphing.update_actions()
        panel.update_actions()

    def make_current(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            entry = self.kept[self.rows[row]]
            panel = self.panel
            panel.show_latent(np.float32(entry.latent), entry.seed or 0, panel.style_of(dict(entry.params)), picture=self.pictures.get(id(entry)))

    def remove_selected(self) -> None:
        self.remove(self.strip.currentRow())

    def remove(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            entry = self.kept.pop(self.rows[row])
            self.pictures.pop(id(entry), None)
            self.panel.canvas.changed_outside_undo.emit()
            self.refresh()

    def update_actions(self) -> None:
        self.remove_action.setEnabled(self.strip.currentRow() >= 0)

    def on_result(self, row: int, picture: np.ndarray) -> None:
        if row < len(self.rows):
            self.pictures[id(self.kept[self.rows[row]])] = picture
            self.strip.show_picture(row, picture)

    def document_replaced(self) -> None:
        """Another project: its own kept pictures (the old ones' thumbnails are let go)."""
        self.pictures = {id(e): p for e in self.kept if (p := self.pictures.get(id(e))) is not None}
        self.rows = []  # the rows named the old document's list
        self.strip.set_count(0)
        self.panel.morphing.clear()
        # Drawn once the replacement is over: opening a project stops every job under way, and
        # would stop these with them.
        QTimer.singleShot(0, self.refresh)
