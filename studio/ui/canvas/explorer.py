"""The Explorer (a canvas dock): walk a latent generator's space by looking at pictures.

There is always one current picture (its latent is what everything moves around). Around it a
3 × 3 grid of variations, each a fraction "Spread" of the way to a random latent; a click makes
a cell current and the grid varies around that. Keep puts the current latent in the Kept strip
(saved with the canvas: ``studio.core.image.kept_latents``); Morph renders frames through the
kept ones and Export animation… writes them (``explorer_morph``). Find directions studies a
batch of samples for the directions pictures change most along (GANSpace), and its sliders move
the current picture. Find this picture asks a VAE's encoder for the active layer's latent;
Explore this layer takes a generated layer's own latent; Place on canvas makes the current
latent at full size through the window's ordinary generation, so it lands as one undo step.

Every picture is a job in a slot of its own (``explorer_jobs``): the panel never waits, and a
picture that comes after a newer request for its place is dropped. The small pictures use the
generator's ``thumbnail_params``; the rest of a picture's parameters (its "style": a CPPN's
colour mode, a GAN's truncation) travel with its latent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from studio.core.engine.generators import SEED_MAX, Generator, Result
from studio.core.engine.jobs import Job, JobState
from studio.core.engine.latent_values import LatentSpace
from studio.core.image.canvas_inputs import Placement, as_rgba
from studio.core.image.latent_walk import Directions, find_directions, variations
from studio.errors import StudioError
from studio.host import Host
from studio.ui.canvas.explorer_grid import PictureTile, VariationGrid
from studio.ui.canvas.explorer_jobs import ExplorerJobs, full_values, style_of, thumbnail_values
from studio.ui.canvas.explorer_kept import Keeping
from studio.ui.canvas.explorer_morph import Morphing
from studio.ui.canvas.explorer_sections import DirectionSliders, action_button, section

DIRECTIONS = 5
STUDY_SEED = 0  # the study's samples are the same each time: its directions are too
STUDY_MAX = 64
SPREAD = 35  # in hundredths: a family resemblance, still visibly different
CURRENT_SIDE = 148
CELL_SIDE = 90

Place = Callable[[str, dict, Placement], "Job | None"]


@dataclass
class Shown:
    """The current picture: its generator, latent, seed and style, and its pixels once made."""

    generator: str
    latent: np.ndarray
    seed: int
    style: dict[str, Any] = field(default_factory=dict)
    own: bool = False  # the seed's own latent: nothing moved it yet
    picture: np.ndarray | None = None


class ExplorerPanel(QWidget):
    """The Explorer dock's widget. ``place(generator, values, placement)`` is the window's
    generation; ``form_values(generator)`` what the Generate panel's form holds for it."""

    def __init__(self, host: Host, canvas: Any, place: Place, form_values: Callable[[str], dict], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("explorer")
        self.host, self.canvas, self._place, self._form_values = host, canvas, place, form_values
        self.jobs = ExplorerJobs(host, self)
        self.jobs.result.connect(self._on_result)
        self.jobs.ended.connect(self._on_ended)
        self.generators: dict[str, Generator] = {}
        self.shown: Shown | None = None
        self.base: np.ndarray | None = None  # what the direction sliders move from
        self.directions: Directions | None = None
        self.cell_latents: list[np.ndarray] = []
        self._incoming: dict[str, Shown] = {}  # slot -> the picture on its way there
        self._vary_after: set[str] = set()  # slots whose picture, once in, the grid varies around
        self._after_study: Callable[[], None] | None = None
        self._study: list[Result] = []
        self._vary_seed = 0
        self._build()
        self.keeping = Keeping(self)
        self.kept = self.keeping.strip
        self.morphing = Morphing(self)
        canvas.document_replaced.connect(self.keeping.document_replaced)
        canvas.inputs_changed.connect(self.update_actions)
        self.refresh_generators(host.generators)

    # -- building ---------------------------------------------------------------------------

    def _action(self, text: str, name: str, tip: str, slot: Callable[[], Any]) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setToolTip(tip)
        action.triggered.connect(lambda checked=False: slot())
        self.addAction(action)
        return action

    def _build(self) -> None:
        self.new_action = self._action("New", "explorer_new_action", "A new picture from a random seed", self.new_picture)
        self.keep_action = self._action("Keep", "explorer_keep_action", "Keep the current picture (saved with the project)", lambda: self.keeping.keep())
        self.place_action = self._action("Place on canvas", "explorer_place_action", "The current picture at full size, as a new layer", self.place_on_canvas)
        self.layer_action = self._action("Explore this layer", "explorer_layer_action", "Make the active layer's latent current (a layer a latent generator made)", self.explore_layer)
        self.find_action = self._action("Find this picture", "explorer_find_action", "Find the active layer's latent with the model's encoder", self.find_picture)
        self.vary_action = self._action("Vary", "explorer_vary_action", "Redraw the variations around the current picture", self.vary)
        self.directions_action = self._action("Find directions", "explorer_directions_action",
                                              "Study a batch of samples for the directions pictures change most along", self.find_directions)

        self.combo = QComboBox()
        self.combo.setObjectName("explorer_generator")
        self.combo.currentIndexChanged.connect(self._generator_changed)
        self.combo.activated.connect(lambda _: self.new_picture())  # the painter chose it: show something
        self.current = PictureTile(CURRENT_SIDE)
        self.current.setObjectName("explorer_current")
        self.current.setFixedSize(CURRENT_SIDE, CURRENT_SIDE)
        self.caption = QLabel()
        self.caption.setObjectName("explorer_caption")
        self.caption.setWordWrap(True)
        self.status = QLabel()
        self.status.setObjectName("explorer_status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # a plugin's message, never rich text
        self.status.setStyleSheet("color: #e0a040;")
        self.status.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.combo)
        top = QHBoxLayout()
        top.addWidget(self.current, 0, Qt.AlignmentFlag.AlignTop)
        side = QVBoxLayout()
        side.setSpacing(4)
        side.addWidget(self.caption)
        for action, name in ((self.new_action, "explorer_new"), (self.keep_action, "explorer_keep"), (self.place_action, "explorer_place"),
                             (self.layer_action, "explorer_from_layer"), (self.find_action, "explorer_find")):
            side.addWidget(action_button(action, name))
        side.addStretch(1)
        top.addLayout(side, 1)
        layout.addLayout(top)
        layout.addWidget(self.status)

        box, column = section("Variations")
        row = QHBoxLayout()
        self.spread_label = QLabel()
        self.spread = QSlider(Qt.Orientation.Horizontal)
        self.spread.setObjectName("explorer_spread")
        self.spread.setRange(0, 100)
        self.spread.setValue(SPREAD)
        self.spread.setToolTip("How far the variations stray: 0 is the picture itself, 1 a new picture altogether")
        self._show_spread(SPREAD)
        self.spread.valueChanged.connect(self._show_spread)
        self._respread = QTimer(self, singleShot=True, interval=150)
        self._respread.timeout.connect(lambda: self.vary(new_seed=False) if self.cell_latents else None)
        self.spread.valueChanged.connect(lambda _: self._respread.start())
        row.addWidget(self.spread_label)
        row.addWidget(self.spread, 1)
        row.addWidget(action_button(self.vary_action, "explorer_vary"))
        column.addLayout(row)
        self.grid = VariationGrid(CELL_SIDE)
        self.grid.chosen.connect(self.choose_cell)
        column.addWidget(self.grid)
        layout.addWidget(box)

        box, column = section("Directions")
        row = QHBoxLayout()
        self.directions_note = QLabel("The directions pictures change most along")
        self.directions_note.setWordWrap(True)
        self.directions_note.setStyleSheet("color: #9a9aa2;")
        row.addWidget(self.directions_note, 1)
        row.addWidget(action_button(self.directions_action, "explorer_find_directions"))
        column.addLayout(row)
        self.sliders = DirectionSliders(DIRECTIONS)
        self.sliders.show_shares([])
        self.sliders.moved.connect(self._move)
        column.addWidget(self.sliders)
        layout.addWidget(box)

        self.kept_box, self.kept_column = section("Kept")  # filled by ``Keeping``
        layout.addWidget(self.kept_box)
        self.morph_box, self.morph_column = section("Morph")
        layout.addWidget(self.morph_box)
        layout.addStretch(1)

    # -- the generators ---------------------------------------------------------------------

    def refresh_generators(self, generators: dict[str, Generator]) -> None:
        """List the latent generators among ``generators``, keeping the choice while it exists."""
        chosen = self.combo.currentData()
        self.generators = {gid: g for gid, g in generators.items() if getattr(g, "latent_space", None) is not None}
        self.combo.blockSignals(True)
        self.combo.clear()
        for generator in sorted(self.generators.values(), key=lambda g: (g.id != "cppn", g.title or g.id)):
            self.combo.addItem(generator.title or generator.id, generator.id)
        index = self.combo.findData(chosen)
        self.combo.setCurrentIndex(max(index, 0) if self.combo.count() else -1)
        self.combo.blockSignals(False)
        if self.combo.currentData() != chosen:
            self._generator_changed()
        self.update_actions()

    def select_generator(self, generator_id: str) -> bool:
        index = self.combo.findData(generator_id)
        if index >= 0:
            self.combo.setCurrentIndex(index)
        return index >= 0

    def generator(self) -> Generator | None:
        return self.generators.get(self.combo.currentData() or "")

    def space(self) -> LatentSpace | None:
        generator = self.generator()
        return None if generator is None else generator.latent_space

    def _generator_changed(self, *_: object) -> None:
        """Another generator: another space; nothing shown belongs to it."""
        self.jobs.cancel_all()
        self.shown, self.base, self.directions, self.cell_latents = None, None, None, []
        self._incoming.clear()
        self._vary_after.clear()
        self._after_study = None
        self.current.show_picture(None)
        for tile in self.grid.tiles:
            tile.show_picture(None)
        self.sliders.reset()
        self.sliders.show_shares([])
        self.directions_note.setText("The directions pictures change most along")
        self.morphing.clear()
        space = self.space()
        self.find_action.setVisible(bool(space is not None and space.encodes))
        self.caption.setText("Press New for a picture" if space is not None else "No latent generator is loaded")
        self.say("")
        self.keeping.refresh()
        self.update_actions()

    # -- what a picture is made with --------------------------------------------------------

    def style_of(self, params: dict[str, Any]) -> dict[str, Any]:
        generator = self.generator()
        return {} if generator is None else style_of(generator, params)

    def thumbnail_values(self, latent: np.ndarray | None, seed: int, style: dict[str, Any]) -> dict[str, Any]:
        return thumbnail_values(self.space(), latent, seed, style)

    def full_values(self, latent: np.ndarray, seed: int, style: dict[str, Any]) -> dict[str, Any]:
        """The form's values (its size, what the painter set), the picture's style over them."""
        generator = self.generator()
        return full_values(generator, self._form_values(generator.id), latent, seed, style)

    def submit(self, slot: str, values: dict[str, Any]) -> Job | None:
        generator = self.generator()
        if generator is None:
            return None
        try:
            return self.jobs.submit(slot, generator.id, values)
        except StudioError as exc:
            self.say(str(exc))
            return None

    def say(self, text: str) -> None:
        """A problem in plain words under the current picture ("" hides it)."""
        self.status.setText(text)
        self.status.setVisible(bool(text))

    # -- the current picture ----------------------------------------------------------------

    def new_picture(self) -> None:
        """A picture from a new random seed, then variations around it."""
        generator = self.generator()
        if generator is None:
            return
        seed = random.randint(0, SEED_MAX)
        style = self.style_of({**generator.defaults(), **self._form_values(generator.id)})
        self.show_latent(None, seed, style, own=True)

    def show_latent(self, latent: np.ndarray | None, seed: int, style: dict[str, Any], own: bool = False, picture: np.ndarray | None = None) -> None:
        """Make ``latent`` (None: the seed's) current, drawn unless its ``picture`` is given; the
        sliders start from it and the grid varies around it."""
        generator = self.generator()
        if generator is None:
            return
        self.say("")
        self.sliders.reset()
        incoming = Shown(generator.id, np.zeros(0, np.float32) if latent is None else np.asarray(latent, np.float32), seed, dict(style), own)
        if picture is not None:
            incoming.picture = picture
            self._became_current(incoming)
            self.vary()
            return
        if self.submit("current", self.thumbnail_values(latent, seed, style)) is not None:
            self._incoming["current"] = incoming
            self._vary_after.add("current")
            self.current.set_waiting()

    def _became_current(self, shown: Shown, from_sliders: bool = False) -> None:
        self.shown = shown
        if not from_sliders:
            self.base = shown.latent
        self.current.show_picture(shown.picture)
        # A picture moved away (a variation, a slider) is no longer what its seed draws.
        self.caption.setText(f"Seed {shown.seed}" if shown.own else f"Moved away from\nseed {shown.seed}")
        self.update_actions()

    def _move(self, amounts: list[float]) -> None:
        """A direction slider rested: the current picture, moved that far from where it started."""
        if self.shown is None or self.base is None or self.directions is None:
            return
        latent = (self.base + self.directions.offset(amounts)).astype(np.float32)
        if self.submit("current", self.thumbnail_values(latent, self.shown.seed, self.shown.style)) is not None:
            self._incoming["current"] = replace(self.shown, latent=latent, own=not any(amounts) and self.shown.own)
            self._vary_after.discard("current")
            self.current.set_waiting()

    # -- variations -------------------------------------------------------------------------

    def vary(self, new_seed: bool = True) -> None:
        """Redraw the grid around the current picture (a new draw unless ``new_seed`` is False)."""
        space = self.space()
        if space is None:
            return
        if self.shown is None:
            self.new_picture()  # the grid follows once it is in
            return
        if new_seed:
            self._vary_seed = random.randint(0, SEED_MAX)
        if space.intermediate and self.directions is None:
            # A StyleGAN's w has no simple prior: variations are drawn as its sampled w's spread.
            self._after_study = lambda: self.vary(new_seed=False)
            self.find_directions()
            return
        try:
            latents = variations(space, self.shown.latent, self.spread.value() / 100, len(self.grid.tiles), self._vary_seed, self.directions)
        except StudioError as exc:
            self.say(str(exc))
            return
        self.cell_latents = latents
        for index, (tile, latent) in enumerate(zip(self.grid.tiles, latents)):
            if self.submit(f"cell:{index}", self.thumbnail_values(latent, self.shown.seed, self.shown.style)) is not None:
                tile.set_waiting()

    def choose_cell(self, index: int) -> None:
        tile = self.grid.tiles[index]
        if self.shown is None or index >= len(self.cell_latents) or tile.picture is None:
            return
        self.show_latent(self.cell_latents[index], self.shown.seed, self.shown.style, picture=tile.picture)

    def _show_spread(self, value: int) -> None:
        self.spread_label.setText(f"Spread {value / 100:.2f}")

    # -- directions -------------------------------------------------------------------------

    def find_directions(self) -> None:
        """One study job: a batch of samples from a fixed seed, at thumbnail size."""
        generator = self.generator()
        if generator is None:
            return
        batch = next((p for p in generator.params if p.name == "batch_count"), None)
        count = min(STUDY_MAX, int(batch.max)) if batch is not None and batch.max is not None else 1
        if count < 3:
            self.say(f"{generator.title or generator.id} makes one picture a job: its directions cannot be studied")
            return
        style = self.shown.style if self.shown is not None else self.style_of(self._form_values(generator.id))
        values = {**self.thumbnail_values(None, STUDY_SEED, style), "batch_count": count}
        self._study = []
        if self.submit("study", values) is not None:
            self.directions_note.setText(f"Studying {count} samples…")
            self.directions_action.setEnabled(False)

    def _studied(self) -> None:
        space = self.space()
        latents = np.stack([np.asarray(r.params["latent"], np.float32) for r in self._study])
        pictures = None if space.intermediate else [as_rgba(r.value) for r in self._study]
        try:
            self.directions = find_directions(latents, pictures, DIRECTIONS)
        except StudioError as exc:
            self.say(str(exc))
            return
        self.sliders.reset()
        self.sliders.show_shares(list(self.directions.explained))
        self.directions_note.setText(f"Found in {len(self._study)} samples; move a slider")
        self._study = []
        then, self._after_study = self._after_study, None
        if then is not None:
            then()

    # -- the canvas -------------------------------------------------------------------------

    def place_on_canvas(self) -> Job | None:
        """The current latent at full size, as a new layer (the window's generation: one undo step)."""
        generator = self.generator()
        if self.shown is None or generator is None:
            return None
        values = self.full_values(self.shown.latent, self.shown.seed, self.shown.style)
        try:
            generator.request(values)  # refused here, in the panel, rather than in a dialog
        except StudioError as exc:
            self.say(str(exc))
            return None
        return self._place(generator.id, values, Placement())

    def _layer_latent(self) -> tuple[Any, str]:
        """The active layer and why it cannot be explored ("" when it can)."""
        layer = self.canvas.active_layer
        if layer is None:
            return None, "Choose a layer in the Layers panel first"
        if layer.generator not in self.generators or not isinstance(layer.params.get("latent"), (list, tuple)):
            return layer, f"The layer “{layer.name}” was not made by a latent generator (its parameters hold no latent)"
        return layer, ""

    def explore_layer(self) -> None:
        layer, why = self._layer_latent()
        if why:
            self.say(why)
            return
        self.select_generator(layer.generator)
        seed = layer.params.get("seed")
        self.show_latent(np.float32(layer.params["latent"]), seed if isinstance(seed, int) else 0, self.style_of(dict(layer.params)))

    def find_picture(self) -> None:
        """The active layer's picture, encoded: its latent becomes current."""
        space, layer = self.space(), self.canvas.active_layer
        if space is None or not space.encodes:
            return
        if layer is None or not layer.pixels[..., 3].any():
            self.say("Choose a layer with a picture in the Layers panel first")
            return
        style = self.shown.style if self.shown is not None else self.style_of(self._form_values(self.generator().id))
        values = {**self.thumbnail_values(None, 0, style), "image": layer.pixels.copy()}
        if self.submit("current", values) is not None:
            self.sliders.reset()
            self._incoming["current"] = Shown(self.generator().id, np.zeros(0, np.float32), 0, dict(style))
            self._vary_after.add("current")
            self.current.set_waiting()

    def update_actions(self) -> None:
        space, shown = self.space(), self.shown is not None
        self.new_action.setEnabled(space is not None)
        for action in (self.keep_action, self.place_action, self.vary_action):
            action.setEnabled(shown)
        self.directions_action.setEnabled(space is not None and not self.jobs.busy("study"))
        self.layer_action.setEnabled(not self._layer_latent()[1])
        self.find_action.setEnabled(self.canvas.active_layer is not None)
        self.keeping.update_actions()

    # -- the jobs' pictures -----------------------------------------------------------------

    def _on_result(self, slot: str, result: Result) -> None:
        if result.kind != "image" or result.value is None:
            return
        picture = as_rgba(result.value)
        kind, _, number = slot.partition(":")
        if slot == "current" and "current" in self._incoming:
            incoming = self._incoming.pop("current")
            incoming.latent = np.asarray(result.params["latent"], np.float32)
            incoming.seed = int(result.params.get("seed", incoming.seed))
            incoming.picture = picture
            self._became_current(incoming, from_sliders="current" not in self._vary_after)
            if "current" in self._vary_after:
                self._vary_after.discard("current")
                self.vary()
        elif kind == "cell":
            self.grid.tiles[int(number)].show_picture(picture)
        elif kind == "kept":
            self.keeping.on_result(int(number), picture)
        elif kind == "study":
            self._study.append(replace(result, value=picture))
        else:
            self.morphing.on_result(kind, int(number or 0), picture)

    def _on_ended(self, slot: str, state: JobState, message: str) -> None:
        kind, _, number = slot.partition(":")
        if state is JobState.FAILED:
            self.say(f"{self.generator().title if self.generator() else 'The generator'} could not make the picture: {message}")
        if state is not JobState.FINISHED:
            tile = self.current if slot == "current" else self.grid.tiles[int(number)] if kind == "cell" else None
            if tile is not None:
                tile.set_failed() if state is JobState.FAILED else tile.set_waiting(False)
            self._incoming.pop(slot, None)
            if kind == "study":
                self.directions_note.setText("The directions pictures change most along")
                self._after_study = None
        elif kind == "study":
            self._studied()
        self.morphing.on_ended(kind, state)
        self.update_actions()
