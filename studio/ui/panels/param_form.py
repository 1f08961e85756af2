"""A form built from a generator's declared parameters: one widget per ``Param``.

The widgets enforce the same ranges ``Param.coerce`` checks, and ``values()`` goes through
``Param.coerce`` anyway, so the form, the CLI and the core share one definition.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from PySide6.QtCore import QRegularExpression, Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QToolButton,
    QWidget,
)

from studio.core.engine.generators import INPUT_TYPES, SEED_MAX, Param
from studio.core.engine.latent_values import coerce_latent
from studio.errors import StudioError
from studio.ui.panels.control_layer import ControlLayerChooser
from studio.ui.panels.lora_list import LoraList
from studio.ui.plain import plain_label, plain_tip

INT_LIMIT = 2**31 - 1
SLIDER_STEPS = 1000


class SeedField(QWidget):
    """A seed box, a button that draws a new one, and "random" (a new seed every time).

    A line edit with a validator rather than a QSpinBox: seeds span 0..2**32-1 and a
    QSpinBox stops at 2**31-1, which would silently change a reused seed. While "random" is
    on the box is empty and reads "random": a number there would be one no generation uses.
    """

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{1,10}"), self.edit))
        self.edit.setToolTip(plain_tip(param.help))
        self.edit.setMinimumWidth(self.edit.fontMetrics().horizontalAdvance("4294967295") + 8)
        self.edit.editingFinished.connect(self._clamp)
        self.edit.setPlaceholderText("random")
        self._kept = ""  # the seed typed before "random" was turned on: back when it is off
        self.dice = QToolButton(text="New")
        self.dice.setToolTip("Draw a new seed and use it")
        self.dice.clicked.connect(self.randomize)
        self.random_each = QCheckBox("random")
        self.random_each.setToolTip("Draw a new seed for every generation")
        self.random_each.toggled.connect(self._random_toggled)
        self.random_each.setChecked(param.default is None)
        self._random_toggled(self.random_each.isChecked())
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.dice)
        layout.addWidget(self.random_each)

    def randomize(self) -> None:
        """A new seed of its own, used from now on ("random" goes off)."""
        self.random_each.setChecked(False)
        self.edit.setText(str(random.randint(0, SEED_MAX)))

    def _random_toggled(self, on: bool) -> None:
        self.edit.setEnabled(not on)
        if on:
            self._kept = self.edit.text() or self._kept
            self.edit.clear()
        elif not self.edit.text():
            self.edit.setText(self._kept or str(random.randint(0, SEED_MAX)))

    def _clamp(self) -> None:
        self.edit.setText(str(min(int(self.edit.text() or 0), SEED_MAX)))

    def value(self) -> int | None:
        if self.random_each.isChecked():
            return None
        return min(int(self.edit.text() or 0), SEED_MAX)

    def set_value(self, seed: Any) -> None:
        if seed is None:
            self.random_each.setChecked(True)
            return
        self.random_each.setChecked(False)
        self.edit.setText(str(max(0, min(int(seed), SEED_MAX))))


class SliderSpin(QWidget):
    """A spin box with a slider beside it, for bounded numbers."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.is_int = param.type == "int"
        self.param = param
        if self.is_int:
            self.spin: QSpinBox | QDoubleSpinBox = QSpinBox()
            self.spin.setRange(int(param.min if param.min is not None else -INT_LIMIT), int(param.max if param.max is not None else INT_LIMIT))
            if param.step:
                self.spin.setSingleStep(int(param.step))
        else:
            self.spin = QDoubleSpinBox()
            self.spin.setDecimals(3 if (param.step or 0.1) < 0.1 else 2)
            self.spin.setRange(param.min if param.min is not None else -1e9, param.max if param.max is not None else 1e9)
            self.spin.setSingleStep(param.step or 0.1)
        self.spin.setToolTip(plain_tip(param.help))
        self.spin.setValue(param.default)
        self.spin.setMinimumWidth(72)
        self.slider: QSlider | None = None
        if param.min is not None and param.max is not None:
            self.slider = QSlider(Qt.Orientation.Horizontal)
            self.slider.setRange(0, SLIDER_STEPS)
            self.slider.setToolTip(plain_tip(param.help))
            self._low, self._high = float(param.min), float(param.max)
            self._sync_slider(self.spin.value())
            self.slider.valueChanged.connect(self._from_slider)
            self.spin.valueChanged.connect(self._sync_slider)
            layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)

    def _sync_slider(self, value: float) -> None:
        if self.slider is None:
            return
        self.slider.blockSignals(True)
        self.slider.setValue(round((value - self._low) / (self._high - self._low) * SLIDER_STEPS))
        self.slider.blockSignals(False)

    def _from_slider(self, position: int) -> None:
        value = self._low + (self._high - self._low) * position / SLIDER_STEPS
        self.spin.setValue(self.param.snap(value))  # onto the step grid that validation enforces

    def value(self) -> float:
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        self.spin.setValue(int(value) if self.is_int else float(value))


