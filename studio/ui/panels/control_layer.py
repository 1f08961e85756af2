"""The form's field for a ``control`` parameter: which layer steers the generation.

A drop-down of the canvas's layers by name (top first, as the Layers panel lists them) and
"none". The list is read again each time it opens or takes the focus, so a layer added since is there; a chosen
layer deleted since stays chosen until the user picks another, and submitting then says
plainly that it no longer exists (``studio.core.image.control_inputs``).
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtWidgets import QComboBox, QWidget

from studio.core.engine.generators import Param
from studio.core.image.control_inputs import NONE
from studio.ui.plain import plain_tip


class ControlLayerChooser(QComboBox):
    def __init__(self, param: Param, layer_names: Callable[[], list[str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer_names = layer_names
        self.setToolTip(plain_tip(param.help))
        self.setAccessibleName(param.title)
        self.refresh()

    def refresh(self) -> None:
        """The layers as they are now, keeping the choice (even of a layer gone since)."""
        chosen = self.currentText() or NONE
        names = [NONE, *dict.fromkeys(self.layer_names())]
        if chosen not in names:
            names.append(chosen)
        self.blockSignals(True)
        self.clear()
        self.addItems(names)
        self.setCurrentText(chosen)
        self.blockSignals(False)

    def showPopup(self) -> None:
        self.refresh()
        super().showPopup()

    def focusInEvent(self, event) -> None:  # the arrow keys then step through today's layers too
        self.refresh()
        super().focusInEvent(event)

    def value(self) -> str | None:
        text = self.currentText()
        return None if text in ("", NONE) else text

    def set_value(self, value: Any) -> None:
        if isinstance(value, str) and value:
            if self.findText(value) < 0:
                self.addItem(value)
            self.setCurrentText(value)
