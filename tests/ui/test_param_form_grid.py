"""The form's sliders keep to the step grid that ``Param.coerce`` enforces: a slider moved by
a person gives a value the generator takes (it used to give any whole number, e.g. a width
of 77 on a step of 8)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from studio.core.engine.generators import Param
from studio.ui.panels.param_form import ParamForm

PARAMS = (
    Param("width", "int", 512, min=16, max=8192, step=8),
    Param("scale", "float", 2.0, min=0.1, max=50.0, step=0.1),
    Param("guidance", "float", 7.5, min=0.0, max=30.0, step=0.5),
)


def test_every_slider_position_a_person_reaches_is_a_value_the_parameter_takes(qtbot):
    form = ParamForm(PARAMS)
    qtbot.addWidget(form)
    form.show()
    for param in PARAMS:
        slider = form.widgets[param.name].slider
        slider.setFocus()
        seen = set()
        for key in [Qt.Key.Key_Home] + [Qt.Key.Key_Right] * 7 + [Qt.Key.Key_PageUp] * 3 + [Qt.Key.Key_End]:
            QTest.keyClick(slider, key)
            value = form.values()[param.name]
            assert param.coerce(value) == value, (param.name, value)
            seen.add(value)
        assert len(seen) > 3, f"the {param.name} slider did not move"
