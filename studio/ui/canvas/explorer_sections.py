"""The Explorer's parts that are only widgets: a titled section, a button driven by its action,
and the direction sliders (debounced, so a drag asks for one picture, not fifty)."""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

DEBOUNCE_MS = 150  # a drag's last position, a moment after it stops, is the one rendered
SLIDER_STEPS = 10  # a direction moves in tenths of a standard deviation
SLIDER_REACH = 3  # ... from -3 to +3


def section(title: str) -> tuple[QWidget, QVBoxLayout]:
    """A block of the panel under a small bold heading."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 6, 0, 2)
    layout.setSpacing(4)
    heading = QLabel(title)
    heading.setStyleSheet("font-weight: bold; color: #d0d0d8; border-bottom: 1px solid #3a3a42; padding-bottom: 2px;")
    layout.addWidget(heading)
    return box, layout


def action_button(action: QAction, name: str) -> QPushButton:
    """A push button that triggers ``action`` and follows its text, tip and enabled state."""
    button = QPushButton(action.text())
    button.setObjectName(name)
    button.setToolTip(action.toolTip())
    button.setEnabled(action.isEnabled())
    button.clicked.connect(action.trigger)

    def follow() -> None:
        button.setText(action.text())
        button.setEnabled(action.isEnabled())
        button.setVisible(action.isVisible())

    action.changed.connect(follow)
    return button


class DirectionSliders(QWidget):
    """One slider per direction, −3 to +3 standard deviations, each labelled with its share of
    the variation ("Direction 1 (23 %)"); ``moved`` carries all the amounts once a drag rests."""

    moved = Signal(list)  # amounts, in standard deviations

    def __init__(self, count: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setHorizontalSpacing(6)
        layout.setVerticalSpacing(2)
        self.labels: list[QLabel] = []
        self.values: list[QLabel] = []
        self.sliders: list[QSlider] = []
        for index in range(count):
            label = QLabel(f"Direction {index + 1}")
            value = QLabel("0.0")
            value.setMinimumWidth(value.fontMetrics().horizontalAdvance("+3.0") + 4)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setObjectName(f"explorer_direction_{index}")
            slider.setRange(-SLIDER_REACH * SLIDER_STEPS, SLIDER_REACH * SLIDER_STEPS)
            slider.setToolTip("Move the current picture along this direction (in standard deviations of the sampled pictures)")
            slider.valueChanged.connect(lambda position, v=value: v.setText(f"{position / SLIDER_STEPS:+.1f}"))
            slider.valueChanged.connect(self._changed)
            layout.addWidget(label, index, 0)
            layout.addWidget(slider, index, 1)
            layout.addWidget(value, index, 2)
            self.labels.append(label)
            self.values.append(value)
            self.sliders.append(slider)
        layout.setColumnStretch(1, 1)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(lambda: self.moved.emit(self.amounts()))

    def show_shares(self, explained: Sequence[float]) -> None:
        """Label each slider with its direction's share; the sliders past the directions found hide."""
        for index, (label, slider, value) in enumerate(zip(self.labels, self.sliders, self.values)):
            shown = index < len(explained)
            for widget in (label, slider, value):
                widget.setVisible(shown)
            if shown:
                label.setText(f"Direction {index + 1} ({explained[index] * 100:.0f} %)")

    def amounts(self) -> list[float]:
        return [slider.value() / SLIDER_STEPS for slider in self.sliders if not slider.isHidden()]

    def reset(self) -> None:
        """Every slider back to 0, without asking for a picture (the caller shows a new one)."""
        for slider in self.sliders:
            slider.blockSignals(True)
            slider.setValue(0)
            slider.blockSignals(False)
        for value in self.values:
            value.setText("0.0")
        self.timer.stop()

    def _changed(self, *_: object) -> None:
        self.timer.start()  # restarted by each step of a drag: latest wins
