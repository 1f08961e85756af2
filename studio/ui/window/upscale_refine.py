"""Image ▸ Upscale and refine…: an upscale, then image to image tile by tile over what it made.

An upscaler enlarges without inventing detail; a diffusion model at a low strength adds it, but
paints well only at its own size. So the flow is two jobs: the chosen upscaler on the selection
or the active layer (as the Generate panel would run it), and, when its picture has landed as a
layer, the chosen Stable Diffusion model refining that layer tile by tile (its ``refine_tiles``),
landing over it as a layer of its own, so the two can be compared and either undone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from studio.core.engine.generators import INPUT_TYPES, Generator
from studio.core.engine.jobs import Job, JobState
from studio.core.image.canvas_inputs import Placement

if TYPE_CHECKING:
    from studio.ui.window.main_window import MainWindow

DEFAULT_STRENGTH = 0.3


def upscalers(generators: dict[str, Generator]) -> list[tuple[str, str]]:
    """The upscalers: the super-resolution models, then the plain resize."""
    found = [(gid, g.title or gid) for gid, g in generators.items() if gid.startswith("upscale:")]
    return sorted(found, key=lambda item: item[1].lower()) + [(gid, g.title or gid) for gid, g in generators.items() if gid == "resize"]


def refiners(generators: dict[str, Generator]) -> list[tuple[str, str]]:
    """The models that refine tile by tile (Stable Diffusion's ``refine_tiles``)."""
    return sorted(((gid, g.title or gid) for gid, g in generators.items() if any(p.name == "refine_tiles" for p in g.params)), key=lambda item: item[1].lower())


class UpscaleRefineDialog(QDialog):
    """Which upscaler, which model refines, how strongly, and what the picture shows."""

    def __init__(self, generators: dict[str, Generator], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Upscale and refine")
        self.upscaler = QComboBox()
        self.upscaler.setObjectName("upscaler_combo")
        for gid, title in upscalers(generators):
            self.upscaler.addItem(title, gid)
        self.model = QComboBox()
        self.model.setObjectName("refine_model_combo")
        for gid, title in refiners(generators):
            self.model.addItem(title, gid)
        self.strength = QDoubleSpinBox()
        self.strength.setObjectName("refine_strength")
        self.strength.setRange(0.05, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(DEFAULT_STRENGTH)
        self.strength.setToolTip("How much the model may repaint: 0.2 to 0.4 adds detail and keeps the picture.")
        self.prompt = QLineEdit()
        self.prompt.setObjectName("refine_prompt")
        self.prompt.setPlaceholderText("What the picture shows (helps the model add the right detail)")
        form = QFormLayout()
        form.addRow("Upscaler", self.upscaler)
        form.addRow("Refine with", self.model)
        form.addRow("Strength", self.strength)
        form.addRow("Prompt", self.prompt)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Upscale and refine")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        if not self.model.count():
            self.note.setText("Refining needs a Stable Diffusion model: add its folder in Models, then come back.")
        else:
            self.note.setText("The selection, or the active layer, is enlarged, then refined tile by tile; both land as layers.")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.model.count() and self.upscaler.count()))
        self.setMinimumWidth(460)

    def choice(self) -> tuple[str, str, float, str]:
        return self.upscaler.currentData(), self.model.currentData(), round(self.strength.value(), 2), self.prompt.text()


class UpscaleRefine(QObject):
    """The two jobs of the flow: the upscale, and the refine submitted when its layer lands."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self._follow: dict[int, tuple[str, float, str]] = {}  # upscale job id -> (model, strength, prompt)
        self._listening = False

    def open_dialog(self) -> None:
        dialog = UpscaleRefineDialog(self.window.host.generators, self.window)
        if dialog.exec():
            upscaler, model, strength, prompt = dialog.choice()
            if upscaler and model:  # OK is disabled otherwise; a dialog accepted by other means does nothing
                self.start(upscaler, model, strength, prompt)

    def start(self, upscaler: str, model: str, strength: float, prompt: str) -> Job | None:
        """Submit the upscale (from the selection or the active layer); the refine follows it."""
        if not self._listening:  # the bridge exists once the window is built, after its menus
            self.window.bridge.state_changed.connect(self._on_state)
            self._listening = True
        generator = self.window.host.generators[upscaler]
        values = {p.name: p.default for p in generator.params if p.type not in INPUT_TYPES}
        job = self.window.generation.generate(upscaler, values)
        if job is not None:
            self._follow[job.id] = (model, strength, prompt)
        return job

    def _on_state(self, job: Job, state: JobState, message: str) -> None:
        if not state.done or job.id not in self._follow:
            return
        model, strength, prompt = self._follow.pop(job.id)
        if state is not JobState.FINISHED:
            return  # cancelled or failed: said by the Jobs panel; nothing to refine
        # The result has landed by now (its event comes before the state): the newest layer it made.
        made = [layer for layer in self.window.canvas.document.layers if layer.generator == job.generator.id]
        if not made:
            self.window.warn("Nothing to refine", "The upscaled picture did not land on the canvas as a layer.")
            return
        layer = max(made, key=lambda layer: layer.id)
        values = {"prompt": prompt, "strength": strength, "refine_tiles": True, "init_image": layer.pixels.copy()}
        placement = Placement(layer.x, layer.y, None, None, False, "layer", layer.size)
        self.window.generation.generate(model, values, placement)
