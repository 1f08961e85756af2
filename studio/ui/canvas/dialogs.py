"""Small dialogs for the Image menu: canvas size (with anchor), image size, extend for outpainting.

They only ask; the workspace checks the numbers (a refused size gets a plain message) and
makes the change as one undo step.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QWidget,
)

from studio.core.image.canvas_size import ANCHORS, OUTPAINT_OVERLAP, SIDES

# The spin boxes go past the limit on purpose: the workspace refuses with a message that
# says what the limit is, rather than the field silently stopping.
SPIN_MAX = 100_000
ARROWS = {
    "top-left": "↖", "top": "↑", "top-right": "↗",
    "left": "←", "center": "●", "right": "→",
    "bottom-left": "↙", "bottom": "↓", "bottom-right": "↘",
}


def _spin(value: int, low: int = 1, suffix: str = " px") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, SPIN_MAX)
    spin.setSuffix(suffix)
    spin.setValue(value)
    spin.setMinimumWidth(110)
    return spin


def _buttons(dialog: QDialog) -> QDialogButtonBox:
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    box.accepted.connect(dialog.accept)
    box.rejected.connect(dialog.reject)
    return box


class CanvasSizeDialog(QDialog):
    """New width and height, and which part of the old canvas stays where (the anchor)."""

    def __init__(self, width: int, height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Canvas size")
        self.width_spin, self.height_spin = _spin(width), _spin(height)
        grid_widget = QWidget()
        grid = QGridLayout(grid_widget)
        grid.setSpacing(2)
        self.anchor_group = QButtonGroup(self)
        self._anchors: dict[int, str] = {}
        for number, name in enumerate(ANCHORS):
            button = QToolButton(text=ARROWS[name])
            button.setCheckable(True)
            button.setFixedSize(30, 30)
            button.setToolTip(name.replace("-", " "))
            self.anchor_group.addButton(button, number)
            self._anchors[number] = name
            grid.addWidget(button, number // 3, number % 3)
            button.setChecked(name == "center")
        note = QLabel("Cropping keeps the layers whole: grow the canvas again and they come back.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #999;")
        form = QFormLayout(self)
        form.addRow("Width", self.width_spin)
        form.addRow("Height", self.height_spin)
        form.addRow("Anchor", grid_widget)
        form.addRow(note)
        form.addRow(_buttons(self))

    def values(self) -> tuple[int, int, str]:
        return self.width_spin.value(), self.height_spin.value(), self._anchors[self.anchor_group.checkedId()]


class ImageSizeDialog(QDialog):
    """New width and height for the whole image, the aspect ratio kept unless told otherwise."""

    def __init__(self, width: int, height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Resize image")
        self.ratio = width / height
        self.width_spin, self.height_spin = _spin(width), _spin(height)
        self.keep = QCheckBox("Keep the aspect ratio")
        self.keep.setChecked(True)
        self.width_spin.valueChanged.connect(lambda w: self._follow(self.height_spin, round(w / self.ratio)))
        self.height_spin.valueChanged.connect(lambda h: self._follow(self.width_spin, round(h * self.ratio)))
        form = QFormLayout(self)
        form.addRow("Width", self.width_spin)
        form.addRow("Height", self.height_spin)
        form.addRow(self.keep)
        form.addRow(_buttons(self))

    def _follow(self, spin: QSpinBox, value: int) -> None:
        if self.keep.isChecked():
            spin.blockSignals(True)
            spin.setValue(max(1, value))
            spin.blockSignals(False)

    def values(self) -> tuple[int, int]:
        return self.width_spin.value(), self.height_spin.value()


class ExtendDialog(QDialog):
    """Outpainting: how far to grow the canvas, and on which side."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Extend canvas for outpainting")
        self.side = QComboBox()
        self.side.addItems(list(SIDES))
        self.side.setCurrentText("right")
        self.amount = _spin(128)
        self.amount.setSingleStep(8)
        note = QLabel(
            f"The new border is added to the inpainting mask and selected with {OUTPAINT_OVERLAP} px of the "
            "picture beside it; generate with an inpainting model to fill it."
        )
        note.setWordWrap(True)
        note.setStyleSheet("color: #999;")
        form = QFormLayout(self)
        form.addRow("Side", self.side)
        form.addRow("Grow by", self.amount)
        form.addRow(note)
        form.addRow(_buttons(self))

    def values(self) -> tuple[str, int]:
        return self.side.currentText(), self.amount.value()
