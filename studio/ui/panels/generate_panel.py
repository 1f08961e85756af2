"""The generator panel: pick a generator, fill its form (built from its parameters), Generate."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from studio.core.engine.generators import KINDS, Generator
from studio.ui.panels.param_form import ParamForm
from studio.ui.plain import plain_label

KIND_LABELS = {"image": "Image", "text": "Text", "audio": "Audio"}


class GeneratePanel(QWidget):
    generate_requested = Signal(str, dict)  # generator id, form values
    generator_changed = Signal(object)  # Generator

    def __init__(self, parent: QWidget | None = None, layer_names: Callable[[], list[str]] = list) -> None:
        super().__init__(parent)
        self.layer_names = layer_names  # the canvas's layers, for a form's control-layer field
        self.generators: dict[str, Generator] = {}
        self.form: ParamForm | None = None
        self._forms: dict[str, ParamForm] = {}

        self.combo = QComboBox()
        self.combo.setObjectName("generator_combo")
        self.combo.currentIndexChanged.connect(self._on_choice)
        self.description = plain_label()  # the plugin's words, never HTML
        self.description.setWordWrap(True)
        self.description.setObjectName("generator_description")
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.button = QPushButton("Generate")
        self.button.setObjectName("generate_button")
        self.button.setDefault(True)
        self.button.setMinimumHeight(36)
        self.button.setToolTip("Generate (Ctrl+Enter)")
        self.button.clicked.connect(self.request_generate)
        self.empty = QLabel("No generators are loaded. Open Tools ▸ Plugins to see why.")
        self.empty.setWordWrap(True)
        self.empty.hide()
        shortcut = QShortcut(QKeySequence("Ctrl+Return"), self, context=Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(self.request_generate)

        # The button sits under the choice, above the form: always in reach, never pushed off
        # screen by a long form.
        layout = QVBoxLayout(self)
        layout.addWidget(self.combo)
        layout.addWidget(self.description)
        layout.addWidget(self.empty)
        layout.addWidget(self.button)
        layout.addWidget(self.scroll, 1)

    def set_generators(self, generators: dict[str, Generator]) -> None:
        """List ``generators`` grouped by kind, keeping the current choice when it still exists."""
        current = self.current_id()
        self.generators = dict(generators)
        self._forms = {k: v for k, v in self._forms.items() if k in generators}
        self.combo.blockSignals(True)
        self.combo.clear()
        for kind in KINDS:
            of_kind = sorted((g for g in generators.values() if g.kind == kind), key=lambda g: g.title or g.id)
            for generator in of_kind:
                self.combo.addItem(f"{KIND_LABELS[kind]} · {generator.title or generator.id}", generator.id)
        self.combo.blockSignals(False)
        index = self.combo.findData(current) if current else -1
        self.combo.setCurrentIndex(max(index, 0) if self.combo.count() else -1)
        self.empty.setVisible(not generators)
        self.button.setEnabled(bool(generators))
        self._on_choice()

    def current_id(self) -> str:
        data = self.combo.currentData()
        return str(data) if data else ""

    def current(self) -> Generator | None:
        return self.generators.get(self.current_id())

    def select(self, generator_id: str) -> bool:
        index = self.combo.findData(generator_id)
        if index >= 0:
            self.combo.setCurrentIndex(index)
        return index >= 0

    def _on_choice(self) -> None:
        generator = self.current()
        if generator is None:
            self.description.clear()
            self.form = None
            return
        form = self._forms.get(generator.id)
        if form is None:  # one form per generator, so switching back keeps what was typed
            form = self._forms[generator.id] = ParamForm(generator.params, layer_names=self.layer_names)
            form.submit.connect(self.request_generate)
        self.scroll.takeWidget()
        self.scroll.setWidget(form)
        self.form = form
        self.description.setText(generator.description)
        self.generator_changed.emit(generator)

    def request_generate(self) -> None:
        if self.form is not None and self.current_id():
            self.generate_requested.emit(self.current_id(), self.form.values())

    def reuse(self, generator_id: str, params: dict[str, Any]) -> None:
        """Select ``generator_id`` and fill its form with ``params`` (from a layer or a file)."""
        if self.select(generator_id) and self.form is not None:
            self.form.set_values(params)
