"""The results strip: generated pictures as thumbnails under the canvas, waiting to be
applied (Krita AI Diffusion's history, InvokeAI's staging area).

A batch (a request for several pictures) lands here instead of as a pile of layers. A
single result still lands as a layer at once, as it always did, and is also listed here
(marked as on the canvas): the strip is the one place where recent pictures can be
compared, applied again after an undo, or reused, whatever the batch size was.

- Clicking a thumbnail draws it on the canvas in place (the view's preview overlay); the
  document is untouched. Holding Compare shows the canvas without it; Esc hides it, and so
  does any edit (the painter's work is not to be hidden under it).
- Apply (double-click, Enter, the button) adds it as a layer where it was meant to land:
  one undo step. Apply all adds every result not yet on the canvas: one undo step.
- Discard (Delete) and Discard all only tidy the strip, so they are not undo steps and ask
  nothing: the seed in a result's parameters makes the same picture again.

The strip empties when the canvas shows another picture or project, and holds at most
``CAPACITY`` results (``studio.core.image.staged_results``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QListWidgetItem, QMenu, QToolButton, QVBoxLayout, QWidget

from studio.core.image.canvas_inputs import Placement, canvas_to_hold, layer_params
from studio.core.image.geometry import Rect
from studio.core.image.staged_results import StagedResult, StagedResults
from studio.core.project.reuse import PictureParameters
from studio.ui.canvas.results_thumbnails import ResultThumbnails, item_of

if TYPE_CHECKING:
    from studio.ui.canvas.workspace import CanvasWorkspace

MIN_VIEW_HEIGHT = 240  # below this the strip appears folded: the canvas comes first
HEADER_HEIGHT = 34  # the strip's title and buttons
BUTTON_STYLE = """
QToolButton { color: #d8d8de; padding: 2px 9px; border: 1px solid transparent; border-radius: 3px; }
QToolButton:hover { background: #34343b; border-color: #44444c; }
QToolButton:pressed, QToolButton:checked { background: #2a2a30; }
QToolButton:disabled { color: #5e5e66; }
QToolButton#results_apply { background: #2f5fa8; border-color: #3d7bd9; color: white; }
QToolButton#results_apply:hover { background: #3a6fc0; }
QToolButton#results_apply:disabled { background: #2a2a30; border-color: transparent; color: #5e5e66; }
QToolButton#results_toggle { padding: 0px 4px; font-size: 13px; }
"""


class ResultsStrip(QFrame):
    """Staged results under the canvas: show, compare, apply, reuse, discard."""

    def __init__(self, workspace: "CanvasWorkspace", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("results_strip")
        self.setStyleSheet("#results_strip { background: #1f1f23; border-top: 1px solid #34343a; }" + BUTTON_STYLE)
        self.workspace = workspace
        self.results = StagedResults()
        self.overlay_on = True  # clicking a thumbnail draws it over the canvas; Esc turns it off
        self._shown: StagedResult | None = None  # the result drawn over the canvas now
        self._job: int | None = None  # the job whose results came last
        self._left: list[str] = []  # names of the results it pushed out of a full strip, unapplied

        self.expanded = True
        self.toggle = QToolButton(text="▾")
        self.toggle.setObjectName("results_toggle")
        self.toggle.setToolTip("Show or hide the thumbnails (the canvas gets their room)")
        self.toggle.clicked.connect(lambda checked=False: self.set_expanded(not self.expanded))
        self.title = QLabel()
        self.title.setObjectName("results_title")
        self.title.setStyleSheet("color: #c8c8ce; font-weight: 600; padding-left: 2px;")
        self.apply_button = self._button("results_apply", "Apply", "Add the chosen result as a layer where it was meant to land (Enter, or double-click it)", self.apply_current)
        self.apply_all_button = self._button("results_apply_all", "Apply all", "Add every result not yet on the canvas as layers: one undo step", self.apply_all)
        self.compare_button = self._button("results_compare", "Compare", "Hold to see the canvas without the chosen result", None)
        self.compare_button.pressed.connect(self._compare_pressed)
        self.compare_button.released.connect(self._compare_released)
        self.reuse_button = self._button("results_reuse", "Reuse parameters", "Load this result's generator and parameters (seed included) into the Generate panel", self.reuse_current)
        self.discard_button = self._button(
            "results_discard", "Discard", "Remove the chosen result from the strip (Delete). Nothing on the canvas changes; the same seed makes it again", self.discard_current
        )
        self.discard_all_button = self._button("results_discard_all", "Discard all", "Empty the strip. Nothing on the canvas changes; Reuse parameters and the same seeds make them again", self.discard_all)

        header = QHBoxLayout()
        header.setContentsMargins(4, 3, 6, 3)
        header.setSpacing(2)
        header.addWidget(self.toggle)
        header.addWidget(self.title)
        header.addStretch(1)
        for button in (self.apply_button, self.apply_all_button, self.compare_button, self.reuse_button, self.discard_button, self.discard_all_button):
            header.addWidget(button)

        self.thumbnails = ResultThumbnails()
        self.thumbnails.currentItemChanged.connect(self._on_current)
        self.thumbnails.itemClicked.connect(self._on_clicked)
        self.thumbnails.apply_pressed.connect(self.apply_current)
        self.thumbnails.discard_pressed.connect(self.discard_current)
        self.thumbnails.escape_pressed.connect(self.hide_overlay)
        self.thumbnails.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.thumbnails.customContextMenuRequested.connect(self._context_menu)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.thumbnails)

        workspace.document_replaced.connect(self.discard_all)
        workspace.undo_stack.indexChanged.connect(self._document_changed)
        self._update()

    def _button(self, name: str, text: str, tip: str, slot) -> QToolButton:
        button = QToolButton(text=text)
        button.setObjectName(name)
        button.setToolTip(tip)
        if slot is not None:
            button.clicked.connect(lambda checked=False: slot())
        return button

    # -- results arriving ----------------------------------------------------------------------

    def land(
        self, job_id: int, name: str, pixels: np.ndarray, placement: Placement, generator: str, params: dict[str, Any], staged: bool, source: str | None = None
    ) -> int:
        """A generated picture, fitted to its place: staged here (a batch's), or added as a
        layer at once and listed here as applied. Returns the id of the layer it makes (the
        history's target), drawn now for a staged one."""
        item = StagedResult(name, pixels, generator, layer_params(params), placement.x, placement.y, placement.fit_canvas, source)
        if not staged:
            layer = item.make_layer()
            assert layer is not None  # a fresh picture is never painted over
            self.hide_overlay()  # the new layer takes the preview's place
            self.workspace.add_layer(layer, fit_canvas=placement.fit_canvas, text=f"Generate “{name}”")
        first_of_job = job_id != self._job
        self._job = job_id
        if first_of_job:
            self._left.clear()
        self._add(item)
        if staged:
            if first_of_job and not self.expanded and self._room_for_thumbnails():
                self.set_expanded(True)  # a batch to choose from: its thumbnails in sight
            if first_of_job or self.thumbnails.currentItem() is None:
                self.overlay_on = True
                self.thumbnails.setCurrentItem(self.thumbnails.entry_for(item))
            # The job's previews of its next picture were drawn over the chosen one meanwhile.
            self._show(item_of(self.thumbnails.currentItem()))
        return item.layer_id

    def _add(self, item: StagedResult) -> None:
        layers = self.workspace.document.layers
        dropped = self.results.add(item, layers)
        for old in dropped:
            entry = self.thumbnails.entry_for(old)
            if entry is not None:
                self.thumbnails.takeItem(self.thumbnails.row(entry))
            if old is self._shown:
                self.hide_overlay()
        self.thumbnails.scrollToItem(self.thumbnails.add(item, item.applied(layers)))  # the newest in sight
        lost = [old.name for old in dropped if not old.applied(layers)]
        if lost:
            self._left.extend(lost)
            names = ", ".join(f"“{name}”" for name in self._left)
            note = f"The results strip holds {self.results.capacity} results: {names} left it (a seed makes its picture again)"
            QTimer.singleShot(0, lambda: self.workspace.message.emit(note))  # after the line saying the result came
        self._update()

    # -- what the painter does -----------------------------------------------------------------

    def current(self) -> StagedResult | None:
        return item_of(self.thumbnails.currentItem())

    def apply_current(self) -> int:
        item = self.current()
        return self.apply([item]) if item is not None else 0

    def apply_all(self) -> int:
        layers = self.workspace.document.layers
        waiting = [item for item in self.results if not item.applied(layers) and item.picture() is not None]
        if not waiting:
            self.workspace.message.emit("Every result in the strip is on the canvas already")
            return 0
        return self.apply(waiting)

    def apply(self, items: list[StagedResult]) -> int:
        """Add ``items`` as layers where each was meant to land (the canvas growing to hold
        them), in one undo step; returns how many."""
        made = [(item, layer) for item in items if (layer := item.make_layer()) is not None]
        if not made:
            self.workspace.message.emit("That result was painted over on the canvas: Reuse parameters makes it again")
            self.refresh_marks()
            return 0
        self.hide_overlay()
        stack, document = self.workspace.undo_stack, self.workspace.document
        # A picture larger than the canvas grows it, as one landing at once does: never cut off.
        sizes = [size for _, layer in made if (size := canvas_to_hold(document, layer.rect)) is not None]
        grown = (max(w for w, _ in sizes), max(h for _, h in sizes)) if sizes else None
        macro = len(made) > 1 or grown is not None
        if macro:
            stack.beginMacro(f"Apply result “{made[0][0].name}”" if len(made) == 1 else f"Apply {len(made)} results")
        if grown is not None:
            self.workspace.resize_canvas(*grown, anchor="top-left")
        for item, layer in made:
            self.workspace.add_layer(layer, fit_canvas=item.fit_canvas, text=f"Apply result “{item.name}”")
        if macro:
            stack.endMacro()
        self.refresh_marks()
        return len(made)

    def reuse_current(self) -> None:
        item = self.current()
        if item is not None:
            self.workspace.reuse_requested.emit(PictureParameters(item.generator, dict(item.params), "studio"))

    def discard_current(self) -> None:
        item = self.current()
        if item is None:
            return
        row = self.results.index(item)
        self.results.remove(item)
        if item is self._shown:
            self.hide_overlay()
        self.thumbnails.takeItem(row)
        if self.thumbnails.count():
            self.thumbnails.setCurrentRow(min(row, self.thumbnails.count() - 1))
        self._update()

    def discard_all(self) -> None:
        self.hide_overlay()
        self.results.clear()
        self.thumbnails.clear()
        self._job = None
        self._update()

    def _room_for_thumbnails(self) -> bool:
        return self.workspace.view.height() - self.thumbnails.height() - HEADER_HEIGHT >= MIN_VIEW_HEIGHT

    def set_expanded(self, expanded: bool) -> None:
        """Show the thumbnails, or only the title and buttons (the view gets the room back)."""
        self.expanded = expanded
        self.thumbnails.setVisible(expanded)
        self.toggle.setText("▾" if expanded else "▸")

    # -- the overlay on the canvas -------------------------------------------------------------

    def _on_current(self, entry: QListWidgetItem | None, _previous=None) -> None:
        if self.overlay_on:
            self._show(item_of(entry))
        self._update()

    def _on_clicked(self, entry: QListWidgetItem) -> None:
        self.overlay_on = True  # a click after Esc shows it again
        self._show(item_of(entry))

    def _show(self, item: StagedResult | None) -> None:
        """Draw ``item`` over the canvas where it would land (nothing when it is on the canvas)."""
        pixels = item.picture() if item is not None else None
        if pixels is None or item.applied(self.workspace.document.layers):
            self.hide_overlay()
            return
        self._shown = item
        self.workspace.view.show_preview(pixels, Rect(item.x, item.y, pixels.shape[1], pixels.shape[0]))

    def hide_overlay(self) -> None:
        if self._shown is not None:
            self._shown = None
            self.workspace.view.show_preview(None)

    def shown(self) -> StagedResult | None:
        """The result drawn over the canvas now, if any."""
        return self._shown

    def _compare_pressed(self) -> None:
        self.workspace.view.show_preview(None)  # before: the canvas as it is

    def _compare_released(self) -> None:
        if self._shown is not None:
            self._show(self._shown)  # after: the result over it again

    # -- state ---------------------------------------------------------------------------------

    def _document_changed(self, _index: int) -> None:
        """An edit, undo or redo: the painter works on the canvas again, so the overlay steps
        aside rather than hide their work, and the marks follow the layers."""
        self.hide_overlay()
        self.refresh_marks()

    def refresh_marks(self) -> None:
        """An edit, undo or redo may have added or taken away a layer a result made, or painted
        over its picture."""
        layers = self.workspace.document.layers
        for entry in self.thumbnails.entries():
            self.thumbnails.mark(entry, item_of(entry).applied(layers))
        self._update()

    def _update(self) -> None:
        layers = self.workspace.document.layers
        count = len(self.results)
        on_canvas = sum(1 for item in self.results if item.applied(layers))
        self.title.setText(f"Results  {count}" + (f" · {on_canvas} on the canvas" if on_canvas else ""))
        item = self.current()
        usable = item is not None and item.picture() is not None
        self.apply_button.setEnabled(usable)
        self.apply_all_button.setEnabled(any(not i.applied(layers) and i.picture() is not None for i in self.results))
        self.compare_button.setEnabled(usable)
        self.reuse_button.setEnabled(item is not None and bool(item.generator))
        self.discard_button.setEnabled(item is not None)
        if count and self.isHidden():
            # Appearing: the thumbnails only where the view keeps enough room to paint in, and
            # only when a result waits to be applied (a picture that landed as a layer leaves
            # the view its room: the strip is then its title line).
            waiting = any(not i.applied(layers) for i in self.results)
            self.set_expanded(waiting and self._room_for_thumbnails())
        self.setVisible(count > 0)
        self.thumbnails.viewport().update()

    def _context_menu(self, point) -> None:
        entry = self.thumbnails.itemAt(point)
        menu = QMenu(self)
        if entry is not None:
            self.thumbnails.setCurrentItem(entry)
            menu.addAction("Apply as a layer", self.apply_current).setEnabled(self.apply_button.isEnabled())
            menu.addAction("Reuse parameters", self.reuse_current)
            menu.addAction("Discard", self.discard_current)
            menu.addSeparator()
        menu.addAction("Apply all", self.apply_all).setEnabled(self.apply_all_button.isEnabled())
        menu.addAction("Discard all", self.discard_all)
        menu.exec(self.thumbnails.viewport().mapToGlobal(point))
