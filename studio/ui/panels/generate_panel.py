"""The generator panel: pick a generator, fill its form (built from its parameters), Generate.

For an image generator that takes a picture, the mode bar above the button says what it
starts from (Generate / Refine / Inpaint, ``mode_bar``), and its width and height follow the
canvas or the selection until the user sets them (the window tells it both, ``show_canvas``).
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from studio.core.engine.generators import KINDS, Generator
from studio.core.image.canvas_inputs import GENERATE, INPAINT, REFINE, modes_for
from studio.ui.panels.mode_bar import TITLES, ModeBar
from studio.ui.panels.param_form import ParamForm, SliderSpin
from studio.ui.plain import plain_label

KIND_LABELS = {"image": "Image", "text": "Text", "audio": "Audio"}
#: Parameters that only mean something with a picture to change (Refine and Inpaint).
PICTURE_CHANGING = ("strength", "refine_tiles")
#: The panel's mode for the ``mode`` a picture's parameters record (Stable Diffusion's).
RECORDED_MODES = {"txt2img": GENERATE, "img2img": REFINE, "inpaint": INPAINT}
#: A text generator's parameters the Text workspace fills in (the page is the prompt; the
#: instruction comes from Rewrite; memory, author's note and lorebook from the Story panel):
#: the form keeps the sampling controls only.
EDITOR_SUPPLIED = ("prompt", "instruction", "memory", "authors_note", "note_depth", "lorebook", "messages")


class GeneratePanel(QWidget):
    generate_requested = Signal(str, dict)  # generator id, form values
    generator_changed = Signal(object)  # Generator
    mode_changed = Signal(str)  # generate, refine or inpaint
    generators_changed = Signal(dict)  # id -> Generator: a model folder added or removed (the Explorer lists them too)

    def __init__(self, parent: QWidget | None = None, layer_names: Callable[[], list[str]] = list) -> None:
        super().__init__(parent)
        self.layer_names = layer_names  # the canvas's layers, for a form's control-layer field
        self.generators: dict[str, Generator] = {}
        self.form: ParamForm | None = None
        self._forms: dict[str, ParamForm] = {}
        self._sized_by_user: set[str] = set()  # generators whose width/height the user set
        self._canvas_size: tuple[dict[str, int], str] = ({}, "canvas")  # what the size follows now
        self._following = False  # True while the panel itself sets the size

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
        self.mode_bar = ModeBar()
        self.mode_bar.mode_changed.connect(self._on_mode)
        self.mode_bar.follow_requested.connect(self._follow_again)
        self.page_note = QLabel("The page is the prompt: Continue writes on from the cursor in the Text tab. Here: how it samples.")
        self.page_note.setObjectName("page_note")
        self.page_note.setWordWrap(True)
        self.page_note.setStyleSheet("color: palette(mid);")
        self.page_note.hide()
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
        layout.addWidget(self.mode_bar)
        layout.addWidget(self.page_note)
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
        self.generators_changed.emit(self.generators)

    def current_id(self) -> str:
        data = self.combo.currentData()
        return str(data) if data else ""

    def current(self) -> Generator | None:
        return self.generators.get(self.current_id())

    def values_for(self, generator_id: str) -> dict[str, Any]:
        """What the user set in ``generator_id``'s form, shown or not ({} before it was ever shown)."""
        form = self._forms.get(generator_id)
        return form.values() if form is not None else {}

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
            if generator.kind == "text":
                form.hide_rows(EDITOR_SUPPLIED)
            for name in ("width", "height"):
                field = form.widgets.get(name)
                if isinstance(field, SliderSpin):
                    field.spin.valueChanged.connect(lambda _, gid=generator.id: self._size_set(gid))
        self.scroll.takeWidget()
        self.scroll.setWidget(form)
        self.form = form
        self.description.setText(generator.description)
        self.mode_bar.set_modes(modes_for(generator.params) if generator.kind == "image" else ())
        self.page_note.setVisible(generator.kind == "text")
        self._show_rows()
        self._name_button()
        self._apply_size()
        self.generator_changed.emit(generator)

    # -- the mode and the size --------------------------------------------------------------

    def mode(self) -> str:
        """generate, refine or inpaint: what the current generator starts from."""
        return self.mode_bar.mode()

    def set_mode(self, mode: str) -> bool:
        """Choose ``mode`` as a click on its button does; False when the generator does not offer it."""
        if mode not in self.mode_bar.modes:
            return False
        self.mode_bar.buttons[mode].click()
        return True

    def _on_mode(self, mode: str) -> None:
        self._show_rows()
        self._name_button()
        self.mode_changed.emit(mode)

    def _name_button(self) -> None:
        """The button says what it will do: Generate, Refine or Inpaint (Krita AI's words)."""
        generator = self.current()
        title = "Continue" if generator is not None and generator.kind == "text" else TITLES[self.mode()]
        self.button.setText(title)
        self.button.setToolTip(f"{title} (Ctrl+Enter)")

    def _show_rows(self) -> None:
        """With the mode bar shown, the form's picture rows are its words, and Strength (how
        much of the picture changes) and Refine tile by tile show only when there is a picture
        to change."""
        form = self.form
        layout = form.findChild(QFormLayout) if form is not None else None
        if form is None or layout is None:
            return
        offered = bool(self.mode_bar.modes)
        for param in form.params:
            widget = form.widgets.get(param.name)
            if widget is None:
                continue
            if param.type in ("image", "mask") and param.optional:
                layout.setRowVisible(widget, not offered)
            elif param.name in PICTURE_CHANGING:
                layout.setRowVisible(widget, not offered or self.mode() != GENERATE)

    def show_canvas(self, size: dict[str, int], follows: str, source: str) -> None:
        """The canvas's state, from the window: the size a generation gets when the user
        leaves it (``follows``: "canvas" or "selection") and the line on what the current
        mode starts from."""
        self._canvas_size = (dict(size), follows)
        self.mode_bar.set_source(source)
        self._apply_size()

    def _apply_size(self) -> None:
        size, follows = self._canvas_size
        generator, form = self.current(), self.form
        fields = [form.widgets.get(name) for name in ("width", "height")] if form is not None else []
        if generator is None or form is None or not size or not all(isinstance(f, SliderSpin) for f in fields):
            self.mode_bar.set_size_note("", True)
            return
        following = generator.id not in self._sized_by_user  # a selection's size wins when it runs, either way
        if following:
            self._following = True
            try:
                form.set_values(size)
            finally:
                self._following = False
        shown = f"{size['width']} × {size['height']}"
        if follows == "selection":
            note = f"Size follows the selection: {shown}"
        elif following:
            note = f"Size follows the canvas: {shown}"
        else:
            note = f"Size set by you (the canvas would give {shown})"
        self.mode_bar.set_size_note(note, following)

    def _size_set(self, generator_id: str) -> None:
        if not self._following:
            self._sized_by_user.add(generator_id)
            self._apply_size()

    def _follow_again(self) -> None:
        generator = self.current()
        if generator is not None:
            self._sized_by_user.discard(generator.id)
            self._apply_size()

    def request_generate(self) -> None:
        if self.form is not None and self.current_id():
            self.generate_requested.emit(self.current_id(), self.form.values())

    def reuse(self, generator_id: str, params: dict[str, Any], recorded_mode: str = "") -> None:
        """Select ``generator_id`` and fill its form with ``params`` (from a layer or a file),
        and choose the mode the picture was made in (``recorded_mode``: its ``mode`` parameter,
        "txt2img", "img2img" or "inpaint"), where the generator offers it."""
        if self.select(generator_id) and self.form is not None:
            self.form.set_values(params)
            mode = RECORDED_MODES.get(recorded_mode)
            if mode in self.mode_bar.modes:
                self.mode_bar.buttons[mode].setChecked(True)