class LatentField(QWidget):
    """A latent parameter: says whether the seed draws the numbers or a kept latent is set (the
    Explorer's, a reused picture's), with Clear to go back to the seed. The numbers themselves
    are not typed: there are dozens to thousands of them."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setObjectName("latent_state")
        self.label.setToolTip(plain_tip(param.help))
        self.clear_button = QToolButton(text="Clear")
        self.clear_button.setObjectName("latent_clear")
        self.clear_button.setToolTip("Forget these numbers: the seed draws the picture again")
        self.clear_button.clicked.connect(lambda: self.set_value(None))
        layout.addWidget(self.label, 1)
        layout.addWidget(self.clear_button)
        self._latent: tuple[float, ...] | None = None
        self.set_value(param.default)

    def value(self) -> tuple[float, ...] | None:
        return self._latent

    def set_value(self, latent: Any) -> None:
        try:  # a reused picture's list, a pasted text: read as the core reads them
            self._latent = coerce_latent("latent", latent)
        except StudioError:
            self._latent = None
        self.label.setText("From the seed" if self._latent is None else f"Kept: {len(self._latent)} numbers")
        self.label.setStyleSheet("color: #999;" if self._latent is None else "")
        self.clear_button.setEnabled(self._latent is not None)


class ParamForm(QWidget):
    """The form for one generator; ``values()`` returns what ``Generator.request`` takes."""

    submit = Signal()  # Ctrl+Enter in a prompt box

    def __init__(self, params: tuple[Param, ...], parent: QWidget | None = None, layer_names: Callable[[], list[str]] | None = None) -> None:
        super().__init__(parent)
        self.params = params
        self.layer_names = layer_names or list  # the canvas's layer names, for a control parameter
        self._getters: dict[str, Callable[[], Any]] = {}
        self._setters: dict[str, Callable[[Any], None]] = {}
        self.widgets: dict[str, QWidget] = {}
        outer = QVBoxLayout(self)  # the rows stay together at the top; spare height goes below them
        outer.setContentsMargins(0, 0, 0, 0)
        layout = QFormLayout()
        outer.addLayout(layout)
        outer.addStretch(1)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # a narrow panel puts a field under its name
        for param in params:
            widget = self._make(param)
            widget.setObjectName(f"param_{param.name}")
            self.widgets[param.name] = widget
            title = plain_label(param.title)  # the plugin's words, never HTML
            title.setBuddy(widget)
            layout.addRow(title, widget)

    def _make(self, param: Param) -> QWidget:
        if param.type == "seed":
            seed = SeedField(param)
            self._bind(param, seed.value, seed.set_value)
            return seed
        if param.type == "control":
            chooser = ControlLayerChooser(param, self.layer_names)
            self._bind(param, chooser.value, chooser.set_value)
            return chooser
        if param.type in INPUT_TYPES:
            # Pictures come from the canvas and sounds from the timeline when the job is
            # submitted (the main window fills them in); the form only says where from.
            source = {
                "image": "the active layer or the selection",
                "mask": "the painted mask or the selection",
                "audio": "the selected clip on the timeline",
            }[param.type]
            note = QLabel(f"From {source}" + (" (optional)" if param.optional else ""))
            note.setWordWrap(True)
            note.setStyleSheet("color: #999;")
            note.setToolTip(plain_tip(param.help))
            return note
        if param.type == "latent":
            latent = LatentField(param)
            self._bind(param, latent.value, latent.set_value)
            return latent
        if param.type == "loras":
            loras = LoraList(param.help)
            loras.set_value(param.default)
            self._bind(param, loras.value, loras.set_value)
            return loras
        if param.type in ("int", "float"):
            number = SliderSpin(param)
            self._bind(param, number.value, number.set_value)
            return number
        if param.type == "bool":
            box = QCheckBox()
            box.setChecked(bool(param.default))
            self._bind(param, box.isChecked, lambda v: box.setChecked(bool(v)))
            return box
        if param.type == "choice":
            combo = QComboBox()
            combo.addItems(list(param.choices))
            combo.setCurrentText(str(param.default))
            self._bind(param, combo.currentText, lambda v: combo.setCurrentText(str(v)))
            return combo
        if param.multiline:
            box = QPlainTextEdit(str(param.default or ""))
            box.setPlaceholderText(param.help)
            box.setTabChangesFocus(True)
            box.setFixedHeight(90)
            self._bind(param, box.toPlainText, lambda v: box.setPlainText(str(v)))
            return box
        line = QLineEdit(str(param.default or ""))
        line.setPlaceholderText(param.help)
        line.returnPressed.connect(self.submit)
        self._bind(param, line.text, lambda v: line.setText(str(v)))
        return line

    def _bind(self, param: Param, getter: Callable[[], Any], setter: Callable[[Any], None]) -> None:
        self._getters[param.name] = getter
        self._setters[param.name] = setter

    def values(self) -> dict[str, Any]:
        return {name: get() for name, get in self._getters.items()}

    def hide_rows(self, names: tuple[str, ...]) -> None:
        """Hide the rows of ``names`` (what the window fills in itself); their values stay."""
        layout = self.findChild(QFormLayout)
        for name in names:
            widget = self.widgets.get(name)
            if widget is not None and layout is not None:
                layout.setRowVisible(widget, False)

    def set_values(self, values: dict[str, Any]) -> None:
        """Fill the form from a result's parameters (reuse): unknown names are ignored."""
        for name, value in values.items():
            setter = self._setters.get(name)
            if setter is not None and value is not None:
                setter(value)
