"""Generate / Refine / Inpaint: what an image generator starts from, chosen by the user.

Krita AI's Generate and Refine, as segmented buttons above the form: Generate paints from the
prompt alone, Refine starts from the picture (image to image, its Strength beside it),
Inpaint repaints where the mask (or the selection) is. Under the buttons a line says where
the picture comes from ("the selection", "the layer “Sketch”") and where the result lands,
and the size line says what the width and height follow.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from studio.core.image.canvas_inputs import GENERATE, INPAINT, REFINE
from studio.ui.plain import plain_label

TITLES = {GENERATE: "Generate", REFINE: "Refine", INPAINT: "Inpaint"}
TIPS = {
    GENERATE: "Paint from the prompt alone (text to image); under a selection the picture lands in it",
    REFINE: "Start from the picture (the selection, else the active layer) and change it as much as Strength says (image to image)",
    INPAINT: "Repaint only where the mask is painted (K), or the selection, keeping the rest",
}
SEGMENTS = """
QToolButton { padding: 4px 10px; border: 1px solid #3c3c44; background: #26262b; color: #c8c8d0; }
QToolButton:checked { background: #3d5a80; border-color: #5b7fad; color: white; }
QToolButton:hover:!checked { background: #2f2f35; }
QToolButton#mode_generate { border-top-left-radius: 4px; border-bottom-left-radius: 4px; }
QToolButton[last="true"] { border-top-right-radius: 4px; border-bottom-right-radius: 4px; }
QToolButton[last="false"] { border-right: none; }
"""


class ModeBar(QWidget):
    """The segmented mode buttons, the line on where the picture comes from, the size line."""

    mode_changed = Signal(str)
    follow_requested = Signal()  # "Follow the canvas": the size is the canvas's again

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mode_bar")
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        self.modes: tuple[str, ...] = ()
        segments = QHBoxLayout()
        segments.setSpacing(0)
        for mode, title in TITLES.items():
            button = QToolButton(text=title)
            button.setObjectName(f"mode_{mode}")
            button.setCheckable(True)
            button.setToolTip(TIPS[mode])
            button.setStyleSheet(SEGMENTS)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)  # the segments touch
            button.toggled.connect(lambda on, m=mode: on and self.mode_changed.emit(m))
            self.group.addButton(button)
            self.buttons[mode] = button
            segments.addWidget(button, 1)
        self.buttons[GENERATE].setChecked(True)
        self.segments = QWidget()
        self.segments.setLayout(segments)
        segments.setContentsMargins(0, 0, 0, 0)
        self.source = plain_label()  # layer names are the user's: plain text
        self.source.setObjectName("mode_source")
        self.source.setWordWrap(True)
        self.source.setStyleSheet("color: #a0a0a8;")
        self.size_note = plain_label()
        self.size_note.setObjectName("size_note")
        self.size_note.setWordWrap(True)
        self.size_note.setStyleSheet("color: #a0a0a8;")
        self.follow = QToolButton(text="Follow canvas")
        self.follow.setObjectName("follow_canvas")
        self.follow.setToolTip("Let the width and height follow the canvas (or the selection) again")
        self.follow.setAutoRaise(True)
        self.follow.clicked.connect(self.follow_requested)
        size_row = QHBoxLayout()
        size_row.setContentsMargins(0, 0, 0, 0)
        size_row.addWidget(self.size_note, 1)
        size_row.addWidget(self.follow)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(self.segments)
        layout.addWidget(self.source)
        layout.addLayout(size_row)
        self.set_modes(())

    def set_modes(self, modes: tuple[str, ...]) -> None:
        """Offer ``modes`` (none: no choice to make, the buttons hide); a mode no longer
        offered falls back to Generate."""
        self.modes = modes
        for mode, button in self.buttons.items():
            button.setVisible(mode in modes)
            button.setProperty("last", mode == (modes[-1] if modes else ""))
            button.setStyle(button.style())  # the rounded end follows the last shown button
        self.segments.setVisible(bool(modes))
        self.source.setVisible(bool(modes))
        if modes and self.mode() not in modes:
            self.buttons[GENERATE].setChecked(True)

    def mode(self) -> str:
        """The chosen mode; Generate for a generator that offers no choice."""
        checked = next((mode for mode, button in self.buttons.items() if button.isChecked()), GENERATE)
        return checked if checked in self.modes else GENERATE

    def set_source(self, text: str) -> None:
        self.source.setText(text)

    def set_size_note(self, text: str, following: bool) -> None:
        self.size_note.setText(text)
        self.size_note.setVisible(bool(text))
        self.follow.setVisible(bool(text) and not following)

