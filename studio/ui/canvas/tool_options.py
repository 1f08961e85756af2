"""The current tool's settings, shown above the layers (Krita's "Tool options" place).

Brush, eraser and mask brush share one size, hardness and opacity (switching between them
keeps the hand's feel); the fill uses the brush colour and opacity and its own tolerance.
Only the settings that apply to the current tool are shown, with a line on how to use it.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QColorDialog, QFormLayout, QHBoxLayout, QLabel, QSlider, QSpinBox, QToolButton, QVBoxLayout, QWidget

from studio.core.image.paint import Brush


class SliderField(QWidget):
    """A slider and a spin box bound together; ``logarithmic`` for sizes, where the small
    ones need the fine steps (1 to 1000 px on a linear slider leaves 1-30 px in a sliver)."""

    changed = Signal(int)
    STEPS = 1000
    SPIN_TEXT = "1000 px"  # every field's spin box is as wide as the widest, so they line up

    def __init__(self, low: int, high: int, value: int, suffix: str = "", tip: str = "", logarithmic: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low, self.high, self.logarithmic = low, high, logarithmic
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, self.STEPS)
        self.spin = QSpinBox()
        self.spin.setRange(low, high)
        self.spin.setSuffix(suffix)
        self.spin.setKeyboardTracking(False)
        self.spin.setFixedWidth(self.spin.fontMetrics().horizontalAdvance(self.SPIN_TEXT) + 34)
        self.slider.valueChanged.connect(lambda position: self.spin.setValue(self._value_at(position)))
        self.spin.valueChanged.connect(self._follow)
        self.spin.valueChanged.connect(self.changed)
        self.spin.setValue(value)
        self._follow(value)
        for widget in (self.slider, self.spin):
            widget.setToolTip(tip)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)

    def _value_at(self, position: int) -> int:
        t = position / self.STEPS
        if self.logarithmic:
            return round(self.low * (self.high / self.low) ** t)
        return round(self.low + (self.high - self.low) * t)

    def _follow(self, value: int) -> None:
        if self.logarithmic:
            t = math.log(value / self.low) / math.log(self.high / self.low)
        else:
            t = (value - self.low) / (self.high - self.low)
        self.slider.blockSignals(True)
        self.slider.setValue(round(t * self.STEPS))
        self.slider.blockSignals(False)

    def value(self) -> int:
        return self.spin.value()

    def set_value(self, value: int) -> None:
        self.spin.setValue(value)


class ColourButton(QToolButton):
    """A swatch of the brush colour; a click opens the colour chooser."""

    colour_changed = Signal(QColor)

    def __init__(self, colour: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("colour_button")
        self.setToolTip("Brush colour (the picker, I, takes one from the canvas)")
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self._colour = QColor(colour)
        self.clicked.connect(self._choose)
        self._paint_swatch()

    def colour(self) -> QColor:
        return QColor(self._colour)

    def set_colour(self, colour: QColor) -> None:
        if colour.isValid() and colour != self._colour:
            self._colour = QColor(colour)
            self._paint_swatch()
            self.colour_changed.emit(self.colour())

    def _choose(self) -> None:
        # A modal colour dialog is what every painting program shows here; tests set the
        # colour directly instead of opening it.
        colour = QColorDialog.getColor(self._colour, self, "Brush colour")
        if colour.isValid():
            self.set_colour(colour)

    def _paint_swatch(self) -> None:
        pixmap = QPixmap(34, 20)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QColor("#8b8b93"))
        painter.setBrush(self._colour)
        painter.drawRoundedRect(0.5, 0.5, 33, 19, 4, 4)
        painter.end()
        self.setIcon(QIcon(pixmap))
        self.setIconSize(pixmap.size())
        self.setText(self._colour.name().upper())


class ToolOptions(QWidget):
    """The settings of the current tool; ``brush()`` reads them as a ``Brush``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tool_options")
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold; font-size: 13px;")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #9a9aa2;")
        self.size_field = SliderField(1, 1000, 24, " px", "Brush diameter in canvas pixels ([ and ] change it)", logarithmic=True)
        self.hardness_field = SliderField(0, 100, 80, " %", "How sharp the brush edge is")
        self.opacity_field = SliderField(1, 100, 100, " %", "How opaque one stroke is, however often it crosses itself")
        self.tolerance_field = SliderField(0, 255, 32, "", "How different a colour may be and still be filled")
        self.colour = ColourButton(QColor("#2f6fd6"))
        self.form = QFormLayout()
        self.form.setContentsMargins(0, 4, 0, 0)
        self.form.setHorizontalSpacing(10)
        self.form.setVerticalSpacing(6)
        self._rows: dict[str, int] = {}
        for name, caption, widget in (
            ("size", "Size", self.size_field),
            ("hardness", "Hardness", self.hardness_field),
            ("opacity", "Opacity", self.opacity_field),
            ("tolerance", "Tolerance", self.tolerance_field),
            ("colour", "Colour", self.colour),
        ):
            self._rows[name] = self.form.rowCount()
            label = QLabel(caption)
            label.setStyleSheet("color: #aaa;")
            self.form.addRow(label, widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 8)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.hint)
        layout.addLayout(self.form)

    def add_row(self, name: str, caption: str, widget: QWidget) -> None:
        """A tool's own settings or buttons, shown while a tool naming ``name`` is chosen."""
        self._rows[name] = self.form.rowCount()
        label = QLabel(caption)
        label.setStyleSheet("color: #aaa;")
        self.form.addRow(label, widget)

    def show_for(self, title: str, hint: str, options: tuple[str, ...]) -> None:
        self.title.setText(title)
        self.hint.setText(hint)
        for name, row in self._rows.items():
            self.form.setRowVisible(row, name in options)

    def brush(self) -> Brush:
        colour = self.colour.colour()
        return Brush(
            size=float(self.size_field.value()),
            hardness=self.hardness_field.value() / 100,
            opacity=self.opacity_field.value() / 100,
            colour=(colour.red(), colour.green(), colour.blue(), 255),
        )
